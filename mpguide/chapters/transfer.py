"""Chapter 2, "Moving data between processes": what pickling and the pipe cost.

Every argument and result of a Pool is pickled, sent through a pipe and unpickled, and every
worker holds its own copy of what it received. Each way of moving data is measured against
the cheapest possible move, one ``memcpy`` of the same bytes (:func:`mpguide.probes.memcpy`).
This module declares the chapter and measures pickling; :mod:`mpguide.chapters.send_less`
the ways to send less, :mod:`mpguide.chapters.worker_memory` what each worker holds:

* :func:`load_pickling`: ``dumps``/``loads`` by payload kind and size for pickle protocol 4
  (``multiprocessing`` before Python 3.14), protocol 5 in-band and out-of-band, and
  cloudpickle (loky, joblib); declared by :func:`pickling_params`.
* :func:`load_pool_transfer`: big arguments (:func:`fat_items`) and big results
  (:func:`fat_result_items`) through a warm ``Pool`` of the usable cores, one
  :class:`~mpguide.experiment.Experiment` per kind, size and direction
  (:func:`pool_transfer_params`, :func:`plan_pool_transfer`).
* :func:`load_seed003`: the seed article *Python's multiprocessing performance problem*:
  :func:`array_sum` over :func:`seed003_items` through threads and processes, the article's
  one worker and this machine's cores (:func:`seed003_experiment`, :func:`plan_seed003`).

The others go through :func:`mpguide.experiment.run_cached`; ``MPGUIDE_QUICK=1`` shrinks sizes.

Examples
--------
>>> from mpguide.chapters import transfer
>>> transfer.ratio(0.3, 0.1)
3.0
>>> transfer.sizes_label(3 * transfer.MIB)
'3 MiB'
>>> transfer.array_sum(transfer.seed003_items(1000, 3)[0])
334
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import pickle
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, pools, probes, timing, workloads
from mpguide.experiment import REPEATS, Experiment, Result, run_cached
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

#: The seed article the thread-vs-process experiment comes from, its numbers (seconds, as
#: published: 1 GiB uint8 array, one worker), and the factor either way of one of its ratios
#: within which ours shows the same effect (two machines' memory, pipes and CPUs differ).
SEED_003 = "Python's multiprocessing performance problem"
SEED_003_SUM = {"nbytes": GIB, "thread pool": 0.31, "spawn process pool": 1.80}
SEED_003_BAND = 3.0

#: Serializers of the pickling experiment.
SERIALIZERS = ("pickle protocol 4", "pickle protocol 5", "pickle 5 out-of-band", "cloudpickle")

#: Cache names and targets of the chapter's :func:`~mpguide.experiment.run_cached`
#: experiments, as the gallery scripts spell them.
PICKLING, PICKLING_TARGET = "transfer-pickling", f"{__name__}:measure_pickling"
POOL_TRANSFER, POOL_TRANSFER_TARGET = "transfer-pool", f"{__name__}:measure_pool_transfer"


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


def medians(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Median ``seconds`` per group, with IQR, as :func:`mpguide.timing.summarize`."""
    return timing.summarize(df, list(by), value="seconds")


def _metadata(start_method: str) -> dict[str, Any]:
    """Machine metadata of a record measured in a fresh interpreter with ``start_method``."""
    return {**machine.collect_metadata(), "start_method": start_method,
            "measured_in": "fresh interpreter"}


def _call(pool: Any, func: Callable[..., Any], *args: Any) -> Any:
    """``pool.apply(func, args)``, bounded: one task to one worker of a warm pool."""
    return pools.wait_result(pool.apply_async(func, args), pool, FRESH_TIMEOUT / 2)


def named(measurement: Measurement, name: str, **params: Any) -> Measurement:
    """``measurement`` with ``name`` and ``params`` added to its parameters (they become the
    columns of :meth:`Result.frame <mpguide.experiment.Result.frame>`)."""
    return dataclasses.replace(measurement, name=name,
                               params={**measurement.params, "name": name, **params})


def record(name: str, measurements: Sequence[Measurement]) -> dict[str, Any]:
    """The JSON form of a :class:`~mpguide.experiment.Result`, what measure functions return."""
    return Result(name, tuple(measurements)).to_dict()


def _floor(nbytes: int, repeats: int, meta: dict[str, Any]) -> Measurement:
    return named(probes.memcpy(nbytes, repeats=repeats).with_metadata(meta), "memcpy")


# --- 1. what pickling costs -------------------------------------------------------------------


