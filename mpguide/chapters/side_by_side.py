"""Chapter 7, "Other tools side by side": Pool, ProcessPoolExecutor, joblib, mpire and Dask on
the same workload shapes, on this machine.

A *shape* (:class:`Shape`, :func:`shapes`) is an importable function and an items factory
reused from the other chapters (tiny and 1 ms pure-Python tasks, fat arguments, fat results,
uneven tasks with the heavy ones last, numpy matmul, a task that waits), sized from the
machine: as many items as the plain loop runs in :func:`loop_seconds`. Every shape goes
through the same line-up (:func:`lineup`): each tool at its default and at ``Pool.map``'s own
chunksize, as many workers as usable cores, the default start method.

Two measurements, both cached and run in a fresh interpreter:

* :func:`load_side_by_side` (:func:`measure_side_by_side`): every shape through every
  executor of the line-up on a started executor (the map alone, as
  ``Experiment(startup=False)`` times it), the result checked against the loop's, and the
  memory of the tool's processes sampled during the checked run. Both Dask rows of all
  shapes run on one local cluster, started once: a cluster takes seconds to start, and is
  meant to be started once and used for long.
* :func:`load_startup` (:func:`startup_experiment`): what a script pays, start and stop
  included (``Experiment(startup=True)``), on the 1 ms shape, for the tools that take a start
  method under each one, joblib and Dask.

What a user writes for each row is :data:`SNIPPETS`; the page shows those strings and the
tables count their lines (:func:`snippet_lines`).

Examples
--------
>>> from mpguide.chapters import side_by_side
>>> sorted(side_by_side.lineup(100, 2)) == sorted(side_by_side.WAYS[:-1])
True
>>> side_by_side.snippet_lines("loop")
1
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, peers, timing, workloads
from mpguide.chapters import choosing, task_duration, transfer
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from typing_extensions import Self

CHAPTER = claims.Chapter(
    name="peers", page="guide/07-other-tools", title="Other tools side by side",
    summary="Pool, ProcessPoolExecutor, joblib, mpire and Dask on the same workload shapes: "
            "time, speedup, per-task overhead, worker memory and the code each needs.")

MIB = transfer.MIB
#: Cache names of the two measurements.
SIDE_BY_SIDE, STARTUP = "peers-side-by-side", "peers-startup"
#: Bound of the fresh interpreter that measures every shape (each map has its own bound).
FRESH_TIMEOUT = 900.0
#: Seconds between two samples of the memory of a tool's processes (:class:`MemorySampler`).
MEMORY_INTERVAL_S = 0.01

# Task durations of the shapes (seconds). The tiny tasks last as long as those of Ray's
# anti-pattern example (about 10 µs, docs.ray.io); the uneven ones are chapter 1's heavy-last
# tasks (task_duration.heavy_last_items).
TINY_TASK_S, MS_TASK_S, UNEVEN_TASK_S, WAIT_TASK_S = 1e-5, 1e-3, 2e-4, 2e-3
#: Dask's documented per-task overhead, "somewhere between 200us and 1ms" (docs.dask.org,
#: best practices, "Avoid very large graphs").
DASK_TASK_OVERHEAD_S = (200e-6, 1e-3)
#: Matrix size of the BLAS-heavy tasks: chapter 3's BLAS experiment (choosing.blas_experiment).
MATMUL_N = 256
#: Tasks per worker of the fat shapes' maps, and the fewest of any shape's.
TASKS_PER_WORKER = 4
#: The uneven tasks: this share of them, the last, lasts this many times longer.
UNEVEN_HEAVY, UNEVEN_FACTOR = 0.05, 40


def loop_seconds() -> float:
    """Seconds the plain loop of a compute shape lasts (its items are counted to fit): 0.1 s
    (40 ms in quick mode), long enough to time, short enough for ten executors per shape."""
    return float(config.scaled(0.1, 0.04))


def _count(task_s: float) -> int:
    """Items of ``task_s`` seconds each for :func:`loop_seconds` of loop, at least
    :data:`TASKS_PER_WORKER` per usable core."""
    return max(TASKS_PER_WORKER * machine.usable_cpus(), round(loop_seconds() / task_s))


def tiny_count() -> int:
    """Items of the tiny and no-op shapes: as many tasks as Dask, sent one per item, runs in
    0.3 s (0.1 s in quick mode) at the top of its documented per-task overhead
    (:data:`DASK_TASK_OVERHEAD_S`): enough to show each tool's cost per item, few enough
    that the slowest row stays affordable."""
    budget = config.scaled(0.3, 0.1)
    return max(TASKS_PER_WORKER * machine.usable_cpus(),
               round(budget / DASK_TASK_OVERHEAD_S[1]))


def noop_items(count: int) -> list[int]:
    """``list(range(count))``: the items of the no-op shape.

    >>> noop_items(3)
    [0, 1, 2]
    """
    return list(range(count))


def matmul_items(n: int, seconds: float) -> list[int]:
    """Items of :func:`~mpguide.chapters.choosing.matmul_trace` (the matrix size ``n``), as
    many as this interpreter multiplies in about ``seconds`` (best of three timings), at
    least :data:`TASKS_PER_WORKER` per usable core."""
    best = min(timing.measure_once(choosing.matmul_trace, n, name="matmul", repeats=3).samples)
    return [n] * max(TASKS_PER_WORKER * machine.usable_cpus(), round(seconds / best))


def wait_items(seconds: float, count: int) -> list[float]:
    """``count`` times ``seconds``: :func:`mpguide.workloads.sleep_task` waits that long.

    >>> wait_items(0.5, 2)
    [0.5, 0.5]
    """
    return [seconds] * count


@dataclasses.dataclass(frozen=True)
class Shape:
    """A workload shape: ``func`` mapped over ``items(**params)``.

    ``threads`` adds a thread pool to the line-up (threads can only win when the function
    lets go of the GIL, or does nothing).
    """

    name: str
    title: str
    func: Callable[[Any], Any]
    items: Callable[..., list[Any]]
    params: Mapping[str, Any]
    threads: bool = False

    def declaration(self) -> dict[str, Any]:
        """JSON-ready form, for the cache key and the fresh interpreter."""
        return {"name": self.name, "func": executors.target_of(self.func),
                "items": executors.target_of(self.items), "params": dict(self.params),
                "threads": self.threads}


def shapes() -> dict[str, Shape]:
    """The workload shapes, by name, in the page's order (the no-op shape first: it gives
    each executor's per-task overhead)."""
    nbytes = config.scaled(8, 2) * MIB
    fat = {"kind": "ndarray", "nbytes": nbytes,
           "count": TASKS_PER_WORKER * machine.usable_cpus()}
    uneven_mean = UNEVEN_TASK_S * (1 - UNEVEN_HEAVY + UNEVEN_HEAVY * UNEVEN_FACTOR)
    tiny = tiny_count()
    return {shape.name: shape for shape in [
        Shape("no-op", "no work (returns its argument)", workloads.noop, noop_items,
              {"count": tiny}, threads=True),
        Shape("tiny", "tiny tasks (10 µs of pure Python)", workloads.spin,
              task_duration.spin_items, {"seconds": TINY_TASK_S, "count": tiny}),
        Shape("1 ms", "1 ms tasks of pure Python", workloads.spin, task_duration.spin_items,
              {"seconds": MS_TASK_S, "count": _count(MS_TASK_S)}),
        Shape("uneven", "uneven tasks, the heavy ones last", workloads.spin,
              task_duration.heavy_last_items,
              {"seconds": UNEVEN_TASK_S, "count": _count(uneven_mean), "heavy": UNEVEN_HEAVY,
               "factor": UNEVEN_FACTOR}),
        Shape("BLAS", f"numpy matmul ({MATMUL_N} x {MATMUL_N})", choosing.matmul_trace,
              matmul_items, {"n": MATMUL_N, "seconds": loop_seconds()}),
        Shape("waiting", f"tasks that wait {WAIT_TASK_S * 1e3:g} ms (release the GIL)",
              workloads.sleep_task, wait_items,
              {"seconds": WAIT_TASK_S, "count": _count(WAIT_TASK_S)}, threads=True),
        Shape("fat arguments", f"a {sizes(nbytes)} array sent with each task (summed)",
              transfer.array_sum, transfer.fat_items, fat),
        Shape("fat results", f"a {sizes(nbytes)} array returned by each task",
              workloads.payload_task, transfer.fat_result_items, fat),
    ]}


