"""Chapter 2, "Moving data between processes": ways to send less than the data.

:mod:`mpguide.chapters.transfer` declares the chapter. Each way is measured against pickling
the data with every task, or against one ``memcpy`` of it (:func:`mpguide.probes.memcpy`),
through :func:`mpguide.experiment.run_cached` (fresh interpreter, cache), on pools of the
usable cores; each ``*_params`` function declares what its ``load_*`` function measures:

* :func:`load_send_less`: heavy state sent with every task, or once per worker by an
  initializer with only an index per task, as the state grows: two
  :class:`~mpguide.experiment.Experiment` per size (:func:`plan_send_less`).
* :func:`load_shm_handoff` and :func:`load_shared_vs_pickled`: the :mod:`mpguide.shm` helper
  against pickling the array.
* :func:`load_files`: a path to a parquet, ``.npy`` or memory-mapped file against pickling a
  DataFrame (the seed article's option 3).

Examples
--------
>>> from mpguide.chapters import send_less
>>> send_less.lookup_in(([1.0, 2.0, 3.0], 4))
2.0
>>> send_less.HANDOFF_TARGET
1.5
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, pools, probes, shm, timing, workloads
from mpguide.chapters.transfer import (
    CHAPTER,
    FRESH_TIMEOUT,
    KIB,
    MIB,
    SEED_003_BAND,
    _call,
    _metadata,
    medians,
    named,
    ratio,
    record,
    sizes_label,
)
from mpguide.experiment import REPEATS, Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: The seed article's file experiment (:data:`mpguide.chapters.transfer.SEED_003`), as
#: published: seconds for a 10,000,000-row DataFrame.
SEED_003_FILES = {"rows": 10_000_000, "pickle": 0.24, "parquet": 0.17}

#: The shared-memory helper's performance target: handing an array to a worker costs at most
#: this many times one ``memcpy`` of it (issue 4).
HANDOFF_TARGET = 1.5

#: Cache names and targets of the ``run_cached`` experiments, as the gallery spells them.
SEND_LESS, SEND_LESS_TARGET = "transfer-send-less", f"{__name__}:measure_send_less"
HANDOFF, HANDOFF_TARGET_FUNC = "transfer-shm-handoff", f"{__name__}:measure_shm_handoff"
SHARED, SHARED_TARGET = "transfer-shared-vs-pickled", f"{__name__}:measure_shared_vs_pickled"
FILES, FILES_TARGET = "transfer-files", f"{__name__}:measure_files"


def _frame(name: str, target: str, params: dict[str, Any]) -> pd.DataFrame:
    return Result.from_dict(run_cached(name, target, params, timeout=FRESH_TIMEOUT)).frame()


# --- worker functions (pickled by reference: every start method imports them from here) ------


def slice_total(array: Any) -> float:
    """Sum of an array a worker received by pickling (the counterpart of
    :func:`mpguide.shm.sum_slice`)."""
    return float(array.sum())


#: Per-process state: ``"state"``, set by :func:`install_state` in a worker.
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


# --- 4. send less: initializer + index vs state with every task -------------------------------


def send_less_sizes() -> list[int]:
    """State sizes of :func:`load_send_less` (bytes)."""
    return config.scaled([64 * KIB, MIB, 16 * MIB], [64 * KIB, 2 * MIB])


def send_less_params(start_method: str | None = None) -> dict[str, Any]:
    """What :func:`load_send_less` measures (``run_cached`` params of
    :func:`measure_send_less`): a ``Pool`` of the usable cores.

    Examples
    --------
    >>> sorted(send_less_params("spawn"))
    ['repeats', 'sizes', 'start_method', 'tasks', 'workers']
    """
    return {"start_method": config.resolve_start_method(start_method), "sizes": send_less_sizes(),
            "tasks": config.scaled(32, 16), "workers": machine.usable_cpus(),
            "repeats": config.scaled(3, 2)}


def state_of(nbytes: int) -> Any:
    """The float64 state of ``nbytes`` bytes the tasks look up."""
    import numpy as np

    return np.arange(nbytes // 8, dtype=np.float64)


def state_tasks(nbytes: int, tasks: int) -> list[tuple[Any, int]]:
    """``(state, index)`` per task: the state pickled with every task."""
    state = state_of(nbytes)
    return [(state, i) for i in range(tasks)]


def index_tasks(nbytes: int, tasks: int) -> list[int]:
    """An index per task (the state comes once per worker, from the initializer)."""
    return list(range(tasks))


def plan_send_less(workers: int, start_method: str,
                   state: Any = None) -> dict[str, executors.Pool]:
    """The pool of each way: chunksize 1, and :func:`install_state` with ``state`` as the
    initializer of the second (the spec then holds the array: it runs in this process)."""
    return {
        "state with every task": executors.Pool(workers, chunksize=1,
                                                start_method=start_method),
        "initializer + index": executors.Pool(
            workers, chunksize=1, start_method=start_method,
            initializer=f"{__name__}:install_state", initargs=(state,)),
    }


@contextlib.contextmanager
def _state_installed(state: Any) -> Iterator[None]:
    """The state installed here too, for the loop that checks the pool's results."""
    install_state(state)
    try:
        yield
    finally:
        WORKER_STATE.pop("state", None)


