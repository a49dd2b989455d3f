"""Chapter 2, "Moving data between processes": ways to send less than the data.

Same plumbing as :mod:`mpguide.chapters.transfer` (which declares the chapter); each way is
measured against pickling the data with every task, or against one ``memcpy`` of it:

* :func:`load_send_less`: heavy state sent with every task, or once per worker by an
  initializer with only an index per task, as the state grows.
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

import functools
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools, shm, timing, workloads
from mpguide.chapters.transfer import (
    CHAPTER,
    FRESH_TIMEOUT,
    KIB,
    MIB,
    _cached_fresh,
    _call,
    _frame,
    _metadata,
    _method,
    _samples,
    _timed,
    medians,
    ratio,
    sizes_label,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: The seed article's file experiment (:data:`mpguide.chapters.transfer.SEED_003`), as
#: published: seconds for a 10,000,000-row DataFrame.
SEED_003_FILES = {"rows": 10_000_000, "pickle": 0.24, "parquet": 0.17}

#: The shared-memory helper's performance target: handing an array to a worker costs at most
#: this many times one ``memcpy`` of it (issue 4).
HANDOFF_TARGET = 1.5


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
    return _frame(_cached_fresh("transfer-send-less", measure_send_less, params))


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
        _frame(_cached_fresh("transfer-shm-handoff", measure_shm_handoff,
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
    return _frame(_cached_fresh("transfer-shared-vs-pickled", measure_shared_vs_pickled,
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
    return _frame(_cached_fresh("transfer-files", measure_files, params))


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


@claims.claim("shm-beats-pickled-slices", chapter=CHAPTER,
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


@claims.claim("parquet-beats-pickle", chapter=CHAPTER,
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