def pickling_sizes() -> list[int]:
    """Payload sizes of :func:`load_pickling` (bytes)."""
    return config.scaled([64 * KIB, MIB, 16 * MIB], [64 * KIB, MIB])


def pickling_params() -> dict[str, Any]:
    """What :func:`load_pickling` measures (``run_cached`` params of :func:`measure_pickling`).

    Examples
    --------
    >>> sorted(pickling_params())
    ['repeats', 'sizes']
    """
    return {"sizes": pickling_sizes(), "repeats": REPEATS}


def nested_max_bytes() -> int:
    """The ``nested`` payload stops at this size (4 MiB, 1 MiB in quick mode): a list of
    small dicts pickles some 30 times slower than memcpy (measured by the pickling
    experiment), so bigger sizes only add build minutes."""
    return config.scaled(4 * MIB, MIB)


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


def measure_pickling(sizes: list[int], repeats: int) -> dict[str, Any]:
    """``dumps`` and ``loads`` seconds per kind, size and serializer, with the memcpy floor
    per size (``name``: ``dumps``, ``loads``, ``memcpy``); a :class:`Result` record."""
    meta = _metadata(config.start_method())
    measurements = []
    for nbytes in sizes:
        measurements.append(_floor(nbytes, repeats, meta))
        for kind in workloads.PAYLOAD_KINDS:
            if kind == "nested" and nbytes > nested_max_bytes():
                continue
            payload = workloads.make_payload(kind, nbytes)
            for serializer, (dumps, loads) in _serializers().items():
                data = dumps(payload)
                params = {"kind": kind, "nbytes": nbytes, "serializer": serializer,
                          "pickled_bytes": _pickled_size(data)}
                for direction, call in (("dumps", (dumps, payload)), ("loads", (loads, data))):
                    measurements.append(timing.measure_once(
                        *call, name=direction, repeats=repeats,
                        params={**params, "name": direction, "direction": direction},
                        metadata=meta))
                del data
            del payload
            gc.collect()
    return record(PICKLING, measurements)


def load_pickling() -> pd.DataFrame:
    """Seconds of ``dumps`` and ``loads`` (``name``) per ``kind``, ``nbytes`` and
    ``serializer``; rows named ``memcpy`` hold the floor per size."""
    return Result.from_dict(run_cached(PICKLING, PICKLING_TARGET, pickling_params(),
                                       timeout=FRESH_TIMEOUT)).frame()


def pickling_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per kind, size and serializer: median dumps, loads and their total, the
    memcpy floor of the same size and the total's multiple of it, and MB/s."""
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["seconds"].median()
    rows = df[df["name"] != "memcpy"]
    table = rows.pivot_table(index=["kind", "nbytes", "serializer", "pickled_bytes"],
                             columns="direction", values="seconds", aggfunc="median")
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
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["seconds"].median()
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


#: Items per map of the big-argument and big-result experiments: several transfers back to
#: back, few enough that the biggest payload (64 MiB in full mode) keeps memory in check: the
#: parent holds the pool's results and the loop's reference results of every item.
FAT_ITEMS = 4


def fat_items(kind: str, nbytes: int, count: int) -> list[Any]:
    """``count`` times one payload (:func:`mpguide.workloads.make_payload`), for
    :func:`mpguide.workloads.payload_length`: each task's *argument* is big (each is pickled
    on its own, like distinct objects).

    Examples
    --------
    >>> [len(p) for p in fat_items("bytes", 10, 2)]
    [10, 10]
    """
    return [workloads.make_payload(kind, nbytes)] * count


def fat_result_items(kind: str, nbytes: int, count: int) -> list[tuple[str, int]]:
    """``count`` payload specs for :func:`mpguide.workloads.payload_task`: each task's
    *result* is big.

    Examples
    --------
    >>> fat_result_items("ndarray", 8, 2)
    [('ndarray', 8), ('ndarray', 8)]
    """
    return [(kind, nbytes)] * count


def pool_transfer_sizes() -> list[int]:
    """Payload sizes of :func:`load_pool_transfer` (bytes)."""
    return config.scaled([MIB, 4 * MIB, 64 * MIB], [MIB, 4 * MIB])


def pool_transfer_params(start_method: str | None = None) -> dict[str, Any]:
    """What :func:`load_pool_transfer` measures (``run_cached`` params of
    :func:`measure_pool_transfer`): a ``Pool`` of the usable cores.

    Examples
    --------
    >>> sorted(pool_transfer_params("spawn"))
    ['count', 'kinds', 'repeats', 'sizes', 'start_method', 'workers']
    """
    return {"start_method": config.resolve_start_method(start_method),
            "kinds": ["ndarray", "nested"], "sizes": pool_transfer_sizes(), "count": FAT_ITEMS,
            "workers": machine.usable_cpus(), "repeats": config.scaled(3, 2)}


