"""Chapter 1, "Where a Pool's time goes": what a Pool costs before any work is done.

Each experiment is declared here once, with worker counts from
:func:`mpguide.machine.usable_cpus` (the seed article's quoted ``Pool(4)`` aside), built by a
function that does not run it (``plan_*``, ``*_params``, ``*_experiment``) and read back by a
``load_*`` function that the gallery, the guide pages and the claims all share. Each goes
through the kit's one lifecycle: :class:`mpguide.experiment.Experiment` for a function over
items, :func:`mpguide.experiment.run_cached` for the rest (fresh interpreter or plain script,
cache, re-import guard):

* :func:`load_startup`: ``Pool`` start+stop per start method, timed inside plain generated
  scripts whose ``__main__`` imports only the stdlib (``"light"``) or numpy and pandas
  (``"numpy+pandas"``): spawn and forkserver children re-import that ``__main__``. The guide's
  one measurement of pool start+stop; other chapters import it.
* :func:`load_dispatch`: what one task costs to send and get back (``apply_async`` round trip,
  ``map`` per item at several chunksizes) next to a plain call.
* :func:`load_seed_tiny_tasks`: the "do almost nothing" benchmark of the seed article *How to
  Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead* in the article's own
  setup (``Pool(4)``, chunksize 1, start included); :func:`load_tiny_tasks`: the same items
  through this machine's cores.

:func:`load_short_answer` and :func:`short_answer_markdown` put the chapter's answer in a few
lines (start-up per start method, cost per item, break-even task duration, the fix for each):
the landing page and the chapter open with it.

What those costs mean against the work of each task (the break-even task duration, one
``Pool.map`` run split into its phases) is measured by :mod:`mpguide.chapters.task_duration`,
the second module of this chapter.

Examples
--------
>>> from mpguide.chapters import overhead
>>> overhead.CHAPTER.name, overhead.CHAPTER.page
('overhead', 'guide/01-overhead')
>>> sorted(overhead.MAINS)
['light', 'numpy+pandas']
>>> sorted(overhead.plan_startup(["spawn"], ["light"])[0])
['main', 'pools_per_run', 'runs', 'start_method', 'workers']
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import (
    claims,
    config,
    executors,
    machine,
    plotting,
    pools,
    probes,
    runner,
    timing,
    workloads,
)
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = claims.Chapter(
    name="overhead", page="guide/01-overhead", title="Where a Pool's time goes",
    summary="Pool start and stop per start method, the dispatch cost of each task, and the "
            "task duration below which a Pool loses to the loop.")

#: What the generated script's ``__main__`` imports, per kind of main.
MAINS = {"light": "", "numpy+pandas": "import numpy\nimport pandas\n"}

#: Cache name and target of the start+stop experiment (:func:`measure_startup`).
STARTUP, STARTUP_TARGET = "overhead-startup", f"{__name__}:measure_startup"
#: Cache name and target of the dispatch experiment (:func:`measure_dispatch`).
DISPATCH, DISPATCH_TARGET = "overhead-dispatch", f"{__name__}:measure_dispatch"
#: Cache names of the tiny-task experiments (:func:`seed_tiny_tasks_experiment`,
#: :func:`tiny_tasks_experiment`).
SEED_TINY_TASKS, TINY_TASKS = "overhead-seed-tiny-tasks", "overhead-tiny-tasks"

#: The seed article's tiny-task setup, quoted as published: Pool(4), 50,000 items.
SEED_WORKERS, SEED_ITEMS = 4, 50_000
#: Items of the same benchmark on this machine's cores (full, quick mode): fewer than the
#: article's, since ``ProcessPoolExecutor`` at chunksize 1 takes about 130 us an item on two
#: cores (6.5 s a run over 50,000); a per-item cost needs no more.
OWN_TINY_ITEMS = (8_000, 5_000)
SEED_TITLE = "How to Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead"


def _frame(records: Sequence[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    if not records:
        return pd.DataFrame(columns=columns)
    return timing.frame([timing.Measurement.from_dict(r) for r in records])


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
    """Time ``pools_per_run`` Pool start+stops in each of ``runs`` fresh plain scripts.

    One start+stop is ``with Pool(workers) as p: p.map(noop, range(workers))``, closed and
    joined. The first pool of a script also pays one-off costs (forkserver starts its server
    and imports ``__main__`` there); later pools in the same script do not, so the two are
    recorded separately (``pool`` = ``"first"`` / ``"later"``). It starts its own scripts, so
    :func:`load_startup` runs it through ``run_cached(..., fresh=False)``.
    """
    args = {"start_method": start_method, "workers": workers, "count": pools_per_run,
            "timeout": config.DEFAULT_TIMEOUT}
    first, later = [], []
    for _ in range(runs):
        samples = run_script(main, args, timeout=config.DEFAULT_TIMEOUT * 2)
        first.append(samples[0])
        later.extend(samples[1:])
    meta = {**machine.collect_metadata(), "start_method": start_method,
            "measured_in": f"plain script, {main} __main__"}
    params = {"start_method": start_method, "main": main, "workers": workers}
    return [timing.Measurement("pool start+stop", tuple(samples),
                               params={**params, "pool": which}, metadata=meta).to_dict()
            for which, samples in (("first", first), ("later", later)) if samples]


def plan_startup(start_methods: Sequence[str] | None = None,
                 mains: Sequence[str] = tuple(MAINS)) -> list[dict[str, Any]]:
    """The ``run_cached`` params of :func:`load_startup`: one dict per start method and main,
    ``Pool(usable cores)``, not run.

    Examples
    --------
    >>> [p["main"] for p in plan_startup(["spawn"])]
    ['light', 'numpy+pandas']
    """
    methods = start_methods or config.available_start_methods()
    return [{"start_method": config.validate_start_method(method), "main": main,
             "workers": machine.usable_cpus(), "runs": config.scaled(2, 1), "pools_per_run": 2}
            for method in methods for main in mains]


def startup_frame(runs: Iterable[Sequence[Mapping[str, Any]] | None]) -> pd.DataFrame:
    """Tidy rows of :func:`measure_startup` results, one list of records per ``run_cached``
    call: one row per start method, main, first/later pool and sample; ``seconds`` (also as
    ``value``) plus the machine metadata. ``None`` (a re-importing worker's cache miss) adds
    no rows."""
    records = [record for run in runs for record in run or ()]
    df = _frame(records, ["start_method", "main", "pool", "workers", "value"])
    df["seconds"] = df["value"]
    return df


def load_startup(start_methods: Sequence[str] | None = None,
                 mains: Sequence[str] = tuple(MAINS)) -> pd.DataFrame:
    """Pool start+stop seconds (:func:`plan_startup`, measured once and cached).

    Columns: ``start_method``, ``main`` (``"light"`` / ``"numpy+pandas"``), ``pool``
    (``"first"`` / ``"later"``), ``workers``, ``seconds`` and ``value`` (the same number),
    ``measured_in`` and the machine metadata; one row per sample.
    """
    return startup_frame(run_cached(STARTUP, STARTUP_TARGET, params, fresh=False)
                         for params in plan_startup(start_methods, mains))


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
    the calling process; :func:`load_dispatch` runs it in a fresh interpreter.
    """
    meta = {**machine.collect_metadata(), "start_method": start_method,
            "measured_in": "fresh interpreter"}
    call = timing.measure(workloads.noop, 0, name="plain call",
                          params={"start_method": start_method, "workers": 0, "chunksize": 0})
    trip = probes.apply_round_trip(start_method, workers)
    per_item = probes.map_item_overhead(probes.CHUNKSIZES, start_method, workers)
    return [m.with_metadata(meta).to_dict() for m in (call, trip, *per_item)]


def dispatch_params(start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_dispatch` (usable cores), not run.

    Examples
    --------
    >>> sorted(dispatch_params("spawn"))
    ['start_method', 'workers']
    """
    return {"start_method": config.resolve_start_method(start_method),
            "workers": machine.usable_cpus()}


def dispatch_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Tidy rows of :func:`measure_dispatch` records (``chunksize`` 0 where it does not
    apply)."""
    df = _frame(records, ["name", "chunksize", "value"])
    df["chunksize"] = df["chunksize"].fillna(0).astype(int)
    return df


def load_dispatch(start_method: str | None = None) -> pd.DataFrame:
    """Seconds per task of a plain call, an ``apply_async`` round trip and ``map`` (overhead
    per item by chunksize), measured in a fresh interpreter.

    ``name`` is ``plain call``, ``apply_round_trip`` or ``map_item_overhead``; ``chunksize`` is
    0 where it does not apply.
    """
    return dispatch_frame(run_cached(DISPATCH, DISPATCH_TARGET, dispatch_params(start_method))
                          or [])


def dispatch_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median µs per task of each dispatch measurement (one row per name and chunksize)."""
    out = timing.summarize(df, ["name", "chunksize"])
    out["median_us"] = out.pop("median") * 1e6
    out["iqr_us"] = out.pop("iqr") * 1e6
    return out[["name", "chunksize", "median_us", "iqr_us", "n"]]


# --- the seed article's tiny-task benchmark ---------------------------------------------------


def tiny_items() -> list[int]:
    """The seed benchmark's items: ``range(50_000)`` (5,000 in quick mode)."""
    return list(range(config.scaled(SEED_ITEMS, 5_000)))


def own_tiny_items() -> list[int]:
    """The items of the same benchmark on this machine's cores (:data:`OWN_TINY_ITEMS`)."""
    return list(range(config.scaled(*OWN_TINY_ITEMS)))


def seed_tiny_tasks_experiment(start_method: str | None = None) -> Experiment:
    """The seed article's benchmark in its own setup, not run: ``noop`` over
    :func:`tiny_items` through the article's ``Pool(4)`` at chunksize 1 and at Pool's default,
    each timed whole (``with Pool(4)`` block, start and stop included) as the article does."""
    return Experiment(SEED_TINY_TASKS, workloads.noop, tiny_items(), [
        executors.Pool(SEED_WORKERS, chunksize=1, start_method=start_method),
        executors.Pool(SEED_WORKERS, start_method=start_method)])


def tiny_tasks_experiment(start_method: str | None = None) -> Experiment:
    """The same function over :func:`own_tiny_items` on this machine's usable cores, not run: ``Pool`` at chunksize 1 and at
    its default, and ``ProcessPoolExecutor``, start and stop included."""
    workers = machine.usable_cpus()
    return Experiment(TINY_TASKS, workloads.noop, own_tiny_items(), [
        executors.Pool(workers, chunksize=1, start_method=start_method),
        executors.Pool(workers, start_method=start_method),
        executors.ProcessPool(workers, start_method=start_method)])


def load_seed_tiny_tasks(start_method: str | None = None) -> Result:
    """The seed benchmark, article's ``Pool(4)`` (:func:`seed_tiny_tasks_experiment`)."""
    return seed_tiny_tasks_experiment(start_method).run()


def load_tiny_tasks(start_method: str | None = None) -> Result:
    """The seed benchmark's items on the usable cores (:func:`tiny_tasks_experiment`)."""
    return tiny_tasks_experiment(start_method).run()


def tiny_tasks_table(result: Result) -> pd.DataFrame:
    """:meth:`Result.table` with the time per item (µs) and the multiple of the loop's time."""
    table = result.table()
    frame = result.frame()
    items = frame.drop_duplicates("label").set_index("label")["items"] if len(frame) else {}
    table["per_item_us"] = table["median_s"] / table["label"].map(items) * 1e6
    table["x_loop"] = 1 / table["speedup"]
    return table


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


# --- the short answer -------------------------------------------------------------------------

#: Where the short answer's links point, relative to the guide's folder.
ANSWER_LINKS = {"startup": "01-overhead.md#starting-and-stopping-a-pool",
                "per_item": "03-tuning.md#chunksize",
                "break_even": "01-overhead.md#how-long-must-a-task-run-before-the-pool-wins"}


def short_answer(startup: pd.DataFrame, durations: pd.DataFrame) -> dict[str, Any]:
    """The chapter's answer in numbers, from :func:`load_startup`'s frame and
    :func:`mpguide.chapters.task_duration.load_task_duration`'s.

    Returns ``workers``, ``start_method`` and ``mode`` of the sweep; ``start_ms`` (median ms
    of the first ``Pool`` from a light ``__main__``, by start method); at the shortest task of
    the sweep, ``task_s``, ``items``, ``chunksize`` (Pool's default there) and ``item_s``
    (seconds each item costs beyond a perfect split of the loop, by variant: ``"default"``,
    ``"chunksize 1"``; ``nan`` for a variant without records); ``break_even_s`` (the task
    duration below which the Pool loses to the loop, by variant; ``nan`` if it never won, the
    shortest task if it always did), ``shortest_s`` and ``longest_s``.
    """
    from mpguide.chapters import task_duration as td

    table = startup_summary(startup)
    first = table[(table["main"] == "light") & (table["pool"] == "first")]
    summary = td.task_duration_summary(durations)
    evens = td.break_evens(summary)
    variants = {"default": td.DEFAULT, "chunksize 1": td.CHUNK1}
    # Each variant at its own shortest task (all share the sweep's nominal durations).
    shortest = {v: part.sort_values("nominal_s").iloc[0]
                for v, part in summary.groupby("variant", sort=False)}
    nan = math.nan
    at = {k: shortest.get(v) for k, v in variants.items()}
    return {"workers": int(summary["workers"].max()),
            "start_method": _first(durations, "start_method", config.start_method()),
            "mode": _first(durations, "mode", config.mode()),
            "start_ms": dict(zip(first["start_method"], first["median_ms"], strict=True)),
            "task_s": float(summary["task_s"].min()),
            "items": int(at["default"]["items"]) if at["default"] is not None else 0,
            "chunksize": int(at["default"]["chunksize"]) if at["default"] is not None else 0,
            "item_s": {k: nan if at[k] is None else float(at[k]["overhead_s"])
                       for k in variants},
            "break_even_s": {k: float(evens.get(v, nan)) for k, v in variants.items()},
            "shortest_s": float(summary["task_s"].min()),
            "longest_s": float(summary["task_s"].max())}


def _first(df: pd.DataFrame, column: str, default: str) -> str:
    return str(df[column].iloc[0]) if column in df and len(df) else default


def load_short_answer(start_method: str | None = None) -> dict[str, Any]:
    """:func:`short_answer` from the chapter's cached records (the same the page shows)."""
    from mpguide.chapters import task_duration

    return short_answer(load_startup(), task_duration.load_task_duration(start_method))


def _cost(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "(not measured)"
    return format_duration(seconds) if seconds > 0 else "no measurable extra time"


def _break_even_line(answer: Mapping[str, Any]) -> str:
    default, one = answer["break_even_s"]["default"], answer["break_even_s"]["chunksize 1"]
    at_one = (f"at chunksize 1: below {format_duration(one)}" if one > answer["shortest_s"]
              else "at chunksize 1 it won from the shortest task" if math.isfinite(one)
              else "at chunksize 1 it never won")
    if not math.isfinite(default):
        return (f"**The Pool never beat the plain loop** at the default chunksize, up to "
                f"{format_duration(answer['longest_s'])} per task ({at_one})")
    if default <= answer["shortest_s"]:
        return (f"**The Pool beat the plain loop from the shortest task measured**, "
                f"{format_duration(answer['shortest_s'])}, at the default chunksize; it lost "
                f"{at_one}")
    return (f"**Below {format_duration(default)} per task the plain loop beats a running "
            f"Pool** at the default chunksize ({at_one})")


def short_answer_markdown(answer: Mapping[str, Any], guide: str = "") -> str:
    """:func:`short_answer` as a few Markdown lines, each with its fix and a link to the
    section that measured it (``guide``: the path from the page to the guide's folder, e.g.
    ``"guide/"`` from the landing page).

    Examples
    --------
    >>> answer = {"workers": 2, "start_method": "fork", "mode": "full",
    ...           "start_ms": {"fork": 12.0, "spawn": 150.0},
    ...           "task_s": 1.5e-6, "items": 600, "chunksize": 75,
    ...           "item_s": {"default": 4e-6, "chunksize 1": 6e-5},
    ...           "break_even_s": {"default": 8e-4, "chunksize 1": 7e-4},
    ...           "shortest_s": 1.5e-6, "longest_s": 1.3e-2}
    >>> text = short_answer_markdown(answer, guide="guide/")
    >>> "150 ms under spawn" in text, "(guide/01-overhead.md#starting-and-stopping" in text
    (True, True)
    >>> print(text.splitlines()[-1].split(". *Fix:*")[0])
    - **Below 800 µs per task the plain loop beats a running Pool** at the default \
chunksize (at chunksize 1: below 700 µs)
    """
    starts = ", ".join(f"{format_duration(ms / 1e3)} under {method}"
                       for method, ms in answer["start_ms"].items())
    link = {key: f"{guide}{target}" for key, target in ANSWER_LINKS.items()}
    item, workers = answer["item_s"], answer["workers"]
    head = (f"**The short answer for this machine**, measured while this page was built "
            f"({workers} usable cores, {answer['start_method']} start method unless named, "
            f"{answer['mode']} mode):")
    startup = (f"- **Starting and stopping a Pool({workers})** costs {starts} (from a "
               f"`__main__` that imports only the standard library). *Fix:* start one pool "
               f"for all the work, and keep `__main__`'s imports light. "
               f"[Measured here.]({link['startup']})")
    per_item = (f"- **Each item** of `pool.map(f, data)` costs {_cost(item['default'])} on top "
                f"of the work at the default chunksize ({answer['chunksize']} for "
                f"{answer['items']:,} items), and {_cost(item['chunksize 1'])} at chunksize 1. "
                f"*Fix:* keep the default chunksize or raise it; give `imap` and "
                f"`ProcessPoolExecutor.map`, which default to 1, a chunksize. "
                f"[Chunksize.]({link['per_item']})")
    short = (f"- {_break_even_line(answer)}. *Fix:* run the loop, or give each task more "
             f"work (several items per call). [Measured here.]({link['break_even']})")
    return f"{head}\n\n{startup}\n{per_item}\n{short}"


# --- figures ----------------------------------------------------------------------------------


def plot_startup(df: pd.DataFrame) -> Figure:
    """Bars: median Pool start+stop (ms) per start method, for each main and first/later pool."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    if df.empty:  # a worker re-importing its parent's script: nothing to draw
        return fig
    summary = startup_summary(df)
    groups = [(m, p) for m in MAINS for p in ("first", "later")
              if ((summary["main"] == m) & (summary["pool"] == p)).any()]
    methods = list(dict.fromkeys(summary["start_method"]))
    width = 0.8 / max(1, len(groups))
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
    return plotting.add_caption(fig, df, ", ".join(methods))


def plot_tiny_tasks(df: pd.DataFrame, title: str | None = None) -> Figure:
    """Bars: seconds per label of a tiny-task :meth:`Result.frame` (median, IQR error bars,
    log scale), titled ``title`` (default: how many items)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
    if df.empty:  # a worker re-importing its parent's script: nothing to draw
        return fig
    summary = timing.summarize(df, ["label"], value="seconds")
    bars = ax.barh(summary["label"], summary["median"], xerr=summary["iqr"] / 2, capsize=3,
                   color=["0.5", "tab:red", "tab:blue", "tab:green"][: len(summary)])
    ax.bar_label(bars, labels=[f" {format_duration(v)}" for v in summary["median"]],
                 fontsize=8, padding=4)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(summary["median"].min() / 3, summary["median"].max() * 8)
    ax.set_xlabel("seconds (median, log scale; pool start and stop included)")
    ax.set_title(title or f"{int(df['items'].iloc[0]):,} items through each executor")
    return plotting.add_caption(fig, df)


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
    df = load_startup()
    summary = startup_summary(df)
    spawn, fork = _startup_ms(summary, "spawn", "light"), _startup_ms(summary, "fork", "light")
    ratio = spawn / fork
    return claims.Evidence(
        holds=ratio >= 2, values={"spawn_ms": spawn, "fork_ms": fork, "ratio": ratio},
        evidence=f"Median of the first Pool({int(df['workers'].iloc[0])}) in fresh scripts: "
                 f"spawn {spawn:.1f} ms, fork {fork:.1f} ms." if math.isfinite(ratio) else
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


#: The factor either way within which the seed benchmark's time at chunksize 1 is explained
#: by what this chapter measures apart, a Pool start plus one dispatch per item: what the
#: article says its benchmark measures ("the raw overhead of IPC, pickling, and scheduling").
SEED_EXPLAINED_BAND = 2.0


@claims.claim("seed-tiny-tasks-lose", chapter=CHAPTER,
              statement="On the seed article's tiny-task benchmark ({items:,} no-op calls, "
                        "the article's Pool({workers}), pool start included) the Pool is "
                        "{ratio:.0f|slower|faster} than the loop at chunksize 1 and "
                        "{batched_ratio:.1f|slower|faster} at Pool's default chunksize. At "
                        "chunksize 1 that is overhead, as the article says: {fit:.2g}x what a "
                        "Pool start ({start_ms:.0f} ms) and {items:,} dispatches "
                        "({per_item_us:.0f} µs each), measured apart here, add up to, within a "
                        "factor of {band:.0f}.")
def _seed_tiny_tasks_lose() -> claims.Evidence:
    result = load_seed_tiny_tasks()
    table = result.table().set_index("label")
    loop = float(table.loc[table["tool"] == "loop", "median_s"].iloc[0])
    pool = table[table["tool"] == "pool"]
    chunk1 = float(pool.loc[pool["chunksize"] == 1, "median_s"].iloc[0])
    batched = float(pool.loc[pool["chunksize"].isna(), "median_s"].iloc[0])
    items, method = int(result.frame()["items"].iloc[0]), pool["start_method"].iloc[0]
    startup = load_startup()
    start_ms = _startup_ms(startup_summary(startup), method, "light")
    dispatch = dispatch_summary(load_dispatch()).set_index(["name", "chunksize"])["median_us"]
    per_item_us = float(dispatch["map_item_overhead", 1])
    fit = chunk1 / (start_ms / 1e3 + items * per_item_us / 1e6)
    listing = ", ".join(f"{label} {format_duration(s)}" for label, s in table["median_s"].items())
    return claims.Evidence(
        holds=1 / SEED_EXPLAINED_BAND <= fit <= SEED_EXPLAINED_BAND,
        values={"items": items, "workers": SEED_WORKERS, "ratio": chunk1 / loop,
                "batched_ratio": batched / loop, "fit": fit, "start_ms": start_ms,
                "per_item_us": per_item_us, "band": SEED_EXPLAINED_BAND},
        evidence=f"Medians: {listing}. Pool({SEED_WORKERS}) is the article's setup, whatever "
                 f"the cores of this machine; the article publishes no timing for this "
                 f"benchmark. Added up: the first Pool({int(startup['workers'].iloc[0])}) of a "
                 f"light script under {method}, and map's overhead per item at chunksize 1.")
