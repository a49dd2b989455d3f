"""Chapter 3, part 1: how many workers (the pool-size sweep).

:mod:`mpguide.chapters.tuning` declares the chapter. The sweep is declared here once
(:func:`pool_size_experiments`): one :class:`~mpguide.experiment.Experiment` per workload,
``Pool(w, chunksize=1)`` for ``w`` from 1 to twice the usable cores
(:func:`worker_counts`), timed on started pools; :func:`load_pool_size` runs it (fresh
interpreter, cached) and returns the tidy frame that the gallery, the guide page and the claims
below read. :func:`pool_size_choices` reads the seed's other pool sizes from it: one core left
free (``cores - 1``) and its caps for containers (:func:`capped_counts`);
:mod:`mpguide.chapters.busy_machine` measures ``cores - 1`` beside a busy core. The workloads'
item factories are here too, importable under every start method.

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


#: The seed's caps for shared servers and containers (seed 001, "Adapting settings"): "capping
#: at 50-75% of reported CPUs".
SEED_CAPS = (0.5, 0.75)


def capped_counts(usable: int) -> list[int]:
    """Workers under each of :data:`SEED_CAPS` of ``usable`` cores (rounded half up, at least 1).

    Examples
    --------
    >>> capped_counts(2), capped_counts(16)
    ([1, 2], [8, 12])
    """
    return [max(1, int(share * usable + 0.5)) for share in SEED_CAPS]


def worker_counts(usable: int) -> list[int]:
    """Pool sizes to sweep: every count up to twice the usable cores on small machines, a few
    landmarks (the seed's caps of :func:`capped_counts`, all, one and a half, twice the cores)
    on big ones.

    Examples
    --------
    >>> worker_counts(2)
    [1, 2, 3, 4]
    >>> worker_counts(16)
    [1, 2, 8, 12, 16, 24, 32]
    """
    if usable <= 4:
        return list(range(1, 2 * usable + 1))
    return sorted({1, 2, *capped_counts(usable), usable, usable + usable // 2, 2 * usable})


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


def pool_size_choices(df: pd.DataFrame, workload: str = "spin") -> pd.DataFrame:
    """The seed's pool sizes read from the sweep for one workload: all usable cores, one left
    free (``cores - 1``) and the caps of :func:`capped_counts`; ``workers``, median seconds,
    ``speedup`` over the loop and ``of_all`` (that speedup over all usable cores'). No rows
    for ``cores - 1`` on a one-core machine.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"workload": "spin", "workers": w, "seconds": s, "usable_cpus": 2}
    ...         for w, s in ((0, 1.0), (1, 1.0), (2, 0.5))]
    >>> pool_size_choices(pd.DataFrame(rows))[["choice", "workers", "of_all"]].to_dict("list")
    {'choice': ['all usable cores', 'cores - 1', '75% cap', '50% cap'], 'workers': [2, 1, 2, 1], \
'of_all': [1.0, 0.5, 1.0, 0.5]}
    """
    import pandas as pd

    usable = int(df["usable_cpus"].iloc[0])
    summary = pool_size_summary(df)
    rows = summary[summary.workload == workload].set_index("workers")
    half, three_quarters = capped_counts(usable)
    choices = {"all usable cores": usable, "cores - 1": usable - 1,
               "75% cap": three_quarters, "50% cap": half}
    out = pd.DataFrame([{"choice": name, "workers": w, "median_s": rows.loc[w, "median"],
                         "speedup": rows.loc[w, "speedup"]}
                        for name, w in choices.items() if w in rows.index])
    out["of_all"] = out["speedup"] / rows.loc[usable, "speedup"]
    return out


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


#: What a claim about leaving cores free shows on a one-core machine, where it cannot be
#: measured (there is no core to leave free).
NOT_MEASURED = "not measured (one usable core)"


def load_note(df: pd.DataFrame) -> str:
    """``", 1-minute load average 4.3"`` from the frame's machine metadata (empty without):
    what else the machine was running while measured.

    Examples
    --------
    >>> import pandas as pd
    >>> load_note(pd.DataFrame({"load_avg_1m": [4.31]})), load_note(pd.DataFrame())
    (', 1-minute load average 4.3', '')
    """
    if "load_avg_1m" not in df or df["load_avg_1m"].isna().all():
        return ""
    return f", 1-minute load average {df['load_avg_1m'].median():.1f}"


def _spin_speedups() -> tuple[pd.Series, pd.DataFrame]:
    """Speedup per worker count of the sweep's pure-Python workload, and the sweep."""
    sizes = load_pool_size()
    summary = pool_size_summary(sizes)
    return summary[summary.workload == "spin"].set_index("workers")["speedup"], sizes


@claims.claim("cores-minus-one-costs", chapter=CHAPTER,
              statement="With no program kept busy beside the sweep, leaving one of {usable} "
                        "usable cores free (Pool({fewer})) kept {kept} of the speedup of all "
                        "of them on pure-Python tasks ({fewer_speedup} against "
                        "{all_speedup}); ideally it keeps {ideal}.")
def _cores_minus_one() -> claims.Evidence:
    spin, sizes = _spin_speedups()
    usable = int(sizes.usable_cpus.iloc[0])
    if usable < 2:
        return claims.Evidence(holds=False, values=dict.fromkeys(
            ["fewer", "kept", "fewer_speedup", "all_speedup", "ideal"], NOT_MEASURED) | {
                "usable": usable}, evidence="No core to leave free on this machine.")
    kept = float(spin.loc[usable - 1] / spin.loc[usable])
    ideal = (usable - 1) / usable
    return claims.Evidence(
        holds=kept <= 1 - (1 - ideal) / 2,
        values={"usable": usable, "fewer": usable - 1, "kept": f"{kept:.0%}",
                "fewer_speedup": f"{spin.loc[usable - 1]:.2f}",
                "all_speedup": f"{spin.loc[usable]:.2f}", "ideal": f"{ideal:.0%}",
                "kept_share": kept},
        evidence="Holds where the core left free was worth at least half its ideal share. "
                 "Speedups are serial median over Pool.map median (chunksize 1, pools "
                 f"already started){load_note(sizes)}.")


@claims.claim("all-usable-cores-beat-a-cap", chapter=CHAPTER,
              statement="{reported} CPUs reported, {usable} usable ({source}): on "
                        "pure-Python tasks Pool({usable}) ran {against_cap} than Pool({cap}), "
                        "the largest of the seed's 50% and 75% caps ({caps} workers) below it.")
def _caps() -> claims.Evidence:
    spin, sizes = _spin_speedups()
    usable = int(sizes.usable_cpus.iloc[0])
    values: dict[str, Any] = {"reported": int(sizes.cpu_count.iloc[0]), "usable": usable,
                              "source": str(sizes.usable_cpus_from.iloc[0]),
                              "caps": " and ".join(map(str, capped_counts(usable)))}
    below = [w for w in capped_counts(usable) if w < usable]
    if not below:
        return claims.Evidence(holds=False, values=values | {
            "against_cap": NOT_MEASURED, "cap": NOT_MEASURED},
            evidence="No cap below the usable cores on this machine.")
    cap = max(below)
    ratio = float(spin.loc[usable] / spin.loc[cap])
    return claims.Evidence(
        holds=ratio >= 1, values=values | {"against_cap": claims.ratio_phrase(ratio, ".2f"),
                                           "cap": cap, "ratio": ratio},
        evidence="Speedups of the pool-size sweep (chunksize 1, pools already started"
                 f"{load_note(sizes)}); the usable count is the affinity mask capped by a "
                 "cgroup CPU quota (mpguide.machine.usable_cpus).")