def sizes(nbytes: int) -> str:
    """``"8 MiB"``: :func:`mpguide.chapters.transfer.sizes_label`."""
    return transfer.sizes_label(nbytes)


# ---------------------------------------------------------------------------------------------
# The line-up and what a user writes for each row
# ---------------------------------------------------------------------------------------------

#: The rows of every shape: a tool at its default batching, and at Pool.map's chunksize.
WAYS = ("Pool", "ProcessPoolExecutor", "ProcessPoolExecutor, Pool's chunks", "joblib",
        "joblib, Pool's chunks", "mpire", "mpire, Pool's chunks", "Dask",
        "Dask, Pool's chunks", "threads")
#: Tools of the comparison and their names in tables.
TOOLS = {"loop": "loop", "pool": "Pool", "processpool": "ProcessPoolExecutor",
         "joblib": "joblib", "mpire": "mpire", "dask": "Dask", "threads": "threads"}


def lineup(n_items: int, workers: int | None = None,
           threads: bool = False) -> dict[str, executors.Executor]:
    """The executor of each row of :data:`WAYS` for ``n_items`` items, ``workers`` workers
    (default: usable cores), the default start method. "Pool's chunks" is
    ``Pool.map``'s default chunksize for these items (:func:`mpguide.executors.default_chunksize`);
    where that is 1, ProcessPoolExecutor's default already is it and has one row.
    ``threads`` adds a thread pool.

    Examples
    --------
    >>> specs = lineup(100, 2)
    >>> specs["mpire, Pool's chunks"].label
    'mpire(2, chunk_size=13, fork)'
    >>> "ProcessPoolExecutor, Pool's chunks" in lineup(8, 2)
    False
    """
    w = machine.usable_cpus() if workers is None else workers
    chunk = executors.default_chunksize(n_items, w)
    specs: dict[str, executors.Executor] = {
        "Pool": executors.Pool(w),
        "ProcessPoolExecutor": executors.ProcessPool(w),
        "ProcessPoolExecutor, Pool's chunks": executors.ProcessPool(w, chunksize=chunk),
        "joblib": peers.Joblib(w),
        "joblib, Pool's chunks": peers.Joblib(w, chunksize=chunk),
        "mpire": peers.Mpire(w),
        "mpire, Pool's chunks": peers.Mpire(w, chunksize=chunk),
        "Dask": peers.Dask(w),
        "Dask, Pool's chunks": peers.Dask(w, chunksize=chunk),
    }
    if chunk == 1:
        del specs["ProcessPoolExecutor, Pool's chunks"]
    if threads:
        specs["threads"] = executors.Threads(w)
    return specs


#: What a user writes for each row (and the loop), given ``func``, ``items`` and ``workers``;
#: ``{method}`` is the start method. Every wait is bounded (600 s).
SNIPPETS = {
    "loop": "results = [func(x) for x in items]\n",
    "Pool": '''\
import multiprocessing

with multiprocessing.get_context("{method}").Pool(workers) as pool:
    results = pool.map_async(func, items).get(timeout=600)
''',
    "ProcessPoolExecutor": '''\
import concurrent.futures
import multiprocessing

context = multiprocessing.get_context("{method}")
with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as executor:
    results = list(executor.map(func, items, timeout=600))
''',
    "ProcessPoolExecutor, Pool's chunks": '''\
import concurrent.futures
import multiprocessing

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
context = multiprocessing.get_context("{method}")
with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as executor:
    results = list(executor.map(func, items, chunksize=chunk, timeout=600))
''',
    "joblib": '''\
from joblib import Parallel, delayed

results = Parallel(n_jobs=workers, timeout=600)(delayed(func)(x) for x in items)
''',
    "joblib, Pool's chunks": '''\
from joblib import Parallel, delayed

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
parallel = Parallel(n_jobs=workers, batch_size=chunk, timeout=600)
results = parallel(delayed(func)(x) for x in items)
''',
    "mpire": '''\
from mpire import WorkerPool
from mpire.utils import make_single_arguments

with WorkerPool(n_jobs=workers, start_method="{method}") as pool:
    results = pool.map(func, make_single_arguments(items, generator=False),
                       concatenate_numpy_output=False, task_timeout=600)
''',
    "mpire, Pool's chunks": '''\
from mpire import WorkerPool
from mpire.utils import make_single_arguments

chunk = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
with WorkerPool(n_jobs=workers, start_method="{method}") as pool:
    results = pool.map(func, make_single_arguments(items, generator=False), chunk_size=chunk,
                       concatenate_numpy_output=False, task_timeout=600)
''',
    "Dask": '''\
from distributed import Client, LocalCluster, wait

with LocalCluster(n_workers=workers, threads_per_worker=1) as cluster:
    with Client(cluster) as client:
        futures = client.map(func, items, pure=False)
        wait(futures, timeout=600)
        results = client.gather(futures)
''',
    "Dask, Pool's chunks": '''\
from distributed import Client, LocalCluster, wait


def run_chunk(chunk):
    return [func(x) for x in chunk]


size = -(-len(items) // (4 * workers))  # what Pool.map picks by itself
chunks = [items[i:i + size] for i in range(0, len(items), size)]
with LocalCluster(n_workers=workers, threads_per_worker=1) as cluster:
    with Client(cluster) as client:
        futures = client.map(run_chunk, chunks, pure=False)
        wait(futures, timeout=600)
        results = [result for chunk in client.gather(futures) for result in chunk]
''',
    "threads": '''\
import concurrent.futures

with concurrent.futures.ThreadPoolExecutor(workers) as executor:
    results = list(executor.map(func, items, timeout=600))
''',
}