def plan_pool_transfer(workers: int, start_method: str | None = None) -> list[executors.Executor]:
    """Executors of each big-argument or big-result experiment (the loop is added first)."""
    return [executors.Pool(workers, chunksize=1, start_method=start_method)]


#: The two directions: the task function and the items factory of each.
DIRECTIONS: dict[str, tuple[Callable[[Any], Any], Callable[..., list[Any]]]] = {
    "argument": (workloads.payload_length, fat_items),
    "result": (workloads.payload_task, fat_result_items),
}


def measure_pool_transfer(start_method: str, *, kinds: list[str], sizes: list[int],
                          count: int, workers: int, repeats: int) -> dict[str, Any]:
    """For each size and kind, one :class:`~mpguide.experiment.Experiment` per direction
    (steady state: the map on a started pool), run here, beside the memcpy floor.

    Rows carry ``direction`` (``argument``/``result``), ``kind``, ``nbytes``, ``tool``
    (``loop``/``pool``) and ``count``; :func:`load_pool_transfer` runs it in a fresh
    interpreter.
    """
    meta = _metadata(start_method)
    measurements = []
    for nbytes in sizes:
        measurements.append(_floor(nbytes, repeats, meta))
        for kind in kinds:
            if kind == "nested" and nbytes > nested_max_bytes():
                continue
            for direction, (func, items) in DIRECTIONS.items():
                result = Experiment(
                    f"{POOL_TRANSFER}-{direction}", func, items,
                    plan_pool_transfer(workers, start_method),
                    params={"kind": kind, "nbytes": nbytes, "count": count}, repeats=repeats,
                    startup=False, fresh=False, cache=False).run()
                measurements += [named(m, direction, direction=direction, kind=kind,
                                       nbytes=nbytes, count=count)
                                 for m in result.measurements]
            gc.collect()
    return record(POOL_TRANSFER, measurements)


def load_pool_transfer(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per map of ``count`` items with a big ``argument`` or a big ``result``
    (``direction``) by ``tool`` (``loop``, ``pool``), ``kind`` and ``nbytes``; rows named
    ``memcpy`` hold the floor per size."""
    return Result.from_dict(run_cached(POOL_TRANSFER, POOL_TRANSFER_TARGET,
                                       pool_transfer_params(start_method),
                                       timeout=FRESH_TIMEOUT)).frame()


def pool_transfer_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per kind and size, seconds per item: a big argument (``argument_s``) and a big result
    (``result_s``) through the warm pool, the time to build one payload (``build_s``, the
    loop's), the memcpy floor, and each transfer as a multiple of memcpy.

    ``result_s`` takes out the building, which the workers share:
    ``(pool - loop / p) / count`` with ``p = min(workers, count)`` workers building at once.
    """
    floor = df[df["name"] == "memcpy"].groupby("nbytes")["seconds"].median()
    rows = df[df["name"] != "memcpy"]
    keys = ["kind", "nbytes"]
    med = rows.groupby([*keys, "direction", "tool"])["seconds"].median() \
        .unstack(["direction", "tool"])
    workers = rows[rows["tool"] == "pool"].groupby(keys)["workers"].max()
    count = rows.groupby(keys)["count"].max()
    busy = workers.where(workers < count, count)
    out = med.index.to_frame(index=False)
    out["argument_s"] = (med["argument", "pool"] / count).to_numpy()
    out["build_s"] = (med["result", "loop"] / count).to_numpy()
    result = (med["result", "pool"] - med["result", "loop"] / busy) / count
    out["result_s"] = result.clip(lower=0).to_numpy()
    out["memcpy_s"] = out["nbytes"].map(floor)
    out["argument_x_memcpy"] = out["argument_s"] / out["memcpy_s"]
    out["result_x_memcpy"] = out["result_s"] / out["memcpy_s"]
    out["workers"] = workers.to_numpy()
    return out


def plot_pool_transfer(df: pd.DataFrame) -> Figure:
    """Bars: seconds per item to send a big argument vs return a big result, per kind and
    size, memcpy beside."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    summary = pool_transfer_summary(df)
    labels = [f"{k}\n{sizes_label(n)}" for k, n in zip(summary["kind"], summary["nbytes"],
                                                          strict=True)]
    xs = range(len(summary))
    fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    for shift, column, label, color in ((-0.27, "argument_s", "big argument", None),
                                        (0, "result_s", "big result", None),
                                        (0.27, "memcpy_s", "memcpy", "0.6")):
        ax.bar([x + shift for x in xs], summary[column] * 1e3, 0.27, label=label, color=color)
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per item (median)")
    ax.set_title(f"Big arguments and big results through a warm "
                 f"Pool({int(summary['workers'].max())})")
    ax.legend(fontsize=8)
    return plotting.add_caption(fig, df)


def per_item(result: Result) -> pd.DataFrame:
    """:meth:`Result.table` with milliseconds per item and per item beyond the loop's (what
    moving items and results costs, when the work itself is small)."""
    table = result.table()
    if table.empty:
        return table
    items = result.frame().drop_duplicates("label").set_index("label")["items"]
    table["ms_per_item"] = table["median_s"] / table["label"].map(items) * 1e3
    loop = float(table.loc[table["tool"] == "loop", "ms_per_item"].iloc[0])
    table["beyond_loop_ms"] = table["ms_per_item"] - loop
    return table


# --- 3. seed 003: threads vs a spawn process pool ---------------------------------------------


def array_sum(array: Any) -> int:
    """``np.sum`` of an array, as an ``int``: the seed article's task (it releases the GIL)."""
    import numpy as np

    return int(np.sum(array))


