"""Chapter 8: past one machine, on Dask distributed (a scheduler and workers on loopback).

Every measurement runs on a cluster started as a user starts one, ``dask scheduler`` and
``dask worker`` as separate processes (:func:`mpguide.cluster.loopback`), with as many worker
processes as usable cores, one thread each. Data crosses the loopback interface between
processes exactly as it would cross a network, only faster. :func:`measure_scale_out` does it
all on one cluster, in a fresh interpreter, through :func:`~mpguide.experiment.run_cached`
(:func:`load_scale_out`): the latency of one task (submit, wait for its result) beside a
started ``Pool``'s; the cost per task of no-op maps per item and batched; data sent with every
task against ``Client.scatter`` once; ``spin`` tasks of growing duration to
find the duration at which the cluster pays off (:data:`PAYOFF_FRACTION` of the workers'
ideal speedup). The maps go through the experiment verb's own loop
(:func:`~mpguide.experiment.measure_declared`: checked against the loop, one warm-up, repeats).

:func:`project` is the cost model of a bigger cluster, a projection and not a measurement:
per-task scheduler cost measured here, compute spread over the machines' cores, every task's
argument through one link of a stated bandwidth, plus one round trip.
:func:`measure_on_cluster` runs a reader's function on a loopback cluster or on theirs (the
gallery script).

Examples
--------
>>> from mpguide.chapters import scale_out
>>> terms = scale_out.project(tasks=1000, task_s=0.01, arg_bytes=0, machines=4, cores=2,
...                           overhead_s=1e-3, bytes_per_s=1.25e8)
>>> round(terms["seconds"], 3), round(terms["speedup"], 2)
(2.25, 4.44)
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, cluster, config, executors, machine, peers, timing, workloads
from mpguide.chapters.task_duration import break_even, spin_items
from mpguide.experiment import Result, measure_declared, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = claims.Chapter(
    name="scale-out", page="guide/08-scale-out", title="Past one machine: Dask distributed",
    summary="A Dask scheduler and workers started as separate processes: what one task costs "
            "over the scheduler, scatter against sending data with every task, the task size "
            "that pays off, and a projection to more machines.")

#: Name of the chapter's record in the result cache.
EXPERIMENT = "scale-out"
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
    """What :func:`measure_scale_out` measures on this machine (all derived from the usable
    cores and the mode).

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
    """The chapter's record (:func:`measure_scale_out` of :func:`scale_out_params`), measured
    once per machine and mode in a fresh interpreter, then read from the cache."""
    declared = dict(params or scale_out_params())
    record: dict[str, Any] = run_cached(EXPERIMENT, f"{__name__}:measure_scale_out", declared,
                                        timeout=20 * config.DEFAULT_TIMEOUT)
    return record or {}


# ---------------------------------------------------------------------------------------------
# Measuring (in the fresh interpreter)
# ---------------------------------------------------------------------------------------------

def measure_scale_out(*, workers: int, latency_calls: int, noop_tasks: int,
                      payoff_ms: Sequence[float], payoff_tasks: int,
                      scatter_kib: Sequence[int], scatter_tasks: int, repeats: int,
                      timeout: float) -> dict[str, Any]:
    """Start a loopback cluster of ``workers`` processes and measure on it (JSON-ready).

    Returns ``{"cluster", "latency", "throughput", "payoff", "scatter", "metadata"}``:
    the cluster's commands, address and start-up seconds; a result of one-task round trips
    (a started ``Pool`` and the cluster); a result of ``noop_tasks`` no-op tasks per map
    (``Pool`` and the cluster, per item and batched); one result per pay-off duration
    (the loop, ``Pool`` and the cluster on ``spin`` tasks); rows of the scatter comparison.
    """
    start = time.perf_counter()
    with cluster.loopback(workers, timeout=timeout) as running:
        startup_s = time.perf_counter() - start
        dask = peers.Dask(workers, address=running.address)
        pool = executors.Pool(workers, chunksize=1)
        throughput = _declared(
            "scale-out-throughput", workloads.noop, list(range(noop_tasks)),
            [pool, executors.Pool(workers), dask,
             peers.Dask(workers, executors.default_chunksize(noop_tasks, workers),
                        address=running.address)], repeats=repeats, timeout=timeout)
        meta = _metadata(throughput)
        return {
            "cluster": {"address": running.address, "workers": workers, "loopback": True,
                        "startup_s": startup_s,
                        "commands": cluster.shell_commands(workers, "scheduler.json", "work")},
            "latency": _latency([pool, dask], latency_calls, timeout, meta),
            "throughput": throughput,
            "payoff": [{"task_ms": task_ms, "result": _declared(
                "scale-out-payoff", workloads.spin, spin_items(task_ms / 1e3, payoff_tasks),
                [pool, dask], repeats=repeats, timeout=timeout)} for task_ms in payoff_ms],
            "scatter": _scatter(running.address, scatter_kib, scatter_tasks, repeats, timeout),
            "metadata": meta,
        }


