"""Chapter 8: past one machine, on Dask distributed (a scheduler and workers on loopback). This
module declares the chapter and what it measures, reads the records, holds the cost model and
states the claims.

Every measurement runs on a cluster started as a user starts one, ``dask scheduler`` and
``dask worker`` as separate processes (:func:`mpguide.cluster.loopback`), with as many worker
processes as usable cores, one thread each. Data crosses the loopback interface between
processes exactly as it would cross a network, only faster. :data:`MEASURE`
(:func:`mpguide.chapters.scale_out_measure.measure_scale_out`) does it all on one cluster, in
a fresh interpreter, through :func:`~mpguide.experiment.run_cached` (:func:`load_scale_out`):
the latency of one task (submit, wait for its result) beside a started ``Pool``'s; the cost
per task of no-op maps per item and batched; data sent with every task against
``Client.scatter`` once; ``spin`` tasks of growing duration to find the duration at which the
cluster pays off (:data:`PAYOFF_FRACTION` of the workers' ideal speedup).

:func:`project` is the cost model of a bigger cluster, a projection and not a measurement:
per-task scheduler cost measured here, compute spread over the machines' cores, every task's
argument through one link of a stated bandwidth, plus one round trip. :func:`your_params`
declares a reader's function for
:func:`~mpguide.chapters.scale_out_measure.measure_on_cluster` (the gallery script). The
figures are in :mod:`mpguide.chapters.scale_out_plots`.

Examples
--------
>>> from mpguide.chapters import scale_out
>>> terms = scale_out.project(tasks=1000, task_s=0.01, arg_bytes=0, machines=4, cores=2,
...                           overhead_s=1e-3, bytes_per_s=1.25e8)
>>> round(terms["seconds"], 3), round(terms["speedup"], 2)
(2.25, 4.44)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, timing
from mpguide.chapters.task_duration import break_even
from mpguide.experiment import Result, run_cached

if TYPE_CHECKING:
    import pandas as pd

CHAPTER = claims.Chapter(
    name="scale-out", page="guide/08-scale-out", title="Past one machine: Dask distributed",
    summary="A Dask scheduler and workers started as separate processes: what one task costs "
            "over the scheduler, scatter against sending data with every task, the task size "
            "that pays off, and a projection to more machines.")

#: Name of the chapter's record in the result cache.
EXPERIMENT = "scale-out"
#: What measures it (``module:function``), in a fresh interpreter.
MEASURE = "mpguide.chapters.scale_out_measure:measure_scale_out"
#: Durations (ms) of the ``spin`` tasks of the pay-off sweep (full mode, quick mode).
PAYOFF_TASKS_MS = ((0.3, 1.0, 3.0, 10.0, 30.0), (1.0, 10.0, 30.0))
#: The cluster "pays off" from the task duration where its speedup over the loop reaches this
#: fraction of the number of workers.
PAYOFF_FRACTION = 0.8
#: Argument sizes (KiB) sent with every task, or scattered once (full mode, quick mode).
SCATTER_KIB = ((64, 1024, 8192), (64, 4096))
#: How the scatter comparison sends the argument (:func:`scatter_table`'s ``how``), in order.
SCATTER_WAYS = ("with every task", "scatter, then map", "map on scattered data")
#: Timed runs of every measurement, after one warm-up.
REPEATS = 3
#: The projected workload: this many tasks of each duration of the pay-off sweep, each with
#: an argument of :data:`PROJECTION_ARG_KIB` KiB.
PROJECTION_TASKS = 10_000
PROJECTION_ARG_KIB = 64
#: Machines of the projection, each with as many cores as this one.
PROJECTION_MACHINES = (1, 2, 4, 8, 16, 32, 64)
#: Bytes per second of the link every task's argument crosses in the projection: 1 Gbit/s
#: Ethernet, a stated parameter of the model, not a measurement.
NETWORK_BYTES_PER_S = 1.25e8
#: The projection's model "fits" this machine when every prediction of the cluster's measured
#: speedups is within this factor, either way (claim ``projection-model-fits-loopback``).
MODEL_FIT_FACTOR = 2.0
#: Dask's documented overhead per task, seconds: "somewhere between 200us and 1ms"
#: (docs.dask.org, best practices, "Avoid very large graphs").
DASK_DOCUMENTED_OVERHEAD_S = (200e-6, 1e-3)


def scale_out_params() -> dict[str, Any]:
    """What :data:`MEASURE` measures on this machine (all derived from the usable cores and
    the mode).

    Examples
    --------
    >>> params = scale_out_params()
    >>> params["workers"] == machine.usable_cpus(), params["repeats"]
    (True, 3)
    """
    workers = machine.usable_cpus()
    return {"workers": workers, "latency_calls": config.scaled(40, 15),
            "noop_tasks": config.scaled(100, 40) * workers,
            "payoff_ms": list(config.scaled(*PAYOFF_TASKS_MS)),
            "payoff_tasks": config.scaled(8, 4) * workers,
            "scatter_kib": list(config.scaled(*SCATTER_KIB)), "scatter_tasks": 4 * workers,
            "repeats": REPEATS, "timeout": config.DEFAULT_TIMEOUT}


def load_scale_out(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The chapter's record (:data:`MEASURE` of :func:`scale_out_params`), measured once per
    machine and mode in a fresh interpreter, then read from the cache."""
    declared = dict(params or scale_out_params())
    record: dict[str, Any] = run_cached(EXPERIMENT, MEASURE, declared,
                                        timeout=20 * config.DEFAULT_TIMEOUT)
    return record or {}