def snippet(way: str, method: str | None = None) -> str:
    """The code of :data:`SNIPPETS` for ``way``, for start method ``method`` (default: the
    one experiments use).

    >>> print(snippet("Pool", "spawn"))
    import multiprocessing
    <BLANKLINE>
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map_async(func, items).get(timeout=600)
    <BLANKLINE>
    """
    return SNIPPETS[way].replace("{method}", config.resolve_start_method(method))


def snippet_lines(way: str) -> int:
    """Lines of code of the snippet of ``way``: its non-blank lines that are not comments.

    >>> snippet_lines("Pool"), snippet_lines("Dask, Pool's chunks")
    (3, 10)
    """
    return sum(1 for line in SNIPPETS[way].splitlines()
               if line.strip() and not line.lstrip().startswith("#"))


# ---------------------------------------------------------------------------------------------
# Memory of a tool's processes
# ---------------------------------------------------------------------------------------------

def descendants() -> dict[int, Any]:
    """The live (not zombie) descendant processes of this one, by pid (psutil)."""
    import psutil

    alive = {}
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive[process.pid] = process
    return alive


def high_water_bytes(pid: int) -> int | None:
    """Peak resident memory of process ``pid`` so far (``VmHWM`` of ``/proc/<pid>/status``,
    kept by the kernel: no sample can miss it), ``None`` where there is no such file."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def reset_high_water(pid: int) -> bool:
    """Reset the ``VmHWM`` of process ``pid`` to its current resident size (``5`` written to
    ``/proc/<pid>/clear_refs``, Linux 4.0+, a process of the same user); whether it worked."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _tree_bytes(path: str) -> int:
    """Bytes of the files at ``path`` (a file, or a folder walked), 0 for what vanished."""
    with contextlib.suppress(OSError):
        if not os.path.isdir(path):
            return os.stat(path).st_size
        total = 0
        for folder, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total
    return 0


SHM = "/dev/shm"


def shm_usage() -> dict[str, int]:
    """Bytes of each entry of ``/dev/shm`` (a folder: the files in it), by name."""
    if not os.path.isdir(SHM):
        return {}
    with contextlib.suppress(OSError):
        return {name: _tree_bytes(os.path.join(SHM, name)) for name in os.listdir(SHM)}
    return {}


class MemorySampler:
    """Sample, every :data:`MEMORY_INTERVAL_S` until stopped, the USS and RSS of every
    descendant process and how much ``/dev/shm`` grew (joblib memory-maps big arrays there,
    into files that no process's private memory shows).

    Use as a context manager around one map; :meth:`peak_uss` then sums the samples over the
    processes that count. ``shm_before`` (:func:`shm_usage`) is where ``/dev/shm`` growth
    counts from (default: when the sampler starts). A spike shorter than the interval can be
    missed; ``VmHWM`` (:func:`high_water_bytes`) cannot.
    """

    def __init__(self, interval: float = MEMORY_INTERVAL_S,
                 shm_before: Mapping[str, int] | None = None) -> None:
        self.interval = interval
        self.samples: list[dict[int, tuple[int, int]]] = []
        self.shm_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mpguide-memory", daemon=True)
        self._shm_before = dict(shm_before) if shm_before is not None else None
        self._processes: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if self._shm_before is None:
            self._shm_before = shm_usage()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._processes = descendants()
        self._sample()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval):
                return

    def _sample(self) -> None:
        import psutil

        if len(self.samples) % 5 == 0:  # finding the processes costs more than reading them
            self._processes = descendants()
        sample = {}
        for pid, process in self._processes.items():
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                sample[pid] = (int(info.uss), int(info.rss))
        self.samples.append(sample)
        before = self._shm_before or {}
        grown = sum(max(0, size - before.get(name, 0)) for name, size in shm_usage().items())
        self.shm_peak = max(self.shm_peak, grown)

    def seen(self) -> set[int]:
        """Every pid some sample saw."""
        return {pid for sample in self.samples for pid in sample}

    def peak_uss(self, pids: set[int]) -> int:
        """The largest sum, over one sample, of the USS of ``pids``."""
        return max((sum(s[p][0] for p in pids if p in s) for s in self.samples), default=0)


# ---------------------------------------------------------------------------------------------
# The side-by-side measurement
# ---------------------------------------------------------------------------------------------

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
        specs = {"loop": executors.Loop(), **lineup(len(items), workers,
                                                     threads=shape["threads"])}
        jobs.append(_Job(shape["name"], func, items, [func(item) for item in items], specs))
    return jobs


