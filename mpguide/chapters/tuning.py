"""Chapter 3, part 1: tuning a Pool (chunksize, map variants, ``maxtasksperchild``).

Each experiment starts pools, so it runs in a fresh interpreter (:func:`runner.run_fresh`) and
describes a plain script, not the docs build; its JSON result is cached
(:class:`cache.ResultCache`). The public ``load_*`` functions return tidy DataFrames (one row
per parameter set and repeat, machine metadata included) that the gallery, the guide page and
the claims all read. This module declares the chapter and holds the plumbing its other modules
share: the pool size in :mod:`mpguide.chapters.pool_size`, choosing between tools in
:mod:`mpguide.chapters.choosing`, work that waits in :mod:`mpguide.chapters.waiting`.

Examples
--------
>>> from mpguide.chapters import tuning
>>> tuning.chunksize_grid(100, 2)
[1, 4, 16, 50, 100]
>>> tuning.batches([1, 2, 3], 2)
[[1, 2], [3]]
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from mpguide import claims, config, machine, pools, runner, timing, workloads
from mpguide.cache import ResultCache
from mpguide.executors import default_chunksize

CHAPTER = claims.Chapter(
    name="tuning", page="guide/03-tuning", title="Tuning and choosing",
    summary="Workers, chunksize, BLAS threads, start methods, and Pool against threads and "
            "joblib.")

#: Seconds a fresh-interpreter experiment may run before it and its workers are killed.
EXPERIMENT_TIMEOUT = 300.0


# ---------------------------------------------------------------------------------------------
# Plumbing shared by the chapter's modules
# ---------------------------------------------------------------------------------------------

def run_cached(experiment: str, target: str, params: Mapping[str, Any],
               timeout: float = EXPERIMENT_TIMEOUT) -> Any:
    """Cached result of ``target(**params)`` measured in a fresh interpreter.

    ``params`` always carries the start method and the mode, so quick and full results, and
    results for different start methods, never mix.
    """
    return ResultCache().get_or_measure(
        experiment, dict(params),
        lambda **p: runner.run_fresh(target, p, timeout=timeout))


def records_frame(result: Mapping[str, Any]):
    """Tidy DataFrame of an experiment result ``{"records": [...], "metadata": {...}}``.

    Examples
    --------
    >>> df = records_frame({"records": [{"x": 1, "seconds": 0.5}], "metadata": {"python": "3"}})
    >>> df.to_dict("records")
    [{'x': 1, 'seconds': 0.5, 'python': '3'}]
    """
    import pandas as pd

    df = pd.DataFrame(list(result["records"]))
    for key, value in result["metadata"].items():
        if key not in df.columns:
            df[key] = value
    return df


def finish(records: list[dict[str, Any]], start_method: str) -> dict[str, Any]:
    """Wrap records with the machine metadata (collected last, after every pool started)."""
    meta = machine.collect_metadata()
    meta["start_method"] = start_method
    return {"records": records, "metadata": meta}


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    """``(func(), seconds)`` with :func:`time.perf_counter`."""
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def pool_map(pool, func: Callable[[Any], Any], items: list[Any], chunksize: int | None,
             timeout: float = config.DEFAULT_TIMEOUT) -> list[Any]:
    """``pool.map(func, items, chunksize)`` with a bounded wait (:func:`pools.wait_result`)."""
    return pools.wait_result(pool.map_async(func, items, chunksize=chunksize), pool, timeout)


def _method(start_method: str | None) -> str:
    return config.validate_start_method(start_method or config.start_method())


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


def spin_batch(batch: list[int]) -> list[int]:
    """:func:`workloads.spin` over a list of iteration counts: a manually batched task."""
    return [workloads.spin(n) for n in batch]


def batches(items: list[Any], size: int) -> list[list[Any]]:
    """Split ``items`` into lists of ``size`` (the last may be shorter).

    Examples
    --------
    >>> batches([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    return [items[i:i + size] for i in range(0, len(items), size)]


def chunksize_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the chunksize sweep for the current mode."""
    return {
        "start_method": _method(start_method), "mode": config.mode(), "workers": 2,
        "durations_us": [10, 100, 1000],
        "serial_target_s": config.scaled(20, 6) / 100, "repeats": config.scaled(3, 2),
    }


def measure_chunksize(*, start_method: str, mode: str, workers: int, durations_us: list[int],
                      serial_target_s: float, repeats: int) -> dict[str, Any]:
    """Time ``Pool.map`` over the chunksize grid, batching, and ``ProcessPoolExecutor.map``.

    For each task duration the item count is chosen so the serial loop lasts about
    ``serial_target_s``. Strategies: ``serial`` (plain loop), ``pool`` (``Pool.map`` at each
    chunksize of :func:`chunksize_grid` and at the default), ``batched`` (manual batches of the
    default chunksize through :func:`spin_batch`), ``executor`` (``ProcessPoolExecutor.map`` at
    its default chunksize 1). The pool is started and warmed up before timing.
    """
    del mode  # part of the cache key only
    ctx = pools.get_context(start_method)
    records = []
    with pools.bounded_pool(workers, start_method) as pool:
        pool_map(pool, workloads.noop, list(range(workers * 4)), 1)
        for duration in durations_us:
            iterations = workloads.iterations_for(duration * 1e-6)
            n_items = max(workers * 4, round(serial_target_s / (duration * 1e-6)))
            items = [iterations] * n_items
            expected = [workloads.spin(iterations)] * n_items
            default = default_chunksize(n_items, workers)
            base = {"duration_us": duration, "n_items": n_items, "workers": workers,
                    "default_chunksize": default}

            def add(strategy: str, chunksize: int, run: Callable[[], list[Any]],
                    base: dict[str, Any] = base, expected: list[int] = expected) -> None:
                timing.check_same(expected, run(), f"{strategy} at chunksize {chunksize}")
                for rep in range(repeats):
                    _, seconds = timed(run)
                    records.append({**base, "strategy": strategy, "chunksize": chunksize,
                                    "repeat": rep, "seconds": seconds})

            add("serial", 0, lambda items=items: list(map(workloads.spin, items)))
            for chunk in sorted({*chunksize_grid(n_items, workers), default}):
                add("pool", chunk, lambda c=chunk, items=items: pool_map(
                    pool, workloads.spin, items, c))
            add("batched", default, lambda items=items, d=default: [
                r for b in pool_map(pool, spin_batch, batches(items, d), 1) for r in b])
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as executor:
                list(executor.map(workloads.noop, range(workers), timeout=config.DEFAULT_TIMEOUT))
                add("executor", 1, lambda items=items, ex=executor: list(ex.map(
                    workloads.spin, items, timeout=config.DEFAULT_TIMEOUT)))
    return finish(records, start_method)


def load_chunksize(start_method: str | None = None):
    """Tidy frame of the chunksize sweep (``strategy``, ``duration_us``, ``chunksize``,
    ``repeat``, ``seconds`` and metadata); measured once per machine and mode, then cached."""
    return records_frame(run_cached("tuning-chunksize", f"{__name__}:measure_chunksize",
                                    chunksize_params(start_method)))


def chunksize_summary(df):
    """Median seconds per strategy, duration and chunksize, with the speedup over serial and
    the ratio to the best ``Pool.map`` chunksize of that duration."""
    out = timing.summarize(df, ["duration_us", "n_items", "default_chunksize", "strategy",
                                "chunksize"], value="seconds")
    serial = out[out.strategy == "serial"].set_index("duration_us")["median"]
    best = out[out.strategy == "pool"].groupby("duration_us")["median"].min()
    out["speedup"] = out.duration_us.map(serial) / out["median"]
    out["vs_best"] = out["median"] / out.duration_us.map(best)
    return out


def chunksize_choices(summary):
    """One row per task duration: the best ``Pool.map`` chunksize and how the defaults and
    manual batching compare with it (ratios of median times; 1.0 is as fast as the best)."""
    import pandas as pd

    rows = []
    for duration, group in summary.groupby("duration_us"):
        pool = group[group.strategy == "pool"].set_index("chunksize")
        other = group.set_index("strategy")
        default = int(group.default_chunksize.iloc[0])
        rows.append({
            "task (µs)": duration, "items": int(group.n_items.iloc[0]),
            "best chunksize": int(pool["median"].idxmin()),
            "best speedup": float(pool["speedup"].max()),
            "Pool default": default,
            "default / best": float(pool.loc[default, "vs_best"]),
            "chunksize 1 / best": float(pool.loc[1, "vs_best"]),
            "executor (1) / best": float(other.loc["executor", "vs_best"]),
            "batched / best": float(other.loc["batched", "vs_best"]),
        })
    return pd.DataFrame(rows)


def relative_to_serial(df):
    """Pool rows of the chunksize sweep with ``relative``: each run's seconds over the median
    serial time of the same task duration (below 1 the pool wins)."""
    serial = df[df.strategy == "serial"].groupby("duration_us")["seconds"].median()
    pool = df[df.strategy == "pool"].copy()
    pool["relative"] = pool["seconds"] / pool["duration_us"].map(serial)
    return pool


def bar_figure(table, *, x: str, y: str, hue: str | None = None, caption: Any,
               ylabel: str, title: str | None = None, err: str | None = None,
               reference: float | None = None):
    """Grouped bar chart of a summary table (one bar per ``x`` and ``hue``), with optional
    error bars from column ``err`` and a dashed ``reference`` line, machine-captioned.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"way": ["a", "b"], "median": [1.0, 2.0]})
    >>> fig = bar_figure(t, x="way", y="median", caption="here", ylabel="s")
    >>> len(fig.axes[0].patches)
    2
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
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
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if hue:
        ax.legend(fontsize="small")
    ax.grid(True, axis="y", alpha=0.3)
    return plotting.add_caption(fig, caption)


