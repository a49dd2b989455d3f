"""Chapter 1, "Where a Pool's time goes": the task duration below which a Pool loses.

The second module of the chapter (:mod:`mpguide.chapters.overhead` measures the fixed costs
and declares the chapter). Every experiment is declared here once, with worker counts from
:func:`mpguide.machine.usable_cpus`, and runs through the kit's one lifecycle
(:class:`mpguide.experiment.Experiment` or :func:`mpguide.experiment.run_cached`: fresh
interpreter, checked, cached); the gallery scripts declare the same experiments in plain
sight, with the reader's function in place of the default one:

* :func:`load_task_duration`: seconds per item of the plain loop and of ``Pool.map``
  (chunksize 1 and default) for :func:`mpguide.workloads.spin` tasks of 1 µs to 10 ms
  (:func:`task_duration_experiments`, items from :func:`spin_items`); :func:`break_even`
  finds where the Pool starts to win.
* :func:`load_decomposition`: one real ``Pool.map`` run split into compute time in the workers
  and everything else, from per-task stamps of :func:`mpguide.workloads.timed_call`.

Examples
--------
>>> from mpguide.chapters import task_duration
>>> task_duration.break_even([1e-6, 1e-5, 1e-4], [0.1, 1.0, 1.8])
1e-05
>>> plan = task_duration.task_duration_experiments("spawn")
>>> list(plan) == list(task_duration.task_durations())
True
>>> [spec.label for spec in plan[1e-06].executors][0]
'loop'
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, plotting, pools, timing, workloads
from mpguide.chapters.overhead import CHAPTER, SEED_TITLE, format_duration
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Variant names of the task-duration experiment (from each executor's chunksize).
LOOP, CHUNK1, DEFAULT = "loop", "pool, chunksize 1", "pool, default chunksize"
VARIANTS = (LOOP, CHUNK1, DEFAULT)

#: Tasks at least this long (seconds, nominal) are "long" for the ``long-tasks-win`` claim.
LONG_TASK_S = 1e-3

#: Cache name of the task-duration experiments (:func:`task_duration_experiments`).
TASK_DURATION = "overhead-task-duration"
DECOMPOSITION, DECOMPOSITION_TARGET = "overhead-decomposition", f"{__name__}:measure_decomposition"


# --- per-item cost against task duration ------------------------------------------------------


def task_durations() -> tuple[float, ...]:
    """Nominal task durations (seconds) of the sweep: 1 µs to 10 ms, densest where a Pool
    starts to win (10 µs to 1 ms)."""
    if config.quick_mode():
        return (1e-6, 1e-5, 3e-5, 1e-4, 1e-3, 1e-2)
    return (1e-6, 1e-5, 2e-5, 5e-5, 1e-4, 3e-4, 1e-3, 1e-2)


def calibrate_iterations(seconds: float, rounds: int = 3) -> int:
    """Iterations of :func:`workloads.spin` whose call lasts about ``seconds`` here.

    Starts from :func:`workloads.iterations_for` and corrects it ``rounds`` times with the
    fastest of several timed calls: one iteration costs less in a short call than in the long
    one ``spin_rate`` times (small integers stay in CPython's one-digit fast path), and the
    fastest call is the one least disturbed by other processes.

    Examples
    --------
    >>> calibrate_iterations(0.0)
    0
    >>> calibrate_iterations(1e-4) > calibrate_iterations(1e-5) > 0
    True
    """
    iterations = workloads.iterations_for(seconds)
    if not iterations:
        return 0
    for _ in range(rounds):
        took = timing.measure(workloads.spin, iterations, repeats=5, min_time=0.005).min
        iterations = max(1, round(iterations * seconds / took))
    return iterations


def spin_items(seconds: float = 1e-4, count: int | None = None) -> list[int]:
    """Items for :func:`workloads.spin` tasks of about ``seconds`` each, calibrated here.

    ``count`` items (default: as many as the loop runs in about 120 ms, 30 ms in quick mode,
    at least 8 per usable core and at most 4,000, 600 in quick mode). The items factory of the
    task-duration and decomposition experiments: it runs where the experiment runs, so the
    calibration describes that interpreter.

    Examples
    --------
    >>> items = spin_items(1e-5, count=3)
    >>> len(items), len(set(items)), items[0] > 0
    (3, 1, True)
    """
    if count is None:
        budget, most = config.scaled(120, 30) / 1e3, config.scaled(4000, 600)
        count = max(8 * machine.usable_cpus(), min(most, round(budget / max(seconds, 1e-9))))
    return [calibrate_iterations(seconds)] * count


def heavy_last_items(seconds: float = 2e-4, count: int | None = None, heavy: float = 0.05,
                     factor: int = 40) -> list[int]:
    """:func:`spin_items` whose last ``heavy`` share of items lasts ``factor`` times longer:
    sorted work, whose heavy items all land in the last chunk of ``Pool.map``'s default
    chunksize (the timeline of :mod:`mpguide.tracer` shows one worker finishing alone).

    Examples
    --------
    >>> items = heavy_last_items(1e-5, count=20, heavy=0.1, factor=5)
    >>> items[-2] == items[-1] == 5 * items[0], items[-3] == items[0]
    (True, True)
    """
    items = spin_items(seconds, count)
    first_heavy = len(items) - max(1, round(heavy * len(items)))
    return [n * factor if i >= first_heavy else n for i, n in enumerate(items)]


def task_duration_experiments(start_method: str | None = None) -> dict[float, Experiment]:
    """The experiments of :func:`load_task_duration`, one per nominal duration, not run:
    ``spin`` over :func:`spin_items` through ``Pool(usable cores)`` at chunksize 1 and at its
    default, timed on started pools (``startup=False``)."""
    workers = machine.usable_cpus()
    plan = [executors.Pool(workers, chunksize=1, start_method=start_method),
            executors.Pool(workers, start_method=start_method)]
    return {seconds: Experiment(TASK_DURATION, workloads.spin, spin_items, plan,
                                params={"seconds": seconds}, startup=False)
            for seconds in task_durations()}


def _variant(tool: str, chunksize: Any) -> str:
    if tool == "loop":
        return LOOP
    if tool != "pool":
        return str(tool)
    if chunksize is None or math.isnan(chunksize):  # None, or NaN in a frame
        return DEFAULT
    return CHUNK1 if chunksize == 1 else f"pool, chunksize {int(chunksize)}"


def duration_frame(results: Iterable[tuple[float | None, Result]]) -> pd.DataFrame:
    """Tidy rows of task-duration results: ``(nominal seconds, result)`` pairs.

    Adds ``nominal_s`` (``None``: the loop's measured seconds per item, for a reader's
    function), ``variant`` (:data:`VARIANTS`), ``chunksize`` (Pool's default resolved, 0 for
    the loop) and ``value`` (seconds per item) to :meth:`Result.frame`.
    """
    import pandas as pd

    frames = []
    for nominal, result in results:
        df = result.frame()
        if df.empty:
            continue
        df["value"] = df["seconds"] / df["items"]
        df["variant"] = [_variant(t, c) for t, c in zip(df["tool"], df["chunksize"],
                                                        strict=True)]
        default = [executors.default_chunksize(int(n), int(w))
                   for n, w in zip(df["items"], df["workers"], strict=True)]
        df["chunksize"] = df["chunksize"].astype("object").where(
            df["chunksize"].notna(), pd.Series(default, index=df.index))
        df.loc[df["tool"] == "loop", "chunksize"] = 0
        df["chunksize"] = df["chunksize"].astype(int)
        df["nominal_s"] = float(df.loc[df["tool"] == "loop", "value"].median()) \
            if nominal is None else nominal
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["nominal_s", "variant", "workers", "items", "chunksize",
                                     "value", "seconds"])
    return pd.concat(frames, ignore_index=True)


def load_task_duration(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per item of loop, ``map`` chunksize 1 and default, per task duration
    (:func:`task_duration_experiments`, :func:`duration_frame`)."""
    return duration_frame((seconds, experiment.run())
                          for seconds, experiment in task_duration_experiments(
                              start_method).items())


def task_duration_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per nominal duration and variant: median seconds per item, the measured task
    duration (the loop's seconds per item), speedup over the loop, and overhead per item
    (seconds per item beyond a perfect ``loop / workers`` split).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"nominal_s": [1e-5] * 2, "variant": [LOOP, CHUNK1],
    ...                    "workers": [1, 2], "items": 100, "chunksize": [0, 1],
    ...                    "value": [1e-5, 2e-5]})
    >>> task_duration_summary(df)[["variant", "speedup", "overhead_s"]].to_dict("records")
    [{'variant': 'loop', 'speedup': 1.0, 'overhead_s': 0.0}, {'variant': 'pool, chunksize 1', \
'speedup': 0.5, 'overhead_s': 1.5e-05}]
    """
    keys = ["nominal_s", "variant", "workers", "items", "chunksize"]
    out = (df.groupby(keys, sort=False)["value"]
           .median().rename("per_item_s").reset_index())
    loop = out[out["variant"] == LOOP].set_index("nominal_s")["per_item_s"]
    out["task_s"] = out["nominal_s"].map(loop)
    out["speedup"] = out["task_s"] / out["per_item_s"]
    ideal = out["task_s"].where(out["variant"] == LOOP, out["task_s"] / out["workers"])
    out["overhead_s"] = out["per_item_s"] - ideal
    return out.sort_values(["variant", "nominal_s"], kind="stable").reset_index(drop=True)


def break_even(task_s: Sequence[float], speedup: Sequence[float]) -> float:
    """The task duration at which the Pool starts to win: the first crossing of speedup 1.

    Walks the points in order of task duration to the first one where the Pool wins (speedup
    >= 1) and interpolates linearly in log-log space between it and the losing point before.
    Returns ``nan`` when the Pool never wins, and the shortest duration when it wins
    everywhere. A pure function of the data, so it can be tested without timing anything.

    Examples
    --------
    >>> break_even([1e-6, 1e-4], [0.5, 2.0])
    1e-05
    >>> break_even([1e-6, 1e-4], [0.5, 0.9])
    nan
    >>> break_even([1e-6, 1e-4], [1.5, 2.0])
    1e-06
    """
    points = sorted(zip(task_s, speedup, strict=True))
    if not points:
        raise ValueError("break_even needs at least one point")
    winning = next((i for i, (_, s) in enumerate(points) if s >= 1), None)
    if winning is None:
        return math.nan
    if winning == 0:
        return float(points[0][0])
    (t0, s0), (t1, s1) = points[winning - 1], points[winning]
    fraction = -math.log(s0) / (math.log(s1) - math.log(s0))
    return float(math.exp(math.log(t0) + fraction * (math.log(t1) - math.log(t0))))


def break_evens(summary: pd.DataFrame) -> dict[str, float]:
    """:func:`break_even` of each pool variant of :func:`task_duration_summary` (seconds)."""
    return {v: break_even(g["task_s"], g["speedup"])
            for v, g in summary[summary["variant"] != LOOP].groupby("variant", sort=False)}


# --- decomposition of one Pool.map run --------------------------------------------------------


def decomposition_cases() -> dict[str, dict[str, Any]]:
    """The runs :func:`load_decomposition` splits: ``spin`` tasks of 10 µs at chunksize 1 and
    at Pool's default, and 1 ms tasks at chunksize 1 (function, items factory and its params,
    chunksize)."""
    func, items = executors.target_of(workloads.spin), executors.target_of(spin_items)
    tiny, slow = config.scaled(2000, 400), config.scaled(200, 40)
    return {
        "10 µs tasks, chunksize 1": {"func": func, "items": items,
                                     "params": {"seconds": 1e-5, "count": tiny}, "chunksize": 1},
        "10 µs tasks, default chunksize": {"func": func, "items": items,
                                           "params": {"seconds": 1e-5, "count": tiny},
                                           "chunksize": None},
        "1 ms tasks, chunksize 1": {"func": func, "items": items,
                                    "params": {"seconds": 1e-3, "count": slow}, "chunksize": 1},
    }


def plan_decomposition(start_method: str | None = None) -> dict[str, dict[str, Any]]:
    """The ``run_cached`` params of :func:`load_decomposition` per case (usable cores), not
    run."""
    method = config.validate_start_method(start_method or config.start_method())
    return {case: {"start_method": method, "workers": machine.usable_cpus(), **spec}
            for case, spec in decomposition_cases().items()}


def measure_decomposition(start_method: str, *, func: str, items: str | list[Any],
                          params: Mapping[str, Any], workers: int,
                          chunksize: int | None) -> dict[str, Any]:
    """One whole ``Pool.map`` run with per-task stamps: ``with Pool(workers)`` to joined.

    ``func`` is ``"module:function"``; ``items`` an items factory ``"module:function"``
    called with ``params``, or the (JSON-ready) items themselves. Returns times relative to
    the moment before the pool was created: each task's start, end and worker pid (from
    :func:`workloads.timed_call`), when ``map`` was called and returned, and when the pool was
    joined (``wall_s``); ``task_s`` is one task's duration in the plain loop run first. The
    run's results are checked against that loop's before the record is returned (a separate
    check run would start the pool twice and change what is observed).
    """
    timeout = config.DEFAULT_TIMEOUT
    function = executors.resolve_target(func)
    work = list(executors.resolve_target(items)(**params) if isinstance(items, str) else items)
    started = time.perf_counter()
    serial = [function(i) for i in work]
    task_s = (time.perf_counter() - started) / max(1, len(work))
    task = functools.partial(workloads.timed_call, function)
    t0 = time.time()
    with pools.bounded_pool(workers, start_method, timeout) as pool:
        map_start = time.time()
        results = pools.wait_result(pool.map_async(task, work, chunksize), pool, timeout)
        map_end = time.time()
    wall = time.time() - t0
    timing.check_same(serial, [r[0] for r in results])
    return {"start_method": start_method, "workers": workers, "func": func,
            "items": len(work), "chunksize": chunksize or executors.default_chunksize(
                len(work), workers),
            "task_s": task_s, "map_start_s": map_start - t0, "map_end_s": map_end - t0,
            "wall_s": wall,
            "tasks": [[start - t0, end - t0, pid] for _, start, end, pid in results],
            "metadata": {**machine.collect_metadata(), "start_method": start_method,
                         "measured_in": "fresh interpreter"}}


def decomposition_frame(runs: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """Per-task rows of :func:`measure_decomposition` records, run-level columns on every row.

    Columns: ``case``, ``task``, ``worker`` (0, 1, ... in order of first task), ``pid``,
    ``start_s``, ``end_s`` (relative to pool creation), ``map_start_s``, ``map_end_s``,
    ``wall_s``, ``workers``, ``items`` (how many), ``chunksize``, ``func``, ``task_s``
    (measured in the plain loop) and machine metadata.
    """
    import pandas as pd

    rows = []
    for case, run in runs.items():
        if not run:  # a worker re-importing its parent's script, on a cache miss
            continue
        order: dict[int, int] = {}
        for _, _, pid in sorted(run["tasks"]):
            order.setdefault(pid, len(order))
        base = {k: v for k, v in run.items() if k not in {"tasks", "metadata"}}
        rows += [{"case": case, "task": i, "worker": order[pid], "pid": pid, "start_s": start,
                  "end_s": end, **base, **run["metadata"]}
                 for i, (start, end, pid) in enumerate(run["tasks"])]
    return pd.DataFrame(rows, columns=None if rows else ["case", "task", "worker", "start_s",
                                                         "end_s", "wall_s", "workers"])


def load_decomposition(start_method: str | None = None) -> pd.DataFrame:
    """:func:`decomposition_frame` of every :func:`plan_decomposition` run, each in a fresh
    interpreter, cached."""
    return decomposition_frame({
        case: run_cached(DECOMPOSITION, DECOMPOSITION_TARGET, params)
        for case, params in plan_decomposition(start_method).items()})


#: Categories of :func:`decompose`, in stacking order.
PHASES = ("start-up", "compute", "between tasks", "wind-down")


def decompose(tasks: pd.DataFrame) -> pd.DataFrame:
    """Split each run's worker-seconds (``workers * wall_s``) into :data:`PHASES`.

    Per worker: ``start-up`` runs from pool creation to its first task, ``compute`` is the sum
    of its task durations, ``between tasks`` the gaps between them (dispatch, pickling, result
    handling, waiting for work), ``wind-down`` from its last task to the pool being joined. A
    worker that never got a task counts whole as ``start-up``. Shares add up to 1 per run.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"case": "a", "worker": [0, 0, 1], "start_s": [1.0, 3.0, 2.0],
    ...                   "end_s": [2.0, 4.0, 4.0], "wall_s": 5.0, "workers": 2})
    >>> decompose(t).set_index("phase")["seconds"].to_dict()
    {'start-up': 3.0, 'compute': 4.0, 'between tasks': 1.0, 'wind-down': 2.0}
    """
    import pandas as pd

    rows = []
    for case, run in tasks.groupby("case", sort=False):
        wall, workers = float(run["wall_s"].iloc[0]), int(run["workers"].iloc[0])
        per = run.groupby("worker").agg(first=("start_s", "min"), last=("end_s", "max"))
        compute = float((run["end_s"] - run["start_s"]).sum())
        startup = float(per["first"].sum()) + wall * (workers - len(per))
        spans = float((per["last"] - per["first"]).sum())
        seconds = {"start-up": startup, "compute": compute, "between tasks": spans - compute,
                   "wind-down": float((wall - per["last"]).sum())}
        rows += [{"case": case, "phase": phase, "seconds": seconds[phase],
                  "share": seconds[phase] / (wall * workers), "wall_s": wall,
                  "workers": workers} for phase in PHASES]
    return pd.DataFrame(rows, columns=["case", "phase", "seconds", "share", "wall_s",
                                       "workers"])


# --- figures ----------------------------------------------------------------------------------


def plot_task_duration(df: pd.DataFrame, yours: pd.DataFrame | None = None,
                       label: str = "your function") -> Figure:
    """Left: seconds per item against task duration (log-log); right: speedup over the loop,
    with the break-even durations marked. ``yours``, a :func:`duration_frame` of a reader's
    function, is drawn as stars (named ``label``) at its own task duration."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    if df.empty:  # a worker re-importing its parent's script: nothing to draw
        return fig
    summary = task_duration_summary(df)
    evens = break_evens(summary)
    colors: dict[str, str] = {}
    for name, part in summary.groupby("variant", sort=False):
        variant = str(name)
        line = left.loglog(part["task_s"] * 1e6, part["per_item_s"] * 1e6, "o-", label=variant)
        colors[variant] = line[0].get_color()
        if variant != LOOP:
            seconds = evens[variant]
            right.semilogx(part["task_s"] * 1e6, part["speedup"], "o-", color=colors[variant],
                           label=f"{variant} (break-even {format_duration(seconds)})")
            if math.isfinite(seconds):
                right.axvline(seconds * 1e6, color=colors[variant], lw=1, ls=":")
    if yours is not None and not yours.empty:
        mine = task_duration_summary(yours)
        for name, part in mine[mine["variant"] != LOOP].groupby("variant", sort=False):
            right.semilogx(part["task_s"] * 1e6, part["speedup"], "*", ms=14,
                           color=colors.get(str(name), "k"), mec="k", label=f"{label}: {name}")
    left.set_xlabel("task duration (µs, measured by the loop)")
    left.set_ylabel("wall time per item (µs)")
    left.legend(fontsize=8)
    right.axhline(1, color="0.4", lw=1, ls="--")
    right.set_xlabel("task duration (µs)")
    right.set_ylabel("speedup over the loop (>1: Pool wins)")
    right.legend(fontsize=8)
    fig.suptitle(f"Pool({int(df['workers'].max())}).map against the plain loop "
                 f"(pool already running)")
    return plotting.add_caption(fig, df)


