"""Chapter 1, "Where a Pool's time goes": what a Pool costs before any work is done.

Two experiments, each measured once per machine and cached (:class:`mpguide.cache.ResultCache`),
each read back as a tidy DataFrame by a ``load_*`` function that the gallery, the guide page and
the claims all share:

* :func:`load_startup`: ``Pool`` start+stop per start method, timed inside a plain generated
  script whose ``__main__`` imports only the stdlib (``"light"``) or numpy and pandas
  (``"numpy+pandas"``): spawn and forkserver children re-import that ``__main__``.
* :func:`load_dispatch`: what one task costs to send and get back (``apply_async`` round trip,
  ``map`` per item at chunksize 1 and at Pool's default chunksize) next to a plain call.

What those costs mean against the work of each task (the break-even task duration, the seed
article's tiny tasks, one ``Pool.map`` run split into its phases) is measured by
:mod:`mpguide.chapters.task_duration`, the second module of this chapter. The plumbing here
(:func:`_cached`, :func:`_fresh`) serves both.

The dispatch experiment runs through :func:`mpguide.runner.run_fresh`, so the numbers describe
a plain script, not a Sphinx or Jupyter process.

Examples
--------
>>> from mpguide.chapters import overhead
>>> overhead.CHAPTER.name, overhead.CHAPTER.page
('overhead', 'guide/01-overhead')
>>> sorted(overhead.MAINS)
['light', 'numpy+pandas']
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, plotting, pools, probes, runner, timing, workloads
from mpguide.cache import ResultCache

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = claims.Chapter(
    name="overhead", page="guide/01-overhead", title="Where a Pool's time goes",
    summary="Pool start and stop per start method, the dispatch cost of each task, and the "
            "task duration below which a Pool loses to the loop.")

#: What the generated script's ``__main__`` imports, per kind of main.
MAINS = {"light": "", "numpy+pandas": "import numpy\nimport pandas\n"}


def usable_workers() -> int:
    """Workers the chapter's pools use: the cores this process may run on."""
    return machine.usable_cpus()


def _metadata(start_method: str, where: str) -> dict[str, Any]:
    meta = machine.collect_metadata()
    meta["start_method"] = start_method
    meta["measured_in"] = where
    return meta


def _cached(experiment: str, params: dict[str, Any], measure: Callable[..., Any]) -> Any:
    """``measure(**params)``, cached; the mode joins the key so quick and full entries live
    in separate files."""
    def measure_params(mode: str, **kwargs: Any) -> Any:
        return measure(**kwargs)

    cache, key = ResultCache(), {**params, "mode": config.mode()}
    if multiprocessing.parent_process() is not None:
        # A spawn or forkserver worker re-imports the script that started its pool and so
        # re-runs that script's measurement cells: it reads what the parent measured, even
        # under MPGUIDE_FRESH=1, instead of measuring again in every worker.
        cached = cache.load(experiment, key)
        if cached is not None:
            return cached
    return cache.get_or_measure(experiment, key, measure_params)


def _records_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return timing.frame([timing.Measurement.from_dict(r) for r in records])


def _method(start_method: str | None) -> str:
    return config.validate_start_method(start_method or config.start_method())


# --- Pool start+stop --------------------------------------------------------------------------


def startup_samples(start_method: str, workers: int, count: int, timeout: float) -> list[float]:
    """Seconds of ``count`` successive Pool start+stops in this interpreter.

    One start+stop is ``with Pool(workers) as p: p.map(noop, range(workers))``, closed and
    joined; run by :func:`run_script` in a generated plain script.
    """
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        with pools.bounded_pool(workers, start_method, timeout) as pool:
            tasks = pool.map_async(workloads.noop, range(workers))
            pools.wait_result(tasks, pool, timeout)
        samples.append(time.perf_counter() - start)
    return samples


def run_script(main: str, args: dict[str, Any], timeout: float) -> Any:
    """Run :func:`startup_samples` in a plain script whose ``__main__`` is of kind ``main``.

    The script runs as ``python main.py`` in its own session (:func:`runner.run_fresh` with a
    preamble), so on a timeout it and its pool's workers are killed together.
    """
    if main not in MAINS:
        raise ValueError(f"unknown main {main!r}; choose one of {', '.join(MAINS)}")
    return runner.run_fresh(f"{__name__}:startup_samples", args, timeout=timeout,
                            preamble=MAINS[main])


