"""Chapter 2, "Moving data between processes": what pickling and the pipe cost.

Every argument and result of a Pool is pickled, sent through a pipe and unpickled, and every
worker holds its own copy of what it received. The experiments measure each way of moving
data, each against the cheapest possible move, one ``memcpy`` of the same bytes. This module
measures the cost of pickling (and declares the chapter); :mod:`mpguide.chapters.send_less`
measures the ways to send less (an initializer, shared memory, a file path) and
:mod:`mpguide.chapters.worker_memory` what each worker holds:

* :func:`load_pickling`: ``dumps``/``loads`` by payload kind and size for pickle protocol 4
  (what ``multiprocessing`` uses before Python 3.14), protocol 5 in-band and out-of-band, and
  cloudpickle (what loky and joblib use).
* :func:`load_pool_transfer`: one big argument, and one big result, through a warm ``Pool``.
* :func:`load_seed003`: the seed article *Python's multiprocessing performance problem*:
  ``np.sum`` of a large array in a thread pool against a spawn process pool.

Each experiment runs in a fresh interpreter (:func:`mpguide.runner.run_fresh`) and is cached;
``MPGUIDE_QUICK=1`` shrinks sizes. Worker functions live in the chapter's modules so every
start method finds them.

Examples
--------
>>> from mpguide.chapters import transfer
>>> transfer.ratio(0.3, 0.1)
3.0
>>> transfer.sizes_label(3 * transfer.MIB)
'3 MiB'
"""

from __future__ import annotations

import functools
import gc
import pickle
import time
from collections.abc import Callable, Sequence
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools, runner, timing, workloads
from mpguide.cache import ResultCache
from mpguide.timing import Measurement

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = claims.Chapter(
    name="transfer", page="guide/02-transfer", title="Moving data",
    summary="What pickling arguments and results costs, and when shared memory or smaller "
            "payloads win.")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

#: Seconds a fresh interpreter may take for one experiment (full mode moves gigabytes).
FRESH_TIMEOUT = 600.0

#: The seed article the thread-vs-process experiment comes from, and its numbers (seconds, as
#: published: 1 GiB uint8 array, one worker).
SEED_003 = "Python's multiprocessing performance problem"
SEED_003_SUM = {"nbytes": GIB, "thread pool": 0.31, "spawn process pool": 1.80}

#: Serializers of the pickling experiment.
SERIALIZERS = ("pickle protocol 4", "pickle protocol 5", "pickle 5 out-of-band", "cloudpickle")


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, ``nan`` when the denominator is 0."""
    return numerator / denominator if denominator else float("nan")


def sizes_label(nbytes: int) -> str:
    """Human size in binary units: ``'64 KiB'``, ``'1 GiB'``."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if nbytes >= size:
            value = nbytes / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{nbytes} B"


# --- plumbing ---------------------------------------------------------------------------------


def _method(start_method: str | None) -> str:
    return config.validate_start_method(start_method or config.start_method())


def _metadata(start_method: str) -> dict[str, Any]:
    meta = machine.collect_metadata()
    meta["start_method"] = start_method
    meta["measured_in"] = "fresh interpreter"
    return meta


def _cached_fresh(experiment: str, measure: Callable[..., Any], params: dict[str, Any]) -> Any:
    """``measure(**params)`` (a function of a chapter module), run in a fresh interpreter and
    cached."""
    run = functools.partial(_run_fresh, f"{measure.__module__}:{measure.__qualname__}")
    return ResultCache().get_or_measure(experiment, {**params, "mode": config.mode()}, run)


def _run_fresh(target: str, **params: Any) -> Any:
    params.pop("mode", None)
    return runner.run_fresh(target, params, timeout=FRESH_TIMEOUT)


def _frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return timing.frame([Measurement.from_dict(r) for r in records])