def seed003_nbytes() -> int:
    """Array size of :func:`load_seed003`: 128 MiB, 32 MiB in quick mode (the article's 1 GiB,
    scaled down to keep a build within minutes). The ratio of process to thread is not the
    article's at another size: the process side carries a fixed start-up cost."""
    return config.scaled(128 * MIB, 32 * MIB)


def seed003_items(nbytes: int, parts: int) -> list[Any]:
    """An array of ``nbytes`` uint8 ones, as ``parts`` contiguous slices (views)."""
    import numpy as np

    return np.array_split(np.ones(nbytes, dtype=np.uint8), parts)


def seed003_params() -> dict[str, Any]:
    """The items of :func:`seed003_experiment`: the array cut into one slice per usable core.

    Examples
    --------
    >>> sorted(seed003_params())
    ['nbytes', 'parts']
    """
    return {"nbytes": seed003_nbytes(), "parts": machine.usable_cpus()}


def plan_seed003(workers: int | None = None,
                 start_method: str | None = None) -> list[executors.Executor]:
    """The article's one thread and one ``spawn`` worker, then ``workers`` threads and
    processes (default: the usable cores, the experiments' start method).

    Examples
    --------
    >>> [e.label for e in plan_seed003(2, "fork")]
    ['Threads(1)', 'Pool(1, chunksize=1, spawn)', 'Threads(2)', 'Pool(2, chunksize=1, fork)']
    """
    workers = workers or machine.usable_cpus()
    article = [executors.Threads(1), executors.Pool(1, chunksize=1, start_method="spawn")]
    ours = [executors.Threads(workers),
            executors.Pool(workers, chunksize=1, start_method=start_method)]
    return article + [e for e in ours if e not in article]


def seed003_experiment(startup: bool = True) -> Experiment:
    """:func:`array_sum` over :func:`seed003_items` through :func:`plan_seed003`: with pool
    start-up and shut-down (what a script pays, like the article's clock), or on started
    pools (``startup=False``: the transfer alone)."""
    name = "transfer-seed003" if startup else "transfer-seed003-warm"
    return Experiment(name, array_sum, seed003_items, plan_seed003(), params=seed003_params(),
                      repeats=config.scaled(3, 2), startup=startup)


def seed003_frame(results: Sequence[Result], nbytes: int | None = None) -> pd.DataFrame:
    """The frames of ``results`` (with start-up, on started pools) as one, with the size of
    the array (``nbytes``) where it is known."""
    import pandas as pd

    return pd.concat([r.frame() for r in results], ignore_index=True).assign(nbytes=nbytes)


def load_seed003() -> pd.DataFrame:
    """Seconds per map of the seed article's sum per executor (``label``), with start-up
    (``startup`` true) and on started pools."""
    return seed003_frame([seed003_experiment(s).run() for s in (True, False)],
                         seed003_nbytes())


def _size_of(df: pd.DataFrame) -> str:
    import pandas as pd

    nbytes = df["nbytes"].iloc[0] if "nbytes" in df and len(df) else None
    return "your items" if pd.isna(nbytes) else sizes_label(int(nbytes))


