"""Chapter 3, part 1: how many workers (the pool-size sweep).

:mod:`mpguide.chapters.tuning` declares the chapter. The sweep is declared here once
(:func:`pool_size_experiments`): one :class:`~mpguide.experiment.Experiment` per workload,
``Pool(w, chunksize=1)`` for ``w`` from 1 to twice the usable cores
(:func:`worker_counts`), timed on started pools; :func:`load_pool_size` runs it (fresh
interpreter, cached) and returns the tidy frame that the gallery, the guide page and the claim
below read. The workloads' item factories are here too, importable under every start method.

Examples
--------
>>> from mpguide.chapters import pool_size
>>> pool_size.worker_counts(2)
[1, 2, 3, 4]
>>> sorted(pool_size.pool_size_experiments()) == sorted(pool_size.WORKLOADS)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, timing, workloads
from mpguide.chapters.task_duration import spin_items
from mpguide.chapters.tuning import CHAPTER
from mpguide.experiment import Experiment, Result

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def numpy_items(seconds: float, count: int) -> list[int]:
    """Items of :func:`workloads.numpy_sum_task` (array lengths) lasting about ``seconds``
    each here: numpy work that releases the GIL."""
    n = 1_000_000
    workloads.numpy_sum_task(n)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        workloads.numpy_sum_task(n)
        best = min(best, time.perf_counter() - start)
    return [max(1, round(seconds * n / best))] * count


#: In the uneven workload, every ``UNEVEN_EVERY``-th task lasts ``UNEVEN_EVERY`` times longer.
UNEVEN_EVERY = 8


def uneven_items(seconds: float, count: int) -> list[int]:
    """:func:`~mpguide.chapters.task_duration.spin_items` where every
    :data:`UNEVEN_EVERY`-th task lasts that many times longer."""
    items = spin_items(seconds, count)
    return [n * UNEVEN_EVERY if i % UNEVEN_EVERY == 0 else n for i, n in enumerate(items)]


#: Workloads of the pool-size sweep: name -> (task function, items factory). ``spin`` holds
#: the GIL, ``numpy`` releases it, ``uneven`` is ``spin`` with uneven tasks (:func:`uneven_items`).
WORKLOADS: dict[str, tuple[Callable[[Any], Any], Callable[..., list[Any]]]] = {
    "spin": (workloads.spin, spin_items),
    "numpy": (workloads.numpy_sum_task, numpy_items),
    "uneven": (workloads.spin, uneven_items),
}


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


def pool_size_params() -> dict[str, Any]:
    """Items of each workload: 5 ms tasks (2 ms in quick mode), 24 per usable core (8).

    Examples
    --------
    >>> pool_size_params()["count"] % machine.usable_cpus()
    0
    """
    return {"seconds": config.scaled(5, 2) / 1e3,
            "count": config.scaled(24, 8) * machine.usable_cpus()}


def pool_size_experiments() -> dict[str, Experiment]:
    """The sweep, one experiment per workload of :data:`WORKLOADS`, not run: the loop and
    ``Pool(w, chunksize=1)`` for each of :func:`worker_counts`, timed on started pools (the
    steady state; chunksize 1 so uneven tasks can balance)."""
    counts = worker_counts(machine.usable_cpus())
    return {name: Experiment("tuning-pool-size", func, items,
                             [executors.Pool(w, chunksize=1) for w in counts],
                             params=pool_size_params(), startup=False)
            for name, (func, items) in WORKLOADS.items()}


def pool_size_frame(result: Result, workload: str) -> pd.DataFrame:
    """Tidy rows of one workload's sweep: ``workload``, ``workers`` (0 is the plain loop),
    ``repeat``, ``seconds``, ``n_items`` and metadata."""
    df = result.frame()
    df["workers"] = df["workers"].where(df["tool"] != "loop", 0).astype(int)
    return df.assign(workload=workload, n_items=df["items"])


def load_pool_size() -> pd.DataFrame:
    """Tidy frame of the whole sweep (:func:`pool_size_frame` of each workload; cached)."""
    import pandas as pd

    return pd.concat([pool_size_frame(exp.run(), name)
                      for name, exp in pool_size_experiments().items()], ignore_index=True)


def pool_size_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median seconds and speedup over the serial loop per workload and worker count."""
    out = timing.summarize(df, ["workload", "workers"], value="seconds")
    serial = out[out.workers == 0].set_index("workload")["median"]
    out["speedup"] = out.workload.map(serial) / out["median"]
    return out[out.workers > 0].reset_index(drop=True)


def pool_size_speedups(df: pd.DataFrame) -> pd.DataFrame:
    """Pool rows of the pool-size sweep with ``speedup``: the workload's median serial time
    over each run's seconds (one row per workers count and repeat, for speedup plots)."""
    serial = df[df.workers == 0].groupby("workload")["seconds"].median()
    pool = df[df.workers > 0].copy()
    pool["speedup"] = pool["workload"].map(serial) / pool["seconds"]
    return pool


def plot_pool_size(df: pd.DataFrame, title: str = "Pool.map speedup against pool size",
                   hue: str | None = "workload") -> Figure:
    """Speedup against pool size per workload; the ideal line rises with the workers up to
    the usable cores, then stays flat."""
    from mpguide import plotting

    return plotting.speedup_plot(pool_size_speedups(df), hue=hue, title=title,
                                 usable=int(df["usable_cpus"].iloc[0]))


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