def _declared(name: str, func: Callable[[Any], Any], items: list[Any],
              specs: Sequence[executors.Executor], *, repeats: int,
              timeout: float) -> dict[str, Any]:
    """The experiment verb's measurement (checked, warm-up, repeats) on started executors."""
    declaration = {"name": name, "func": executors.target_of(func),
                   "executors": [executors.Loop().to_dict(), *(s.to_dict() for s in specs)],
                   "repeats": repeats, "startup": False, "timeout": timeout}
    return measure_declared(declaration, items)


def _metadata(result: Mapping[str, Any]) -> dict[str, Any]:
    """The machine metadata (and where it ran) of a measured result, for the other records."""
    return dict(result["measurements"][0]["metadata"])


def _latency(specs: Sequence[executors.Executor], calls: int, timeout: float,
             meta: Mapping[str, Any]) -> dict[str, Any]:
    """Seconds from submitting one no-op task to holding its result, ``calls`` times in a row
    on each started executor (after one warm-up call)."""
    measurements = []
    for spec in specs:
        with spec.started(timeout) as run:
            run(workloads.noop, [0])
            samples = []
            for call in range(calls):
                begin = time.perf_counter()
                run(workloads.noop, [call])
                samples.append(time.perf_counter() - begin)
        measurements.append(timing.Measurement(
            spec.label, tuple(samples), params={**spec.record(), "items": 1},
            metadata={**meta, "start_method": getattr(spec, "start_method", None)
                      or config.start_method()}).to_dict())
    return {"name": "scale-out-latency", "measurements": measurements}


def _scatter(address: str, sizes_kib: Sequence[int], tasks: int, repeats: int,
             timeout: float) -> list[dict[str, Any]]:
    """For each argument size: seconds of a map of ``tasks`` tasks whose argument is sent with
    every task, scattered once before the map (scatter included), and already scattered."""
    from distributed import Client

    rows = []
    with Client(address, timeout=timeout) as client:
        for kib in sizes_kib:
            payload = os.urandom(kib * 1024)  # incompressible: whatever Dask compresses
            samples: dict[str, list[float]] = {how: [] for how in SCATTER_WAYS}
            for run in range(repeats + 1):
                begin = time.perf_counter()
                _gathered(client, [payload] * tasks, timeout, len(payload))
                every = time.perf_counter() - begin
                begin = time.perf_counter()
                future = client.scatter(payload, hash=False, timeout=timeout)
                _gathered(client, [future] * tasks, timeout, len(payload))
                once = time.perf_counter() - begin
                begin = time.perf_counter()
                _gathered(client, [future] * tasks, timeout, len(payload))
                again = time.perf_counter() - begin
                future.release()
                if run:
                    for how, seconds in zip(SCATTER_WAYS, (every, once, again), strict=True):
                        samples[how].append(seconds)
            rows += [{"kib": kib, "tasks": tasks, "how": how, "samples": samples[how]}
                     for how in SCATTER_WAYS]
    return rows