def seed003_table(df: pd.DataFrame) -> pd.DataFrame:
    """The article's two numbers beside ours (one thread against one process, start-up
    included), and the process/thread ratio of each."""
    import pandas as pd

    ours = df[df["startup"].astype(bool) & (df["workers"] == 1)]
    ours = ours.groupby("tool")["seconds"].median()
    pairs = [(f"{SEED_003} (published)", sizes_label(GIB), SEED_003_SUM["thread pool"],
              SEED_003_SUM["spawn process pool"]),
             ("this machine", _size_of(df), ours["threads"], ours["pool"])]
    return pd.DataFrame([{"source": source, "array": array, "thread_pool_s": thread,
                          "process_pool_s": process, "process_over_thread": ratio(process, thread)}
                         for source, array, thread, process in pairs])


def plot_seed003(df: pd.DataFrame) -> Figure:
    """Bars per executor, with start-up and on a started pool; the article's published pair
    beside."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    fig, (ours, theirs) = plt.subplots(1, 2, figsize=(10, 3.9), layout="constrained",
                                       gridspec_kw={"width_ratios": [3, 2]})
    labels = list(dict.fromkeys(df["label"]))
    y = range(len(labels))
    for offset, (startup, text) in ((-0.2, (True, "with pool start and stop")),
                                    (0.2, (False, "on a started pool"))):
        part = medians(df[df["startup"].astype(bool) == startup], ["label"]).set_index("label")
        if part.empty:
            continue
        part = part.reindex(labels)
        ours.barh([i + offset for i in y], part["median"], 0.4, xerr=part["iqr"] / 2,
                  capsize=3, label=text)
    ours.set_yticks(list(y), labels, fontsize=8)
    ours.invert_yaxis()
    ours.set_xlabel("seconds per map (median)")
    ours.set_title(f"This machine: {_size_of(df)}")
    ours.legend(fontsize=8)
    theirs.barh(["thread pool", "spawn process pool"],
                [SEED_003_SUM["thread pool"], SEED_003_SUM["spawn process pool"]],
                color=["tab:blue", "tab:red"], alpha=0.5)
    theirs.invert_yaxis()
    theirs.set_xlabel("seconds (published)")
    theirs.set_title("Seed article, 1 GiB, one worker", fontsize=10)
    method = df.loc[df["tool"] == "pool", "start_method"]
    return plotting.add_caption(fig, df, start_method=method.iloc[0] if len(method) else None)


# --- claims -----------------------------------------------------------------------------------


@claims.claim("nested-pickles-slowest", chapter=CHAPTER,
              statement="Per byte, pickling many small Python objects costs "
                        "{factor:.0f|more|less} than pickling a numpy array ({size}, protocol 5).")
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


@claims.demonstration("oob-beats-in-band", chapter=CHAPTER,
                      statement="For a {size} numpy array, protocol 5 with out-of-band buffers "
                                "pickles and unpickles {factor:.0f|faster|slower} than the "
                                "protocol 4 multiprocessing uses before Python 3.14: it skips "
                                "copying the buffers, which multiprocessing never does.")
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
              statement="Summing a {size} array, a started spawn process pool of one took "
                        "{warm:.1f}x the time of a thread pool of one; the seed article (clock "
                        "started once the pool existed) measured {theirs:.1f}x for {their_size}: "
                        "the same effect within a factor of {band:.0f}. Start and stop included: "
                        "{ours:.1f}x, a fixed cost that weighs more as the array shrinks.")
def _seed003_threads_win() -> claims.Evidence:
    one = load_seed003().query("workers == 1")
    warm, cold = (one[one["startup"].astype(bool) == s].groupby("tool")["seconds"].median()
                  for s in (False, True))
    thread, process = SEED_003_SUM["thread pool"], SEED_003_SUM["spawn process pool"]
    factor, theirs = warm["pool"] / warm["threads"], process / thread
    return claims.Evidence(
        holds=theirs / SEED_003_BAND <= factor <= theirs * SEED_003_BAND,
        values={"size": sizes_label(seed003_nbytes()), "their_size": sizes_label(GIB),
                "warm": factor, "theirs": theirs, "band": SEED_003_BAND,
                "ours": cold["pool"] / cold["threads"]},
        evidence=f"Started pools: thread {warm['threads']:.3f} s, process {warm['pool']:.3f} s; "
                 f"with start and stop: {cold['threads']:.3f} s, {cold['pool']:.3f} s.")