def measure_side_by_side(*, shapes: list[dict[str, Any]], workers: int, repeats: int,
                         timeout: float) -> dict[str, Any]:
    """Each shape (a :meth:`Shape.declaration`) through the loop and its :func:`lineup`.

    Each executor is started once for every shape it serves (the defaults serve them all;
    "Pool's chunks" depends on the number of items), as a script keeps one pool for several
    maps, then stopped before the next one starts. For each of its shapes: every worker gets
    one item, then one checked run (its result must equal the loop's) while a
    :class:`MemorySampler` watches, then ``repeats`` timed runs. The loop runs first and
    again last (both halves pooled), so that drift on a shared machine moves the reference
    too. The Dask rows share one cluster (:func:`shared_cluster`), or use the scheduler of
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
    memory: dict[tuple[str, str], dict[str, Any]] = {}
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
                memory.setdefault((job.name, way), {"shape": job.name, "way": way,
                                                    "label": spec.label, **row})
    out = []
    for job in jobs:
        measurements = [timing.Measurement(
            spec.label, tuple(samples[job.name, way]),
            params={**spec.record(), "items": len(job.items), "startup": False,
                    "experiment": SIDE_BY_SIDE, "shape": job.name, "way": way},
            metadata={**meta, "start_method": spec.record()["start_method"]
                      or config.start_method()}).to_dict() for way, spec in job.specs.items()]
        out.append({"name": job.name, "memory": [memory[job.name, w] for w in job.specs],
                    "result": {"name": f"{SIDE_BY_SIDE}-{job.name}",
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
    before = set(descendants())
    measured = []
    with run_spec.started(timeout) as run:
        for job in jobs:
            began, shm_before = time.perf_counter(), shm_usage()
            run(job.func, job.items[: max(1, spec.parallelism)])  # every worker busy once
            reset = all(reset_high_water(pid) for pid in set(descendants()) - before)
            with MemorySampler(shm_before=shm_before) as sampler:
                results = run(job.func, job.items)
            high_water = {pid: high_water_bytes(pid) if reset else None
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
        pids = seen - before - set(descendants())
    return [(times, _memory_row(spec, pids, sampler, high_water, seconds))
            for times, sampler, high_water, seconds in measured]


def _memory_row(spec: executors.Executor, pids: set[int], sampler: MemorySampler,
                high_water: Mapping[int, int | None], seconds: float) -> dict[str, Any]:
    row: dict[str, Any] = {"processes": len(pids), "shm_mib": sampler.shm_peak / MIB,
                           "measure_s": seconds}
    if spec.processes and pids:
        marks = [high_water.get(pid) for pid in pids]
        row["peak_uss_mib"] = sampler.peak_uss(pids) / MIB
        row["peak_rss_mib"] = (sum(m for m in marks if m is not None) / MIB
                               if all(m is not None for m in marks) else math.nan)
    else:  # the loop and threads run in the script's own process
        row["peak_uss_mib"] = row["peak_rss_mib"] = math.nan
    return row


def side_by_side_params() -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_side_by_side`, not run: every shape, the
    usable cores, 3 timed runs per executor (2 in quick mode)."""
    return {"shapes": [s.declaration() for s in shapes().values()],
            "workers": machine.usable_cpus(), "repeats": config.scaled(3, 2),
            "timeout": config.DEFAULT_TIMEOUT}


#: Columns of :meth:`SideBySide.table`.
TABLE_COLUMNS = ("shape", "way", "tool", "label", "workers", "chunksize", "start_method",
                 "items", "median_s", "iqr_s", "speedup", "per_task_us", "peak_uss_mib",
                 "peak_rss_mib", "processes", "shm_mib", "snippet_lines")


@dataclasses.dataclass(frozen=True)
class SideBySide:
    """The records of :func:`measure_side_by_side`: one :class:`~mpguide.experiment.Result`
    per shape, the memory rows, the seconds each executor cost the measurement (``costs``:
    start, every shape, stop) and how long the shared Dask cluster took to start."""

    results: Mapping[str, Result]
    memory: pd.DataFrame
    costs: pd.DataFrame
    dask_start_s: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SideBySide:
        """From the JSON of :func:`measure_side_by_side` (``None``: nothing measured)."""
        import pandas as pd

        data = data or {"shapes": []}
        results = {s["name"]: Result.from_dict(s["result"]) for s in data["shapes"]}
        memory = pd.DataFrame([row for s in data["shapes"] for row in s["memory"]],
                              columns=["shape", "way", "label", "processes", "shm_mib",
                                       "peak_uss_mib", "peak_rss_mib", "measure_s"])
        costs = pd.DataFrame(data.get("executors") or [], columns=["label", "shapes", "seconds"])
        return cls(results, memory, costs, data.get("dask_start_s"))

    def table(self) -> pd.DataFrame:
        """One row per shape and executor: ``shape``, ``way``, ``tool``, ``label``,
        ``chunksize``, ``median_s``, ``iqr_s``, ``speedup`` over the loop, ``per_task_us``
        (the same row's time per item on the no-op shape), the memory columns and
        ``snippet_lines``."""
        import pandas as pd

        frames = []
        for name, result in self.results.items():
            table = result.table()
            if table.empty:
                continue
            ways = result.frame().drop_duplicates("label").set_index("label")["way"]
            frames.append(table.assign(shape=name, way=table["label"].map(ways)))
        if not frames:
            return pd.DataFrame(columns=TABLE_COLUMNS)
        out = pd.concat(frames, ignore_index=True)
        noop = out[out["shape"] == "no-op"]
        n_noop = self._items("no-op")
        per_task = (noop.set_index("way")["median_s"] / n_noop * 1e6) if n_noop else {}
        out["per_task_us"] = out["way"].map(per_task)
        out = out.merge(self.memory.drop(columns=["label"]), on=["shape", "way"], how="left")
        out["snippet_lines"] = out["way"].map(snippet_lines)
        out["items"] = out["shape"].map(self.items())
        return out[list(TABLE_COLUMNS)]

    def _items(self, shape: str) -> int:
        result = self.results.get(shape)
        frame = result.frame() if result is not None else None
        return int(frame["items"].iloc[0]) if frame is not None and len(frame) else 0

    def items(self) -> dict[str, int]:
        """Items of each shape's map."""
        return {name: self._items(name) for name in self.results}

    def metadata(self) -> dict[str, Any]:
        """The machine metadata of the records (for captions)."""
        for result in self.results.values():
            frame = result.frame()
            if len(frame):
                return {str(k): v for k, v in frame.iloc[0].to_dict().items()}
        return machine.collect_metadata()


def load_side_by_side() -> SideBySide:
    """:func:`measure_side_by_side` of :func:`side_by_side_params` (fresh interpreter,
    cached)."""
    data = run_cached(SIDE_BY_SIDE, f"{__name__}:measure_side_by_side", side_by_side_params(),
                      timeout=FRESH_TIMEOUT)
    return SideBySide.from_dict(data)


