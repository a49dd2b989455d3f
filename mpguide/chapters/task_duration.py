"""Chapter 1, "Where a Pool's time goes": the task duration below which a Pool loses.

The second module of the chapter (:mod:`mpguide.chapters.overhead` measures the fixed costs
and declares the chapter); same plumbing, same tidy ``load_*`` functions:

* :func:`load_task_duration`: seconds per item of the plain loop and of ``Pool.map`` (chunksize 1
  and default) for :func:`mpguide.workloads.spin` tasks of 1 µs to 10 ms; :func:`break_even`
  finds where the Pool starts to win.
* :func:`load_tiny_tasks`: the "do almost nothing" benchmark of the seed article *How to
  Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead*.
* :func:`load_decomposition`: one real ``Pool.map`` run split into compute time in the workers
  and everything else, from per-task stamps of :func:`mpguide.workloads.timed_call`.

Every experiment runs through :func:`mpguide.runner.run_fresh`, so the numbers describe a plain
script, not a Sphinx or Jupyter process.

Examples
--------
>>> from mpguide.chapters import task_duration
>>> task_duration.break_even([1e-6, 1e-5, 1e-4], [0.1, 1.0, 1.8])
1e-05
>>> task_duration.format_duration(3.8e-5)
'38 µs'
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, pools, timing, workloads
from mpguide.chapters.overhead import (
    CHAPTER,
    _cached,
    _caption,
    _fresh,
    _metadata,
    _method,
    _records_frame,
    usable_workers,
)
from mpguide.executors import default_chunksize

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Variant labels of the task-duration experiment.
LOOP, CHUNK1, DEFAULT = "loop", "pool, chunksize 1", "pool, default chunksize"
VARIANTS = (LOOP, CHUNK1, DEFAULT)

#: Workers and items of the seed article's tiny-task benchmark (Pool(4), 50,000 items).
SEED_WORKERS, SEED_ITEMS = 4, 50_000
SEED_TITLE = "How to Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead"


# --- per-item cost against task duration ------------------------------------------------------


def task_durations() -> tuple[float, ...]:
    """Nominal task durations (seconds) of the sweep: 1 µs to 10 ms."""
    if config.quick_mode():
        return (1e-6, 1e-5, 3e-5, 1e-4, 1e-3, 1e-2)
    return (1e-6, 3e-6, 1e-5, 2e-5, 5e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


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


def _items_for(seconds: float, workers: int, budget: float, max_items: int) -> int:
    return max(8 * workers, min(max_items, round(budget / max(seconds, 1e-9))))


def measure_task_duration(start_method: str, *, workers: int, durations: list[float],
                          budget: float, max_items: int, repeats: int) -> list[dict[str, Any]]:
    """Seconds per item of the loop and of ``Pool.map`` over :func:`workloads.spin` tasks.

    For each nominal duration the items are calibrated with :func:`calibrate_iterations`;
    the parallel result is checked against the serial one first, then the three variants are
    timed in turn (interleaved, so drift hits all alike) with the pool already running.
    """
    meta = _metadata(start_method, "fresh interpreter")
    timeout = config.DEFAULT_TIMEOUT
    out = []
    with pools.bounded_pool(workers, start_method, timeout) as pool:
        for nominal in durations:
            iterations = calibrate_iterations(nominal)
            items = [iterations] * _items_for(nominal, workers, budget, max_items)
            chunks = {CHUNK1: 1, DEFAULT: default_chunksize(len(items), workers)}
            serial = [workloads.spin(i) for i in items]
            timing.check_same(serial, pool.map_async(workloads.spin, items, 1).get(timeout))
            runs = {
                LOOP: lambda items=items: [workloads.spin(i) for i in items],
                CHUNK1: lambda items=items: pool.map_async(workloads.spin, items, 1).get(timeout),
                DEFAULT: lambda items=items, c=chunks[DEFAULT]: pool.map_async(
                    workloads.spin, items, c).get(timeout),
            }
            samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for repeat in range(repeats + 1):
                for variant, run in runs.items():
                    start = time.perf_counter()
                    run()
                    elapsed = time.perf_counter() - start
                    if repeat:
                        samples[variant].append(elapsed / len(items))
            for variant in VARIANTS:
                params = {"start_method": start_method, "workers": workers, "variant": variant,
                          "nominal_s": nominal, "iterations": iterations, "items": len(items),
                          "chunksize": chunks.get(variant, 0)}
                out.append(timing.Measurement("seconds per item", tuple(samples[variant]),
                                              unit="s/item", params=params, metadata=meta))
    return [m.to_dict() for m in out]


def load_task_duration(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per item of loop, ``map`` chunksize 1 and default, per task duration."""
    params = {"start_method": _method(start_method), "workers": usable_workers(),
              "durations": list(task_durations()), "budget": config.scaled(200, 30) / 1e3,
              "max_items": config.scaled(4000, 600), "repeats": config.scaled(5, 3)}
    records = _cached("overhead-task-duration", params, _fresh(measure_task_duration))
    return _records_frame(records)