def plot_decomposition(tasks: pd.DataFrame) -> Figure:
    """Top: timeline of each run (a row per worker, a bar per task); bottom: stacked shares of
    worker time per phase."""
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(tasks["case"]))
    fig = plt.figure(figsize=(10, 2.0 * len(cases) + 3.2), layout="constrained")
    if tasks.empty:  # a worker re-importing its parent's script: nothing to draw
        return fig
    grid = fig.add_gridspec(len(cases) + 1, 1, height_ratios=[1] * len(cases) + [1.4])
    for row, case in enumerate(cases):
        ax = fig.add_subplot(grid[row])
        run = tasks[tasks["case"] == case]
        wall = float(run["wall_s"].iloc[0])
        for worker, part in run.groupby("worker"):
            spans = list(zip(part["start_s"] * 1e3, (part["end_s"] - part["start_s"]) * 1e3,
                             strict=True))
            ax.broken_barh(spans, (worker - 0.35, 0.7), color="tab:green")
        ax.axvspan(0, float(run["map_start_s"].iloc[0]) * 1e3, color="0.85", lw=0)
        ax.axvline(float(run["map_end_s"].iloc[0]) * 1e3, color="0.4", lw=1, ls="--")
        ax.set_xlim(0, wall * 1e3)
        ax.set_yticks(range(int(run["workers"].iloc[0])))
        ax.set_ylabel("worker")
        ax.set_title(f"{case}: {len(run)} tasks, wall {wall * 1e3:.0f} ms "
                     f"(green: computing; grey: Pool() call; dashed: map returned)", fontsize=9)
    ax.set_xlabel("ms since the Pool was created")
    shares = decompose(tasks).pivot(index="case", columns="phase", values="share")
    shares = shares.reindex(index=cases, columns=list(PHASES))
    bars = fig.add_subplot(grid[-1])
    left = [0.0] * len(cases)
    colors = {"start-up": "0.75", "compute": "tab:green", "between tasks": "tab:orange",
              "wind-down": "tab:purple"}
    for phase in PHASES:
        bars.barh(cases, shares[phase] * 100, left=left, color=colors[phase], label=phase)
        left = [a + b for a, b in zip(left, shares[phase] * 100, strict=True)]
    bars.invert_yaxis()
    bars.set_xlim(0, 100)
    bars.set_xlabel("share of worker time (workers x wall), %")
    bars.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return plotting.add_caption(fig, tasks)