def measure_send_less(start_method: str, *, sizes: list[int], tasks: int, workers: int,
                      repeats: int) -> dict[str, Any]:
    """Seconds for ``tasks`` lookups in a float64 state of each size through
    ``Pool(workers)``, start and stop included (where the initializer's cost lands): the
    state pickled with every task (:func:`lookup_in` over :func:`state_tasks`), or once per
    worker by an initializer and an index per task (:func:`lookup_index` over
    :func:`index_tasks`). One :class:`~mpguide.experiment.Experiment` per way and size, run
    here (:func:`load_send_less` runs this in a fresh interpreter)."""
    measurements = []
    for nbytes in sizes:
        state = state_of(nbytes)
        plan = plan_send_less(workers, start_method, state)
        ways: dict[str, tuple[Callable[[Any], Any], Callable[..., list[Any]]]] = {
            "state with every task": (lookup_in, state_tasks),
            "initializer + index": (lookup_index, index_tasks)}
        with _state_installed(state):
            for way, (func, items) in ways.items():
                result = Experiment(f"{SEND_LESS}-{nbytes}", func, items, [plan[way]],
                                    params={"nbytes": nbytes, "tasks": tasks},
                                    repeats=repeats, fresh=False, cache=False).run()
                measurements += [named(m, way if m.params["tool"] == "pool" else "loop",
                                       way=way, nbytes=nbytes, tasks=tasks)
                                 for m in result.measurements]
    return record(SEND_LESS, measurements)