# ---------------------------------------------------------------------------------------------
# map vs imap vs imap_unordered, and maxtasksperchild
# ---------------------------------------------------------------------------------------------

def indexed_payload(spec: tuple[int, int, int]) -> tuple[int, bytes]:
    """Spin ``iterations`` then return ``(index, bytes(nbytes))``: an uneven task with a big
    result, whose index shows the order results arrive in."""
    index, iterations, nbytes = spec
    workloads.spin(iterations)
    return index, bytes(nbytes)


class PeakRSS:
    """Context manager sampling this process's resident memory in a thread; ``.peak_mib`` is
    the highest rise over the value at entry.

    Examples
    --------
    >>> with PeakRSS() as rss:
    ...     block = bytearray(32 * 2**20)
    >>> rss.peak_mib >= 0
    True
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()

    def __enter__(self):
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


def map_variants_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the map/imap/imap_unordered comparison for the current mode."""
    return {"start_method": _method(start_method), "mode": config.mode(), "workers": 2,
            "n_items": config.scaled(3000, 600), "task_us": 200, "result_kib": 32,
            "chunksize": 1, "repeats": config.scaled(3, 2)}


def measure_map_variants(*, start_method: str, mode: str, workers: int, n_items: int,
                         task_us: int, result_kib: int, chunksize: int,
                         repeats: int) -> dict[str, Any]:
    """Time to first result, total time, peak parent memory and ordering of the three calls.

    Each task spins an uneven time (1 to 3 times ``task_us``) and returns ``result_kib`` KiB.
    ``map`` keeps every result (it returns a list); for ``imap`` and ``imap_unordered`` the
    consumer looks at each result and drops it, as a streaming loop would. Keep ``chunksize``
    at 1: above it ``imap`` returns a plain generator whose ``next`` takes no timeout.
    """
    del mode
    base_iterations = workloads.iterations_for(task_us * 1e-6)
    specs = [(i, base_iterations * (1 + i % 3), result_kib * 1024) for i in range(n_items)]
    records = []
    with pools.bounded_pool(workers, start_method) as pool:
        pool_map(pool, workloads.noop, list(range(workers * 4)), 1)
        for rep in range(repeats):
            for method in ("map", "imap", "imap_unordered"):
                order: list[int] = []
                with PeakRSS() as rss:
                    start = time.perf_counter()
                    first = None
                    if method == "map":
                        results = pool_map(pool, indexed_payload, specs, chunksize)
                        first = time.perf_counter() - start
                        order = [index for index, _ in results]
                        del results
                    else:
                        iterator = getattr(pool, method)(indexed_payload, iter(specs), chunksize)
                        for _ in range(n_items):
                            index, _payload = iterator.next(timeout=config.DEFAULT_TIMEOUT)
                            if first is None:
                                first = time.perf_counter() - start
                            order.append(index)
                    total = time.perf_counter() - start
                if sorted(order) != list(range(n_items)):
                    raise timing.TimingError(f"{method} lost or duplicated results")
                records.append({"method": method, "repeat": rep, "n_items": n_items,
                                "chunksize": chunksize, "result_kib": result_kib,
                                "first_result_s": first, "seconds": total,
                                "peak_rss_mib": rss.peak_mib,
                                "out_of_order": sum(i != o for i, o in enumerate(order))
                                / n_items})
    return finish(records, start_method)