# --- claims -----------------------------------------------------------------------------------


def _duration_summary() -> pd.DataFrame:
    df = load_task_duration()
    return task_duration_summary(df).assign(load_avg_1m=df["load_avg_1m"].iloc[0],
                                            cpu_count=df["cpu_count"].iloc[0])


def _load_note(summary: pd.DataFrame) -> str:
    load, cores = summary["load_avg_1m"].iloc[0], summary["cpu_count"].iloc[0]
    if load is None or not math.isfinite(float(load)):
        return ""
    return (f"The 1-minute load average was {load:.1f} on {cores} cores when measured "
            f"(other processes compete with the workers when it nears the core count).")


@claims.claim("tiny-tasks-lose", chapter=CHAPTER,
              statement="With chunksize 1, Pool({workers}).map is slower than the plain loop "
                        "for tasks shorter than {break_even}, even with the pool already "
                        "running.")
def _tiny_tasks_lose() -> claims.Evidence:
    summary = _duration_summary()
    part = summary[summary["variant"] == CHUNK1].sort_values("task_s")
    seconds = break_even(part["task_s"], part["speedup"])
    first, last = part.iloc[0], part.iloc[-1]
    holds = math.isfinite(seconds) and seconds > first["task_s"]
    crossing = (f"speedup crosses 1 at {format_duration(seconds)} (interpolated between "
                f"measured durations)" if math.isfinite(seconds) else
                f"the Pool never won, up to {format_duration(last['task_s'])} per task "
                f"({last['speedup']:.2f}x)")
    return claims.Evidence(
        holds=holds, values={"workers": int(first["workers"]),
                             "break_even": format_duration(seconds),
                             "break_even_us": seconds * 1e6},
        evidence=f"At {format_duration(first['task_s'])} per task the Pool took "
                 f"{1 / first['speedup']:.0f}x the loop's time; {crossing}. "
                 f"{_load_note(summary)}")


