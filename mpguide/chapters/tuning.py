"""Chapter 3, part 1: tuning a Pool (chunksize, map variants, ``maxtasksperchild``).

Every experiment is declared here once, worker counts from :func:`mpguide.machine.usable_cpus`:
a map through executors is an :class:`~mpguide.experiment.Experiment` (fresh interpreter,
checked, interleaved repeats, cached), the rest (``imap`` streaming, peak memory) goes through
:func:`~mpguide.experiment.run_cached`. ``*_experiment(s)`` / ``*_params`` build declarations
without running them; ``load_*`` run them (or read the cache) and return the tidy frames the
gallery, the page and the claims read. The gallery declares the same in plain sight, with the
reader's function in place of the default. This module declares the chapter and the views its
other modules share (:func:`bar_figure`); see also
:mod:`~mpguide.chapters.pool_size`, :mod:`~mpguide.chapters.choosing` and
:mod:`~mpguide.chapters.waiting`.

Examples
--------
>>> from mpguide.chapters import tuning
>>> tuning.chunksize_grid(100, 2)
[1, 4, 16, 50, 100]
>>> tuning.batches([1, 2, 3], 2)
[[1, 2], [3]]
>>> plan = tuning.chunksize_experiments()
>>> sorted(plan) == list(tuning.CHUNKSIZE_TASKS_US)
True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, pools, timing, workloads
from mpguide.chapters.task_duration import spin_items
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from typing_extensions import Self

CHAPTER = claims.Chapter(
    name="tuning", page="guide/03-tuning", title="Tuning and choosing",
    summary="Workers, chunksize, BLAS threads, start methods, and Pool against threads and "
            "joblib.")

#: Task durations (µs) of the chunksize sweep.
CHUNKSIZE_TASKS_US = (10, 100, 1000)
#: Seconds between two samples of the parent's resident memory (:class:`PeakRSS`).
RSS_INTERVAL_S = 0.002
#: The three ways of ``Pool`` to hand results back, compared by :func:`load_map_variants`.
MAP_CALLS = ("map", "imap", "imap_unordered")


# ---------------------------------------------------------------------------------------------
# Chunksize
# ---------------------------------------------------------------------------------------------

def chunksize_grid(n_items: int, workers: int) -> list[int]:
    """Chunksizes to sweep: powers of 4 up to one chunk per worker, then one chunk in all.

    The last two points show the right side of the U-curve: with fewer chunks than workers
    some workers idle.
    """
    per_worker = -(-n_items // workers)
    grid = [c for c in (4**k for k in range(12)) if c < per_worker]
    return sorted({*grid, per_worker, n_items})


def chunksize_params(task_us: int) -> dict[str, Any]:
    """Items of one chunksize sweep: ``spin_items(seconds, count)`` of ``task_us`` µs each,
    as many as the plain loop runs in about 80 ms (30 ms in quick mode)."""
    target_s = config.scaled(80, 30) / 1e3
    return {"seconds": task_us / 1e6,
            "count": max(4 * machine.usable_cpus(), round(target_s * 1e6 / task_us))}


def chunksize_experiments() -> dict[int, Experiment]:
    """The chunksize sweep, one experiment per task duration (µs), not run: ``spin`` over
    :func:`~mpguide.chapters.task_duration.spin_items` through ``Pool`` at each chunksize of
    :func:`chunksize_grid`, at its default, and ``ProcessPoolExecutor`` at its default of 1,
    timed on started pools."""
    workers = machine.usable_cpus()
    out = {}
    for task_us in CHUNKSIZE_TASKS_US:
        params = chunksize_params(task_us)
        out[task_us] = Experiment("tuning-chunksize", workloads.spin, spin_items, [
            *(executors.Pool(workers, chunksize=c)
              for c in chunksize_grid(params["count"], workers)),
            executors.Pool(workers), executors.ProcessPool(workers)],
            params=params, startup=False)
    return out


def spin_batch(batch: list[int]) -> list[int]:
    """:func:`workloads.spin` over a list of iteration counts: a manually batched task."""
    return [workloads.spin(n) for n in batch]


def batches(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Split ``items`` into lists of ``size`` (the last may be shorter).

    Examples
    --------
    >>> batches([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def spin_batches(seconds: float, count: int, size: int) -> list[list[int]]:
    """:func:`~mpguide.chapters.task_duration.spin_items` cut into :func:`batches` of
    ``size``: the items of manual batching."""
    return batches(spin_items(seconds, count), size)


def batched_experiments() -> dict[int, Experiment]:
    """Manual batching beside the sweep, not run: :func:`spin_batch` over batches of Pool's
    default chunksize, sent one batch per task (``Pool(workers, chunksize=1)``)."""
    workers = machine.usable_cpus()
    out = {}
    for task_us in CHUNKSIZE_TASKS_US:
        params = chunksize_params(task_us)
        params["size"] = executors.default_chunksize(params["count"], workers)
        out[task_us] = Experiment("tuning-chunksize-batched", spin_batch, spin_batches,
                                  [executors.Pool(workers, chunksize=1)], params=params,
                                  startup=False)
    return out


def _strategy(tool: str, chunksize: Any) -> str:
    if tool == "loop":
        return "serial"
    if tool == "processpool":
        return "executor"
    missing = chunksize is None or (isinstance(chunksize, float) and math.isnan(chunksize))
    return "default" if missing else "pool"


def chunksize_frame(result: Result, batched: Result | None = None,
                    duration_us: float | None = None) -> pd.DataFrame:
    """Tidy rows of one chunksize sweep (``result``, and manual batching beside it).

    ``strategy`` is ``serial`` (the loop), ``pool`` (``Pool.map`` at ``chunksize``),
    ``default`` (Pool's own chunksize, :func:`mpguide.executors.default_chunksize`),
    ``executor`` (``ProcessPoolExecutor.map``, chunksize 1) or ``batched``; ``duration_us``
    defaults to the loop's median time per item, so any function's sweep has one.
    """
    import pandas as pd

    df = result.frame()
    if df.empty:
        return df.assign(strategy=[], duration_us=[], n_items=[], default_chunksize=[])
    n_items, workers = int(df["items"].iloc[0]), int(df["workers"].max())
    default = executors.default_chunksize(n_items, workers)
    df["strategy"] = [_strategy(t, c) for t, c in zip(df["tool"], df["chunksize"], strict=True)]
    if batched is not None and not batched.frame().empty:
        extra = batched.frame()
        extra = extra[extra["tool"] != "loop"].assign(strategy="batched", chunksize=default)
        df = pd.concat([df, extra], ignore_index=True)
    chunks = {"serial": 0, "default": default, "executor": 1}
    df["chunksize"] = [int(chunks.get(s, c)) for s, c in zip(df["strategy"], df["chunksize"],
                                                             strict=True)]
    if duration_us is None:
        loop = df.loc[df["strategy"] == "serial", "seconds"].median()
        duration_us = round(float(loop) / n_items * 1e6, 1)
    return df.assign(duration_us=duration_us, n_items=n_items, default_chunksize=default,
                     workers=workers)


def load_chunksize() -> pd.DataFrame:
    """Tidy frame of the whole chunksize sweep (:func:`chunksize_frame` of each duration);
    measured once per machine and mode, then cached."""
    import pandas as pd

    batched = batched_experiments()
    frames = [chunksize_frame(exp.run(), batched[task_us].run(), task_us)
              for task_us, exp in chunksize_experiments().items()]
    return pd.concat(frames, ignore_index=True)


def chunksize_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per strategy, duration and chunksize, with the speedup over serial and
    the ratio to the best ``Pool.map`` chunksize of that duration (the default included)."""
    out = timing.summarize(df, ["duration_us", "n_items", "default_chunksize", "strategy",
                                "chunksize"], value="seconds")
    serial = out[out.strategy == "serial"].set_index("duration_us")["median"]
    pools_only = out[out.strategy.isin(["pool", "default"])]
    best = pools_only.groupby("duration_us")["median"].min()
    out["speedup"] = out.duration_us.map(serial) / out["median"]
    out["vs_best"] = out["median"] / out.duration_us.map(best)
    return out


def chunksize_choices(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per task duration: the best ``Pool.map`` chunksize and how the defaults and
    manual batching compare with it (ratios of median times; 1.0 is as fast as the best)."""
    import pandas as pd

    rows = []
    for duration, group in summary.groupby("duration_us"):
        pool = group[group.strategy.isin(["pool", "default"])]
        best = pool.loc[pool["median"].idxmin()]
        ratio = group.groupby("strategy")["vs_best"].min()
        grid = group[group.strategy == "pool"].set_index("chunksize")["vs_best"]
        rows.append({
            "task (µs)": duration, "items": int(group.n_items.iloc[0]),
            "best chunksize": int(best["chunksize"]), "best speedup": float(pool.speedup.max()),
            "Pool default": int(group.default_chunksize.iloc[0]),
            "default / best": float(ratio.get("default", float("nan"))),
            "chunksize 1 / best": float(grid.get(1, float("nan"))),
            "executor (1) / best": float(ratio.get("executor", float("nan"))),
            "batched / best": float(ratio.get("batched", float("nan"))),
        })
    return pd.DataFrame(rows)


def relative_to_serial(df: pd.DataFrame) -> pd.DataFrame:
    """Pool rows of the chunksize sweep with ``relative``: each run's seconds over the median
    serial time of the same task duration (below 1 the pool wins)."""
    serial = df[df.strategy == "serial"].groupby("duration_us")["seconds"].median()
    pool = df[df.strategy == "pool"].copy()
    pool["relative"] = pool["seconds"] / pool["duration_us"].map(serial)
    return pool


def plot_chunksize(df: pd.DataFrame, title: str = "Pool.map time against chunksize") -> Figure:
    """The U-curve: each ``Pool.map`` run over the plain loop's median, by chunksize, one line
    per task duration (µs), log-log, the loop dashed."""
    from mpguide import plotting

    return plotting.chunksize_plot(
        relative_to_serial(df), y="relative", hue="duration_us", reference=1.0, logy=True,
        ylabel="time / plain loop (median, IQR)", title=title)


# ---------------------------------------------------------------------------------------------
# map vs imap vs imap_unordered
# ---------------------------------------------------------------------------------------------

def spin_then_bytes(task: Sequence[int]) -> bytes:
    """Spin ``task[0]`` iterations, then return ``task[1]`` zero bytes: a task with a big
    result."""
    iterations, nbytes = task
    workloads.spin(iterations)
    return bytes(nbytes)


def uneven_tasks(seconds: float, count: int, result_kib: int) -> list[list[int]]:
    """Items of :func:`spin_then_bytes`: tasks of 1, 2 or 3 times ``seconds`` in turn, each
    returning ``result_kib`` KiB."""
    base = spin_items(seconds, 1)[0]
    return [[base * (1 + i % 3), result_kib * 1024] for i in range(count)]


def indexed_call(job: tuple[Callable[[Any], Any], int, Any]) -> tuple[int, Any]:
    """``(index, func(item))`` of a job ``(func, index, item)``: which input a result is of,
    whatever ``func`` returns."""
    func, index, item = job
    return index, func(item)


class PeakRSS:
    """Context manager sampling this process's resident memory in a thread; ``.peak_mib`` is
    the highest rise over the value at entry (sampled every ``interval`` seconds)."""

    def __init__(self, interval: float = RSS_INTERVAL_S) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        import psutil

        self._process = psutil.Process()
        self._base = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True, name="mpguide-rss")
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            rise = (self._process.memory_info().rss - self._base) / 2**20
            self.peak_mib = max(self.peak_mib, rise)
            if self._stop.wait(self.interval):
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sample()


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc's ``malloc_trim``,
    where there is one), so the next call's memory rise starts from a trimmed heap."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def map_variants_params(func: Callable[[Any], Any] = spin_then_bytes,
                        items: Callable[..., Sequence[Any]] | str | Sequence[Any] = uneven_tasks,
                        params: Mapping[str, Any] | None = None,
                        pool: executors.Pool | None = None) -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_map_variants`, not run.

    ``func`` is any importable function; ``items`` an importable factory called with
    ``params`` (default: 600 uneven 200-600 µs tasks returning 32 KiB, 1,500 in full mode), or
    the JSON-ready items themselves; ``pool`` the ``Pool`` spec the three calls share
    (default: usable cores, chunksize 1; above 1, ``imap`` returns a plain generator whose
    ``next`` takes no timeout).
    """
    if params is None and items is uneven_tasks:
        params = {"seconds": 2e-4, "count": config.scaled(1500, 600), "result_kib": 32}
    pool = pool or executors.Pool(machine.usable_cpus(), chunksize=1)
    if pool.chunksize != 1:
        raise ValueError(f"{pool.label}: imap with a chunksize above 1 cannot be waited on "
                         f"with a timeout; use chunksize=1")
    return {"func": executors.target_of(func),
            "items": items if isinstance(items, str) else executors.target_of(items)
            if callable(items) else list(items),
            "params": dict(params or {}), "pool": pool.to_dict(),
            "repeats": config.scaled(3, 2)}


def measure_map_variants(*, func: str, items: str | list[Any], params: Mapping[str, Any],
                         pool: Mapping[str, Any], repeats: int) -> dict[str, Any]:
    """Time to first result, total time, peak parent memory and order of ``map``, ``imap``
    and ``imap_unordered`` on one started pool, ``repeats`` rounds after a checked warm-up.

    Each job carries its index (:func:`indexed_call`). ``map`` keeps every result (it returns
    a list); for ``imap`` and ``imap_unordered`` the consumer looks at each result and drops
    it, as a streaming loop would.
    """
    spec = executors.from_dict(pool)
    assert isinstance(spec, executors.Pool)
    assert spec.workers is not None
    function = executors.resolve_target(func)
    work = list(executors.resolve_target(items)(**params) if isinstance(items, str) else items)
    jobs = [(function, i, item) for i, item in enumerate(work)]
    timeout, n = config.DEFAULT_TIMEOUT, len(jobs)
    records = []
    with pools.bounded_pool(spec.workers, spec.start_method, timeout) as workers:
        check = workers.imap(indexed_call, iter(jobs), 1)  # warm-up, checked one by one
        for _ in range(n):
            index, result = check.next(timeout=timeout)
            timing.check_same(function(work[index]), result, f"{func} of item {index}")
        for rep in range(repeats):
            for call in MAP_CALLS:
                release_freed_memory()
                order: list[int] = []
                with PeakRSS() as rss:
                    start, first = time.perf_counter(), None
                    if call == "map":
                        results = pools.wait_result(workers.map_async(indexed_call, jobs, 1),
                                                    workers, timeout)
                        first = time.perf_counter() - start
                        order = [index for index, _ in results]
                        del results
                    else:
                        iterator = getattr(workers, call)(indexed_call, iter(jobs), 1)
                        for _ in range(n):
                            index, _result = iterator.next(timeout=timeout)
                            first = time.perf_counter() - start if first is None else first
                            order.append(index)
                    total = time.perf_counter() - start
                if sorted(order) != list(range(n)):
                    raise timing.TimingError(f"{call} lost or duplicated results")
                records.append({"method": call, "repeat": rep, "n_items": n,
                                "first_result_s": first, "seconds": total,
                                "peak_rss_mib": rss.peak_mib,
                                "out_of_order": sum(i != o for i, o in enumerate(order)) / n})
    return {"records": records, "metadata": {
        **machine.collect_metadata(), "start_method": spec.start_method,
        "measured_in": "fresh interpreter", "label": spec.label, "workers": spec.workers,
        "func": func}}


def load_map_variants(func: Callable[[Any], Any] = spin_then_bytes,
                      items: Callable[..., Sequence[Any]] | str | Sequence[Any] = uneven_tasks,
                      params: Mapping[str, Any] | None = None,
                      pool: executors.Pool | None = None) -> pd.DataFrame:
    """Tidy frame of :func:`measure_map_variants` (one row per call and round; fresh
    interpreter, cached): ``method``, ``first_result_s``, ``seconds``, ``peak_rss_mib``,
    ``out_of_order`` and metadata (``result_kib`` when the items carry it)."""
    import pandas as pd

    spec = map_variants_params(func, items, params, pool)
    run = run_cached("tuning-map-variants", f"{__name__}:measure_map_variants", spec,
                     timeout=config.DEFAULT_TIMEOUT * 10)
    if not run:  # a worker re-importing its parent's script, on a cache miss
        return pd.DataFrame(columns=["method", "first_result_s", "seconds", "peak_rss_mib",
                                     "out_of_order"])
    df = pd.DataFrame(run["records"]).assign(**run["metadata"])
    if "result_kib" in spec["params"]:
        df["result_kib"] = spec["params"]["result_kib"]
    return df


def map_variants_table(df: pd.DataFrame) -> pd.DataFrame:
    """Median first-result time, total time, peak parent memory and out-of-order share per
    call (``map``, ``imap``, ``imap_unordered``)."""
    columns = ["first_result_s", "seconds", "peak_rss_mib", "out_of_order"]
    return df.groupby("method")[columns].median().reindex(
        [m for m in MAP_CALLS if m in set(df["method"])])


# ---------------------------------------------------------------------------------------------
# maxtasksperchild
# ---------------------------------------------------------------------------------------------

def maxtasks_experiment() -> Experiment:
    """``Pool(workers, chunksize=1, maxtasksperchild=m)`` for m in None, 10, 1 (None and 1 in
    quick mode) over 1 ms ``spin`` tasks, not run; timed whole, from creating the pool to its
    join (a replaced worker is a process start again)."""
    workers = machine.usable_cpus()
    limits = (None, 10, 1) if not config.quick_mode() else (None, 1)
    return Experiment("tuning-maxtasks", workloads.spin, spin_items, [
        executors.Pool(workers, chunksize=1, maxtasksperchild=m) for m in limits],
        params={"seconds": 1e-3, "count": config.scaled(60, 12)}, startup=True)


def maxtasks_frame(result: Result, task_us: float) -> pd.DataFrame:
    """Pool rows of a ``maxtasksperchild`` experiment: ``maxtasksperchild`` (None is the
    default, workers never replaced), ``n_items``, ``task_us``, ``seconds``."""
    df = result.frame()
    df = df[df["tool"] == "pool"].copy()
    limit = df["label"].str.extract(r"maxtasksperchild=(\d+)", expand=False)
    df["maxtasksperchild"] = limit.astype(float)
    return df.assign(n_items=df["items"], task_us=task_us)


def load_maxtasks() -> pd.DataFrame:
    """:func:`maxtasks_frame` of :func:`maxtasks_experiment` (fresh interpreter, cached)."""
    experiment = maxtasks_experiment()
    return maxtasks_frame(experiment.run(), experiment.params["seconds"] * 1e6)


def maxtasks_table(df: pd.DataFrame) -> pd.DataFrame:
    """Median and IQR seconds per ``maxtasksperchild`` (``"none (default)"`` first)."""
    named = df.assign(maxtasksperchild=df.maxtasksperchild.fillna(0).astype(int).astype(str)
                      .replace("0", "none (default)"))
    return timing.summarize(named, ["maxtasksperchild"], value="seconds")


# ---------------------------------------------------------------------------------------------
# Views shared by the chapter
# ---------------------------------------------------------------------------------------------

def bar_figure(table: pd.DataFrame, *, x: str, y: str, hue: str | None = None, caption: Any,
               ylabel: str, title: str | None = None, err: str | None = None,
               reference: float | None = None) -> Figure:
    """Grouped bar chart of a summary table (one bar per ``x`` and ``hue``), with optional
    error bars from column ``err`` and a dashed ``reference`` line, machine-captioned."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    labels = list(dict.fromkeys(table[x]))
    groups = list(dict.fromkeys(table[hue])) if hue else [None]
    width = 0.8 / len(groups)
    for g, group in enumerate(groups):
        rows = table if hue is None else table[table[hue] == group]
        rows = rows.set_index(x).reindex(labels)
        positions = [i + (g - (len(groups) - 1) / 2) * width for i in range(len(labels))]
        ax.bar(positions, rows[y], width, label=None if hue is None else str(group),
               yerr=None if err is None else rows[err] / 2, capsize=3)
    if reference is not None:
        ax.axhline(reference, linestyle="--", color="0.5")
    ax.set_xticks(range(len(labels)), [str(label) for label in labels])
    return plotting.finish(fig, ax, caption=caption, title=title, xlabel="", ylabel=ylabel,
                           legend=bool(hue), grid="y")


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

def _pool_rows(summary: pd.DataFrame, duration: float) -> pd.DataFrame:
    return summary[(summary.strategy == "pool") & (summary.duration_us == duration)]


#: How much slower than the best chunksize chunksize 1 must be for the left arm of the U to
#: count: a fifth, beyond the run-to-run spread of a shared machine (the right arm, one chunk
#: for everything, is one worker doing all the work: certain, so not what the claim checks).
U_CURVE_LEFT = 1.2


@claims.claim("chunksize-u-curve", chapter=CHAPTER,
              statement="For {duration_us} µs tasks time vs chunksize is a U-curve: "
                        "chunksize 1 is more than {threshold}x slower than the best chunksize "
                        "({best}), {left:.2f|slower|faster}; at the other end, one chunk for "
                        "everything leaves all workers but one idle: "
                        "{right:.1f|slower|faster}.")
def _chunksize_u_curve() -> claims.Evidence:
    summary = chunksize_summary(load_chunksize())
    durations = sorted(summary.duration_us.unique())
    duration = int(durations[len(durations) // 2 - 1 if len(durations) % 2 == 0
                             else len(durations) // 2])
    rows = _pool_rows(summary, duration).set_index("chunksize")["median"]
    best = int(rows.idxmin())
    left = rows.loc[1] / rows.min()
    right = rows.loc[rows.index.max()] / rows.min()
    return claims.Evidence(
        holds=bool(left > U_CURVE_LEFT),
        values={"duration_us": duration, "best": best, "left": left, "right": right,
                "threshold": U_CURVE_LEFT},
        evidence=f"Median Pool.map time at chunksize 1: {rows.loc[1]:.3f} s, at {best}: "
                 f"{rows.min():.3f} s, at {int(rows.index.max())} (one chunk): "
                 f"{rows.loc[rows.index.max()]:.3f} s.")


@claims.claim("default-chunksize-vs-executor", chapter=CHAPTER,
              statement="For {duration_us} µs tasks Pool.map's default chunksize ({default}) "
                        "is within {default_vs_best:.2f}x of the best, while "
                        "ProcessPoolExecutor.map's default of 1 is {executor_vs_best:.1f}x "
                        "slower than the best.")
def _default_chunksize() -> claims.Evidence:
    summary = chunksize_summary(load_chunksize())
    duration = int(summary.duration_us.min())
    rows = summary[summary.duration_us == duration].set_index("strategy")
    default = int(rows.default_chunksize.iloc[0])
    default_vs_best = float(rows.loc["default", "vs_best"])
    executor = float(rows.loc["executor", "vs_best"])
    return claims.Evidence(
        holds=bool(default_vs_best < 1.5 and executor > 2),
        values={"duration_us": duration, "default": default,
                "default_vs_best": default_vs_best, "executor_vs_best": executor},
        evidence=f"{int(rows.n_items.iloc[0])} items; ratios are median times over the best "
                 f"Pool.map chunksize.")


@claims.claim("imap-streams", chapter=CHAPTER,
              statement="imap hands over its first result after {imap_first:.1%} of map's "
                        "total time and its peak memory stays {mem_ratio:.1f}x below map's, "
                        "which holds every result until the end.")
def _imap_streams() -> claims.Evidence:
    med = map_variants_table(load_map_variants())
    peak, first, total = med["peak_rss_mib"], med["first_result_s"], med["seconds"]
    map_mib, imap_mib = float(peak["map"]), float(peak["imap"])
    imap_first = float(first["imap"]) / float(total["map"])
    mem_ratio = map_mib / max(imap_mib, 1.0)
    return claims.Evidence(
        holds=bool(imap_first < 0.2 and mem_ratio > 2),
        values={"imap_first": imap_first, "mem_ratio": mem_ratio},
        evidence=f"Peak parent RSS rise: map {map_mib:.0f} MiB, imap {imap_mib:.0f} MiB (floor "
                 f"1 MiB for the ratio).")


@claims.demonstration("imap-unordered-reorders", chapter=CHAPTER,
                      statement="With uneven tasks, imap_unordered delivered {out_of_order:.0%} "
                                "of results out of input order; map and imap, whose order the "
                                "API guarantees, delivered none.")
def _imap_unordered() -> claims.Evidence:
    share = map_variants_table(load_map_variants())["out_of_order"]
    return claims.Evidence(
        holds=bool(share["imap_unordered"] > 0 and share["map"] == 0 and share["imap"] == 0),
        values={"out_of_order": float(share["imap_unordered"])},
        evidence="Share of positions where the result index differs from its position.")


@claims.claim("maxtasks-costs", chapter=CHAPTER,
              statement="maxtasksperchild=1 made {n_items} tasks of {task_us} µs "
                        "{slowdown:.1f|slower|faster} than the default (workers never replaced).")
def _maxtasks_costs() -> claims.Evidence:
    df = load_maxtasks()
    med = df.groupby(df.maxtasksperchild.fillna(0))["seconds"].median()
    slowdown = med.loc[1] / med.loc[0]
    return claims.Evidence(
        holds=bool(slowdown > 1.5), values={"n_items": int(df.n_items.iloc[0]),
                                            "task_us": int(df.task_us.iloc[0]),
                                            "slowdown": slowdown},
        evidence=f"Median wall time, pool start and stop included: {med.loc[0]:.3f} s default "
                 f"vs {med.loc[1]:.3f} s with a fresh worker per task.")
