"""Chapter 7's measurement, run in a fresh interpreter: every workload shape through the loop
and every row of its line-up, the memory of each tool's processes sampled meanwhile.

:mod:`mpguide.chapters.side_by_side` declares what is measured (the shapes, the line-up,
:func:`~mpguide.chapters.side_by_side.side_by_side_params`) and reads the record back
(:func:`~mpguide.chapters.side_by_side.load_side_by_side`, which runs
:func:`measure_side_by_side` here through :func:`~mpguide.experiment.run_cached`). Each
executor is started once for all the shapes it serves; the Dask rows share one local cluster
(:func:`shared_cluster`); the memory comes from :class:`mpguide.memory.MemorySampler` and the
kernel's ``VmHWM``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from mpguide import config, executors, machine, memory, peers, timing
from mpguide.chapters import side_by_side

CHAPTER = side_by_side.CHAPTER


@dataclasses.dataclass(frozen=True)
class SharedCluster:
    """The local Dask cluster every Dask row connects to: its scheduler's address, its
    workers' pids and the seconds it took to start."""

    address: str
    worker_pids: tuple[int, ...]
    start_s: float


@contextlib.contextmanager
def shared_cluster(workers: int, timeout: float) -> Iterator[SharedCluster]:
    """A local cluster as :class:`mpguide.peers.Dask` starts it (``workers`` processes of one
    thread), for all the Dask rows; closed on the way out, bounded as the spec bounds it."""
    from distributed import default_client

    start = time.perf_counter()
    with peers.Dask(workers).started(timeout):
        client = default_client()
        client.wait_for_workers(workers, timeout=timeout)
        pids = tuple(int(pid) for pid in client.run(os.getpid).values())
        yield SharedCluster(client.scheduler.address, pids, time.perf_counter() - start)


@dataclasses.dataclass(frozen=True)
class _Job:
    """One shape, ready to map: its function, items, the loop's results and its line-up."""

    name: str
    func: Callable[[Any], Any]
    items: list[Any]
    expected: list[Any]
    specs: Mapping[str, executors.Executor]


def _jobs(shapes: Sequence[Mapping[str, Any]], workers: int) -> list[_Job]:
    """Each declared shape's items built here, the loop's results, and its line-up."""
    jobs = []
    for shape in shapes:
        func = executors.resolve_target(shape["func"])
        items = list(executors.resolve_target(shape["items"])(**shape["params"]))
        specs = {"loop": executors.Loop(), **side_by_side.lineup(len(items), workers,
                                                                  threads=shape["threads"])}
        jobs.append(_Job(shape["name"], func, items, [func(item) for item in items], specs))
    return jobs


