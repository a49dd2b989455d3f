"""Chapter 8's measurements, run in a fresh interpreter on a Dask cluster.

:func:`measure_scale_out` starts a loopback cluster (:func:`mpguide.cluster.loopback`) and
measures on it what :mod:`mpguide.chapters.scale_out` declares
(:func:`~mpguide.chapters.scale_out.scale_out_params`) and reads back
(:func:`~mpguide.chapters.scale_out.load_scale_out`): the latency of one task beside a
started ``Pool``'s, the cost per task of no-op maps per item and batched, the pay-off sweep,
and data sent with every task against ``Client.scatter`` once. :func:`measure_on_cluster`
runs a reader's function on a loopback cluster or on theirs (the gallery script). The maps go
through the experiment verb's own loop (:func:`~mpguide.experiment.measure_declared`:
checked against the loop, one warm-up, repeats).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mpguide import cluster, config, executors, machine, peers, timing, workloads
from mpguide.chapters import scale_out
from mpguide.chapters.task_duration import spin_items
from mpguide.experiment import measure_declared

CHAPTER = scale_out.CHAPTER


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
            samples: dict[str, list[float]] = {how: [] for how in scale_out.SCATTER_WAYS}
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
                    for how, seconds in zip(scale_out.SCATTER_WAYS, (every, once, again),
                                            strict=True):
                        samples[how].append(seconds)
            rows += [{"kib": kib, "tasks": tasks, "how": how, "samples": samples[how]}
                     for how in scale_out.SCATTER_WAYS]
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
    record that :func:`~mpguide.chapters.scale_out.task_overhead_s` and
    :func:`~mpguide.chapters.scale_out.task_latency_s` read (``cluster``,
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