def _gathered(client: Any, arguments: list[Any], timeout: float, expected: int) -> None:
    """Map :func:`workloads.payload_length` over ``arguments``, bounded, and check it."""
    from distributed import wait

    futures = client.map(workloads.payload_length, arguments, pure=False)
    wait(futures, timeout=timeout)
    results = client.gather(futures)
    if results != [expected] * len(arguments):
        raise timing.TimingError(f"the tasks saw {sorted(set(results))} bytes, not {expected}")


def measure_on_cluster(*, func: str, items: str | list[Any], params: Mapping[str, Any],
                       address: str | None, noop_tasks: int, latency_calls: int, repeats: int,
                       timeout: float) -> dict[str, Any]:
    """A reader's ``func`` over ``items`` (a factory ``"module:function"`` called with
    ``params``, or a list) on a Dask cluster, with what the cluster costs per task (JSON-ready).

    The cluster is the scheduler at ``address``, or a loopback cluster of the usable cores
    started for the run (``address=None``). Returns the keys of :func:`measure_scale_out`'s
    record that :func:`task_overhead_s` and :func:`task_latency_s` read (``cluster``,
    ``latency``, ``throughput``: ``noop_tasks`` no-op tasks per map), and ``yours``: the loop,
    ``Pool`` at its default chunksize and the cluster per item and batched at that chunksize;
    ``arg_bytes``: the mean pickled size of an item.
    """
    import pickle

    values = list(executors.resolve_target(items)(**params) if isinstance(items, str)
                  else items)
    workers = machine.usable_cpus()
    with contextlib.ExitStack() as stack:
        loopback = address is None
        if address is None:
            address = stack.enter_context(cluster.loopback(workers, timeout=timeout)).address
        size = _cluster_threads(address, timeout)
        dask, pool = peers.Dask(size, address=address), executors.Pool(workers, chunksize=1)
        chunk = executors.default_chunksize(len(values), size)
        throughput = _declared("scale-out-throughput", workloads.noop, list(range(noop_tasks)),
                               [pool, dask], repeats=repeats, timeout=timeout)
        meta = _metadata(throughput)
        return {
            "cluster": {"address": address, "workers": size, "loopback": loopback},
            "latency": _latency([pool, dask], latency_calls, timeout, meta),
            "throughput": throughput,
            "yours": _declared("scale-out-yours", executors.resolve_target(func), values, [
                executors.Pool(workers), dask, peers.Dask(size, chunk, address=address)],
                repeats=repeats, timeout=timeout),
            "arg_bytes": sum(len(pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))
                             for v in values) / max(1, len(values)),
            "metadata": meta,
        }


def _cluster_threads(address: str, timeout: float) -> int:
    """Worker threads of the cluster at ``address`` (what its tasks run on at once)."""
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        return max(1, sum(client.nthreads().values()))