def load_table() -> pd.DataFrame:
    """:meth:`SideBySide.table` of :func:`load_side_by_side`: what the claims read."""
    return load_side_by_side().table()


# ---------------------------------------------------------------------------------------------
# What a script pays: start and stop included, per start method
# ---------------------------------------------------------------------------------------------

#: Timed runs per executor of :func:`startup_experiment`, after the checked one: each Dask run
#: starts a cluster, each mpire run under spawn imports mpire in every worker (seconds).
STARTUP_REPEATS = 2


def startup_methods() -> list[str]:
    """Start methods of :func:`startup_experiment`: every one this platform offers, the
    default first (in quick mode only the default: spawn workers of mpire take seconds)."""
    default = config.start_method()
    others = [m for m in config.available_start_methods() if m != default]
    return [default, *config.scaled(others, [])]


def startup_experiment() -> Experiment:
    """The 1 ms shape through each tool at its default, each run timed whole (start, map,
    stop: ``startup=True``), not run: ``Pool``, ``ProcessPoolExecutor`` and mpire under each
    of :func:`startup_methods`, joblib (loky) and Dask (a new local cluster each run)."""
    shape = shapes()["1 ms"]
    w = machine.usable_cpus()
    specs: list[executors.Executor] = []
    for method in startup_methods():
        specs += [executors.Pool(w, start_method=method),
                  executors.ProcessPool(w, start_method=method),
                  peers.Mpire(w, start_method=method)]
    specs += [peers.Joblib(w), peers.Dask(w)]
    return Experiment(STARTUP, shape.func, shape.items, specs, params=shape.params,
                      startup=True, repeats=STARTUP_REPEATS)


def load_startup() -> Result:
    """:func:`startup_experiment`, run (fresh interpreter, cached)."""
    return startup_experiment().run()


#: How the tools that take no start method start their workers (their records say so; the
#: experiment's metadata names the script's start method instead).
OWN_START = {"joblib": "loky", "dask": "spawn"}
#: The rows of each tool at its own default (what :func:`startup_experiment` starts).
DEFAULT_WAYS = ("loop", "Pool", "ProcessPoolExecutor", "joblib", "mpire", "Dask")


def startup_table(startup: Result, steady: pd.DataFrame) -> pd.DataFrame:
    """One row per executor of :func:`load_startup`: ``tool``, ``start_method``, the whole
    run's ``median_s`` and ``speedup``, and, where ``steady`` (:meth:`SideBySide.table`) has
    the same tool at its default under the same start method, ``map_s`` (the 1 ms map on a
    started executor) and ``start_stop_s``, the difference: what starting and stopping cost.
    """
    table = startup.table()
    table["start_method"] = [OWN_START.get(tool, method) for tool, method
                             in zip(table["tool"], table["start_method"], strict=True)]
    rows = steady[(steady["shape"] == "1 ms") & steady["way"].isin(DEFAULT_WAYS)]
    maps = {(tool, str(method)): seconds for tool, method, seconds
            in zip(rows["tool"], rows["start_method"], rows["median_s"], strict=True)}
    table["map_s"] = [maps.get((tool, str(method)), math.nan) for tool, method
                      in zip(table["tool"], table["start_method"], strict=True)]
    table["start_stop_s"] = (table["median_s"] - table["map_s"]).clip(lower=0)
    table["tool"] = table["tool"].map(TOOLS)
    return table[["tool", "start_method", "label", "median_s", "iqr_s", "speedup", "map_s",
                  "start_stop_s"]]


def load_startup_table() -> pd.DataFrame:
    """:func:`startup_table` of this build's records."""
    return startup_table(load_startup(), load_table())


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

#: Columns of :func:`shape_table` and their headings on the page.
SHAPE_COLUMNS = {"median_s": "ms per map", "speedup": "speedup", "per_task_us": "µs per no-op item",
                 "peak_uss_mib": "workers' USS MiB", "peak_rss_mib": "workers' RSS MiB",
                 "processes": "processes", "shm_mib": "/dev/shm MiB",
                 "snippet_lines": "lines to write"}


def shape_table(table: pd.DataFrame, shape: str) -> pd.DataFrame:
    """The rows of one shape of :meth:`SideBySide.table`, for the page: indexed by ``way``,
    milliseconds per map, speedup over the loop, per-task overhead (µs per item on the no-op
    shape), the peak memory of the tool's processes (MiB), their number, the growth of
    ``/dev/shm`` and the lines of the snippet (:data:`SHAPE_COLUMNS`)."""
    rows = table[table["shape"] == shape].set_index("way")
    out = rows[list(SHAPE_COLUMNS)].rename(columns=SHAPE_COLUMNS)
    out["ms per map"] = out["ms per map"] * 1e3
    return out.rename_axis(f"{shape} ({int(rows['items'].iloc[0]):,} items)" if len(rows)
                           else shape)


def shape_summary(table: pd.DataFrame, shape: str) -> str:
    """One sentence, from the records, on the fastest row of ``shape`` and Pool's default.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"shape": "s", "way": ["loop", "Pool", "joblib"],
    ...                      "median_s": [1.0, 0.6, 0.4], "speedup": [1.0, 1.67, 2.5]})
    >>> print(shape_summary(rows, "s"))
    Fastest: **joblib**, 2.50x the loop's speed (Pool.map at its default: 1.67x).
    """
    rows = table[(table["shape"] == shape) & (table["way"] != "loop")].set_index("way")
    best = str(rows["median_s"].idxmin())
    line = f"Fastest: **{best}**, {rows.loc[best, 'speedup']:.2f}x the loop's speed"
    if best != "Pool" and "Pool" in rows.index:
        line += f" (Pool.map at its default: {rows.loc['Pool', 'speedup']:.2f}x)"
    return line + "."


def best_ways(table: pd.DataFrame) -> pd.DataFrame:
    """One row per shape: the fastest row (``way``), its ``speedup``, and the speedups of
    Pool's default and of the fastest other tool, for the summary table."""
    import pandas as pd

    rows = []
    for shape, group in table.groupby("shape", sort=False):
        runs = group[group["way"] != "loop"].set_index("way")
        best = runs["median_s"].idxmin()
        rows.append({"shape": shape, "fastest": best, "speedup": runs.loc[best, "speedup"],
                     "Pool speedup": runs.loc["Pool", "speedup"],
                     "loop ms": float(group.loc[group["way"] == "loop", "median_s"].iloc[0])
                     * 1e3})
    return pd.DataFrame(rows).set_index("shape")


