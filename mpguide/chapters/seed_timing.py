"""Chapter 1, part 4: the seed article's per-task timing, run as published.

:mod:`mpguide.chapters.overhead` declares the chapter. The seed article *How to Optimize Python
Multiprocessing Pool Performance and Cut IPC Overhead* starts with a timing shell: each task
returns its result and how long the work took in the worker, and the whole ``with Pool(...)``
block is timed around ``pool.map(..., chunksize=5)`` over 100 items of 100,000 modulo steps.
If the wall time is far above what the workers computed, the pool pays for scheduling and
IPC; if the workers' time dominates, the pool does its job. :func:`seed_timing_params`
declares it with the article's items, task and chunksize and a pool of this machine's usable
cores (the article's machine had 4); :func:`load_seed_timing` runs :func:`measure_seed_timing`
in a fresh interpreter (cached), and the claim below reads it the article's way.

Examples
--------
>>> from mpguide.chapters import seed_timing
>>> result, seconds = seed_timing.timed_work(3)
>>> result == seed_timing.real_work(3), seconds > 0
(True, True)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools
from mpguide.chapters.overhead import CHAPTER, format_duration
from mpguide.experiment import REPEATS, run_cached

if TYPE_CHECKING:
    import pandas as pd

#: Cache name of the measurement.
SEED_TIMING = "overhead-seed-timing"

#: The article's setup: items, modulo steps per item, chunksize.
SEED_ITEMS, SEED_STEPS, SEED_CHUNKSIZE = 100, 100_000, 5

#: The share of the workers' time (workers x wall) they must spend computing for the
#: article's reading "the pool is doing its job" to hold.
BUSY_AT_LEAST = 0.5

#: How much longer a task may take in a worker than in the plain loop (the same code on
#: another core: only a shared or throttled core makes it slower).
SLOWER_IN_A_WORKER_AT_MOST = 1.5


def real_work(x: int, steps: int = SEED_STEPS) -> int:
    """The article's CPU-heavy task: ``steps`` modulo additions."""
    s = 0
    for i in range(steps):
        s += (x + i) % 7
    return s


def timed_work(x: int) -> tuple[int, float]:
    """The article's timing shell: the result and the seconds the work took here."""
    start = time.perf_counter()
    result = real_work(x)
    return result, time.perf_counter() - start


def seed_timing_params(start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params, not run: the article's items and chunksize through a Pool of
    the usable cores, 5 timed runs (3 in quick mode).

    Examples
    --------
    >>> params = seed_timing_params()
    >>> params["items"], params["chunksize"], params["workers"] == machine.usable_cpus()
    (100, 5, True)
    """
    return {"start_method": config.resolve_start_method(start_method),
            "workers": machine.usable_cpus(), "items": SEED_ITEMS, "chunksize": SEED_CHUNKSIZE,
            "repeats": REPEATS}


def measure_seed_timing(*, start_method: str, workers: int, items: int, chunksize: int,
                        repeats: int) -> list[dict[str, Any]]:
    """The plain loop of :func:`timed_work` over ``range(items)``, then ``repeats`` times the
    article's block (``with Pool(workers) as pool: pool.map(timed_work, data, chunksize)``,
    bounded), interleaved: per run, the wall time and the workers' own seconds."""
    timeout = config.DEFAULT_TIMEOUT
    data = range(items)
    records = []
    for repeat in range(repeats):
        start = time.perf_counter()
        serial = [timed_work(x) for x in data]
        records.append({"way": "loop", "repeat": repeat, "workers": 0,
                        "wall_s": time.perf_counter() - start,
                        "work_s": sum(seconds for _, seconds in serial)})
        start = time.perf_counter()
        with pools.bounded_pool(workers, start_method, timeout) as pool:
            results = pools.wait_result(pool.map_async(timed_work, data, chunksize), pool,
                                        timeout, what="the seed's timed map")
        wall = time.perf_counter() - start
        if [r for r, _ in results] != [r for r, _ in serial]:
            raise AssertionError("the pool's results differ from the loop's")
        records.append({"way": "pool", "repeat": repeat, "workers": workers, "wall_s": wall,
                        "work_s": sum(seconds for _, seconds in results)})
    meta = {**machine.collect_metadata(), "start_method": start_method,
            "measured_in": "fresh interpreter"}
    return [{**meta, "items": items, "chunksize": chunksize, **r} for r in records]


def load_seed_timing(params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Tidy frame of :func:`measure_seed_timing` with ``params`` (default:
    :func:`seed_timing_params`; fresh interpreter, cached)."""
    import pandas as pd

    params = seed_timing_params() if params is None else params
    return pd.DataFrame(run_cached(SEED_TIMING, f"{__name__}:measure_seed_timing",
                                   dict(params)) or [])


def seed_timing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per way: median wall time, the workers' seconds (summed over the items) and per item,
    and the share of ``workers x wall`` the workers spent computing (``busy``)."""
    out = df.groupby("way").agg(workers=("workers", "first"), wall_s=("wall_s", "median"),
                                work_s=("work_s", "median"), items=("items", "first"))
    out["work_per_item_ms"] = out["work_s"] / out["items"] * 1e3
    out["busy"] = out["work_s"] / (out["wall_s"] * out["workers"].clip(lower=1))
    return out.drop(columns=["items"]).reindex(["loop", "pool"])


@claims.claim("seed001-timing-work-dominates", chapter=CHAPTER,
              statement="The seed article's timing shell ({items} items of {steps:,} modulo "
                        "steps, chunksize {chunksize}) through Pool({workers}): the whole block "
                        "took {wall:.3f} s, and the workers computed for {busy:.0%} of "
                        "workers x wall time (claimed: at least {busy_at_least:.0%}, the "
                        "article's 'the pool is doing its job'); a task took {pool_item} in a "
                        "worker against {loop_item} in the loop, {ratio:.2f}x (claimed: at "
                        "most {ratio_at_most:g}x).")
def _seed_timing() -> claims.Evidence:
    df = load_seed_timing()
    table = seed_timing_table(df)
    pool, loop = table.loc["pool"], table.loc["loop"]
    ratio = float(pool["work_per_item_ms"] / loop["work_per_item_ms"])
    busy = float(pool["busy"])
    values = {"items": int(df["items"].iloc[0]), "steps": SEED_STEPS,
              "chunksize": int(df["chunksize"].iloc[0]), "workers": int(pool["workers"]),
              "wall": float(pool["wall_s"]), "busy": busy, "busy_at_least": BUSY_AT_LEAST,
              "pool_item": format_duration(float(pool["work_per_item_ms"]) / 1e3),
              "loop_item": format_duration(float(loop["work_per_item_ms"]) / 1e3),
              "ratio": ratio, "ratio_at_most": SLOWER_IN_A_WORKER_AT_MOST}
    return claims.Evidence(
        holds=busy >= BUSY_AT_LEAST and ratio <= SLOWER_IN_A_WORKER_AT_MOST, values=values,
        evidence=f"Medians of {int(df['repeat'].max()) + 1} runs, loop and pool interleaved, "
                 f"pool start and stop inside the timed block as in the article; the loop "
                 f"took {float(loop['wall_s']):.3f} s.")