def load_map_variants(start_method: str | None = None):
    """Tidy frame of :func:`measure_map_variants` (cached)."""
    return records_frame(run_cached("tuning-map-variants", f"{__name__}:measure_map_variants",
                                    map_variants_params(start_method)))


def maxtasks_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the ``maxtasksperchild`` comparison for the current mode."""
    return {"start_method": _method(start_method), "mode": config.mode(), "workers": 2,
            "n_items": config.scaled(60, 12), "task_us": 1000,
            "maxtasks": [0, 10, 1] if not config.quick_mode() else [0, 1],
            "repeats": config.scaled(3, 2)}


def measure_maxtasks(*, start_method: str, mode: str, workers: int, n_items: int, task_us: int,
                     maxtasks: list[int], repeats: int) -> dict[str, Any]:
    """Seconds from ``Pool(workers, maxtasksperchild=m)`` to the end of
    ``map(spin, items, chunksize=1)``: pool start included (a replaced worker is a start
    again), close and join excluded; ``m`` 0 means None. The first run is a dropped warm-up."""
    del mode
    items = [workloads.iterations_for(task_us * 1e-6)] * n_items
    expected = [workloads.spin(items[0])] * n_items
    records = []
    for limit in maxtasks:
        for rep in range(-1, repeats):
            start = time.perf_counter()
            with pools.bounded_pool(workers, start_method,
                                    maxtasksperchild=limit or None) as pool:
                # Not pools.wait_result: it reads a retired worker as a dead one.
                result = pool.map_async(workloads.spin, items, 1).get(config.DEFAULT_TIMEOUT)
                seconds = time.perf_counter() - start
            timing.check_same(expected, result, f"maxtasksperchild={limit}")
            if rep >= 0:
                records.append({"maxtasksperchild": limit or None, "repeat": rep,
                                "n_items": n_items, "task_us": task_us, "seconds": seconds})
    return finish(records, start_method)


def load_maxtasks(start_method: str | None = None):
    """Tidy frame of :func:`measure_maxtasks` (cached)."""
    return records_frame(run_cached("tuning-maxtasks", f"{__name__}:measure_maxtasks",
                                    maxtasks_params(start_method)))


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

def _pool_rows(summary, duration: int):
    return summary[(summary.strategy == "pool") & (summary.duration_us == duration)]


@claims.claim("chunksize-u-curve", chapter=CHAPTER,
              statement="For {duration_us} µs tasks time vs chunksize is a U-curve: "
                        "chunksize 1 is {left:.1f}x and one chunk for everything {right:.1f}x "
                        "slower than the best chunksize ({best}).")
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
        holds=bool(left > 1.2 and right > 1.2),
        values={"duration_us": duration, "best": best, "left": left, "right": right},
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
    rows = summary[summary.duration_us == duration]
    default = int(rows.default_chunksize.iloc[0])
    pool = rows[rows.strategy == "pool"].set_index("chunksize")["vs_best"]
    executor = float(rows[rows.strategy == "executor"]["vs_best"].iloc[0])
    return claims.Evidence(
        holds=bool(pool.loc[default] < 1.5 and executor > 2),
        values={"duration_us": duration, "default": default,
                "default_vs_best": float(pool.loc[default]), "executor_vs_best": executor},
        evidence=f"{int(rows.n_items.iloc[0])} items; ratios are median times over the best "
                 f"Pool.map chunksize.")


@claims.claim("imap-streams", chapter=CHAPTER,
              statement="imap hands over its first result after {imap_first:.1%} of map's "
                        "total time and its peak memory stays {mem_ratio:.1f}x below map's, "
                        "which holds every result until the end.")
def _imap_streams() -> claims.Evidence:
    df = load_map_variants()
    med = df.groupby("method")[["first_result_s", "seconds", "peak_rss_mib"]].median()
    imap_first = med.loc["imap", "first_result_s"] / med.loc["map", "seconds"]
    mem_ratio = med.loc["map", "peak_rss_mib"] / max(med.loc["imap", "peak_rss_mib"], 1.0)
    return claims.Evidence(
        holds=bool(imap_first < 0.2 and mem_ratio > 2),
        values={"imap_first": imap_first, "mem_ratio": mem_ratio},
        evidence=f"Peak parent RSS rise: map {med.loc['map', 'peak_rss_mib']:.0f} MiB, imap "
                 f"{med.loc['imap', 'peak_rss_mib']:.0f} MiB (floor 1 MiB for the ratio).")


@claims.claim("imap-unordered-reorders", chapter=CHAPTER,
              statement="With uneven tasks, imap_unordered delivered {out_of_order:.0%} of "
                        "results out of input order; map and imap delivered none.")
def _imap_unordered() -> claims.Evidence:
    df = load_map_variants()
    share = df.groupby("method")["out_of_order"].median()
    return claims.Evidence(
        holds=bool(share["imap_unordered"] > 0 and share["map"] == 0 and share["imap"] == 0),
        values={"out_of_order": float(share["imap_unordered"])},
        evidence="Share of positions where the result index differs from its position.")


@claims.claim("maxtasks-costs", chapter=CHAPTER,
              statement="maxtasksperchild=1 made {n_items} tasks of {task_us} µs "
                        "{slowdown:.1f}x slower than the default (workers never replaced).")
def _maxtasks_costs() -> claims.Evidence:
    df = load_maxtasks()
    med = df.groupby(df.maxtasksperchild.fillna(0))["seconds"].median()
    slowdown = med.loc[1] / med.loc[0]
    return claims.Evidence(
        holds=bool(slowdown > 1.5), values={"n_items": int(df.n_items.iloc[0]),
                                            "task_us": int(df.task_us.iloc[0]),
                                            "slowdown": slowdown},
        evidence=f"Median wall time, pool start included: {med.loc[0]:.3f} s default vs "
                 f"{med.loc[1]:.3f} s with a fresh worker per task.")