def your_params(func: Callable[[Any], Any], items: Any, params: Mapping[str, Any],
                address: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` parameters of :func:`measure_on_cluster` for a reader's function
    (``items`` a factory function or a list), sized like the chapter's."""
    return {"func": executors.target_of(func),
            "items": executors.target_of(items) if callable(items) else list(items),
            "params": dict(params), "address": address,
            "noop_tasks": config.scaled(100, 40) * machine.usable_cpus(),
            "latency_calls": config.scaled(40, 15), "repeats": REPEATS,
            "timeout": config.DEFAULT_TIMEOUT}


def workload_of(record: Mapping[str, Any]) -> dict[str, float]:
    """The reader's workload of a :func:`measure_on_cluster` record: ``tasks`` (items),
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
# Figures
# ---------------------------------------------------------------------------------------------

def plot_payoff(record: Mapping[str, Any],
                title: str = "Speedup over the loop against task duration") -> Figure:
    """Speedup of the started ``Pool`` and of the loopback cluster against task duration
    (log), with the ideal (the workers) and the pay-off line dashed."""
    import matplotlib.pyplot as plt

    from mpguide.plotting import add_caption

    frame = payoff_frame(record)
    workers = int(record["cluster"]["workers"])
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for label, rows in frame[frame["tool"] != "loop"].groupby("label", sort=False):
        ax.plot(rows["task_ms"], rows["speedup"], marker="o", label=str(label))
    ax.axhline(workers, color="0.5", ls="--", lw=1, label=f"ideal ({workers} workers)")
    ax.axhline(PAYOFF_FRACTION * workers, color="0.7", ls=":", lw=1,
               label=f"pays off ({PAYOFF_FRACTION:g} of ideal)")
    ax.set_xscale("log")
    ax.set_xlabel("task duration (ms, log)")
    ax.set_ylabel("speedup over the loop (median)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return add_caption(fig, record["metadata"])


def plot_scatter(record: Mapping[str, Any],
                 title: str = "Sending the argument with every task, or scattering it once"
                 ) -> Figure:
    """Median seconds per map for each argument size and way (grouped bars)."""
    from mpguide.chapters.tuning import bar_figure

    table = scatter_table(record).assign(size=lambda t: t["kib"].map(_size_label))
    return bar_figure(table, x="size", y="median_s", hue="how", err="iqr_s",
                      caption=record["metadata"], title=title,
                      ylabel=f"seconds per map of {int(table['tasks'].iloc[0])} tasks")


def _size_label(kib: int) -> str:
    return f"{kib // 1024} MiB" if kib >= 1024 else f"{kib} KiB"


def plot_projection(frame: pd.DataFrame, meta: Mapping[str, Any],
                    title: str = "Projection (cost model, not measured): speedup on N machines"
                    ) -> Figure:
    """Projected speedup against the number of machines, one line per task duration, the
    ideal (all cores busy) dashed."""
    import matplotlib.pyplot as plt

    from mpguide.plotting import add_caption

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for task_ms, rows in frame.groupby("task_ms"):
        ax.plot(rows["machines"], rows["speedup"], marker="o", label=f"{task_ms:g} ms tasks")
    ideal = frame.drop_duplicates("machines")
    ax.plot(ideal["machines"], ideal["cores"], color="0.5", ls="--", lw=1, label="all cores")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("machines (log)")
    ax.set_ylabel("projected speedup over one core (log)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return add_caption(fig, meta)


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

@claims.claim("dask-task-overhead-documented", chapter=CHAPTER,
              statement="A no-op task through the loopback scheduler cost {dask_us:.0f} µs "
                        "here ({ratio:.0f}x a Pool task at chunksize 1, {pool_us:.0f} µs), "
                        "against Dask's documented {low_us:.0f} µs to {high_us:.0f} µs per "
                        "task.")
def _task_overhead() -> claims.Evidence:
    record = load_scale_out()
    dask, pool = task_overhead_s(record), task_overhead_s(record, "pool")
    low, high = DASK_DOCUMENTED_OVERHEAD_S
    return claims.Evidence(
        holds=dask <= high,
        values={"dask_us": dask * 1e6, "pool_us": pool * 1e6, "ratio": dask / pool,
                "low_us": low * 1e6, "high_us": high * 1e6},
        evidence="Median seconds of a map of no-op tasks, one task per item, over the number "
                 "of tasks, on the started executor; it holds when the cluster's cost is at "
                 "most the documented upper figure.")


@claims.claim("batching-cuts-dask-overhead", chapter=CHAPTER,
              statement="Batching {batch} items per Dask task took the cost per no-op item from "
                        "{per_item_us:.0f} µs to {batched_us:.0f} µs "
                        "({factor:.1f|less|more} per item).")
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
                        "{tasks} tasks over it was {factor:.1f|faster|slower} than sending it "
                        "with every task.")
def _scatter_claim() -> claims.Evidence:
    table = scatter_table(load_scale_out())
    largest = table[table["kib"] == table["kib"].max()].set_index("how")
    factor = float(largest.loc[SCATTER_WAYS[0], "median_s"]
                   / largest.loc[SCATTER_WAYS[1], "median_s"])
    return claims.Evidence(
        holds=factor >= 2,
        values={"size": _size_label(int(largest["kib"].iloc[0])),
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