def your_params(func: Callable[[Any], Any], items: Any, params: Mapping[str, Any],
                address: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` parameters of
    :func:`~mpguide.chapters.scale_out_measure.measure_on_cluster` for a reader's function
    (``items`` a factory function or a list), sized like the chapter's."""
    return {"func": executors.target_of(func),
            "items": executors.target_of(items) if callable(items) else list(items),
            "params": dict(params), "address": address,
            "noop_tasks": config.scaled(100, 40) * machine.usable_cpus(),
            "latency_calls": config.scaled(40, 15), "repeats": REPEATS,
            "timeout": config.DEFAULT_TIMEOUT}


def workload_of(record: Mapping[str, Any]) -> dict[str, float]:
    """The reader's workload of a
    :func:`~mpguide.chapters.scale_out_measure.measure_on_cluster` record: ``tasks`` (items),
    ``task_ms`` (the loop's median over the items) and ``arg_bytes``."""
    loop = next(m for m in record["yours"]["measurements"] if m["params"]["tool"] == "loop")
    tasks = int(loop["params"]["items"])
    return {"tasks": tasks, "task_ms": timing.Stats.of(loop["samples"]).median / tasks * 1e3,
            "arg_bytes": float(record["arg_bytes"])}


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

def result_table(result: Mapping[str, Any],
                 about: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """:meth:`Result.table` of a measured result; a loopback cluster (``about``, the record's
    ``cluster``) named "loopback cluster" instead of its address, a random port."""
    table = Result.from_dict(result).table()[list(RESULT_COLUMNS)]
    if about and about.get("loopback", True):
        table["label"] = table["label"].str.replace(str(about["address"]), "loopback cluster",
                                                    regex=False)
    return table


#: Columns of :func:`result_table` (the start method is left out: a Dask worker's is its own).
RESULT_COLUMNS = ("label", "tool", "workers", "chunksize", "median_s", "iqr_s", "speedup")


def latency_table(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per executor: median and IQR milliseconds from submitting one task to holding
    its result."""
    table = result_table(record["latency"], record["cluster"])
    table["median_ms"] = table["median_s"] * 1e3
    table["iqr_ms"] = table["iqr_s"] * 1e3
    return table[["label", "tool", "median_ms", "iqr_ms"]]


def throughput_table(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per executor of the no-op maps: median seconds, microseconds per task and
    tasks per second."""
    table = result_table(record["throughput"], record["cluster"])
    tasks = int(record["throughput"]["measurements"][0]["params"]["items"])
    table["us_per_task"] = table["median_s"] / tasks * 1e6
    table["tasks_per_s"] = tasks / table["median_s"]
    return table[["label", "tool", "chunksize", "median_s", "us_per_task", "tasks_per_s"]]


def task_overhead_s(record: Mapping[str, Any], tool: str = "dask") -> float:
    """Seconds per task of the per-item no-op map of ``tool`` (``"dask"`` or ``"pool"``): what
    each task costs besides its work, the :math:`o` of :func:`project`."""
    table = throughput_table(record)
    rows = table[(table["tool"] == tool) & (table["chunksize"].map(_one_per_task))]
    return float(rows["us_per_task"].iloc[0]) / 1e6


def _one_per_task(chunksize: Any) -> bool:
    return chunksize is None or chunksize == 1


def payoff_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per pay-off duration and executor: ``task_ms``, label, tool, median seconds
    and speedup over the loop."""
    import pandas as pd

    frames = [result_table(point["result"], record["cluster"]).assign(task_ms=point["task_ms"])
              for point in record["payoff"]]
    return pd.concat(frames, ignore_index=True)[
        ["task_ms", "label", "tool", "median_s", "iqr_s", "speedup"]]


def payoff_durations(frame: pd.DataFrame, workers: int,
                     fraction: float = PAYOFF_FRACTION) -> dict[str, float]:
    """Per tool (``pool``, ``dask``): the task duration (ms) from which its speedup reaches
    ``fraction * workers`` (log-log interpolation between the sweep's points,
    :func:`~mpguide.chapters.task_duration.break_even`); ``nan`` if it never does.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"tool": ["dask"] * 2, "task_ms": [1.0, 100.0],
    ...                       "speedup": [0.8, 3.2]})
    >>> round(payoff_durations(frame, workers=2)["dask"], 1)
    10.0
    """
    target = fraction * workers
    out = {}
    for tool, rows in frame[frame["tool"] != "loop"].groupby("tool", sort=False):
        out[str(tool)] = break_even(list(rows["task_ms"]), list(rows["speedup"] / target))
    return out


def scatter_table(record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per argument size and way: median and IQR seconds per map, and the time
    relative to sending the argument with every task (below 1 is faster)."""
    import pandas as pd

    rows = []
    for row in record["scatter"]:
        stats = timing.Stats.of(row["samples"])
        rows.append({"kib": row["kib"], "tasks": row["tasks"], "how": row["how"],
                     "median_s": stats.median, "iqr_s": stats.q3 - stats.q1})
    table = pd.DataFrame(rows)
    every = table[table["how"] == SCATTER_WAYS[0]].set_index("kib")["median_s"]
    table["vs_every_task"] = table["median_s"] / table["kib"].map(every)
    return table


def size_label(kib: int) -> str:
    """An argument size of the scatter comparison, for tables and figures.

    >>> size_label(64), size_label(4096)
    ('64 KiB', '4 MiB')
    """
    return f"{kib // 1024} MiB" if kib >= 1024 else f"{kib} KiB"


def loopback_bytes_per_s(record: Mapping[str, Any]) -> float:
    """Bytes per second that crossed loopback when the largest argument went with every
    task (all its copies over the map's median seconds)."""
    table = scatter_table(record)
    every = table[table["how"] == SCATTER_WAYS[0]].sort_values("kib").iloc[-1]
    return float(every["kib"] * 1024 * every["tasks"] / every["median_s"])


def project(*, tasks: int, task_s: float, arg_bytes: float, machines: int, cores: int,
            overhead_s: float, bytes_per_s: float, latency_s: float = 0.0) -> dict[str, float]:
    """The cost model of ``tasks`` tasks of ``task_s`` seconds on ``machines`` machines of
    ``cores`` cores: a projection, not a measurement.

    ``T(N) = L + n o + n c / (N k) + n b / B``: the first result comes back after one round
    trip ``L``; every task costs the scheduler ``o`` seconds (one scheduler, so this does not
    shrink with more machines); the work ``n c`` is spread over ``N k`` cores; every task's
    argument of ``b`` bytes crosses the client's link of ``B`` bytes per second. Returns each
    term, their sum ``seconds`` and ``speedup`` over one core running the loop (``n c / T``).

    Examples
    --------
    >>> terms = project(tasks=100, task_s=0.1, arg_bytes=1.25e6, machines=1, cores=10,
    ...                 overhead_s=0.0, bytes_per_s=1.25e8)
    >>> terms["compute_s"], terms["transfer_s"], terms["speedup"]
    (1.0, 1.0, 5.0)
    """
    scheduler_s = tasks * overhead_s
    compute_s = tasks * task_s / (machines * cores)
    transfer_s = tasks * arg_bytes / bytes_per_s
    seconds = latency_s + scheduler_s + compute_s + transfer_s
    return {"latency_s": latency_s, "scheduler_s": scheduler_s, "compute_s": compute_s,
            "transfer_s": transfer_s, "seconds": seconds, "speedup": tasks * task_s / seconds}


def task_latency_s(record: Mapping[str, Any], tool: str = "dask") -> float:
    """Median seconds from submitting one task to holding its result (``"dask"`` or
    ``"pool"``): the :math:`L` of :func:`project`."""
    table = latency_table(record)
    return float(table.loc[table["tool"] == tool, "median_ms"].iloc[0]) / 1e3


def projection_frame(record: Mapping[str, Any], *, tasks: int = PROJECTION_TASKS,
                     task_ms: Sequence[float] | None = None,
                     arg_bytes: float = PROJECTION_ARG_KIB * 1024,
                     machines: Sequence[int] = PROJECTION_MACHINES,
                     bytes_per_s: float = NETWORK_BYTES_PER_S) -> pd.DataFrame:
    """:func:`project` of ``tasks`` tasks of each duration of ``task_ms`` (default: the
    pay-off sweep's) with ``arg_bytes`` each, the per-task cost and round trip measured in
    ``record``, ``bytes_per_s`` of network and each machine count of ``machines`` with as
    many cores as the record's cluster: one row per duration and machine count."""
    import pandas as pd

    workers = int(record["cluster"]["workers"])
    overhead, latency = task_overhead_s(record), task_latency_s(record)
    durations = list(task_ms) if task_ms is not None else [p["task_ms"] for p in record["payoff"]]
    rows = [{"task_ms": ms, "machines": n, "cores": n * workers,
             **project(tasks=tasks, task_s=ms / 1e3, arg_bytes=arg_bytes, machines=n,
                       cores=workers, overhead_s=overhead, bytes_per_s=bytes_per_s,
                       latency_s=latency)}
            for ms in durations for n in machines]
    return pd.DataFrame(rows)


def model_check(record: Mapping[str, Any]) -> pd.DataFrame:
    """The model on this machine against the cluster's measured speedups: one row per pay-off
    duration, :func:`project` with one machine of the cluster's workers, the per-task cost
    measured here and the pay-off tasks' own (tiny) arguments."""
    frame = payoff_frame(record)
    dask = frame[frame["tool"] == "dask"].copy()
    workers = int(record["cluster"]["workers"])
    tasks = int(record["payoff"][0]["result"]["measurements"][0]["params"]["items"])
    overhead, latency = task_overhead_s(record), task_latency_s(record)
    dask["projected_speedup"] = [
        project(tasks=tasks, task_s=ms / 1e3, arg_bytes=0, machines=1, cores=workers,
                overhead_s=overhead, bytes_per_s=NETWORK_BYTES_PER_S,
                latency_s=latency)["speedup"]
        for ms in dask["task_ms"]]
    return dask.rename(columns={"speedup": "measured_speedup"})[
        ["task_ms", "measured_speedup", "projected_speedup"]].reset_index(drop=True)


def speedup_ceiling(task_s: float, overhead_s: float, arg_bytes: float,
                    bytes_per_s: float) -> float:
    """The projected speedup with unlimited machines: ``c / (o + b / B)``.

    >>> speedup_ceiling(0.01, 1e-3, 0, 1.25e8)
    10.0
    """
    return task_s / (overhead_s + arg_bytes / bytes_per_s)


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

@claims.claim("dask-task-overhead-documented", chapter=CHAPTER,
              statement="A no-op task through the loopback scheduler cost {dask_us:.0f} µs "
                        "here ({ratio:.3g}x a Pool task at chunksize 1, {pool_us:.0f} µs), "
                        "against Dask's documented {low_us:.0f} µs to {high_us:.0f} µs per "
                        "task.")
def _task_overhead() -> claims.Evidence:
    record = load_scale_out()
    dask, pool = task_overhead_s(record), task_overhead_s(record, "pool")
    low, high = DASK_DOCUMENTED_OVERHEAD_S
    return claims.Evidence(
        holds=low <= dask <= high,
        values={"dask_us": dask * 1e6, "pool_us": pool * 1e6, "ratio": dask / pool,
                "low_us": low * 1e6, "high_us": high * 1e6},
        evidence="Median seconds of a map of no-op tasks, one task per item, over the number "
                 "of tasks, on the started executor; it holds when the cluster's cost lies "
                 "within the documented range, both ends included.")


@claims.claim("batching-cuts-dask-overhead", chapter=CHAPTER,
              statement="Batching {batch} items per Dask task took the cost per no-op item from "
                        "{per_item_us:.0f} µs to {batched_us:.0f} µs "
                        "({factor:.2f|less|more} per item).")
def _batching_claim() -> claims.Evidence:
    table = throughput_table(load_scale_out())
    dask = table[table["tool"] == "dask"]
    per_item = float(dask.loc[dask["chunksize"].isna(), "us_per_task"].iloc[0])
    batched = dask[dask["chunksize"].notna()].iloc[0]
    factor = per_item / float(batched["us_per_task"])
    return claims.Evidence(
        holds=factor >= 3,
        values={"batch": int(batched["chunksize"]), "per_item_us": per_item,
                "batched_us": float(batched["us_per_task"]), "factor": factor},
        evidence="Median seconds of the no-op map over its items, on the started cluster "
                 "client; it holds when batching cuts the cost per item at least threefold.")


@claims.claim("scatter-beats-every-task", chapter=CHAPTER,
              statement="With a {size} argument, scattering it once and then mapping "
                        "{tasks} tasks over it was {factor:.2f|faster|slower} than sending it "
                        "with every task.")
def _scatter_claim() -> claims.Evidence:
    table = scatter_table(load_scale_out())
    largest = table[table["kib"] == table["kib"].max()].set_index("how")
    factor = float(largest.loc[SCATTER_WAYS[0], "median_s"]
                   / largest.loc[SCATTER_WAYS[1], "median_s"])
    return claims.Evidence(
        holds=factor >= 2,
        values={"size": size_label(int(largest["kib"].iloc[0])),
                "tasks": int(largest["tasks"].iloc[0]), "factor": factor},
        evidence="Medians of whole maps, the scatter included in its map's time; it holds "
                 "when scattering is at least twice as fast.")


@claims.claim("cluster-needs-longer-tasks", chapter=CHAPTER,
              statement="Tasks had to last {dask_ms} for the loopback cluster to reach "
                        "{fraction:g} of its {workers} workers' ideal speedup, against "
                        "{pool_ms} for a started Pool.")
def _payoff_claim() -> claims.Evidence:
    record = load_scale_out()
    workers = int(record["cluster"]["workers"])
    durations = payoff_durations(payoff_frame(record), workers)
    dask, pool = durations.get("dask", math.nan), durations.get("pool", math.nan)
    longest = max(p["task_ms"] for p in record["payoff"])
    holds = not math.isnan(pool) and (math.isnan(dask) or dask > pool)
    return claims.Evidence(
        holds=holds,
        values={"dask_ms": duration_text(dask, longest), "pool_ms": duration_text(pool, longest),
                "fraction": PAYOFF_FRACTION, "workers": workers},
        evidence="Speedups are the loop's median over each executor's, on started executors; "
                 "durations interpolated in log-log space. It holds when the Pool pays off "
                 "and the cluster needs longer tasks (or never pays off in the sweep).")


def duration_text(ms: float, longest: float) -> str:
    """A pay-off duration in words (``nan``: beyond the sweep's ``longest`` duration).

    >>> duration_text(4.2, 30.0), duration_text(float("nan"), 30.0)
    ('4.2 ms', 'more than 30 ms (never in the sweep)')
    """
    return f"more than {longest:g} ms (never in the sweep)" if math.isnan(ms) else f"{ms:.2g} ms"


@claims.claim("projection-model-fits-loopback", chapter=CHAPTER,
              statement="Fed with the round trip and per-task cost measured here, the cost "
                        "model predicted the loopback cluster's speedups within "
                        "{worst:.1f}x at every duration of the sweep (worst at {worst_ms:g} ms: "
                        "{projected:.2f} projected, {measured:.2f} measured).")
def _model_claim() -> claims.Evidence:
    check = model_check(load_scale_out())
    ratio = check["projected_speedup"] / check["measured_speedup"]
    off = ratio.where(ratio >= 1, 1 / ratio)
    worst = check.loc[off.idxmax()]
    return claims.Evidence(
        holds=float(off.max()) <= MODEL_FIT_FACTOR,
        values={"worst": float(off.max()), "worst_ms": float(worst["task_ms"]),
                "projected": float(worst["projected_speedup"]),
                "measured": float(worst["measured_speedup"])},
        evidence=f"project() with one machine of the cluster's workers against the measured "
                 f"median speedups; it holds when every prediction is within "
                 f"{MODEL_FIT_FACTOR:g}x of the measurement, either way.")
