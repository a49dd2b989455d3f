"""Chapter 2, "Moving data between processes": experiments, tables, figures and claims.

Every argument and result of a Pool is pickled, sent through a pipe and unpickled, and every
worker holds its own copy of what it received. The experiments measure each way of moving
data, each against the cheapest possible move, one ``memcpy`` of the same bytes:

* :func:`load_pickling`: ``dumps``/``loads`` by payload kind and size for pickle protocol 4
  (what ``multiprocessing`` uses before Python 3.14), protocol 5 in-band and out-of-band, and
  cloudpickle (what loky and joblib use).
* :func:`load_pool_transfer`: one big argument, and one big result, through a warm ``Pool``.
* :func:`load_seed003`: the seed article *Python's multiprocessing performance problem*:
  ``np.sum`` of a large array in a thread pool against a spawn process pool.
* :func:`load_send_less`: heavy state sent with every task, or once per worker by an
  initializer with only an index per task, as the state grows.
* :func:`load_shm_handoff` and :func:`load_shared_vs_pickled`: the :mod:`mpguide.shm` helper
  against pickling the array.
* :func:`load_files`: a path to a parquet, ``.npy`` or memory-mapped file against pickling a
  DataFrame (the seed article's option 3).
* :func:`load_worker_memory` and :func:`load_cow`: RSS, USS and PSS of each worker per start
  method, and how a fork worker's private memory grows as it merely reads a big global.

Each experiment runs in a fresh interpreter (:func:`mpguide.runner.run_fresh`) and is cached;
``MPGUIDE_QUICK=1`` shrinks sizes. Worker functions live here so every start method finds them.

Examples
--------
>>> from mpguide import transfer
>>> transfer.ratio(0.3, 0.1)
3.0
>>> transfer.sizes_label(3 * transfer.MIB)
'3 MiB'
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools, runner, shm, timing, workloads
from mpguide.cache import ResultCache
from mpguide.timing import Measurement

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

PAGE = "guide/02-transfer"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

#: Seconds a fresh interpreter may take for one experiment (full mode moves gigabytes).
FRESH_TIMEOUT = 600.0

#: The seed article the thread-vs-process and file experiments come from, and its numbers
#: (seconds, as published: 1 GiB uint8 array, one worker; 10,000,000-row DataFrame).
SEED_003 = "Python's multiprocessing performance problem"
SEED_003_SUM = {"nbytes": GIB, "thread pool": 0.31, "spawn process pool": 1.80}
SEED_003_FILES = {"rows": 10_000_000, "pickle": 0.24, "parquet": 0.17}
SEED_001 = "How to Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead"

#: Serializers of the pickling experiment.
SERIALIZERS = ("pickle protocol 4", "pickle protocol 5", "pickle 5 out-of-band", "cloudpickle")

#: The shared-memory helper's performance target: handing an array to a worker costs at most
#: this many times one ``memcpy`` of it (issue 4).
HANDOFF_TARGET = 1.5


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


def _cached_fresh(experiment: str, function: str, params: dict[str, Any]) -> Any:
    """``function(**params)`` of this module, run in a fresh interpreter and cached."""
    run = functools.partial(_run_fresh, function)
    return ResultCache().get_or_measure(experiment, {**params, "mode": config.mode()}, run)


def _run_fresh(function: str, **params: Any) -> Any:
    params.pop("mode", None)
    return runner.run_fresh(f"{__name__}:{function}", params, timeout=FRESH_TIMEOUT)


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


# --- worker functions (pickled by reference: every start method imports them from here) ------


def slice_total(array: Any) -> float:
    """Sum of an array a worker received by pickling (the counterpart of
    :func:`mpguide.shm.sum_slice`)."""
    return float(array.sum())


#: Per-process state: ``"state"`` (set by :func:`install_state` in a worker) and
#: ``"big_global"`` (set in the parent before a fork pool starts, so only fork workers have it).
WORKER_STATE: dict[str, Any] = {}


def install_state(state: Any) -> None:
    """Pool initializer: keep ``state`` in the worker for every later task."""
    WORKER_STATE["state"] = state


def lookup_index(index: int) -> float:
    """Task given only an index: read it from the state :func:`install_state` installed."""
    state = WORKER_STATE["state"]
    return float(state[index % len(state)])


def lookup_in(task: tuple[Any, int]) -> float:
    """Task given the whole state with its index, ``(state, index)``, every time."""
    state, index = task
    return float(state[index % len(state)])


def parquet_rows(path: str) -> int:
    """Read a parquet file into a DataFrame (pyarrow); return its row count."""
    import pandas as pd

    return len(pd.read_parquet(path, engine="pyarrow"))


def npy_rows(path: str) -> int:
    """Load a ``.npy`` file into memory; return its length."""
    import numpy as np

    return len(np.load(path))


def memmap_rows(path: str) -> int:
    """Map a ``.npy`` file (``mmap_mode="r"``), read one byte per page; return its length."""
    import numpy as np

    array = np.load(path, mmap_mode="r")
    shm.touch_pages(array)
    return len(array)


def walk_global(fraction: float) -> int:
    """Read the first ``fraction`` of the big global list (touching each item's reference
    count, as any read does) and return how many items there were."""
    items = WORKER_STATE.get("big_global") or []
    count = 0
    for _ in items[: int(len(items) * fraction)]:
        count += 1
    return count


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
    return _frame(_cached_fresh("transfer-pickling", "measure_pickling", params))


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
    return _frame(_cached_fresh("transfer-pool", "measure_pool_transfer", params))


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
    return _frame(_cached_fresh("transfer-seed003", "measure_seed003", params))


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


# --- 4. send less: initializer + index vs state with every task -------------------------------


def send_less_sizes() -> list[int]:
    """State sizes of :func:`load_send_less` (bytes)."""
    return [64 * KIB, MIB, 16 * MIB] if not config.quick_mode() else [64 * KIB, 2 * MIB]


def measure_send_less(start_method: str, sizes: list[int], tasks: int, workers: int,
                      repeats: int) -> list[dict[str, Any]]:
    """Seconds for ``tasks`` lookups in a float64 state of each size through
    ``Pool(workers)`` (start and stop included, where the initializer's cost lands): state
    pickled with every task, or once per worker by an initializer and an index per task."""
    import numpy as np

    meta = _metadata(start_method)
    records = []
    for nbytes in sizes:
        state = np.arange(nbytes // 8, dtype=np.float64)
        expected = [float(state[i % len(state)]) for i in range(tasks)]

        every_task = functools.partial(_map_fresh_pool, start_method, workers, lookup_in,
                                       [(state, i) for i in range(tasks)])
        initializer = functools.partial(_map_fresh_pool, start_method, workers, lookup_index,
                                        list(range(tasks)), initializer=install_state,
                                        initargs=(state,))
        for name, func in (("state with every task", every_task),
                           ("initializer + index", initializer)):
            samples = []
            for _ in range(repeats):  # each run starts its own pool: no warm-up to drop
                elapsed, result = _timed(func)
                timing.check_same(expected, result, name)
                samples.append(elapsed)
            records.append(_samples(name, samples, {
                "nbytes": nbytes, "tasks": tasks, "workers": workers,
                "start_method": start_method}, meta))
    return records


def _map_fresh_pool(start_method: str, workers: int, func: Callable[[Any], Any],
                    items: list[Any], **pool_kwargs: Any) -> list[Any]:
    """Start a pool, ``map(func, items, chunksize=1)``, stop it (no pre-flight pickling)."""
    with pools.bounded_pool(workers, start_method, FRESH_TIMEOUT, **pool_kwargs) as pool:
        return pools.wait_result(pool.map_async(func, items, chunksize=1), pool, FRESH_TIMEOUT)


def load_send_less(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per variant (``name``) and state size (``nbytes``), pool start included."""
    params = {"start_method": _method(start_method), "sizes": send_less_sizes(),
              "tasks": config.scaled(64, 16), "workers": max(2, machine.usable_cpus()),
              "repeats": config.scaled(3, 2)}
    return _frame(_cached_fresh("transfer-send-less", "measure_send_less", params))


def plot_send_less(df: pd.DataFrame) -> Figure:
    """Seconds against state size for both variants (log-log)."""
    from mpguide import plotting

    fig = plotting.chunksize_plot(
        df, x="nbytes", hue="name", logy=True, caption=df,
        title=f"{int(df['tasks'].iloc[0])} tasks needing a lookup in shared state",
        ylabel="seconds incl. pool start (median, IQR)")
    fig.axes[0].set_xlabel("state size (bytes)")
    return fig


# --- 5. shared memory -------------------------------------------------------------------------


#: Name of the hand-off through a reused segment (:func:`mpguide.shm.shared_arena`).
REUSED = "shared_arena (reused)"

#: Back-to-back copies per memcpy sample of the hand-off experiment, best one kept. A fresh
#: 256 MiB numpy copy swung between 0.1 s and 0.7 s on the 2-core build VM, depending on
#: whether the kernel had free huge pages at hand (numpy asks for them); a copy right after
#: another reuses the pages just freed, which is the floor the helper is compared with.
MEMCPY_TRIES = 3


def handoff_nbytes() -> int:
    """Array size of :func:`load_shm_handoff`: 256 MiB (the issue's target), 16 MiB quick."""
    return config.scaled(256 * MIB, 16 * MIB)


def measure_shm_handoff(start_method: str, nbytes: int, repeats: int) -> list[dict[str, Any]]:
    """Interleaved samples of handing one array to a warm worker that reads every page:

    ``memcpy`` (one copy into fresh memory, the floor: best of :data:`MEMCPY_TRIES`
    back-to-back copies, each freed at once), ``shared_array`` (create the segment,
    copy once, the worker attaches and reads a byte per page), ``shared_array cleanup`` (close
    and unlink after), ``shared_arena (reused)`` (the same through a
    :func:`mpguide.shm.shared_arena` whose segment was created in the warm-up round), and
    ``pickle`` (the array as an ``apply`` argument).
    """
    import numpy as np

    meta = _metadata(start_method)
    array = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
    expected = shm.touch_pages(array)
    samples: dict[str, list[float]] = {"memcpy": [], "shared_array": [],
                                       "shared_array cleanup": [], REUSED: [], "pickle": []}
    with pools.bounded_pool(1, start_method, FRESH_TIMEOUT) as pool, \
            shm.shared_arena() as arena:
        _call(pool, workloads.noop, 0)
        for repeat in range(repeats + 1):
            memcpy_s = min(_timed(array.copy)[0] for _ in range(MEMCPY_TRIES))
            start = time.perf_counter()
            with shm.shared_array(array) as handle:
                checksum = _call(pool, shm.touch_pages, handle)
                handed = time.perf_counter()
            cleaned = time.perf_counter()
            shared_s, cleanup_s = handed - start, cleaned - handed
            timing.check_same(expected, checksum, "shared-array checksum")
            start = time.perf_counter()
            with arena.share(array) as handle:
                checksum = _call(pool, shm.touch_pages, handle)
                reused_s = time.perf_counter() - start
            timing.check_same(expected, checksum, "shared-arena checksum")
            pickle_s, checksum = _timed(functools.partial(_call, pool, shm.touch_pages, array))
            timing.check_same(expected, checksum, "pickled checksum")
            if repeat:  # the first round warms up
                samples["memcpy"].append(memcpy_s)
                samples["shared_array"].append(shared_s)
                samples["shared_array cleanup"].append(cleanup_s)
                samples[REUSED].append(reused_s)
                samples["pickle"].append(pickle_s)
    params = {"nbytes": nbytes, "start_method": start_method}
    return [_samples(name, values, params, meta) for name, values in samples.items()]


def load_shm_handoff(start_methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Seconds per way (``name``) of handing an array to a worker, per start method."""
    methods = list(start_methods or config.available_start_methods())
    frames = [
        _frame(_cached_fresh("transfer-shm-handoff", "measure_shm_handoff",
                             {"start_method": _method(m), "nbytes": handoff_nbytes(),
                              "repeats": config.scaled(5, 2)}))
        for m in methods
    ]
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def handoff_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per start method: median seconds of each way and their multiples of memcpy."""
    table = df.pivot_table(index="start_method", columns="name", values="value",
                           aggfunc="median")
    table["shared_array_x_memcpy"] = table["shared_array"] / table["memcpy"]
    table["reused_x_memcpy"] = table[REUSED] / table["memcpy"]
    table["pickle_x_memcpy"] = table["pickle"] / table["memcpy"]
    table.columns.name = None
    return table.reset_index()


def plot_shm_handoff(df: pd.DataFrame) -> Figure:
    """Bars: ms to hand the array over, per start method and way, memcpy beside."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = handoff_summary(df)
    ways = ["memcpy", "shared_array", REUSED, "pickle"]
    fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
    width = 0.8 / len(ways)
    for i, way in enumerate(ways):
        xs = [x + (i - 1.5) * width for x in range(len(summary))]
        ax.bar(xs, summary[way] * 1e3, width, label=way,
               color={"memcpy": "0.6", "shared_array": "tab:green", REUSED: "tab:olive",
                      "pickle": "tab:red"}[way])
    ax.set_xticks(range(len(summary)), summary["start_method"])
    ax.set_ylabel("ms (median)")
    ax.set_title(f"Handing {sizes_label(int(df['nbytes'].iloc[0]))} to a warm worker")
    ax.legend(fontsize=8)
    return plotting.add_caption(fig, df, "fork, spawn, forkserver")


def measure_shared_vs_pickled(start_method: str, nbytes: int, parts: int, workers: int,
                              repeats: int) -> list[dict[str, Any]]:
    """Seconds to sum a float64 array in ``parts`` slices on a warm ``Pool(workers)``: each
    slice pickled as an argument, or one ``shared_array`` and ``(handle, start, stop)`` per
    task (segment creation, copy and cleanup included)."""
    import numpy as np

    meta = _metadata(start_method)
    array = np.arange(nbytes // 8, dtype=np.float64)
    edges = np.linspace(0, len(array), parts + 1).astype(int)
    bounds = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
    expected = float(array.sum())
    with pools.bounded_pool(workers, start_method, FRESH_TIMEOUT) as pool:
        def run(func: Callable[[Any], float], tasks: list[Any]) -> float:
            result = pool.map_async(func, tasks, chunksize=1)
            return float(sum(pools.wait_result(result, pool, FRESH_TIMEOUT)))

        def pickled() -> float:
            return run(slice_total, [array[a:b] for a, b in bounds])

        def shared() -> float:
            with shm.shared_array(array) as handle:
                return run(shm.sum_slice, [(handle, a, b) for a, b in bounds])

        records = []
        for name, func in (("pickled slices", pickled), ("shared_array + indices", shared)):
            timing.check_same(expected, func(), name)
            records.append(timing.measure_once(
                func, name=name, repeats=repeats,
                params={"nbytes": nbytes, "parts": parts, "workers": workers,
                        "start_method": start_method}, metadata=meta).to_dict())
    return records


def load_shared_vs_pickled(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per way (``name``) of summing a big array in slices on a warm pool."""
    params = {"start_method": _method(start_method),
              "nbytes": config.scaled(256 * MIB, 16 * MIB), "parts": 8,
              "workers": max(2, machine.usable_cpus()),
              "repeats": config.scaled(5, 3)}
    return _frame(_cached_fresh("transfer-shared-vs-pickled", "measure_shared_vs_pickled",
                                params))


# --- 6. files ---------------------------------------------------------------------------------


def files_rows() -> int:
    """DataFrame rows of :func:`load_files`: the article's 10,000,000, 500,000 quick."""
    return config.scaled(SEED_003_FILES["rows"], 500_000)


def measure_files(start_method: str, rows: int, repeats: int) -> list[dict[str, Any]]:
    """Seconds to get a one-column int64 DataFrame of ``rows`` rows into a warm worker:
    pickled as the argument, or written to a file (uncompressed parquet via pyarrow,
    ``.npy``) whose path is sent and which the worker reads (or memory-maps and pages in).
    Writing the file is included, as in the article."""
    import numpy as np
    import pandas as pd

    meta = _metadata(start_method)
    frame = pd.DataFrame({"column": np.arange(rows, dtype=np.int64)})
    with tempfile.TemporaryDirectory(prefix="mpguide-files-") as tmp, \
            pools.bounded_pool(1, start_method, FRESH_TIMEOUT) as pool:
        parquet, npy = str(Path(tmp, "frame.parquet")), str(Path(tmp, "column.npy"))

        def via_parquet() -> int:
            frame.to_parquet(parquet, engine="pyarrow", compression=None)
            return _call(pool, parquet_rows, parquet)

        def via_npy(reader: Callable[[str], int]) -> Callable[[], int]:
            def run() -> int:
                np.save(npy, frame["column"].to_numpy())
                return _call(pool, reader, npy)
            return run

        cases = {
            "pickle": lambda: _call(pool, workloads.payload_length, frame),
            "parquet file": via_parquet,
            ".npy file": via_npy(npy_rows),
            "np.memmap of .npy": via_npy(memmap_rows),
        }
        _call(pool, workloads.noop, 0)
        records = []
        for name, func in cases.items():
            timing.check_same(rows, func(), name)
            records.append(timing.measure_once(
                func, name=name, repeats=repeats,
                params={"rows": rows, "nbytes": rows * 8, "start_method": start_method},
                metadata=meta).to_dict())
    return records


def load_files(start_method: str = "spawn") -> pd.DataFrame:
    """Seconds per way (``name``) of getting a DataFrame into a worker; spawn like the
    article."""
    params = {"start_method": _method(start_method), "rows": files_rows(),
              "repeats": config.scaled(5, 2)}
    return _frame(_cached_fresh("transfer-files", "measure_files", params))


def files_table(df: pd.DataFrame) -> pd.DataFrame:
    """Our medians per way beside the article's published pickle and parquet seconds."""
    summary = medians(df, ["name"])
    pickle_s = float(summary.set_index("name").loc["pickle", "median"])
    summary["x_pickle"] = summary["median"] / pickle_s
    published = {"pickle": SEED_003_FILES["pickle"], "parquet file": SEED_003_FILES["parquet"]}
    summary["published_s"] = summary["name"].map(published)
    summary["published_x_pickle"] = summary["published_s"] / SEED_003_FILES["pickle"]
    return summary[["name", "median", "iqr", "x_pickle", "published_s", "published_x_pickle"]]


def plot_files(df: pd.DataFrame) -> Figure:
    """Bars: seconds per way, the article's two published numbers marked."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = medians(df, ["name"])
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    ax.barh(summary["name"], summary["median"], xerr=summary["iqr"] / 2, capsize=3,
            color="tab:purple")
    ax.invert_yaxis()
    rows = int(df["rows"].iloc[0])
    ax.set_xlabel("seconds (median; file writing included)")
    ax.set_title(f"A {rows:,}-row DataFrame into a warm worker")
    return plotting.add_caption(fig, df)


# --- 7. memory per worker ---------------------------------------------------------------------


def global_items() -> int:
    """Items of the big global list of the memory experiments (about 40 bytes each)."""
    return config.scaled(5_000_000, 500_000)


@contextlib.contextmanager
def _big_global(items: int) -> Iterator[None]:
    WORKER_STATE["big_global"] = list(range(10**6, 10**6 + items))
    try:
        yield
    finally:
        del WORKER_STATE["big_global"]


def _memory(pid: int) -> dict[str, float]:
    import psutil

    info = psutil.Process(pid).memory_full_info()
    return {"rss_mib": info.rss / MIB, "uss_mib": info.uss / MIB,
            "pss_mib": getattr(info, "pss", float("nan")) / MIB}


def measure_worker_memory(start_methods: list[str], items: int,
                          workers: int) -> list[dict[str, Any]]:
    """RSS, USS and PSS of the parent and of each idle worker of a ``Pool(workers)`` per
    start method, the parent holding a list of ``items`` ints (numpy and pandas imported)."""
    import numpy  # noqa: F401  (a realistic parent: the imports a data script has)
    import pandas  # noqa: F401

    rows = []
    with _big_global(items):
        parent_meta = _metadata(config.start_method())
        for method in start_methods:
            meta = {**parent_meta, "start_method": method}
            with pools.bounded_pool(workers, method, FRESH_TIMEOUT) as pool:
                pools.wait_result(pool.map_async(workloads.noop, range(workers), chunksize=1),
                                  pool, FRESH_TIMEOUT)
                rows.append({"process": "parent", **_memory(os.getpid()), **meta})
                for i, worker in enumerate(pool._pool):
                    rows.append({"process": f"worker {i}", **_memory(worker.pid), **meta})
    return rows


def load_worker_memory() -> pd.DataFrame:
    """Memory (MiB) per process (parent, worker i) and start method."""
    import pandas as pd

    params = {"start_methods": config.available_start_methods(), "items": global_items(),
              "workers": max(2, machine.usable_cpus())}
    return pd.DataFrame(_cached_fresh("transfer-worker-memory", "measure_worker_memory",
                                      params))


def measure_cow(items: int, fractions: list[float]) -> list[dict[str, Any]]:
    """Memory of one fork worker as it reads more and more of the inherited global list
    (reading an item writes its reference count, so its page is copied)."""
    rows = []
    with _big_global(items), pools.bounded_pool(1, "fork", FRESH_TIMEOUT) as pool:
        meta = _metadata("fork")
        pid = _call(pool, os.getpid)
        for fraction in fractions:
            read = _call(pool, walk_global, fraction)
            rows.append({"fraction_read": fraction, "items_read": read, **_memory(pid), **meta})
    return rows


def load_cow() -> pd.DataFrame:
    """A fork worker's memory (MiB) after reading a growing fraction of the global."""
    import pandas as pd

    params = {"items": global_items(), "fractions": [0.0, 0.25, 0.5, 0.75, 1.0]}
    return pd.DataFrame(_cached_fresh("transfer-cow", "measure_cow", params))


def plot_memory(memory: pd.DataFrame, cow: pd.DataFrame) -> Figure:
    """Left: RSS, PSS and USS of one worker per start method; right: a fork worker's USS and
    RSS as it reads the inherited global."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    workers = memory[memory["process"] == "worker 0"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9), layout="constrained")
    width = 0.27
    for i, column in enumerate(("rss_mib", "pss_mib", "uss_mib")):
        left.bar([x + (i - 1) * width for x in range(len(workers))], workers[column], width,
                 label=column.split("_")[0].upper())
    left.set_xticks(range(len(workers)), workers["start_method"])
    left.set_ylabel("MiB (one idle worker)")
    left.set_title("Memory of a worker per start method")
    left.legend(fontsize=8)
    right.plot(cow["fraction_read"] * 100, cow["rss_mib"], "o-", label="RSS")
    right.plot(cow["fraction_read"] * 100, cow["uss_mib"], "o-", label="USS (private)")
    right.set_xlabel("% of the inherited list read by the worker")
    right.set_ylabel("MiB")
    right.set_title("fork: reading is writing (reference counts)")
    right.legend(fontsize=8)
    return plotting.add_caption(fig, memory, "fork, spawn, forkserver")


# --- claims -----------------------------------------------------------------------------------


@claims.claim("shm-handoff-near-memcpy", chapter="transfer", page=PAGE,
              statement="Through a reused segment (shared_arena) the helper hands a {size} "
                        "array to a worker in at most {target:.1f}x one memcpy of it under "
                        "every start method (worst: {reused_worst:.2f}x under {worst_method}); "
                        "a one-shot shared_array, which needs a fresh segment, takes up to "
                        "{oneshot_worst:.2f}x, and pickling {pickle_x:.1f}x.")
def _shm_handoff_near_memcpy() -> claims.Evidence:
    summary = handoff_summary(load_shm_handoff())
    worst = summary.loc[summary["reused_x_memcpy"].idxmax()]
    parts = "; ".join(f"{r.start_method}: memcpy {r.memcpy * 1e3:.0f} ms, reused segment "
                      f"{r.reused_x_memcpy:.2f}x, shared_array {r.shared_array * 1e3:.0f} ms "
                      f"({r.shared_array_x_memcpy:.2f}x)"
                      for r in summary.itertuples())
    return claims.Evidence(
        holds=bool(worst["reused_x_memcpy"] <= HANDOFF_TARGET),
        values={"size": sizes_label(handoff_nbytes()), "target": HANDOFF_TARGET,
                "reused_worst": float(worst["reused_x_memcpy"]),
                "worst_method": worst["start_method"],
                "oneshot_worst": float(summary["shared_array_x_memcpy"].max()),
                "pickle_x": float(summary["pickle_x_memcpy"].median())},
        evidence=f"Medians, interleaved in one run: {parts}.")


@claims.claim("nested-pickles-slowest", chapter="transfer", page=PAGE,
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


@claims.claim("oob-beats-in-band", chapter="transfer", page=PAGE,
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


@claims.claim("seed003-threads-win", chapter="transfer", page=PAGE,
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


@claims.claim("initializer-wins-big-state", chapter="transfer", page=PAGE,
              statement="With {size} of state, installing it once per worker (initializer) "
                        "and sending indices is {factor:.1f}x faster than sending it with "
                        "every one of {tasks} tasks.")
def _initializer_wins() -> claims.Evidence:
    df = load_send_less()
    size = int(df["nbytes"].max())
    med = df[df["nbytes"] == size].groupby("name")["value"].median()
    factor = ratio(med["state with every task"], med["initializer + index"])
    return claims.Evidence(
        holds=factor >= 2,
        values={"size": sizes_label(size), "factor": factor, "tasks": int(df["tasks"].iloc[0])},
        evidence=f"every task {med['state with every task']:.3f} s, initializer "
                 f"{med['initializer + index']:.3f} s (pool start and stop included).")


@claims.claim("shm-beats-pickled-slices", chapter="transfer", page=PAGE,
              statement="Summing a {size} array in slices on a warm pool is {factor:.1f}x "
                        "faster with shared_array and indices than with pickled slices, "
                        "segment creation and cleanup included.")
def _shm_beats_pickled() -> claims.Evidence:
    df = load_shared_vs_pickled()
    med = df.groupby("name")["value"].median()
    factor = ratio(med["pickled slices"], med["shared_array + indices"])
    return claims.Evidence(
        holds=factor > 1, values={"size": sizes_label(int(df["nbytes"].iloc[0])),
                                  "factor": factor},
        evidence=f"pickled slices {med['pickled slices']:.3f} s, shared_array "
                 f"{med['shared_array + indices']:.3f} s.")


@claims.claim("parquet-beats-pickle", chapter="transfer", page=PAGE,
              statement="Writing a {rows:,}-row DataFrame to parquet and sending the path "
                        "takes {ours:.2f}x the time of pickling it here (the seed article: "
                        "{theirs:.2f}x).")
def _parquet_beats_pickle() -> claims.Evidence:
    df = load_files()
    table = files_table(df).set_index("name")
    ours = float(table.loc["parquet file", "x_pickle"])
    return claims.Evidence(
        holds=ours < 1,
        values={"rows": int(df["rows"].iloc[0]), "ours": ours,
                "theirs": SEED_003_FILES["parquet"] / SEED_003_FILES["pickle"]},
        evidence=f"pickle {table.loc['pickle', 'median']:.3f} s, parquet "
                 f"{table.loc['parquet file', 'median']:.3f} s, .npy "
                 f"{table.loc['.npy file', 'median']:.3f} s, memmap "
                 f"{table.loc['np.memmap of .npy', 'median']:.3f} s; published: "
                 f"{SEED_003_FILES['pickle']} s vs {SEED_003_FILES['parquet']} s.")


#: Bytes of one small int object in CPython (what each item of the big global list points to).
INT_OBJECT_BYTES = 32


@claims.claim("fork-reading-copies", chapter="transfer", page=PAGE,
              statement="A fork worker starts out sharing the parent's {items:,}-item list "
                        "(private memory {uss_before:.0f} MiB), but merely reading all of it "
                        "adds {growth:.0f} MiB of private memory, about the {objects:.0f} MiB "
                        "of int objects whose reference counts the reads wrote.")
def _fork_reading_copies() -> claims.Evidence:
    cow = load_cow().sort_values("fraction_read")
    before, after = cow.iloc[0], cow.iloc[-1]
    growth = float(after["uss_mib"] - before["uss_mib"])
    items = int(after["items_read"])
    objects = items * INT_OBJECT_BYTES / MIB
    return claims.Evidence(
        holds=growth >= objects / 2,
        values={"items": items, "uss_before": float(before["uss_mib"]), "growth": growth,
                "objects": objects},
        evidence=f"USS {before['uss_mib']:.0f} → {after['uss_mib']:.0f} MiB and PSS "
                 f"{before['pss_mib']:.0f} → {after['pss_mib']:.0f} MiB while RSS stayed "
                 f"{before['rss_mib']:.0f} → {after['rss_mib']:.0f} MiB: the pages were "
                 f"already mapped, now they are private copies.")


@claims.claim("spawn-workers-start-small", chapter="transfer", page=PAGE,
              statement="A spawn worker's private memory ({spawn:.0f} MiB) does not grow with "
                        "the parent's data; an idle fork worker's RSS counts the inherited "
                        "{parent:.0f} MiB parent ({fork_rss:.0f} MiB RSS) while its USS stays "
                        "at {fork_uss:.0f} MiB.")
def _spawn_workers_start_small() -> claims.Evidence:
    memory = load_worker_memory()
    workers = memory[memory["process"] == "worker 0"].set_index("start_method")
    parent = float(memory[memory["process"] == "parent"]["rss_mib"].median())
    fork, spawn = workers.loc["fork"], workers.loc["spawn"]
    return claims.Evidence(
        holds=bool(spawn["rss_mib"] < parent / 2 and fork["uss_mib"] < fork["rss_mib"] / 2),
        values={"spawn": float(spawn["uss_mib"]), "parent": parent,
                "fork_rss": float(fork["rss_mib"]), "fork_uss": float(fork["uss_mib"])},
        evidence=f"parent RSS {parent:.0f} MiB; spawn worker RSS {spawn['rss_mib']:.0f} MiB, "
                 f"USS {spawn['uss_mib']:.0f} MiB; fork worker RSS {fork['rss_mib']:.0f} MiB, "
                 f"PSS {fork['pss_mib']:.0f} MiB, USS {fork['uss_mib']:.0f} MiB.")