def _grid(table: pd.DataFrame, value: str,
          shapes_shown: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``value`` with one row per way (in :data:`WAYS` order) and one column per shape, and
    which cells have a row at all (a value may be missing from a row that exists)."""
    runs = table[table["way"] != "loop"].assign(_present=True)
    grid = runs.pivot_table(index="way", columns="shape", values=value, aggfunc="first",
                            dropna=False)
    present = runs.pivot_table(index="way", columns="shape", values="_present",
                               aggfunc="any", fill_value=False)
    ways = [w for w in WAYS if w in present.index]
    columns = [s for s in shapes_shown if s in present.columns]
    return (grid.reindex(index=ways, columns=columns),
            present.reindex(index=ways, columns=columns, fill_value=False))


def _heatmap(ax: Any, grid: pd.DataFrame, present: pd.DataFrame, *, colours: Any, norm: Any,
             fmt: Callable[[float], str], missing: str) -> Any:
    """Coloured cells with their values written in; a row without a value says ``missing``,
    a cell without a row stays blank."""
    import numpy as np

    values = grid.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, norm=norm, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    for (i, j), value in np.ndenumerate(values):
        if not math.isfinite(value):
            text, colour = (missing if present.iloc[i, j] else ""), "0.3"
        else:
            shade = colours(norm(value))
            text = fmt(value)
            colour = "white" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5 \
                else "black"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    return image


def plot_speedups(side: SideBySide, title: str | None = None) -> Figure:
    """Heatmap of the speedup over the loop of every row (y) on every shape (x, the no-op
    shape left out: it has no work to speed up); blue is faster than the loop, red slower,
    on a log scale. A blank cell is a row that coincides with another (Pool's chunksize of
    1 is ProcessPoolExecutor's default)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from mpguide import plotting

    table = side.table()
    grid, present = _grid(table, "speedup", [s for s in side.results if s != "no-op"])
    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    image = _heatmap(ax, grid, present, colours=plt.get_cmap("RdBu"), norm=LogNorm(1 / 16, 16),
                     fmt=lambda v: f"{v:.2f}" if v < 10 else f"{v:.0f}", missing="")
    fig.colorbar(image, ax=ax, label="speedup over the loop (log scale)")
    ax.set_title(title or "Speedup over the plain loop, map on a started executor")
    return plotting.add_caption(fig, side.metadata())


def plot_memory(side: SideBySide, title: str | None = None) -> Figure:
    """Heatmap of the peak memory of each row's worker processes (MiB, sum of their USS)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from mpguide import plotting

    table = side.table()
    grid, present = _grid(table, "peak_uss_mib", list(side.results))
    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    top = max([2.0, *(v for v in grid.to_numpy(dtype=float).ravel() if math.isfinite(v))])
    image = _heatmap(ax, grid, present, colours=plt.get_cmap("Purples"), norm=LogNorm(1, top * 2),
                     fmt=lambda v: f"{v:.0f}", missing="in the script")
    fig.colorbar(image, ax=ax, label="MiB (USS summed over the tool's processes)")
    ax.set_title(title or "Peak private memory of the workers")
    return plotting.add_caption(fig, side.metadata())


def plot_overhead(side: SideBySide, title: str | None = None) -> Figure:
    """Wall time per item of the no-op shape for each row (µs, log scale), with Dask's
    documented per-task overhead (:data:`DASK_TASK_OVERHEAD_S`) shaded."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    table = side.table()
    rows = table[(table["shape"] == "no-op") & (table["way"] != "loop")].set_index("way")
    rows = rows.reindex([w for w in WAYS if w in rows.index])
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.8), layout="constrained")
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, rows["per_task_us"], color="tab:blue", alpha=0.8)
    ax.set_yticks(positions, rows.index, fontsize=8)
    ax.set_xscale("log")
    low, high = (s * 1e6 for s in DASK_TASK_OVERHEAD_S)
    ax.axvspan(low, high, color="tab:orange", alpha=0.2,
               label="Dask's documented per-task overhead (200 µs to 1 ms)")
    ax.set_xlabel(f"µs of wall time per item ({side.items().get('no-op', 0):,} no-op items)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Per-task overhead: a function that returns its argument")
    return plotting.add_caption(fig, side.metadata())