def _samples(name: str, samples: list[float], params: dict[str, Any],
             meta: dict[str, Any]) -> dict[str, Any]:
    return Measurement(name, tuple(samples), params=params, metadata=meta).to_dict()


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _memcpy_floor(nbytes: int, repeats: int, meta: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    source = np.ones(max(nbytes, 8) // 8)
    return timing.measure_once(source.copy, name="memcpy", repeats=repeats,
                               params={"nbytes": nbytes}, metadata=meta).to_dict()


def _call(pool: Any, func: Callable[..., Any], *args: Any) -> Any:
    return pools.wait_result(pool.apply_async(func, args), pool, FRESH_TIMEOUT / 2)


def _thread_call(threads: ThreadPool, func: Callable[..., Any], *args: Any) -> Any:
    return threads.apply_async(func, args).get(FRESH_TIMEOUT / 2)


def medians(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Median seconds (``value``) per group, with IQR, as :func:`mpguide.timing.summarize`."""
    return timing.summarize(df, list(by))


# --- 1. what pickling costs -------------------------------------------------------------------


def pickling_sizes() -> list[int]:
    """Payload sizes of :func:`load_pickling` (bytes)."""
    return [64 * KIB, MIB, 16 * MIB] if not config.quick_mode() else [64 * KIB, MIB]


#: The ``nested`` payload stops at this size: a list of small dicts pickles some 30 times
#: slower than memcpy (measured by this experiment), so bigger sizes only add build minutes.
NESTED_MAX_BYTES = 4 * MIB


def _serializers() -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]]:
    import cloudpickle

    def dumps_oob(obj: Any) -> tuple[bytes, list[Any]]:
        buffers: list[Any] = []
        return pickle.dumps(obj, protocol=5, buffer_callback=buffers.append), buffers

    def loads_oob(data: tuple[bytes, list[Any]]) -> Any:
        return pickle.loads(data[0], buffers=data[1])

    return {
        "pickle protocol 4": (functools.partial(pickle.dumps, protocol=4), pickle.loads),
        "pickle protocol 5": (functools.partial(pickle.dumps, protocol=5), pickle.loads),
        "pickle 5 out-of-band": (dumps_oob, loads_oob),
        "cloudpickle": (cloudpickle.dumps, pickle.loads),
    }


def _pickled_size(data: Any) -> int:
    if isinstance(data, tuple):
        return len(data[0]) + sum(memoryview(b).nbytes for b in data[1])
    return len(data)


def measure_pickling(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """``dumps`` and ``loads`` seconds per kind, size and serializer, with a memcpy floor."""
    meta = _metadata(config.start_method())
    records = []
    for nbytes in sizes:
        records.append(_memcpy_floor(nbytes, repeats, meta))
        for kind in workloads.PAYLOAD_KINDS:
            if kind == "nested" and nbytes > NESTED_MAX_BYTES:
                continue
            payload = workloads.make_payload(kind, nbytes)
            for serializer, (dumps, loads) in _serializers().items():
                data = dumps(payload)
                params = {"kind": kind, "nbytes": nbytes, "serializer": serializer,
                          "pickled_bytes": _pickled_size(data)}
                records.append(timing.measure_once(
                    dumps, payload, name="dumps", repeats=repeats,
                    params={**params, "direction": "dumps"}, metadata=meta).to_dict())
                records.append(timing.measure_once(
                    loads, data, name="loads", repeats=repeats,
                    params={**params, "direction": "loads"}, metadata=meta).to_dict())
                del data
            del payload
            gc.collect()
    return records


def load_pickling() -> pd.DataFrame:
    """Seconds of ``dumps`` and ``loads`` (``name``) per ``kind``, ``nbytes`` and
    ``serializer``; rows named ``memcpy`` hold the floor per size."""
    params = {"sizes": pickling_sizes(), "repeats": config.scaled(5, 3)}
    return _frame(_cached_fresh("transfer-pickling", measure_pickling, params))


def pickling_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per kind, size and serializer: median dumps, loads and their total, the
    memcpy floor of the same size and the total's multiple of it, and MB/s."""
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["value"].median()
    rows = df[df["name"] != "memcpy"]
    table = rows.pivot_table(index=["kind", "nbytes", "serializer", "pickled_bytes"],
                             columns="direction", values="value", aggfunc="median")
    table = table.reset_index()
    table["total_s"] = table["dumps"] + table["loads"]
    table["memcpy_s"] = table["nbytes"].map(floor)
    table["x_memcpy"] = table["total_s"] / table["memcpy_s"]
    table["MB_per_s"] = table["nbytes"] / table["total_s"] / 1e6
    table.columns.name = None
    return table.rename(columns={"dumps": "dumps_s", "loads": "loads_s"})


def plot_pickling(df: pd.DataFrame) -> Figure:
    """Throughput of dumps + loads against payload size, one panel per kind, memcpy dashed."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = pickling_summary(df)
    kinds = list(dict.fromkeys(summary["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.2 * len(kinds), 3.8), sharey=True,
                             layout="constrained")
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["value"].median()
    for ax, kind in zip(axes, kinds, strict=True):
        part = summary[summary["kind"] == kind]
        for serializer, rows in part.groupby("serializer", sort=False):
            ax.loglog(rows["nbytes"], rows["nbytes"] / rows["total_s"], "o-", label=serializer)
        ax.loglog(floor.index, floor.index / floor.to_numpy(), "k--", label="memcpy")
        ax.set_title(kind)
        ax.set_xlabel("payload (bytes)")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("bytes/s through dumps + loads")
    axes[-1].legend(fontsize=7)
    fig.suptitle("What pickling costs, by payload kind")
    return plotting.add_caption(fig, df)


# --- 2. big arguments and big results through a Pool ------------------------------------------


def pool_transfer_sizes() -> list[int]:
    """Payload sizes of :func:`load_pool_transfer` (bytes)."""
    return [MIB, 4 * MIB, 64 * MIB] if not config.quick_mode() else [MIB, 4 * MIB]


def measure_pool_transfer(start_method: str, sizes: list[int], kinds: list[str],
                          repeats: int) -> list[dict[str, Any]]:
    """Seconds for one ``apply`` whose argument is the payload (result tiny) and one whose
    result is the payload (argument tiny), on a warm ``Pool(1)``; plus building the payload
    (part of the result case) and the memcpy floor."""
    meta = _metadata(start_method)
    records = []
    with pools.bounded_pool(1, start_method, FRESH_TIMEOUT) as pool:
        _call(pool, workloads.noop, 0)
        for nbytes in sizes:
            records.append(_memcpy_floor(nbytes, repeats, meta))
            for kind in kinds:
                if kind == "nested" and nbytes > NESTED_MAX_BYTES:
                    continue
                payload = workloads.make_payload(kind, nbytes)
                params = {"kind": kind, "nbytes": nbytes, "start_method": start_method}
                cases = {
                    "argument": functools.partial(_call, pool, workloads.payload_length,
                                                  payload),
                    "result": functools.partial(_call, pool, workloads.payload_task,
                                                (kind, nbytes)),
                    "build payload": functools.partial(workloads.make_payload, kind, nbytes),
                }
                for case, func in cases.items():
                    records.append(timing.measure_once(
                        func, name=case, repeats=repeats, params=params,
                        metadata=meta).to_dict())
                del payload
    return records


def load_pool_transfer(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per ``apply`` with a big ``argument`` or a big ``result`` (``name``), by
    ``kind`` and ``nbytes``, next to ``build payload`` and ``memcpy``."""
    params = {"start_method": _method(start_method), "sizes": pool_transfer_sizes(),
              "kinds": ["ndarray", "nested"], "repeats": config.scaled(5, 3)}
    return _frame(_cached_fresh("transfer-pool", measure_pool_transfer, params))


def pool_transfer_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per kind and size: median seconds of a big argument and a big result (payload build
    time subtracted), and each as a multiple of memcpy."""
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["value"].median()
    rows = df[df["name"] != "memcpy"]
    table = rows.pivot_table(index=["kind", "nbytes"], columns="name", values="value",
                             aggfunc="median").reset_index()
    table["result"] = (table["result"] - table["build payload"]).clip(lower=0)
    table["memcpy"] = table["nbytes"].map(floor)
    table["argument_x_memcpy"] = table["argument"] / table["memcpy"]
    table["result_x_memcpy"] = table["result"] / table["memcpy"]
    table.columns.name = None
    return table.rename(columns={"argument": "argument_s", "result": "result_s",
                                 "memcpy": "memcpy_s", "build payload": "build_s"})


def plot_pool_transfer(df: pd.DataFrame) -> Figure:
    """Bars: seconds to send a big argument vs return a big result, per kind and size."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = pool_transfer_summary(df)
    labels = [f"{k}\n{sizes_label(n)}" for k, n in zip(summary["kind"], summary["nbytes"],
                                                          strict=True)]
    xs = range(len(summary))
    fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    ax.bar([x - 0.27 for x in xs], summary["argument_s"] * 1e3, 0.27, label="big argument")
    ax.bar(list(xs), summary["result_s"] * 1e3, 0.27, label="big result")
    ax.bar([x + 0.27 for x in xs], summary["memcpy_s"] * 1e3, 0.27, label="memcpy", color="0.6")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per apply (median)")
    ax.set_title("One big argument or one big result through a warm Pool(1)")
    ax.legend(fontsize=8)
    return plotting.add_caption(fig, df)


# --- 3. seed 003: thread pool vs spawn process pool -------------------------------------------


def seed003_nbytes() -> int:
    """Array size of :func:`load_seed003`: 256 MiB (the article's 1 GiB scaled down to keep a
    2-core build within minutes; both sides grow linearly), 32 MiB in quick mode."""
    return config.scaled(256 * MIB, 32 * MIB)


def measure_seed003(nbytes: int, start_method: str, repeats: int) -> list[dict[str, Any]]:
    """The article's experiment: ``np.sum`` of an array of ones (uint8) in a ``ThreadPool(1)``
    and in a ``Pool(1)`` of ``start_method``, timed like the article from just after the pool
    was created to the result; plus a warm call on the same process pool."""
    import numpy as np

    meta = _metadata(start_method)
    array = np.ones(nbytes, dtype=np.uint8)
    expected = int(array.sum())
    samples: dict[str, list[float]] = {"thread pool": [], "process pool, first call": [],
                                       "process pool, warm": []}
    for _ in range(repeats):
        with ThreadPool(1) as threads:
            elapsed, total = _timed(functools.partial(
                _thread_call, threads, np.sum, array))
            samples["thread pool"].append(elapsed)
            timing.check_same(expected, int(total), "thread pool sum")
        with pools.bounded_pool(1, start_method, FRESH_TIMEOUT) as pool:
            for case in ("process pool, first call", "process pool, warm"):
                elapsed, total = _timed(functools.partial(_call, pool, np.sum, array))
                timing.check_same(expected, int(total), "process pool sum")
                samples[case].append(elapsed)
        gc.collect()
    params = {"nbytes": nbytes, "start_method": start_method}
    return [_samples(name, values, params, meta) for name, values in samples.items()]


def load_seed003(start_method: str = "spawn") -> pd.DataFrame:
    """Seconds per variant (``name``) of the seed article's sum; spawn like the article."""
    params = {"nbytes": seed003_nbytes(), "start_method": _method(start_method),
              "repeats": config.scaled(3, 2)}
    return _frame(_cached_fresh("transfer-seed003", measure_seed003, params))


def seed003_table(df: pd.DataFrame) -> pd.DataFrame:
    """The article's two numbers beside ours, and the process/thread ratio of each."""
    ours = df.groupby("name", sort=False)["value"].median()
    thread, process = ours["thread pool"], ours["process pool, first call"]
    import pandas as pd

    return pd.DataFrame([
        {"source": f"{SEED_003} (published)", "array": sizes_label(SEED_003_SUM["nbytes"]),
         "thread_pool_s": SEED_003_SUM["thread pool"],
         "process_pool_s": SEED_003_SUM["spawn process pool"],
         "process_over_thread": ratio(SEED_003_SUM["spawn process pool"],
                                      SEED_003_SUM["thread pool"])},
        {"source": "this machine", "array": sizes_label(int(df["nbytes"].iloc[0])),
         "thread_pool_s": thread, "process_pool_s": process,
         "process_over_thread": ratio(process, thread)},
    ])


def plot_seed003(df: pd.DataFrame) -> Figure:
    """Bars: this machine's seconds per variant beside the article's published pair."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = medians(df, ["name"])
    fig, (ours, theirs) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained",
                                       gridspec_kw={"width_ratios": [3, 2]})
    ours.barh(summary["name"], summary["median"], xerr=summary["iqr"] / 2, capsize=3,
              color=["tab:blue", "tab:red", "tab:orange"][: len(summary)])
    ours.invert_yaxis()
    ours.set_xlabel("seconds (median)")
    ours.set_title(f"This machine: sum of {sizes_label(int(df['nbytes'].iloc[0]))}")
    theirs.barh(["thread pool", "spawn process pool"],
                [SEED_003_SUM["thread pool"], SEED_003_SUM["spawn process pool"]],
                color=["tab:blue", "tab:red"], alpha=0.5)
    theirs.invert_yaxis()
    theirs.set_xlabel("seconds (published)")
    theirs.set_title("Seed article, 1 GiB", fontsize=10)
    return plotting.add_caption(fig, df)


# --- claims -----------------------------------------------------------------------------------


@claims.claim("nested-pickles-slowest", chapter=CHAPTER,
              statement="Per byte, pickling many small Python objects costs {factor:.0f}x "
                        "more than pickling a numpy array ({size}, protocol 5).")
def _nested_pickles_slowest() -> claims.Evidence:
    summary = pickling_summary(load_pickling())
    size = int(summary[summary["kind"] == "nested"]["nbytes"].max())
    rows = summary[(summary["nbytes"] == size) & (summary["serializer"] == "pickle protocol 5")]
    per_byte = rows.set_index("kind")["total_s"] / size
    factor = ratio(per_byte["nested"], per_byte["ndarray"])
    return claims.Evidence(
        holds=factor >= 5, values={"factor": factor, "size": sizes_label(size)},
        evidence=f"dumps + loads: nested {per_byte['nested'] * size * 1e3:.1f} ms, ndarray "
                 f"{per_byte['ndarray'] * size * 1e3:.1f} ms for {sizes_label(size)}.")


@claims.claim("oob-beats-in-band", chapter=CHAPTER,
              statement="For a {size} numpy array, protocol 5 with out-of-band buffers "
                        "pickles and unpickles {factor:.0f}x faster than the protocol 4 "
                        "multiprocessing uses before Python 3.14.")
def _oob_beats_in_band() -> claims.Evidence:
    summary = pickling_summary(load_pickling())
    size = int(summary["nbytes"].max())
    rows = summary[(summary["nbytes"] == size) & (summary["kind"] == "ndarray")]
    totals = rows.set_index("serializer")["total_s"]
    factor = ratio(totals["pickle protocol 4"], totals["pickle 5 out-of-band"])
    return claims.Evidence(
        holds=factor > 1, values={"factor": factor, "size": sizes_label(size)},
        evidence=f"protocol 4 {totals['pickle protocol 4'] * 1e3:.2f} ms, protocol 5 in-band "
                 f"{totals['pickle protocol 5'] * 1e3:.2f} ms, out-of-band "
                 f"{totals['pickle 5 out-of-band'] * 1e3:.3f} ms (buffers not copied).")


@claims.claim("seed003-threads-win", chapter=CHAPTER,
              statement="Summing a {size} array in a thread pool is {ours:.1f}x faster than in "
                        "a {method} process pool here; the seed article measured "
                        "{theirs:.1f}x for 1 GiB.")
def _seed003_threads_win() -> claims.Evidence:
    df = load_seed003()
    table = seed003_table(df)
    ours = float(table["process_over_thread"].iloc[1])
    return claims.Evidence(
        holds=ours > 1,
        values={"size": sizes_label(int(df["nbytes"].iloc[0])), "ours": ours,
                "theirs": float(table["process_over_thread"].iloc[0]),
                "method": df["start_method"].iloc[0]},
        evidence=f"thread pool {table['thread_pool_s'].iloc[1]:.3f} s, process pool (first "
                 f"call after creating it) {table['process_pool_s'].iloc[1]:.3f} s; "
                 f"published: {SEED_003_SUM['thread pool']} s vs "
                 f"{SEED_003_SUM['spawn process pool']} s.")