def task_duration_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per nominal duration and variant: median seconds per item, the measured task
    duration (the loop's seconds per item), speedup over the loop, and overhead per item
    (seconds per item beyond a perfect ``loop / workers`` split).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"nominal_s": [1e-5] * 2, "variant": [LOOP, CHUNK1],
    ...                    "workers": 2, "items": 100, "chunksize": [0, 1],
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


def format_duration(seconds: float) -> str:
    """A duration for prose: ``"38 µs"``, ``"1.2 ms"``, or ``"no measured duration"`` for nan.

    Examples
    --------
    >>> format_duration(3.8e-5), format_duration(1.23e-3), format_duration(2.5)
    ('38 µs', '1.2 ms', '2.5 s')
    >>> format_duration(float("nan"))
    'no measured duration'
    """
    if not math.isfinite(seconds):
        return "no measured duration"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2g} µs" if seconds < 1e-5 else f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2g} ms" if seconds < 1e-2 else f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def break_evens(summary: pd.DataFrame) -> dict[str, float]:
    """:func:`break_even` of each pool variant of :func:`task_duration_summary` (seconds)."""
    return {v: break_even(g["task_s"], g["speedup"])
            for v, g in summary[summary["variant"] != LOOP].groupby("variant", sort=False)}


# --- the seed article's tiny-task benchmark ---------------------------------------------------


def measure_tiny_tasks(start_method: str, *, workers: int, items: int,
                       repeats: int) -> list[dict[str, Any]]:
    """The seed article's "do almost nothing" benchmark: ``noop`` over ``items`` integers.

    ``with Pool(workers) as pool: pool.map(noop, data, chunksize=1)`` timed whole (pool start
    included, as the article does), next to Pool's default chunksize and the plain loop.
    """
    meta = _metadata(start_method, "fresh interpreter")
    timeout = config.DEFAULT_TIMEOUT
    data = list(range(items))

    def pooled(chunksize: int | None) -> list[Any]:
        with pools.bounded_pool(workers, start_method, timeout) as pool:
            return pools.wait_result(pool.map_async(workloads.noop, data, chunksize), pool,
                                     timeout)

    timing.check_same(data, pooled(None))
    runs = {"loop": lambda: [workloads.noop(x) for x in data],
            f"Pool({workers}), chunksize 1": lambda: pooled(1),
            f"Pool({workers}), default chunksize": lambda: pooled(None)}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    chunks = {"loop": 0, f"Pool({workers}), chunksize 1": 1,
              f"Pool({workers}), default chunksize": default_chunksize(items, workers)}
    return [timing.Measurement("tiny tasks", tuple(s), params={
        "start_method": start_method, "workers": 0 if name == "loop" else workers,
        "variant": name, "items": items, "chunksize": chunks[name]}, metadata=meta).to_dict()
        for name, s in samples.items()]


def load_tiny_tasks(start_method: str | None = None) -> pd.DataFrame:
    """Seconds for the seed tiny-task benchmark: loop vs ``Pool(4)`` (start included)."""
    params = {"start_method": _method(start_method), "workers": SEED_WORKERS,
              "items": config.scaled(SEED_ITEMS, 5000), "repeats": config.scaled(3, 2)}
    records = _cached("overhead-tiny-tasks", params, _fresh(measure_tiny_tasks))
    return _records_frame(records)


# --- decomposition of one Pool.map run --------------------------------------------------------


def decomposition_cases() -> dict[str, dict[str, Any]]:
    """The runs :func:`load_decomposition` splits: tiny and 1 ms tasks at chunksize 1, and tiny
    tasks at Pool's default chunksize."""
    tiny, slow = config.scaled(2000, 400), config.scaled(200, 40)
    return {
        "10 µs tasks, chunksize 1": {"nominal_s": 1e-5, "items": tiny, "chunksize": 1},
        "10 µs tasks, default chunksize": {"nominal_s": 1e-5, "items": tiny, "chunksize": None},
        "1 ms tasks, chunksize 1": {"nominal_s": 1e-3, "items": slow, "chunksize": 1},
    }