def plot_startup(table: pd.DataFrame, meta: Mapping[str, Any],
                 title: str | None = None) -> Figure:
    """Seconds of a whole run (start, map of the 1 ms shape, stop) per tool and start method
    (:func:`startup_table` rows), log scale."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    rows = table[table["tool"] != "loop"]
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.8), layout="constrained")
    methods = list(dict.fromkeys(str(m) for m in rows["start_method"]))
    palette = plt.get_cmap("tab10")
    colours = {method: palette(i) for i, method in enumerate(methods)}
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, rows["median_s"], xerr=rows["iqr_s"],
            color=[colours[str(m)] for m in rows["start_method"]], alpha=0.85)
    ax.set_yticks(positions, [f"{t} ({m})" for t, m in zip(rows["tool"], rows["start_method"],
                                                           strict=True)], fontsize=8)
    loop = table.loc[table["tool"] == "loop", "median_s"]
    if len(loop):
        ax.axvline(float(loop.iloc[0]), color="0.3", ls="--", lw=1, label="loop")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds: start, map, stop (median, IQR)")
    ax.set_title(title or "What a script pays: the 1 ms shape, start and stop included")
    return plotting.add_caption(fig, dict(meta), "each tool's own, as labelled")


def snippets_markdown(ways: Sequence[str] = ("loop", *WAYS), method: str | None = None) -> str:
    """The snippets of ``ways`` as Markdown: a heading line and a code block each, with the
    number of lines :func:`snippet_lines` counts."""
    blocks = []
    for way in ways:
        lines = snippet_lines(way)
        blocks.append(f"**{way}** ({lines} line{'s' * (lines != 1)}):\n\n```python\n"
                      f"{snippet(way, method).rstrip()}\n```\n")
    return "\n".join(blocks)


# ---------------------------------------------------------------------------------------------
# Claims: the peers' published figures, tested here
# ---------------------------------------------------------------------------------------------

def _cell(table: pd.DataFrame, shape: str, way: str, column: str) -> float:
    rows = table[(table["shape"] == shape) & (table["way"] == way)]
    if rows.empty:
        raise KeyError(f"no {way!r} row on the {shape!r} shape")
    return float(rows[column].iloc[0])


DASK_CHUNKS, JOBLIB_CHUNKS = "Dask, Pool's chunks", "joblib, Pool's chunks"
PPE_CHUNKS = "ProcessPoolExecutor, Pool's chunks"
#: A speedup below this is "no speedup" for the Ray rule claims (noise and a little gain).
RAY_NO_SPEEDUP = 1.2
#: Ray's anti-pattern example (docs.ray.io, anti_pattern_too_fine_grained_tasks.py): seconds
#: for 10,000 tasks of about 10 µs, serially, one Ray task each, in batches of 1,000.
RAY_EXAMPLE = {"tasks": 10_000, "serial_s": 0.165, "per_task_s": 1.606, "batched_s": 0.030}
#: Batching beats one task per item at least this much for ``ray-batching-example`` to hold.
BATCHING_GAIN = 10
#: joblib's auto batching holds if it is within this factor of the fixed batch.
AUTO_BATCH_WITHIN = 1.5
#: joblib's BLAS cap "pays" when it beats Pool's default by at least this factor.
BLAS_CAP_GAIN = 1.2
#: mpire's README chart (20 cores, three benchmarks; read off the chart): normalised time.
MPIRE_CHART = {"mpire": 0.05, "multiprocessing": 0.36}
#: mpire's lead over Pool must reach this on a plain map for ``mpire-chart-plain-map``.
MPIRE_LEAD = 2.0


@claims.claim("dask-per-task-overhead", chapter=CHAPTER,
              statement="Dask documents a per-task overhead \"somewhere between 200us and "
                        "1ms\"; here one no-op task per item cost {us:.0f} µs of wall time "
                        "per item ({n:,} items, {workers} workers).")
def _dask_overhead() -> claims.Evidence:
    table = load_table()
    us = _cell(table, "no-op", "Dask", "per_task_us")
    batched = _cell(table, "no-op", DASK_CHUNKS, "per_task_us")
    low, high = (seconds * 1e6 for seconds in DASK_TASK_OVERHEAD_S)
    return claims.Evidence(
        holds=low <= us <= high,
        values={"us": us, "n": int(_cell(table, "no-op", "Dask", "items")),
                "workers": int(_cell(table, "no-op", "Dask", "workers"))},
        evidence=f"Documented range {low:.0f}-{high:.0f} µs (docs.dask.org, best practices). "
                 f"Measured on a started local cluster whose scheduler runs in the script's "
                 f"process; in Pool's chunks, {batched:.0f} µs per item.")


@claims.claim("ray-10ms-rule-dask", chapter=CHAPTER,
              statement="Ray's guide says a task shorter than ten milliseconds is unlikely to "
                        "speed up; sent to Dask one task per item, 1 ms tasks ran "
                        "{speedup:.2f|faster|slower} than the loop.")
def _ray_rule_dask() -> claims.Evidence:
    table = load_table()
    speedup = _cell(table, "1 ms", "Dask", "speedup")
    batched = _cell(table, "1 ms", DASK_CHUNKS, "speedup")
    return claims.Evidence(
        holds=speedup < RAY_NO_SPEEDUP, values={"speedup": speedup},
        evidence=f"Holds below {RAY_NO_SPEEDUP}x, no speedup worth the name "
                 f"({int(_cell(table, '1 ms', 'Dask', 'items'))} tasks). In Pool's chunks, "
                 f"Dask reached {batched:.2f}x.")


@claims.claim("ray-10ms-rule-pools", chapter=CHAPTER,
              statement="Ray's ten-millisecond rule is about a scheduler's cost per task, not "
                        "about processes: the same 1 ms tasks ran {pool:.2f|faster|slower} than "
                        "the loop through Pool.map and {executor:.2f|faster|slower} through "
                        "ProcessPoolExecutor.map (one item per task).")
def _ray_rule_pools() -> claims.Evidence:
    table = load_table()
    pool = _cell(table, "1 ms", "Pool", "speedup")
    executor = _cell(table, "1 ms", "ProcessPoolExecutor", "speedup")
    overhead = {way: _cell(table, "no-op", way, "per_task_us")
                for way in ("Pool", "ProcessPoolExecutor", "Dask")}
    return claims.Evidence(
        holds=min(pool, executor) >= RAY_NO_SPEEDUP, values={"pool": pool, "executor": executor},
        evidence=f"Holds if both reach {RAY_NO_SPEEDUP}x. Wall time per no-op item: "
                 + ", ".join(f"{way} {us:.1f} µs" for way, us in overhead.items()) + ".")


@claims.claim("ray-batching-example", chapter=CHAPTER,
              statement="Ray's anti-pattern example runs 10,000 tasks of ~10 µs 9.7x slower "
                        "than serially as one task each, and 53x faster than that in batches "
                        "of 1,000. Dask here: {n:,} such tasks ran {per_item:.1f|faster|slower} "
                        "than the loop one task per item, and {gain:.0f|faster|slower} than "
                        "that in chunks of {chunk}.")
def _ray_batching() -> claims.Evidence:
    table = load_table()
    per_item = _cell(table, "tiny", "Dask", "speedup")
    gain = _cell(table, "tiny", "Dask", "median_s") / _cell(table, "tiny", DASK_CHUNKS,
                                                            "median_s")
    chunked = _cell(table, "tiny", DASK_CHUNKS, "speedup")
    ray = RAY_EXAMPLE
    return claims.Evidence(
        holds=per_item < 1 and gain >= BATCHING_GAIN,
        values={"n": int(_cell(table, "tiny", "Dask", "items")), "per_item": per_item,
                "gain": gain, "chunk": int(_cell(table, "tiny", DASK_CHUNKS, "chunksize"))},
        evidence=f"Holds if one task per item is slower than the loop and chunks beat it "
                 f"{BATCHING_GAIN}x or more. Ray's seconds (docs.ray.io): {ray['serial_s']} "
                 f"serial, {ray['per_task_s']} one task each, {ray['batched_s']} batched. Dask "
                 f"in chunks: {chunked:.2f}x the loop.")


@claims.claim("joblib-auto-batching-tiny", chapter=CHAPTER,
              statement="joblib's batch_size=\"auto\" (one item per batch at first, doubled "
                        "while a batch lasts under 0.2 s) ran the tiny tasks "
                        "{ratio:.2f|faster|slower} than a fixed batch of Pool's chunksize "
                        "({chunk}).")
def _joblib_auto() -> claims.Evidence:
    table = load_table()
    auto = _cell(table, "tiny", "joblib", "median_s")
    fixed = _cell(table, "tiny", JOBLIB_CHUNKS, "median_s")
    loop = _cell(table, "tiny", "loop", "median_s")
    return claims.Evidence(
        holds=auto <= AUTO_BATCH_WITHIN * fixed,
        values={"ratio": fixed / auto,
                "chunk": int(_cell(table, "tiny", JOBLIB_CHUNKS, "chunksize"))},
        evidence=f"Holds within {AUTO_BATCH_WITHIN}x. Median seconds: auto {auto:.4f}, fixed "
                 f"{fixed:.4f}, the loop {loop:.4f}. joblib's targets: "
                 f"MIN_IDEAL_BATCH_DURATION = 0.2 s, MAX_IDEAL_BATCH_DURATION = 2 s "
                 f"(joblib _parallel_backends.py).")


@claims.claim("joblib-caps-blas", chapter=CHAPTER,
              statement="joblib caps each worker's BLAS threads at cpu_count // n_jobs; on "
                        "numpy matmul tasks it ran {ratio:.1f|faster|slower} than Pool.map, "
                        "whose workers keep every BLAS thread.")
def _joblib_blas() -> claims.Evidence:
    table = load_table()
    joblib = _cell(table, "BLAS", "joblib", "median_s")
    pool = _cell(table, "BLAS", "Pool", "median_s")
    speedups = {way: _cell(table, "BLAS", way, "speedup") for way in ("joblib", "Pool", "Dask")}
    return claims.Evidence(
        holds=pool >= BLAS_CAP_GAIN * joblib, values={"ratio": pool / joblib},
        evidence=f"Holds from {BLAS_CAP_GAIN}x. Speedups over the loop: "
                 + ", ".join(f"{way} {x:.2f}" for way, x in speedups.items())
                 + " (Dask's nanny starts each worker with one BLAS thread).")


@claims.claim("mpire-chart-plain-map", chapter=CHAPTER,
              statement="mpire's README chart puts it about 7x ahead of multiprocessing; with "
                        "the plain map both offer, mpire ran {compute:.2f|faster|slower} than "
                        "Pool on 1 ms tasks and {fat:.2f|faster|slower} on a fat argument per "
                        "task (the pattern of mpire's numerical benchmark).")
def _mpire_chart() -> claims.Evidence:
    table = load_table()
    compute = (_cell(table, "1 ms", "Pool", "median_s")
               / _cell(table, "1 ms", "mpire", "median_s"))
    fat = (_cell(table, "fat arguments", "Pool", "median_s")
           / _cell(table, "fat arguments", "mpire", "median_s"))
    chart = MPIRE_CHART
    return claims.Evidence(
        holds=min(compute, fat) >= MPIRE_LEAD, values={"compute": compute, "fat": fat},
        evidence=f"Holds if mpire leads by {MPIRE_LEAD}x on both. The chart: mpire "
                 f"{chart['mpire']}, multiprocessing {chart['multiprocessing']} "
                 f"(sybrenjansen/mpire README); its benchmarks "
                 f"(sybrenjansen/multiprocessing_benchmarks) give mpire copy-on-write shared "
                 f"objects and worker state, and multiprocessing imap at chunksize 1.")


#: What the peers publish (tool, figure, source), from their docs and READMEs.
PUBLISHED = (
    ("Pool", "map's default chunksize: about 4 chunks per worker",
     "CPython Lib/multiprocessing/pool.py"),
    ("ProcessPoolExecutor", ('map\'s chunksize is 1 unless given; "a large value can '
                             'significantly improve performance"'),
     "CPython docs, concurrent.futures"),
    ("joblib", ('batch_size="auto" doubles batches while one lasts under 0.2 s, shrinks them '
                "above 2 s; loky workers get cpu_count // n_jobs BLAS threads"),
     "joblib _parallel_backends.py, parallel.py"),
    ("mpire", ("README chart (20 cores, 3 benchmarks): mpire ~0.05, multiprocessing ~0.36 "
               "(normalised time)"),
     "sybrenjansen/mpire README"),
    ("Dask", '"every task comes with some overhead ... somewhere between 200us and 1ms"',
     "docs.dask.org, best practices"),
    ("Ray", ('"unlikely to see speedups if your tasks take less than ten milliseconds"; '
             "10,000 tasks of ~10 µs: 0.165 s serial, 1.606 s one task each, 0.030 s batched"),
     "docs.ray.io, optimize performance; anti_pattern_too_fine_grained_tasks.py"),
)


def published_table(table: pd.DataFrame) -> pd.DataFrame:
    """:data:`PUBLISHED` beside this machine's counterpart (``here``), read from
    :meth:`SideBySide.table`."""
    import pandas as pd

    def cell(shape: str, way: str, column: str) -> float:
        try:
            return _cell(table, shape, way, column)
        except KeyError:
            return math.nan

    def speedup(shape: str, way: str) -> str:
        return f"{cell(shape, way, 'speedup'):.2f}x"

    def per_item(way: str) -> str:
        return f"{cell('no-op', way, 'per_task_us'):.1f} µs"

    here = {
        "Pool": f"{per_item('Pool')} per no-op item at its default",
        "ProcessPoolExecutor": f"{per_item('ProcessPoolExecutor')} per no-op item at 1, "
                               f"{per_item(PPE_CHUNKS)}"
                               " in Pool's chunks",
        "joblib": f"tiny tasks: auto {speedup('tiny', 'joblib')} the loop, fixed batch "
                  f"{speedup('tiny', JOBLIB_CHUNKS)}; matmul: {speedup('BLAS', 'joblib')} "
                  f"(Pool {speedup('BLAS', 'Pool')})",
        "mpire": f"plain map on 1 ms tasks: mpire {speedup('1 ms', 'mpire')} the loop, Pool "
                 f"{speedup('1 ms', 'Pool')}",
        "Dask": f"{per_item('Dask')} per no-op task",
        "Ray": f"not measured; Dask, one task per item on 1 ms tasks: {speedup('1 ms', 'Dask')}"
               " the loop",
    }
    return pd.DataFrame([{"tool": tool, "published": figure, "source": source,
                          "here": here[tool]} for tool, figure, source in PUBLISHED]
                        ).set_index("tool")
