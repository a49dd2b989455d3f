"""Chapter 7, "Other tools side by side": Pool, ProcessPoolExecutor, joblib, mpire and Dask on
the same workload shapes, on this machine. This module declares the chapter and what it
measures, loads the records and states the claims.

A *shape* (:class:`Shape`, :func:`shapes`) is an importable function and an items factory
reused from the other chapters (tiny and :data:`MS_SHAPE` pure-Python tasks, fat arguments,
fat results, uneven tasks with the heavy ones last, numpy matmul, a task that waits), sized
from the machine: as many items as the plain loop runs in :func:`loop_seconds`. Every shape
goes through the same line-up (:func:`lineup`): each tool at its default and at
``Pool.map``'s own chunksize, as many workers as usable cores, the default start method.

Two measurements, both cached and run in a fresh interpreter:

* :func:`load_side_by_side`: every shape through every executor of the line-up on a started
  executor (the map alone, as ``Experiment(startup=False)`` times it), the result checked
  against the loop's, and the memory of the tool's processes sampled during the checked run
  (:mod:`mpguide.chapters.side_by_side_measure`), read back as a :class:`SideBySide`.
* :func:`load_startup` (:func:`startup_experiment`): what a script pays, start and stop
  included (``Experiment(startup=True)``), on the :data:`MS_SHAPE` shape, for the tools that
  take a start method under each one, joblib and Dask.

The code a user writes for each row is in :mod:`mpguide.chapters.side_by_side_snippets`, the
page's tables in :mod:`mpguide.chapters.side_by_side_tables`, its figures in
:mod:`mpguide.chapters.side_by_side_plots`.

Examples
--------
>>> from mpguide.chapters import side_by_side
>>> sorted(side_by_side.lineup(100, 2)) == sorted(side_by_side.WAYS[:-1])
True
>>> side_by_side.MS_SHAPE
'1 ms'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, peers, timing, workloads
from mpguide.chapters import choosing, task_duration, transfer
from mpguide.chapters.overhead import format_duration
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd

CHAPTER = claims.Chapter(
    name="peers", page="guide/07-other-tools", title="Other tools side by side",
    summary="Pool, ProcessPoolExecutor, joblib, mpire and Dask on the same workload shapes: "
            "time, speedup, per-task overhead, worker memory and the code each needs.")

MIB = transfer.MIB
#: Cache names of the two measurements.
SIDE_BY_SIDE, STARTUP = "peers-side-by-side", "peers-startup"
#: What measures every shape (``module:function``), in a fresh interpreter.
MEASURE = "mpguide.chapters.side_by_side_measure:measure_side_by_side"
#: Bound of the fresh interpreter that measures every shape (each map has its own bound).
FRESH_TIMEOUT = 900.0

# Task durations of the shapes (seconds). The tiny tasks last as long as those of Ray's
# anti-pattern example (about 10 µs, docs.ray.io); the uneven ones are chapter 1's heavy-last
# tasks (task_duration.heavy_last_items).
TINY_TASK_S, MS_TASK_S, UNEVEN_TASK_S, WAIT_TASK_S = 1e-5, 1e-3, 2e-4, 2e-3
#: Name of the shape of :data:`MS_TASK_S` tasks, the one most tutorials have in mind.
MS_SHAPE = format_duration(MS_TASK_S)
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
    """Seconds the plain loop of a compute shape lasts (its items are counted to fit): 60 ms
    (40 ms in quick mode), long enough to time, short enough for ten executors per shape."""
    return float(config.scaled(0.06, 0.04))


def _count(task_s: float) -> int:
    """Items of ``task_s`` seconds each for :func:`loop_seconds` of loop, at least
    :data:`TASKS_PER_WORKER` per usable core."""
    return max(TASKS_PER_WORKER * machine.usable_cpus(), round(loop_seconds() / task_s))


def tiny_count() -> int:
    """Items of the tiny and no-op shapes: as many tasks as Dask, sent one per item, runs in
    0.2 s (0.1 s in quick mode) at the top of its documented per-task overhead
    (:data:`DASK_TASK_OVERHEAD_S`): enough to show each tool's cost per item, few enough
    that the slowest row stays affordable."""
    budget = config.scaled(0.2, 0.1)
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
    nbytes = config.scaled(4, 2) * MIB
    fat = {"kind": "ndarray", "nbytes": nbytes,
           "count": TASKS_PER_WORKER * machine.usable_cpus()}
    uneven_mean = UNEVEN_TASK_S * (1 - UNEVEN_HEAVY + UNEVEN_HEAVY * UNEVEN_FACTOR)
    tiny = tiny_count()
    return {shape.name: shape for shape in [
        Shape("no-op", "no work (returns its argument)", workloads.noop, noop_items,
              {"count": tiny}, threads=True),
        Shape("tiny", f"tiny tasks ({format_duration(TINY_TASK_S)} of pure Python)",
              workloads.spin, task_duration.spin_items, {"seconds": TINY_TASK_S, "count": tiny}),
        Shape(MS_SHAPE, f"{MS_SHAPE} tasks of pure Python", workloads.spin,
              task_duration.spin_items, {"seconds": MS_TASK_S, "count": _count(MS_TASK_S)}),
        Shape("uneven", "uneven tasks, the heavy ones last", workloads.spin,
              task_duration.heavy_last_items,
              {"seconds": UNEVEN_TASK_S, "count": _count(uneven_mean), "heavy": UNEVEN_HEAVY,
               "factor": UNEVEN_FACTOR}),
        Shape("BLAS", f"numpy matmul ({MATMUL_N} x {MATMUL_N})", choosing.matmul_trace,
              matmul_items, {"n": MATMUL_N, "seconds": loop_seconds()}),
        Shape("waiting", f"tasks that wait {format_duration(WAIT_TASK_S)} (release the GIL)",
              workloads.sleep_task, wait_items,
              {"seconds": WAIT_TASK_S, "count": _count(WAIT_TASK_S)}, threads=True),
        Shape("fat arguments", f"a {sizes(nbytes)} array sent with each task (summed)",
              transfer.array_sum, transfer.fat_items, fat),
        Shape("fat results", f"a {sizes(nbytes)} array returned by each task",
              workloads.payload_task, transfer.fat_result_items, fat),
    ]}


def sizes(nbytes: int) -> str:
    """``"4 MiB"``: :func:`mpguide.chapters.transfer.sizes_label`."""
    return transfer.sizes_label(nbytes)


# ---------------------------------------------------------------------------------------------
# The line-up
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


def side_by_side_params() -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_side_by_side`, not run: every shape, the
    usable cores, 2 timed runs per executor."""
    return {"shapes": [s.declaration() for s in shapes().values()],
            "workers": machine.usable_cpus(), "repeats": 2,
            "timeout": config.DEFAULT_TIMEOUT}