def measure_side_by_side(*, shapes: list[dict[str, Any]], workers: int, repeats: int,
                         timeout: float) -> dict[str, Any]:
    """Each shape (a :meth:`~mpguide.chapters.side_by_side.Shape.declaration`) through the loop
    and its :func:`~mpguide.chapters.side_by_side.lineup`.

    Each executor is started once for every shape it serves (the defaults serve them all;
    "Pool's chunks" depends on the number of items), as a script keeps one pool for several
    maps, then stopped before the next one starts. For each of its shapes: every worker gets
    one item, then one checked run (its result must equal the loop's) while a
    :class:`~mpguide.memory.MemorySampler` watches, then ``repeats`` timed runs. The loop runs
    first and again last (both halves pooled), so that drift on a shared machine moves the
    reference too. The Dask rows share one cluster (:func:`shared_cluster`), or use the scheduler of
    ``MPGUIDE_DASK_ADDRESS`` where it is set.

    The memory of a row is that of the tool's processes: those that started with the
    executor and stopped with it (its workers, not the resource tracker or fork server that
    outlive it), and for Dask the workers of the cluster; the peak sum of their USS over the
    samples of the checked run, and the sum of their ``VmHWM`` (reset before that run where
    the kernel allows it).

    Returns ``{"shapes": [{"name", "result" (a Result's dict), "memory": [rows]}],
    "executors": [{"label", "shapes", "seconds"}], "dask_start_s"}``.
    """
    meta = {**machine.collect_metadata(), "measured_in": "fresh interpreter"}
    jobs = _jobs(shapes, workers)
    plan: dict[str, tuple[executors.Executor, list[tuple[_Job, str]]]] = {}
    for job in jobs:
        for way, spec in job.specs.items():
            plan.setdefault(spec.label, (spec, []))[1].append((job, way))
    samples: dict[tuple[str, str], list[float]] = {}
    memory_rows: dict[tuple[str, str], dict[str, Any]] = {}
    spent = []
    with contextlib.ExitStack() as stack:
        cluster = None
        if any(isinstance(s, peers.Dask) and s.address is None for s, _ in plan.values()):
            cluster = stack.enter_context(shared_cluster(workers, timeout))
        loop = plan["loop"]
        for spec, uses in [*plan.values(), loop]:
            began = time.perf_counter()
            rows = _measure_executor(spec, [job for job, _ in uses], cluster, repeats, timeout)
            spent.append({"label": spec.label, "shapes": len(uses),
                          "seconds": time.perf_counter() - began})
            for (job, way), (times, row) in zip(uses, rows, strict=True):
                samples.setdefault((job.name, way), []).extend(times)
                memory_rows.setdefault((job.name, way), {"shape": job.name, "way": way,
                                                         "label": spec.label, **row})
    out = []
    for job in jobs:
        measurements = [timing.Measurement(
            spec.label, tuple(samples[job.name, way]),
            params={**spec.record(), "items": len(job.items), "startup": False,
                    "experiment": side_by_side.SIDE_BY_SIDE, "shape": job.name, "way": way},
            metadata={**meta, "start_method": spec.record()["start_method"]
                      or config.start_method()}).to_dict() for way, spec in job.specs.items()]
        out.append({"name": job.name, "memory": [memory_rows[job.name, w] for w in job.specs],
                    "result": {"name": f"{side_by_side.SIDE_BY_SIDE}-{job.name}",
                               "measurements": measurements}})
    return {"shapes": out, "executors": spent,
            "dask_start_s": cluster.start_s if cluster else None}


def _measure_executor(spec: executors.Executor, jobs: Sequence[_Job],
                      cluster: SharedCluster | None, repeats: int,
                      timeout: float) -> list[tuple[list[float], dict[str, Any]]]:
    """Start ``spec`` once and measure each job on it: (seconds per timed map, memory row)."""
    run_spec, shared = spec, False
    if isinstance(spec, peers.Dask) and spec.address is None and cluster is not None:
        run_spec, shared = dataclasses.replace(spec, address=cluster.address), True
    for job in jobs:
        spec.check(job.func, job.items)
    before = set(memory.descendants())
    measured = []
    with run_spec.started(timeout) as run:
        for job in jobs:
            began, shm_before = time.perf_counter(), memory.shm_usage()
            run(job.func, job.items[: max(1, spec.parallelism)])  # every worker busy once
            reset = all(memory.reset_high_water(pid)
                        for pid in set(memory.descendants()) - before)
            with memory.MemorySampler(shm_before=shm_before) as sampler:
                results = run(job.func, job.items)
            high_water = {pid: memory.high_water_bytes(pid) if reset else None
                          for pid in sampler.seen()}
            timing.check_same(job.expected, results, what=f"the result of {spec.label}")
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run(job.func, job.items)
                times.append(time.perf_counter() - start)
            measured.append((times, sampler, high_water, time.perf_counter() - began))
    if shared and cluster is not None:
        pids = set(cluster.worker_pids)
    else:
        seen = set().union(*(sampler.seen() for _, sampler, _, _ in measured))
        pids = seen - before - set(memory.descendants())
    return [(times, _memory_row(spec, pids, sampler, high_water, seconds))
            for times, sampler, high_water, seconds in measured]


def _memory_row(spec: executors.Executor, pids: set[int], sampler: memory.MemorySampler,
                high_water: Mapping[int, int | None], seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = {"processes": len(pids), "measure_s": seconds,
                           "shm_mib": sampler.shm_peak / side_by_side.MIB}
    if spec.processes and pids:
        marks = [high_water.get(pid) for pid in pids]
        row["peak_uss_mib"] = sampler.peak_uss(pids) / side_by_side.MIB
        row["peak_rss_mib"] = (sum(m for m in marks if m is not None) / side_by_side.MIB
                               if all(m is not None for m in marks) else math.nan)
    else:  # the loop and threads run in the script's own process
        row["peak_uss_mib"] = row["peak_rss_mib"] = math.nan
    return row