@claims.claim("long-tasks-win", chapter=CHAPTER,
              statement="For tasks of {long} and longer, Pool({workers}).map at chunksize 1 "
                        "beats the loop (slowest speedup {speedup:.2f}x).")
def _long_tasks_win() -> claims.Evidence:
    summary = _duration_summary()
    part = summary[(summary["variant"] == CHUNK1) & (summary["nominal_s"] >= LONG_TASK_S)]
    worst = part.loc[part["speedup"].idxmin()]
    listing = ", ".join(f"{t * 1e3:.1f} ms: {s:.2f}x"
                        for t, s in zip(part["task_s"], part["speedup"], strict=True))
    return claims.Evidence(
        holds=bool((part["speedup"] > 1).all()),
        values={"workers": int(worst["workers"]), "speedup": float(worst["speedup"]),
                "long": format_duration(LONG_TASK_S)},
        evidence=f"Speedup over the loop by task duration: {listing}. {_load_note(summary)}")


@claims.claim("chunking-cuts-overhead", chapter=CHAPTER,
              statement="For {task_us:.1f} µs tasks, Pool's default chunksize ({chunksize}) cuts "
                        "the wall time per item at least in half compared with chunksize 1 "
                        "({factor:.1f|less|more}).")
def _chunking_cuts_overhead() -> claims.Evidence:
    summary = _duration_summary()
    shortest = summary["nominal_s"].min()
    rows = summary[summary["nominal_s"] == shortest].set_index("variant")
    factor = rows.loc[CHUNK1, "per_item_s"] / rows.loc[DEFAULT, "per_item_s"]
    return claims.Evidence(
        holds=factor >= 2,
        values={"task_us": rows.loc[LOOP, "task_s"] * 1e6, "factor": factor,
                "chunksize": int(rows.loc[DEFAULT, "chunksize"])},
        evidence=f"{rows.loc[CHUNK1, 'per_item_s'] * 1e6:.2f} µs per item at chunksize 1, "
                 f"{rows.loc[DEFAULT, 'per_item_s'] * 1e6:.2f} µs at chunksize "
                 f"{int(rows.loc[DEFAULT, 'chunksize'])}, over {int(rows.loc[LOOP, 'items'])} "
                 f"items. The seed article \u201c{SEED_TITLE}\u201d reports 2\u20133x speedups "
                 f"from raising chunksize.")


@claims.claim("tiny-task-workers-idle", chapter=CHAPTER,
              statement="In a whole Pool.map run of {items} tasks of {task} at chunksize 1, "
                        "the workers spend less than half of their time computing "
                        "({compute_pct:.0f}%).")
def _tiny_task_workers_idle() -> claims.Evidence:
    tasks = load_decomposition()
    case, spec = next(iter(decomposition_cases().items()))
    shares = decompose(tasks[tasks["case"] == case]).set_index("phase")["share"]
    return claims.Evidence(
        holds=shares["compute"] < 0.5,
        values={"items": int(tasks.loc[tasks["case"] == case, "items"].iloc[0]),
                "task": format_duration(spec["params"]["seconds"]),
                "compute_pct": shares["compute"] * 100},
        evidence="Shares of workers x wall time: " + ", ".join(
            f"{phase} {shares[phase] * 100:.0f}%" for phase in PHASES) + ".")