def measure_decomposition(start_method: str, *, workers: int, nominal_s: float, items: int,
                          chunksize: int | None) -> dict[str, Any]:
    """One whole ``Pool.map`` run with per-task stamps: ``with Pool(workers)`` to joined.

    Returns times relative to the moment before the pool was created: each task's start, end
    and worker pid (from :func:`workloads.timed_call`), when ``map`` was called and returned,
    and when the pool was joined (``wall_s``); ``task_s`` is one task's duration in the plain
    loop run first. The run's results are checked against that loop's before the record is
    returned (a separate check run would start the pool twice and change what is observed).
    """
    timeout = config.DEFAULT_TIMEOUT
    work = [calibrate_iterations(nominal_s)] * items
    started = time.perf_counter()
    serial = [workloads.spin(i) for i in work]
    task_s = (time.perf_counter() - started) / items
    task = functools.partial(workloads.timed_call, workloads.spin)
    t0 = time.time()
    with pools.bounded_pool(workers, start_method, timeout) as pool:
        map_start = time.time()
        results = pools.wait_result(pool.map_async(task, work, chunksize), pool, timeout)
        map_end = time.time()
    wall = time.time() - t0
    timing.check_same(serial, [r[0] for r in results])
    return {"start_method": start_method, "workers": workers, "nominal_s": nominal_s,
            "items": items, "chunksize": chunksize or default_chunksize(items, workers),
            "task_s": task_s, "map_start_s": map_start - t0, "map_end_s": map_end - t0,
            "wall_s": wall,
            "tasks": [[start - t0, end - t0, pid] for _, start, end, pid in results],
            "metadata": _metadata(start_method, "fresh interpreter")}


def load_decomposition(start_method: str | None = None) -> pd.DataFrame:
    """Per-task rows of each :func:`decomposition_cases` run, run-level columns on every row.

    Columns: ``case``, ``task``, ``worker`` (0, 1, ... in order of first task), ``pid``,
    ``start_s``, ``end_s`` (relative to pool creation), ``map_start_s``, ``map_end_s``,
    ``wall_s``, ``workers``, ``items``, ``chunksize``, ``nominal_s``, ``task_s`` (measured in
    the plain loop) and machine metadata.
    """
    import pandas as pd

    method = _method(start_method)
    rows = []
    for case, spec in decomposition_cases().items():
        params = {"start_method": method, "workers": usable_workers(), **spec}
        run = _cached("overhead-decomposition", params, _fresh(measure_decomposition))
        order: dict[int, int] = {}
        for _, _, pid in sorted(run["tasks"]):
            order.setdefault(pid, len(order))
        base = {k: v for k, v in run.items() if k not in {"tasks", "metadata"}}
        rows += [{"case": case, "task": i, "worker": order[pid], "pid": pid, "start_s": start,
                  "end_s": end, **base, **run["metadata"]}
                 for i, (start, end, pid) in enumerate(run["tasks"])]
    return pd.DataFrame(rows)


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
    return pd.DataFrame(rows)


# --- figures ----------------------------------------------------------------------------------


def plot_task_duration(df: pd.DataFrame) -> Figure:
    """Left: seconds per item against task duration (log-log); right: speedup over the loop,
    with the break-even durations marked."""
    import matplotlib.pyplot as plt

    summary = task_duration_summary(df)
    evens = break_evens(summary)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    for variant, part in summary.groupby("variant", sort=False):
        left.loglog(part["task_s"] * 1e6, part["per_item_s"] * 1e6, "o-", label=variant)
        if variant != LOOP:
            seconds = evens[variant]
            line = right.semilogx(part["task_s"] * 1e6, part["speedup"], "o-",
                                  label=f"{variant} (break-even {format_duration(seconds)})")
            if math.isfinite(seconds):
                right.axvline(seconds * 1e6, color=line[0].get_color(), lw=1, ls=":")
    left.set_xlabel("task duration (µs, measured by the loop)")
    left.set_ylabel("wall time per item (µs)")
    left.legend(fontsize=8)
    right.axhline(1, color="0.4", lw=1, ls="--")
    right.set_xlabel("task duration (µs)")
    right.set_ylabel("speedup over the loop (>1: Pool wins)")
    right.legend(fontsize=8)
    workers = int(df["workers"].iloc[0])
    fig.suptitle(f"Pool({workers}).map against the plain loop (pool already running)")
    return _caption(fig, df)