#: Columns of :meth:`SideBySide.table`.
TABLE_COLUMNS = ("shape", "way", "tool", "label", "workers", "chunksize", "start_method",
                 "items", "median_s", "iqr_s", "speedup", "per_task_us", "peak_uss_mib",
                 "peak_rss_mib", "processes", "shm_mib")


@dataclasses.dataclass(frozen=True)
class SideBySide:
    """The records of the side-by-side measurement
    (:func:`~mpguide.chapters.side_by_side_measure.measure_side_by_side`): one
    :class:`~mpguide.experiment.Result` per shape, the memory rows, the seconds each executor cost the measurement (``costs``:
    start, every shape, stop) and how long the shared Dask cluster took to start."""

    results: Mapping[str, Result]
    memory: pd.DataFrame
    costs: pd.DataFrame
    dask_start_s: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SideBySide:
        """From the JSON of the measurement (``None``: nothing measured)."""
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
        (the same row's time per item on the no-op shape) and the memory columns."""
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
    """:data:`MEASURE` of :func:`side_by_side_params` (fresh interpreter, cached)."""
    data = run_cached(SIDE_BY_SIDE, MEASURE, side_by_side_params(), timeout=FRESH_TIMEOUT)
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
    """The :data:`MS_SHAPE` shape through each tool at its default, each run timed whole (start, map,
    stop: ``startup=True``), not run: ``Pool``, ``ProcessPoolExecutor`` and mpire under each
    of :func:`startup_methods`, joblib (loky) and Dask (a new local cluster each run)."""
    shape = shapes()[MS_SHAPE]
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
    the same tool at its default under the same start method, ``map_s`` (the
    :data:`MS_SHAPE` map on a started executor) and ``start_stop_s``, the difference: what starting and stopping cost.
    """
    table = startup.table()
    table["start_method"] = [OWN_START.get(tool, method) for tool, method
                             in zip(table["tool"], table["start_method"], strict=True)]
    rows = steady[(steady["shape"] == MS_SHAPE) & steady["way"].isin(DEFAULT_WAYS)]
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
# Claims: the peers' published figures, tested here
# ---------------------------------------------------------------------------------------------

def cell(table: pd.DataFrame, shape: str, way: str, column: str) -> float:
    """``column`` of the ``way`` row of ``shape`` in :meth:`SideBySide.table`; a
    ``KeyError`` where there is no such row."""
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
#: Batching beats one task per item at least this much for ``ray-batching-example`` to hold:
#: an order of magnitude, as Ray's example does (53x).
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
    us = cell(table, "no-op", "Dask", "per_task_us")
    batched = cell(table, "no-op", DASK_CHUNKS, "per_task_us")
    low, high = (seconds * 1e6 for seconds in DASK_TASK_OVERHEAD_S)
    return claims.Evidence(
        holds=low <= us <= high,
        values={"us": us, "n": int(cell(table, "no-op", "Dask", "items")),
                "workers": int(cell(table, "no-op", "Dask", "workers"))},
        evidence=f"Documented range {low:.0f}-{high:.0f} µs (docs.dask.org, best practices). "
                 f"Measured on a started local cluster whose scheduler runs in the script's "
                 f"process; in Pool's chunks, {batched:.0f} µs per item.")


@claims.claim("ray-10ms-rule-dask", chapter=CHAPTER,
              statement="Ray's guide says a task shorter than ten milliseconds is unlikely to "
                        "speed up; sent to Dask one task per item, {task} tasks ran "
                        "{speedup:.2f|faster|slower} than the loop.")
def _ray_rule_dask() -> claims.Evidence:
    table = load_table()
    speedup = cell(table, MS_SHAPE, "Dask", "speedup")
    batched = cell(table, MS_SHAPE, DASK_CHUNKS, "speedup")
    return claims.Evidence(
        holds=speedup < RAY_NO_SPEEDUP, values={"speedup": speedup, "task": MS_SHAPE},
        evidence=f"Holds below {RAY_NO_SPEEDUP}x, no speedup worth the name "
                 f"({int(cell(table, MS_SHAPE, 'Dask', 'items'))} tasks). In Pool's chunks, "
                 f"Dask reached {batched:.2f}x.")


@claims.claim("ray-10ms-rule-pools", chapter=CHAPTER,
              statement="Ray's ten-millisecond rule is about a scheduler's cost per task, not "
                        "about processes: the same {task} tasks ran {pool:.2f|faster|slower} than "
                        "the loop through Pool.map and {executor:.2f|faster|slower} through "
                        "ProcessPoolExecutor.map (one item per task).")
def _ray_rule_pools() -> claims.Evidence:
    table = load_table()
    pool = cell(table, MS_SHAPE, "Pool", "speedup")
    executor = cell(table, MS_SHAPE, "ProcessPoolExecutor", "speedup")
    overhead = {way: cell(table, "no-op", way, "per_task_us")
                for way in ("Pool", "ProcessPoolExecutor", "Dask")}
    return claims.Evidence(
        holds=min(pool, executor) >= RAY_NO_SPEEDUP,
        values={"pool": pool, "executor": executor, "task": MS_SHAPE},
        evidence=f"Holds if both reach {RAY_NO_SPEEDUP}x. Wall time per no-op item: "
                 + ", ".join(f"{way} {us:.1f} µs" for way, us in overhead.items()) + ".")


@claims.claim("ray-batching-example", chapter=CHAPTER,
              statement="Ray's anti-pattern example runs 10,000 tasks of ~10 µs 9.7x slower "
                        "than serially as one task each, and 53x faster than that in batches "
                        "of 1,000. Dask here: {n:,} tasks of {tiny} ran {per_item:.1f|faster|slower} "
                        "than the loop one task per item, and {gain:.1f|faster|slower} than "
                        "that in chunks of {chunk}.")
def _ray_batching() -> claims.Evidence:
    table = load_table()
    per_item = cell(table, "tiny", "Dask", "speedup")
    gain = cell(table, "tiny", "Dask", "median_s") / cell(table, "tiny", DASK_CHUNKS,
                                                            "median_s")
    chunked = cell(table, "tiny", DASK_CHUNKS, "speedup")
    ray = RAY_EXAMPLE
    return claims.Evidence(
        holds=gain >= BATCHING_GAIN,
        values={"n": int(cell(table, "tiny", "Dask", "items")), "per_item": per_item,
                "tiny": format_duration(TINY_TASK_S),
                "gain": gain, "chunk": int(cell(table, "tiny", DASK_CHUNKS, "chunksize"))},
        evidence=f"Holds if chunks beat one task per item {BATCHING_GAIN}x or more. That one "
                 f"task per item is slower than the loop is not tested: it is Dask's cost per "
                 f"task against {format_duration(TINY_TASK_S)} of work, which "
                 f"dask-per-task-overhead tests against Dask's documented range. Ray's seconds "
                 f"(docs.ray.io): {ray['serial_s']} "
                 f"serial, {ray['per_task_s']} one task each, {ray['batched_s']} batched. Dask "
                 f"in chunks: {chunked:.2f}x the loop.")


@claims.claim("joblib-auto-batching-tiny", chapter=CHAPTER,
              statement="joblib's batch_size=\"auto\" (one item per batch at first, doubled "
                        "while a batch lasts under 0.2 s) ran the tiny tasks "
                        "{ratio:.2f|faster|slower} than a fixed batch of Pool's chunksize "
                        "({chunk}).")
def _joblib_auto() -> claims.Evidence:
    table = load_table()
    auto = cell(table, "tiny", "joblib", "median_s")
    fixed = cell(table, "tiny", JOBLIB_CHUNKS, "median_s")
    loop = cell(table, "tiny", "loop", "median_s")
    return claims.Evidence(
        holds=auto <= AUTO_BATCH_WITHIN * fixed,
        values={"ratio": fixed / auto,
                "chunk": int(cell(table, "tiny", JOBLIB_CHUNKS, "chunksize"))},
        evidence=f"Holds within {AUTO_BATCH_WITHIN}x. Median seconds: auto {auto:.4f}, fixed "
                 f"{fixed:.4f}, the loop {loop:.4f}. joblib's targets: "
                 f"MIN_IDEAL_BATCH_DURATION = 0.2 s, MAX_IDEAL_BATCH_DURATION = 2 s "
                 f"(joblib _parallel_backends.py).")


@claims.claim("joblib-caps-blas", chapter=CHAPTER,
              statement="joblib caps each worker's BLAS threads at cpu_count // n_jobs; on "
                        "numpy matmul tasks it ran {ratio:.2f|faster|slower} than Pool.map, "
                        "whose workers keep every BLAS thread.")
def _joblib_blas() -> claims.Evidence:
    table = load_table()
    joblib = cell(table, "BLAS", "joblib", "median_s")
    pool = cell(table, "BLAS", "Pool", "median_s")
    speedups = {way: cell(table, "BLAS", way, "speedup") for way in ("joblib", "Pool", "Dask")}
    return claims.Evidence(
        holds=pool >= BLAS_CAP_GAIN * joblib, values={"ratio": pool / joblib},
        evidence=f"Holds from {BLAS_CAP_GAIN}x. Speedups over the loop: "
                 + ", ".join(f"{way} {x:.2f}" for way, x in speedups.items())
                 + " (Dask's nanny starts each worker with one BLAS thread).")


@claims.claim("mpire-chart-plain-map", chapter=CHAPTER,
              statement="mpire's README chart puts it about 7x ahead of multiprocessing; with "
                        "the plain map both offer, mpire ran {compute:.2f|faster|slower} than "
                        "Pool on {task} tasks and {fat:.2f|faster|slower} on a fat argument per "
                        "task (the pattern of mpire's numerical benchmark).")
def _mpire_chart() -> claims.Evidence:
    table = load_table()
    compute = (cell(table, MS_SHAPE, "Pool", "median_s")
               / cell(table, MS_SHAPE, "mpire", "median_s"))
    fat = (cell(table, "fat arguments", "Pool", "median_s")
           / cell(table, "fat arguments", "mpire", "median_s"))
    chart = MPIRE_CHART
    return claims.Evidence(
        holds=min(compute, fat) >= MPIRE_LEAD,
        values={"compute": compute, "fat": fat, "task": MS_SHAPE},
        evidence=f"Holds if mpire leads by {MPIRE_LEAD}x on both. The chart: mpire "
                 f"{chart['mpire']}, multiprocessing {chart['multiprocessing']} "
                 f"(sybrenjansen/mpire README); its benchmarks "
                 f"(sybrenjansen/multiprocessing_benchmarks) give mpire copy-on-write shared "
                 f"objects and worker state, and multiprocessing imap at chunksize 1.")