def measure_startup(start_method: str, *, main: str, workers: int, runs: int,
                    pools_per_run: int) -> list[dict[str, Any]]:
    """Time ``pools_per_run`` Pool start+stops in each of ``runs`` fresh scripts.

    One start+stop is ``with Pool(workers) as p: p.map(noop, range(workers))``, closed and
    joined. The first pool of a script also pays one-off costs (forkserver starts its server
    and imports ``__main__`` there); later pools in the same script do not, so the two are
    recorded separately (``pool`` = ``"first"`` / ``"later"``).
    """
    args = {"start_method": start_method, "workers": workers, "count": pools_per_run,
            "timeout": config.DEFAULT_TIMEOUT}
    first, later = [], []
    for _ in range(runs):
        samples = run_script(main, args, timeout=config.DEFAULT_TIMEOUT * 2)
        first.append(samples[0])
        later.extend(samples[1:])
    meta = _metadata(start_method, f"plain script, {main} __main__")
    params = {"start_method": start_method, "main": main, "workers": workers}
    return [timing.Measurement("pool start+stop", tuple(samples),
                               params={**params, "pool": which}, metadata=meta).to_dict()
            for which, samples in (("first", first), ("later", later)) if samples]


def load_startup(start_methods: Sequence[str] | None = None,
                 mains: Sequence[str] = tuple(MAINS)) -> pd.DataFrame:
    """Pool start+stop seconds: one row per start method, main, first/later pool and repeat."""
    methods = start_methods or config.available_start_methods()
    records = []
    for method in methods:
        for main in mains:
            params = {"start_method": config.validate_start_method(method), "main": main,
                      "workers": usable_workers(), "runs": config.scaled(5, 1),
                      "pools_per_run": 2}
            records += _cached("overhead-startup", params, measure_startup)
    return _records_frame(records)


def startup_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median start+stop (ms) per start method, main and first/later pool."""
    out = timing.summarize(df, ["start_method", "main", "pool"])
    for column in ("median", "iqr", "mad", "min"):
        out[column] = out[column] * 1e3
    return out.rename(columns={"median": "median_ms", "iqr": "iqr_ms", "mad": "mad_ms",
                               "min": "min_ms"})


# --- dispatch cost per task -------------------------------------------------------------------


def measure_dispatch(start_method: str, *, workers: int) -> list[dict[str, Any]]:
    """Per-task cost of a plain call, an ``apply_async`` round trip and ``map`` per item.

    The pool figures come from :func:`mpguide.probes.apply_round_trip` and
    :func:`mpguide.probes.map_item_overhead` (warm pools; per-item overhead beyond the plain
    loop, by chunksize); the plain call of :func:`workloads.noop` is timed beside them. Runs in
    the calling process; :func:`load_dispatch` calls it in a fresh interpreter.
    """
    meta = _metadata(start_method, "fresh interpreter")
    call = timing.measure(workloads.noop, 0, name="plain call",
                          params={"start_method": start_method, "workers": 0, "chunksize": 0})
    trip = probes.apply_round_trip(start_method, workers)
    per_item = probes.map_item_overhead(probes.CHUNKSIZES, start_method, workers)
    return [m.with_metadata(meta).to_dict() for m in (call, trip, *per_item)]


def load_dispatch(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per task of a plain call, an ``apply_async`` round trip and ``map`` (overhead
    per item by chunksize), measured in a fresh interpreter.

    ``name`` is ``plain call``, ``apply_round_trip`` or ``map_item_overhead``; ``chunksize`` is
    0 where it does not apply.
    """
    params = {"start_method": _method(start_method), "workers": usable_workers()}
    df = _records_frame(_cached("overhead-dispatch", params, _fresh(measure_dispatch)))
    df["chunksize"] = df["chunksize"].fillna(0).astype(int)
    return df


def _fresh(measure: Callable[..., Any]) -> Callable[..., Any]:
    """``measure(**params)`` (a function of a chapter module), run in a fresh interpreter."""
    return functools.partial(_run_fresh, f"{measure.__module__}:{measure.__qualname__}")


def _run_fresh(target: str, **params: Any) -> Any:
    return runner.run_fresh(target, params)


