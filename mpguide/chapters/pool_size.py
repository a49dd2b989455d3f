"""Chapter 3, part 1: how many workers (the pool-size sweep).

Same plumbing as :mod:`mpguide.chapters.tuning` (which declares the chapter): the experiment
runs in a fresh interpreter, its result is cached, :func:`load_pool_size` returns a tidy
DataFrame for the gallery, the guide page and the claim below.

Examples
--------
>>> from mpguide.chapters import pool_size
>>> pool_size.worker_counts(2)
[1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mpguide import claims, config, machine, pools, timing, workloads
from mpguide.chapters.tuning import (
    CHAPTER,
    _method,
    finish,
    pool_map,
    records_frame,
    run_cached,
    timed,
)

#: Workloads of the pool-size sweep (see :func:`pool_size_items`).
POOL_SIZE_WORKLOADS = ("spin", "numpy", "uneven")


def pool_size_items(workload: str, n_items: int, task_ms: float) -> tuple[Callable, list[int]]:
    """The task function and items of one pool-size workload.

    ``spin`` holds the GIL; ``numpy`` (:func:`workloads.numpy_sum_task`) releases it; ``uneven``
    is ``spin`` where every eighth task lasts eight times longer.
    """
    if workload == "numpy":
        rate = _numpy_rate()
        return workloads.numpy_sum_task, [max(1, round(task_ms * 1e-3 * rate))] * n_items
    iterations = workloads.iterations_for(task_ms * 1e-3)
    if workload == "spin":
        return workloads.spin, [iterations] * n_items
    if workload == "uneven":
        return workloads.spin, [iterations * (8 if i % 8 == 0 else 1) for i in range(n_items)]
    raise ValueError(f"unknown workload {workload!r}; choose one of {POOL_SIZE_WORKLOADS}")


def _numpy_rate() -> float:
    """Elements per second :func:`workloads.numpy_sum_task` processes here."""
    n = 1_000_000
    workloads.numpy_sum_task(n)
    best = min(timed(lambda: workloads.numpy_sum_task(n))[1] for _ in range(3))
    return n / best


def worker_counts(usable: int) -> list[int]:
    """Pool sizes to sweep: every count up to twice the usable cores on small machines, a few
    landmarks (half, all, one and a half, twice the cores) on big ones.

    Examples
    --------
    >>> worker_counts(2)
    [1, 2, 3, 4]
    >>> worker_counts(16)
    [1, 2, 8, 16, 24, 32]
    """
    if usable <= 4:
        return list(range(1, 2 * usable + 1))
    return sorted({1, 2, usable // 2, usable, usable + usable // 2, 2 * usable})


def pool_size_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the pool-size sweep for the current mode: 1 to twice the usable cores."""
    return {"start_method": _method(start_method), "mode": config.mode(),
            "workers": worker_counts(machine.usable_cpus()), "n_items": config.scaled(48, 16),
            "task_ms": config.scaled(5, 2), "kinds": list(POOL_SIZE_WORKLOADS),
            "repeats": config.scaled(3, 2)}


def measure_pool_size(*, start_method: str, mode: str, workers: list[int], n_items: int,
                      task_ms: float, kinds: list[str], repeats: int) -> dict[str, Any]:
    """Serial loop vs ``Pool(w).map(chunksize=1)`` for each workload and worker count.

    Pools are started and warmed up before timing: this is the steady-state speedup.
    """
    del mode
    records = []
    for workload in kinds:
        func, items = pool_size_items(workload, n_items, task_ms)
        expected = list(map(func, items))
        for rep in range(repeats):
            _, seconds = timed(lambda f=func, i=items: list(map(f, i)))
            records.append({"workload": workload, "workers": 0, "repeat": rep,
                            "seconds": seconds})
        for count in workers:
            with pools.bounded_pool(count, start_method) as pool:
                pool_map(pool, workloads.noop, list(range(count * 2)), 1)
                timing.check_same(expected, pool_map(pool, func, items, 1))
                for rep in range(repeats):
                    _, seconds = timed(lambda p=pool, f=func, i=items: pool_map(p, f, i, 1))
                    records.append({"workload": workload, "workers": count, "repeat": rep,
                                    "seconds": seconds})
    for record in records:
        record.update(n_items=n_items, task_ms=task_ms)
    return finish(records, start_method)


def load_pool_size(start_method: str | None = None):
    """Tidy frame of the pool-size sweep (``workers`` 0 is the serial loop; cached)."""
    return records_frame(run_cached("tuning-pool-size", f"{__name__}:measure_pool_size",
                                    pool_size_params(start_method)))


def pool_size_summary(df):
    """Median seconds and speedup over the serial loop per workload and worker count."""
    out = timing.summarize(df, ["workload", "workers"], value="seconds")
    serial = out[out.workers == 0].set_index("workload")["median"]
    out["speedup"] = out.workload.map(serial) / out["median"]
    return out[out.workers > 0].reset_index(drop=True)


def pool_size_speedups(df):
    """Pool rows of the pool-size sweep with ``speedup``: the workload's median serial time
    over each run's seconds (one row per workers count and repeat, for speedup plots)."""
    serial = df[df.workers == 0].groupby("workload")["seconds"].median()
    pool = df[df.workers > 0].copy()
    pool["speedup"] = pool["workload"].map(serial) / pool["seconds"]
    return pool


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------


@claims.claim("oversubscription-no-gain", chapter=CHAPTER,
              statement="For pure-Python tasks, {over} workers on {usable} usable cores gave "
                        "a speedup of {over_speedup:.2f} against {fit_speedup:.2f} with "
                        "{usable}: more workers than cores buys nothing.")
def _oversubscription() -> claims.Evidence:
    sizes = load_pool_size()
    summary = pool_size_summary(sizes)
    spin = summary[summary.workload == "spin"].set_index("workers")["speedup"]
    usable = int(sizes.usable_cpus.iloc[0])
    over = int(spin.index.max())
    return claims.Evidence(
        holds=bool(spin.loc[over] <= spin.loc[usable] * 1.1),
        values={"over": over, "usable": usable, "over_speedup": float(spin.loc[over]),
                "fit_speedup": float(spin.loc[usable])},
        evidence="Speedups are serial median over Pool.map median, pools already started.")