def load_send_less(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per way (``name``; ``loop`` rows: the plain loop of each ``way``) and state
    size (``nbytes``), pool start included."""
    return _frame(SEND_LESS, SEND_LESS_TARGET, send_less_params(start_method))


def plot_send_less(df: pd.DataFrame) -> Figure:
    """Seconds against state size for both ways (log-log)."""
    from mpguide import plotting

    pooled = df[df["tool"] == "pool"]
    fig = plotting.chunksize_plot(
        pooled, x="nbytes", y="seconds", hue="name", logy=True, caption=df,
        title=f"{int(df['tasks'].iloc[0])} tasks needing a lookup in shared state, "
              f"Pool({int(pooled['workers'].max())})",
        ylabel="seconds incl. pool start (median, IQR)")
    fig.axes[0].set_xlabel("state size (bytes)")
    return fig


# --- 5. shared memory -------------------------------------------------------------------------


#: Name of the hand-off through a reused segment (:func:`mpguide.shm.shared_arena`).
REUSED = "shared_arena (reused)"

#: Back-to-back copies per memcpy sample of the hand-off experiment, best one kept
#: (:func:`mpguide.probes.memcpy` says why).
MEMCPY_TRIES = 3


def handoff_nbytes() -> int:
    """Array size of :func:`load_shm_handoff`: 256 MiB (the issue's target), 16 MiB quick."""
    return config.scaled(256 * MIB, 16 * MIB)


def handoff_params(start_method: str | None = None) -> dict[str, Any]:
    """What :func:`load_shm_handoff` measures per start method (``run_cached`` params).

    Examples
    --------
    >>> sorted(handoff_params("spawn"))
    ['nbytes', 'repeats', 'start_method', 'workers']
    """
    return {"start_method": config.resolve_start_method(start_method), "nbytes": handoff_nbytes(),
            "workers": machine.usable_cpus(), "repeats": 2}


def measure_shm_handoff(start_method: str, *, nbytes: int, workers: int,
                        repeats: int) -> dict[str, Any]:
    """Interleaved samples of handing one array to a warm worker of ``Pool(workers)`` that
    reads every page:

    ``memcpy`` (one copy into fresh memory, the floor: best of :data:`MEMCPY_TRIES`
    back-to-back copies), ``shared_array`` (create the segment, copy once, the worker
    attaches and reads a byte per page), ``shared_array cleanup`` (close and unlink after),
    ``shared_arena (reused)`` (the same through a :func:`mpguide.shm.shared_arena` whose
    segment was created in the warm-up round), and ``pickle`` (the array as an ``apply``
    argument).
    """
    import numpy as np

    meta = _metadata(start_method)
    array = np.random.default_rng(0).integers(0, 256, nbytes, dtype=np.uint8)
    expected = shm.touch_pages(array)
    samples: dict[str, list[float]] = {"memcpy": [], "shared_array": [],
                                       "shared_array cleanup": [], REUSED: [], "pickle": []}
    with pools.bounded_pool(workers, start_method, FRESH_TIMEOUT) as pool, \
            shm.shared_arena() as arena:
        _call(pool, workloads.noop, 0)
        for repeat in range(repeats + 1):
            memcpy_s = probes.memcpy(source=array, repeats=1, tries=MEMCPY_TRIES).median
            start = time.perf_counter()
            with shm.shared_array(array) as handle:
                checksum = _call(pool, shm.touch_pages, handle)
                handed = time.perf_counter()
            cleaned = time.perf_counter()
            timing.check_same(expected, checksum, "shared-array checksum")
            start_reused = time.perf_counter()
            with arena.share(array) as handle:
                checksum = _call(pool, shm.touch_pages, handle)
                reused_s = time.perf_counter() - start_reused
            timing.check_same(expected, checksum, "shared-arena checksum")
            start_pickle = time.perf_counter()
            checksum = _call(pool, shm.touch_pages, array)
            pickle_s = time.perf_counter() - start_pickle
            timing.check_same(expected, checksum, "pickled checksum")
            if repeat:  # the first round warms up
                for way, seconds in (("memcpy", memcpy_s), ("shared_array", handed - start),
                                     ("shared_array cleanup", cleaned - handed),
                                     (REUSED, reused_s), ("pickle", pickle_s)):
                    samples[way].append(seconds)
    params = {"nbytes": nbytes, "start_method": start_method, "workers": workers}
    return record(HANDOFF, [
        timing.Measurement(way, tuple(values), params={**params, "name": way}, metadata=meta)
        for way, values in samples.items()])


def load_shm_handoff(start_methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Seconds per way (``name``) of handing an array to a worker, per start method."""
    import pandas as pd

    methods = list(start_methods or config.available_start_methods())
    return pd.concat([_frame(HANDOFF, HANDOFF_TARGET_FUNC, handoff_params(m))
                      for m in methods], ignore_index=True)


def handoff_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per start method: median seconds of each way and their multiples of memcpy."""
    table = df.pivot_table(index="start_method", columns="name", values="seconds",
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


def shared_vs_pickled_params(start_method: str | None = None) -> dict[str, Any]:
    """What :func:`load_shared_vs_pickled` measures: a ``Pool`` of the usable cores, four
    slices per worker (``run_cached`` params).

    Examples
    --------
    >>> sorted(shared_vs_pickled_params("spawn"))
    ['nbytes', 'parts', 'repeats', 'start_method', 'workers']
    """
    workers = machine.usable_cpus()
    return {"start_method": config.resolve_start_method(start_method),
            "nbytes": config.scaled(256 * MIB, 16 * MIB), "parts": 4 * workers,
            "workers": workers, "repeats": REPEATS}


def measure_shared_vs_pickled(start_method: str, *, nbytes: int, parts: int, workers: int,
                              repeats: int) -> dict[str, Any]:
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

        measurements = []
        for name, func in (("pickled slices", pickled), ("shared_array + indices", shared)):
            timing.check_same(expected, func(), name)
            measurements.append(timing.measure_once(
                func, name=name, repeats=repeats,
                params={"name": name, "nbytes": nbytes, "parts": parts, "workers": workers,
                        "start_method": start_method}, metadata=meta))
    return record(SHARED, measurements)


def load_shared_vs_pickled(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per way (``name``) of summing a big array in slices on a warm pool."""
    return _frame(SHARED, SHARED_TARGET, shared_vs_pickled_params(start_method))


# --- 6. files ---------------------------------------------------------------------------------


def files_rows() -> int:
    """DataFrame rows of :func:`load_files`: the article's 10,000,000, 500,000 quick."""
    return config.scaled(SEED_003_FILES["rows"], 500_000)


def files_params(start_method: str = "spawn") -> dict[str, Any]:
    """What :func:`load_files` measures (``run_cached`` params): spawn like the article.

    Examples
    --------
    >>> sorted(files_params())
    ['repeats', 'rows', 'start_method', 'workers']
    """
    return {"start_method": config.resolve_start_method(start_method), "rows": files_rows(),
            "workers": machine.usable_cpus(), "repeats": config.scaled(REPEATS, 2)}


def measure_files(start_method: str, *, rows: int, workers: int,
                  repeats: int) -> dict[str, Any]:
    """Seconds to get a one-column int64 DataFrame of ``rows`` rows into a warm worker of
    ``Pool(workers)``: pickled as the argument, or written to a file (uncompressed parquet
    via pyarrow, ``.npy``) whose path is sent and which the worker reads (or memory-maps and
    pages in). Writing the file is included, as in the article."""
    import numpy as np
    import pandas as pd

    meta = _metadata(start_method)
    frame = pd.DataFrame({"column": np.arange(rows, dtype=np.int64)})
    with tempfile.TemporaryDirectory(prefix="mpguide-files-") as tmp, \
            pools.bounded_pool(workers, start_method, FRESH_TIMEOUT) as pool:
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
        measurements = []
        for name, func in cases.items():
            timing.check_same(rows, func(), name)
            measurements.append(timing.measure_once(
                func, name=name, repeats=repeats,
                params={"name": name, "rows": rows, "nbytes": rows * 8, "workers": workers,
                        "start_method": start_method}, metadata=meta))
    return record(FILES, measurements)


def load_files(start_method: str = "spawn") -> pd.DataFrame:
    """Seconds per way (``name``) of getting a DataFrame into a worker; spawn like the
    article."""
    return _frame(FILES, FILES_TARGET, files_params(start_method))


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


# --- claims -----------------------------------------------------------------------------------


@claims.claim("shm-handoff-near-memcpy", chapter=CHAPTER,
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


@claims.claim("initializer-wins-big-state", chapter=CHAPTER,
              statement="With {size} of state, installing it once per worker (initializer) "
                        "and sending indices is {factor:.1f|faster|slower} than sending it with "
                        "every one of {tasks} tasks.")
def _initializer_wins() -> claims.Evidence:
    df = load_send_less()
    size = int(df["nbytes"].max())
    med = df[df["nbytes"] == size].groupby("name")["seconds"].median()
    factor = ratio(med["state with every task"], med["initializer + index"])
    return claims.Evidence(
        holds=factor >= 2,
        values={"size": sizes_label(size), "factor": factor, "tasks": int(df["tasks"].iloc[0])},
        evidence=f"every task {med['state with every task']:.3f} s, initializer "
                 f"{med['initializer + index']:.3f} s (pool start and stop included).")


@claims.claim("shm-beats-pickled-slices", chapter=CHAPTER,
              statement="Summing a {size} array in slices on a warm pool is "
                        "{factor:.1f|faster|slower} with shared_array and indices than with "
                        "pickled slices, "
                        "segment creation and cleanup included.")
def _shm_beats_pickled() -> claims.Evidence:
    df = load_shared_vs_pickled()
    med = df.groupby("name")["seconds"].median()
    factor = ratio(med["pickled slices"], med["shared_array + indices"])
    return claims.Evidence(
        holds=factor > 1, values={"size": sizes_label(int(df["nbytes"].iloc[0])),
                                  "factor": factor},
        evidence=f"pickled slices {med['pickled slices']:.3f} s, shared_array "
                 f"{med['shared_array + indices']:.3f} s.")


@claims.claim("parquet-beats-pickle", chapter=CHAPTER,
              statement="Writing a {rows:,}-row DataFrame to parquet and sending the path "
                        "takes {ours:.2f}x the time of pickling it here, the seed article "
                        "{theirs:.2f}x: parquet wins, by the article's margin within a factor "
                        "of {band:.0f}.")
def _parquet_beats_pickle() -> claims.Evidence:
    df = load_files()
    table = files_table(df).set_index("name")
    ours = float(table.loc["parquet file", "x_pickle"])
    theirs = SEED_003_FILES["parquet"] / SEED_003_FILES["pickle"]
    return claims.Evidence(
        holds=theirs / SEED_003_BAND <= ours < min(1.0, theirs * SEED_003_BAND),
        values={"rows": int(df["rows"].iloc[0]), "ours": ours, "theirs": theirs,
                "band": SEED_003_BAND},
        evidence=f"pickle {table.loc['pickle', 'median']:.3f} s, parquet "
                 f"{table.loc['parquet file', 'median']:.3f} s, .npy "
                 f"{table.loc['.npy file', 'median']:.3f} s, memmap "
                 f"{table.loc['np.memmap of .npy', 'median']:.3f} s; published: "
                 f"{SEED_003_FILES['pickle']} s vs {SEED_003_FILES['parquet']} s.")