def dispatch_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median µs per task of each dispatch measurement (one row per name and chunksize)."""
    out = timing.summarize(df, ["name", "chunksize"])
    out["median_us"] = out.pop("median") * 1e6
    out["iqr_us"] = out.pop("iqr") * 1e6
    return out[["name", "chunksize", "median_us", "iqr_us", "n"]]


# --- figures ----------------------------------------------------------------------------------


def _caption(fig: Figure, df: pd.DataFrame, start_method: str | None = None) -> Figure:
    return plotting.add_caption(fig, df, start_method)


def plot_startup(df: pd.DataFrame) -> Figure:
    """Bars: median Pool start+stop (ms) per start method, for each main and first/later pool."""
    import matplotlib.pyplot as plt

    summary = startup_summary(df)
    groups = [(m, p) for m in MAINS for p in ("first", "later")
              if ((summary["main"] == m) & (summary["pool"] == p)).any()]
    methods = list(dict.fromkeys(summary["start_method"]))
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    width = 0.8 / len(groups)
    for g, (main, which) in enumerate(groups):
        part = summary[(summary["main"] == main) & (summary["pool"] == which)]
        part = part.set_index("start_method").reindex(methods)
        xs = [i + (g - (len(groups) - 1) / 2) * width for i in range(len(methods))]
        ax.bar(xs, part["median_ms"], width, yerr=part["iqr_ms"] / 2, capsize=3,
               label=f"{main} __main__, {which} pool")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_yscale("log")
    ax.set_ylabel("Pool start + stop (ms, median, log scale)")
    ax.set_title(f"Starting and stopping a Pool({int(df['workers'].iloc[0])})")
    ax.legend(fontsize=8)
    return _caption(fig, df, "fork, spawn, forkserver")


# --- claims -----------------------------------------------------------------------------------


def _startup_ms(summary: pd.DataFrame, method: str, main: str, pool: str = "first") -> float:
    row = summary[(summary["start_method"] == method) & (summary["main"] == main)
                  & (summary["pool"] == pool)]
    return float(row["median_ms"].iloc[0]) if len(row) else math.nan


@claims.claim("spawn-starts-slower", chapter=CHAPTER,
              statement="Starting and stopping a Pool from a light __main__ costs at least "
                        "twice as much under spawn as under fork ({spawn_ms:.0f} ms vs "
                        "{fork_ms:.1f} ms, {ratio:.1f}x).")
def _spawn_starts_slower() -> claims.Evidence:
    summary = startup_summary(load_startup())
    spawn, fork = _startup_ms(summary, "spawn", "light"), _startup_ms(summary, "fork", "light")
    ratio = spawn / fork
    return claims.Evidence(
        holds=ratio >= 2, values={"spawn_ms": spawn, "fork_ms": fork, "ratio": ratio},
        evidence=f"Median of the first Pool({usable_workers()}) in fresh scripts: spawn "
                 f"{spawn:.1f} ms, fork {fork:.1f} ms." if math.isfinite(ratio) else
                 "fork or spawn is not available on this platform.")


@claims.claim("heavy-main-slows-spawn", chapter=CHAPTER,
              statement="A __main__ that imports numpy and pandas makes a spawn Pool at least "
                        "twice as slow to start and stop ({heavy_ms:.0f} ms vs {light_ms:.0f} "
                        "ms, {ratio:.1f}x): every spawn worker re-imports the main module.")
def _heavy_main_slows_spawn() -> claims.Evidence:
    summary = startup_summary(load_startup())
    heavy = _startup_ms(summary, "spawn", "numpy+pandas")
    light = _startup_ms(summary, "spawn", "light")
    fork_ratio = (_startup_ms(summary, "fork", "numpy+pandas")
                  / _startup_ms(summary, "fork", "light"))
    ratio = heavy / light
    return claims.Evidence(
        holds=ratio >= 2, values={"heavy_ms": heavy, "light_ms": light, "ratio": ratio},
        evidence=f"First pool of fresh scripts under spawn: {heavy:.0f} ms with numpy+pandas "
                 f"imported by __main__, {light:.0f} ms without; under fork the same change "
                 f"costs {fork_ratio:.1f}x.")


@claims.claim("round-trip-costs-more", chapter=CHAPTER,
              statement="One apply_async round trip ({round_trip_us:.0f} µs) costs more than "
                        "the overhead of one item of map at chunksize 1 ({map_us:.0f} µs), "
                        "because map keeps many tasks in flight.")
def _round_trip_costs_more() -> claims.Evidence:
    summary = dispatch_summary(load_dispatch()).set_index(["name", "chunksize"])["median_us"]
    trip, per_item = summary["apply_round_trip", 0], summary["map_item_overhead", 1]
    by_chunk = ", ".join(f"{c}: {v:.2f} µs" for (n, c), v in summary.items()
                         if n == "map_item_overhead")
    return claims.Evidence(
        holds=trip > per_item, values={"round_trip_us": trip, "map_us": per_item},
        evidence=f"Medians: plain call {summary['plain call', 0] * 1e3:.0f} ns, round trip "
                 f"{trip:.1f} µs; map overhead per item by chunksize: {by_chunk}.")