def plot_tiny_tasks(df: pd.DataFrame) -> Figure:
    """Bars: seconds for the seed tiny-task benchmark per variant (median, IQR error bars)."""
    import matplotlib.pyplot as plt

    summary = timing.summarize(df, ["variant"])
    fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
    bars = ax.barh(summary["variant"], summary["median"], xerr=summary["iqr"] / 2, capsize=3,
                   color=["0.5", "tab:red", "tab:blue"][: len(summary)])
    ax.bar_label(bars, labels=[f" {format_duration(v)}" for v in summary["median"]],
                 fontsize=8, padding=4)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(summary["median"].min() / 3, summary["median"].max() * 8)
    ax.set_xlabel("seconds (median, log scale; pool start and stop included)")
    ax.set_title(f"{int(df['items'].iloc[0]):,} calls of noop(x)")
    return _caption(fig, df)


def plot_decomposition(tasks: pd.DataFrame) -> Figure:
    """Top: timeline of each run (a row per worker, a bar per task); bottom: stacked shares of
    worker time per phase."""
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(tasks["case"]))
    fig = plt.figure(figsize=(10, 2.0 * len(cases) + 3.2), layout="constrained")
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
    return _caption(fig, tasks)


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
              statement="For tasks of 1 ms and longer, Pool({workers}).map at chunksize 1 beats "
                        "the loop (slowest speedup {speedup:.2f}x).")
def _long_tasks_win() -> claims.Evidence:
    summary = _duration_summary()
    part = summary[(summary["variant"] == CHUNK1) & (summary["nominal_s"] >= 1e-3)]
    worst = part.loc[part["speedup"].idxmin()]
    listing = ", ".join(f"{t * 1e3:.1f} ms: {s:.2f}x"
                        for t, s in zip(part["task_s"], part["speedup"], strict=True))
    return claims.Evidence(
        holds=bool((part["speedup"] > 1).all()),
        values={"workers": int(worst["workers"]), "speedup": float(worst["speedup"])},
        evidence=f"Speedup over the loop by task duration: {listing}. {_load_note(summary)}")


@claims.claim("chunking-cuts-overhead", chapter=CHAPTER,
              statement="For {task_us:.1f} µs tasks, Pool's default chunksize ({chunksize}) cuts "
                        "the wall time per item at least in half compared with chunksize 1 "
                        "({factor:.1f}x less).")
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
              statement="In a whole Pool.map run of {items} tasks of 10 µs at chunksize 1, the "
                        "workers spend less than half of their time computing "
                        "({compute_pct:.0f}%).")
def _tiny_task_workers_idle() -> claims.Evidence:
    tasks = load_decomposition()
    case = next(iter(decomposition_cases()))
    shares = decompose(tasks[tasks["case"] == case]).set_index("phase")["share"]
    return claims.Evidence(
        holds=shares["compute"] < 0.5,
        values={"items": int(tasks.loc[tasks["case"] == case, "items"].iloc[0]),
                "compute_pct": shares["compute"] * 100},
        evidence="Shares of workers x wall time: " + ", ".join(
            f"{phase} {shares[phase] * 100:.0f}%" for phase in PHASES) + ".")


@claims.claim("seed-tiny-tasks-lose", chapter=CHAPTER,
              statement="On the seed article's tiny-task benchmark ({items:,} no-op calls, "
                        "Pool({workers}), pool start included) the Pool is more than 10x "
                        "slower than the loop at chunksize 1 ({ratio:.0f}x), and still slower "
                        "at Pool's default chunksize ({batched_ratio:.0f}x).")
def _seed_tiny_tasks_lose() -> claims.Evidence:
    df = load_tiny_tasks()
    medians = timing.summarize(df, ["variant"]).set_index("variant")["median"]
    pooled = f"Pool({SEED_WORKERS}), chunksize 1"
    batched = f"Pool({SEED_WORKERS}), default chunksize"
    ratio, batched_ratio = medians[pooled] / medians["loop"], medians[batched] / medians["loop"]
    return claims.Evidence(
        holds=ratio > 10 and batched_ratio > 1,
        values={"items": int(df["items"].iloc[0]), "workers": SEED_WORKERS, "ratio": ratio,
                "batched_ratio": batched_ratio},
        evidence=f"Loop {format_duration(medians['loop'])}, {pooled} "
                 f"{format_duration(medians[pooled])}, default chunksize "
                 f"{format_duration(medians[batched])} (medians). The article publishes no "
                 f"timing for this benchmark.")
