"""Profiling: what the user's function costs, and what the machine gives a pool right now.

:func:`profile` runs a function on a small sample of its items in a child process (a
one-worker pool, every wait bounded) and returns a :class:`mpguide.model.Profile`: seconds per
item and their spread along the input, pickled sizes and pickling times of arguments and
results, how much of the work holds the GIL, and whether it runs BLAS threads.
:func:`pool_now` starts one pool, as a real run would, to measure start-up from this
``__main__`` and the cores' worth of CPU its workers get at this moment. The advisor
(:mod:`mpguide.advisor`) feeds both to the cost model.

Bad input (empty, unpicklable, a function that raises, dies or never returns) is one
:class:`AdviceError` paragraph, raised before or instead of a stuck run.

Examples
--------
>>> from mpguide import profiler, workloads
>>> profiler.sample_indices(100, 5)
[0, 99, 50, 25, 74]
>>> p = profiler.profile(workloads.square, range(400), start_method="fork", time_budget=0.2)
>>> p.n_items, p.per_item_s > 0
(400, True)
"""

from __future__ import annotations

import dataclasses
import gc
import math
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from mpguide import config, gil, pools
from mpguide.failures import FAILURES
from mpguide.model import Profile
from mpguide.timing import MIN_TIMED_S, seconds_per_call

#: Seconds of profiling the advisor spends by default (the sample stops growing after it).
DEFAULT_TIME_BUDGET = 3.0
#: Seconds one profiling run may take before the function is declared stuck.
DEFAULT_PROFILE_TIMEOUT = 30.0
#: At most this many items are profiled, and never more than a quarter of the input.
MAX_SAMPLE = 400
#: Per-thread CPU times tick in 10 ms steps on Linux: the BLAS detection runs this long.
THREAD_CPU_MIN_S = 0.2
#: The function "uses BLAS threads" when, while it runs, the process's other threads (the BLAS
#: pool) burn at least this fraction of the CPU time of the thread calling it.
BLAS_GAIN = 0.1
#: Share of the time budget the items of one timed map of the sample may cost
#: (:func:`_time_pool_map`), and how many such maps run (the fastest counts).
POOL_MAP_SHARE, POOL_MAP_ROUNDS = 1 / 8, 3
#: Passes over the sample, at most, within the first half of the budget: each item is priced
#: by the median of its passes (:func:`_median_of_passes`).
SAMPLE_PASSES = 5
#: Seconds each step of the free-cores measurement of :func:`pool_now` spins (three steps).
FREE_CORES_S = 0.15


class AdviceError(pools.PoolError, ValueError):
    """The advisor cannot profile this input (empty, unpicklable, raising, stuck).

    Raised here, where the input is checked and profiled; :mod:`mpguide.advisor` and the
    package (``mpguide.AdviceError``) export the same class.
    """


def spread_order(k: int) -> list[int]:
    """Indices ``0..k-1`` in an order that covers the range early (first, last, middle, ...),
    so a sample cut short by the time budget still spans the whole input.

    Examples
    --------
    >>> spread_order(5)
    [0, 4, 2, 1, 3]
    """
    if k <= 0:
        return []
    order, seen = [0], {0}
    if k > 1:
        order.append(k - 1)
        seen.add(k - 1)
    step = k - 1
    while len(order) < k:
        step = max(1, step // 2)
        for index in range(0, k, step):
            if index not in seen:
                order.append(index)
                seen.add(index)
    return order


def sample_indices(n_items: int, max_sample: int = MAX_SAMPLE) -> list[int]:
    """Evenly spaced indices of the items to profile, in :func:`spread_order`.

    Never the whole input: at most a quarter of it (at least one item) and ``max_sample``.

    Examples
    --------
    >>> sample_indices(100, 5)
    [0, 99, 50, 25, 74]
    >>> sample_indices(3)
    [0]
    """
    k = max(1, min(max_sample, n_items // 4))
    if k == 1:
        return [0]
    grid = [round(i * (n_items - 1) / (k - 1)) for i in range(k)]
    return [grid[i] for i in spread_order(k)]


def _profile_worker(func: Callable[[Any], Any], items: list[Any], budget: float,
                    usable_cpus: int) -> dict[str, Any]:
    """Run in a child: time ``func`` on the sample, its pickling, threads and BLAS threads."""
    from multiprocessing.pool import ThreadPool

    # The heap this worker inherited is frozen out of the collector's reach first: a full pass
    # over it (the parent's modules and data, written once into the fork's pages) would land
    # on whichever sampled item happened to trigger it. Full passes over the results a
    # real run keeps are priced by the model (Profile.collection_s), from what is counted here.
    gc.collect()
    gc.freeze()
    deadline = time.perf_counter() + budget * 0.5
    start = time.perf_counter()
    first = func(items[0])
    warm_up = time.perf_counter() - start
    # The first call is a warm-up (first-call imports, such as numpy's, and caches are paid
    # once per worker, not per item) and is repeated, unless it alone took half the budget.
    repeated = warm_up < budget * 0.5
    costs, results = ([], []) if repeated else ([warm_up], [first])
    young = gc.get_stats()[0]["collections"], len(costs)
    for item in items[len(costs):]:
        start = time.perf_counter()
        results.append(func(item))
        costs.append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    done = items[:len(costs)]
    # Each young collection follows gc.get_threshold()[0] tracked allocations.
    allocated = ((gc.get_stats()[0]["collections"] - young[0]) * gc.get_threshold()[0]
                 / max(1, len(costs) - young[1]))
    if repeated:
        costs = _median_of_passes(func, done, costs, deadline)
    # What this fresh worker's first call cost beyond the same item's next one: every worker
    # of a real pool pays it once (imports, caches, a BLAS library's thread start).
    first_call_s = max(0.0, warm_up - costs[0]) if repeated else 0.0
    left = budget * 0.5 / 3
    if sum(costs) < MIN_TIMED_S:
        # Tiny items: one call is too short to time alone; time the whole loop instead.
        batch = seconds_per_call(lambda: [func(x) for x in done], left) / len(done)
        scale = batch / (sum(costs) / len(done)) if sum(costs) else 1.0
        costs = [c * scale for c in costs]
    arg_blobs = [pickle.dumps(x, protocol=5) for x in done]
    try:
        res_blobs = [pickle.dumps(r, protocol=5) for r in results]
    except Exception as exc:  # noqa: BLE001 - any pickling failure of a result
        kind = type(next(r for r in results if not _pickles(r))).__name__
        raise pools.UnpicklableError(
            f"{getattr(func, '__qualname__', repr(func))} returned {_article(kind)} that cannot "
            f"be pickled ({exc}), so no worker could send it back. "
            f"{FAILURES['unpicklable'].advice}") from None
    serial = _subset(done, costs, left / 4)
    if sum(costs[:len(serial)]) > left:
        serial = []  # too slow to time repeatedly within the budget: skip threads and BLAS
    k = len(done)
    out = {
        "costs": costs,
        "first_call_s": first_call_s,
        "result_objects": (tracked_objects(results) - 1) / len(results) if results else 0.0,
        "allocated_objects": allocated,
        # Item by item: pickle shares repeated objects within one dumps call, so a batch would
        # under-count identical items (Pool pickles each chunk once, items rarely repeat).
        "arg_bytes": sum(map(len, arg_blobs)) / k,
        "result_bytes": sum(map(len, res_blobs)) / k,
        "arg_dumps_s": seconds_per_call(lambda: [pickle.dumps(x, protocol=5) for x in done], left)
        / k,
        "arg_loads_s": seconds_per_call(lambda: [pickle.loads(b) for b in arg_blobs], left) / k,
        "result_dumps_s": seconds_per_call(lambda: [pickle.dumps(r, protocol=5) for r in results],
                                        left) / k,
        "result_loads_s": seconds_per_call(lambda: [pickle.loads(b) for b in res_blobs], left) / k,
        "gil_fraction": 1.0,
        "blas_threads": None,
        "blas_ratio": 1.0,
    }
    with ThreadPool(2) as threads:
        start = time.perf_counter()
        threads.map(_noop, range(2000), chunksize=1)
        out["thread_chunk_overhead_s"] = (time.perf_counter() - start) / 2000
        if usable_cpus >= 2 and len(serial) >= 2:
            half = math.ceil(len(serial) / 2)
            out["gil_fraction"] = gil.gil_fraction_of(
                lambda: [func(x) for x in serial],
                lambda: threads.map(func, serial, chunksize=half), threads, left)
    start = time.perf_counter()
    ThreadPool(2).terminate()
    out["thread_start_stop_s"] = time.perf_counter() - start
    out.update(_blas_profile(func, serial, left))
    gc.unfreeze()
    return out


def _median_of_passes(func: Callable[[Any], Any], items: list[Any], first_pass: list[float],
                      deadline: float) -> list[float]:
    """Each item's median cost over up to :data:`SAMPLE_PASSES` passes over ``items``, as many
    as fit before ``deadline``: one pass's costs are one draw, and a core taken away for a few
    milliseconds on a shared machine would price the whole input by its luck.

    A pass keeps its results until it ends, as a real map keeps them (memory in use costs page
    faults that memory freed and reused does not).

    >>> preempted = [0.01, 0.01]  # a first pass that lost the core for 10 ms per item
    >>> costs = _median_of_passes(abs, [-1, 2], preempted, time.perf_counter() + 1.0)
    >>> all(cost < 0.001 for cost in costs)
    True
    """
    passes = [first_pass]
    pass_s = sum(first_pass)
    while len(passes) < SAMPLE_PASSES and time.perf_counter() + pass_s < deadline:
        costs, results = [], []
        for item in items:
            start = time.perf_counter()
            results.append(func(item))
            costs.append(time.perf_counter() - start)
        passes.append(costs)
        del results
    return [statistics.median(timed) for timed in zip(*passes, strict=True)]


def _time_pool_map(func: Callable[[Any], Any], items: list[Any], costs: list[float], *,
                   method: str, workers: int, budget: float,
                   timeout: float) -> tuple[float, int, int]:
    """(seconds, items, workers) of the fastest of :data:`POOL_MAP_ROUNDS` runs of a script's
    ``with ctx.Pool(workers) as pool: pool.map(func, chosen, chunksize=1)`` (fresh workers,
    start and stop included), where ``chosen`` are the first profiled ``items`` whose
    ``costs`` fit in ``budget``; ``(0.0, 0, workers)`` when fewer than two items fit."""
    chosen = _subset(items, costs, budget)
    if len(chosen) < 2 or sum(costs[:len(chosen)]) > budget:
        return 0.0, 0, workers
    best = math.inf
    for _ in range(POOL_MAP_ROUNDS):
        start = time.perf_counter()
        with pools.bounded_pool(workers, method, timeout) as pool:
            pools.wait_result(pool.map_async(func, chosen, chunksize=1), pool, timeout,
                              what="the profile's timed map")
        best = min(best, time.perf_counter() - start)
    return best, len(chosen), workers


def tracked_objects(value: Any, limit: int = 1_000_000) -> int:
    """How many objects the garbage collector tracks in ``value`` and everything it holds
    (containers: dicts, lists, instances; not ints, floats, str or bytes), counted up to
    ``limit``: what a full collection walks for each result a run keeps.

    Examples
    --------
    >>> tracked_objects([{"a": [1, 2]}, {"b": 3}]), tracked_objects([b"x" * 10, 2.0])
    (3, 1)
    """
    seen: set[int] = set()
    todo = [value]
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or not gc.is_tracked(obj):
            continue
        seen.add(id(obj))
        todo.extend(gc.get_referents(obj))
    return len(seen)


def _noop(x: Any) -> Any:
    return x


_T = TypeVar("_T")


def _subset(items: list[_T], costs: list[float], budget: float) -> list[_T]:
    """The first items whose cost fits in ``budget`` (at least two, when there are two)."""
    total = 0.0
    chosen: list[_T] = []
    for item, cost in zip(items, costs, strict=True):
        if len(chosen) >= 2 and total + cost > budget:
            break
        chosen.append(item)
        total += cost
    return chosen


def _blas_profile(func: Callable[[Any], Any], items: list[Any], budget: float) -> dict[str, Any]:
    """Whether ``func`` runs BLAS threads, and how much slower it runs capped to one thread.

    Detection watches the CPU time of this process's other threads (the BLAS pool) while
    ``func`` runs: unlike a wall-time race, a busy machine cannot fake it. The slowdown with
    one thread is the best of three interleaved timings.
    """
    if "numpy" not in sys.modules or not items:
        return {}
    # What a pool's BLAS cap pays first in each fresh worker: threadpoolctl imported, the
    # loaded libraries found (mpguide.blas.limit_blas_threads).
    start = time.perf_counter()
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    cap_s = time.perf_counter() - start
    threads = max((lib.num_threads for lib in controller.select(user_api="blas").lib_controllers),
                  default=1)
    if threads <= 1:
        return {}

    def run() -> None:
        for x in items:
            func(x)

    main_before, others_before = _thread_cpu()
    seconds_per_call(run, budget, min_time=THREAD_CPU_MIN_S)
    main_after, others_after = _thread_cpu()
    if not uses_blas_threads(main_after - main_before, others_after - others_before):
        return {}
    full = single = math.inf
    for _ in range(3):
        full = min(full, seconds_per_call(run, budget))
        with controller.limit(limits=1, user_api="blas"):
            single = min(single, seconds_per_call(run, budget))
    return {"blas_threads": threads, "blas_ratio": single / full, "blas_cap_s": cap_s}


def uses_blas_threads(caller_s: float, others_s: float) -> bool:
    """Whether the process's other threads burnt :data:`BLAS_GAIN` of the CPU seconds of the
    thread calling the function, or more, while it ran: its BLAS pool at work.

    >>> uses_blas_threads(0.5, 0.4), uses_blas_threads(0.5, 0.0)
    (True, False)
    >>> uses_blas_threads(0.0, 0.0)  # no CPU at all, as for a sleep: no BLAS either
    False
    """
    return caller_s > 0 and others_s >= BLAS_GAIN * caller_s


def _thread_cpu() -> tuple[float, float]:
    """CPU seconds of the calling thread, and of every other thread of this process."""
    import threading

    import psutil

    me = threading.get_native_id()
    mine = others = 0.0
    for thread in psutil.Process().threads():
        if thread.id == me:
            mine += thread.user_time + thread.system_time
        else:
            others += thread.user_time + thread.system_time
    return mine, others


def profile(func: Callable[[Any], Any], items: Sequence[Any], *,
            start_method: str | None = None, time_budget: float = DEFAULT_TIME_BUDGET,
            timeout: float | None = None, max_sample: int = MAX_SAMPLE) -> Profile:
    """Profile ``func`` on a sample of ``items`` in a child process.

    The child (a one-worker pool of ``start_method``) runs ``func`` on evenly spaced items
    until half of ``time_budget`` is spent (passing over the sample again while that half
    lasts, each item priced by the median of its passes), then times pickling of the sampled arguments and
    results, two threads against one (how much of the work holds the GIL) and BLAS capped to one
    thread against its default. The whole run is bounded by ``timeout``: a function that never
    returns becomes an :class:`AdviceError`, and the child is terminated.

    Examples
    --------
    >>> from mpguide import workloads
    >>> p = profile(workloads.spin, [20_000] * 40, start_method="fork", time_budget=0.3)
    >>> p.n_items, p.per_item_s > 0, len(p.sample_costs_s) <= 10
    (40, True, True)
    """
    method = config.resolve_start_method(start_method)
    items = check_input(func, items, [method])
    indices = sample_indices(len(items), max_sample)
    sample = [items[i] for i in indices]
    timeout = DEFAULT_PROFILE_TIMEOUT if timeout is None else timeout
    from mpguide.machine import usable_cpus

    name = getattr(func, "__qualname__", repr(func))
    try:
        with pools.bounded_pool(1, method, timeout) as pool:
            result = pool.apply_async(_profile_worker, (func, sample, time_budget,
                                                        usable_cpus()))
            raw = pools.wait_result(result, pool, timeout, what=f"profiling {name}")
        if raw["result_objects"] >= 1:
            # Results made of objects: what receiving them costs a real pool's parent is
            # measured (Profile.pool_receive_s), on as many workers as a run would use.
            raw["pool_map"] = _time_pool_map(
                func, sample[:len(raw["costs"])], raw["costs"], method=method,
                workers=usable_cpus(), budget=time_budget * POOL_MAP_SHARE, timeout=timeout)
    except pools.PoolTimeoutError:
        raise AdviceError(
            f"{name} did not finish profiling within {timeout:g} s (a sample of "
            f"{len(sample)} of the {len(items)} items, starting with item {indices[0]}); the "
            f"profiling process was terminated. If one call of the function really takes that "
            f"long, raise the timeout (--timeout). {FAILURES['timeout'].advice}",
            failure="timeout") from None
    except pools.WorkerError as exc:
        cause = exc.__cause__
        raise AdviceError(
            f"{name} raised {type(cause).__name__}: {cause} while being profiled on a sample "
            f"of {len(sample)} of the {len(items)} items; a pool would fail the same way. "
            f"{FAILURES['raised'].advice}", failure="raised") from None
    except pools.WorkerDiedError:
        raise AdviceError(
            f"the process profiling {name} died (a crash, os._exit, a signal or running out of "
            f"memory); a pool's workers would die the same way. "
            f"{FAILURES['worker-died'].advice}", failure="worker-died") from None
    heap, collection = collection_cost()
    costs = raw["costs"]
    n_done = len(costs)
    mean = sum(costs) / n_done
    std = robust_std(costs)
    n = len(items)
    positions = tuple(indices[i] / (n - 1) if n > 1 else 0.0 for i in range(n_done))
    single = mean * raw["blas_ratio"] if raw["blas_threads"] else None
    pool_map_s, pool_map_items, pool_map_workers = raw.get("pool_map", (0.0, 0, 1))
    pool_map_method = method if pool_map_items else ""
    prof = Profile(
        n_items=n, per_item_s=mean, per_item_std_s=std, sample_positions=positions,
        sample_costs_s=tuple(costs), arg_bytes=raw["arg_bytes"],
        result_bytes=raw["result_bytes"], arg_dumps_s=raw["arg_dumps_s"],
        arg_loads_s=raw["arg_loads_s"], result_dumps_s=raw["result_dumps_s"],
        result_loads_s=raw["result_loads_s"], gil_fraction=raw["gil_fraction"],
        blas_threads=raw["blas_threads"], per_item_single_blas_s=single,
        thread_chunk_overhead_s=raw["thread_chunk_overhead_s"],
        thread_start_stop_s=raw["thread_start_stop_s"],
        result_objects=raw["result_objects"], heap_objects=heap, gc_object_s=collection,
        allocated_objects=raw["allocated_objects"], gc_period_objects=gc_period(),
        pool_map_s=pool_map_s, pool_map_items=pool_map_items, pool_map_workers=pool_map_workers,
        pool_map_method=pool_map_method,
        first_call_s=raw["first_call_s"], blas_cap_s=raw.get("blas_cap_s", 0.0),
    )
    if not prof.follows_input():
        return prof
    # Costs that follow the input: the evenly spaced sample can hit a block of heavy items
    # more often than the input holds them; their mean over every item, interpolated, is not.
    input_mean = float(prof.item_costs().mean())
    single = input_mean * raw["blas_ratio"] if raw["blas_threads"] else None
    return dataclasses.replace(prof, per_item_s=input_mean, per_item_single_blas_s=single)


def gc_period() -> float:
    """Tracked allocations between two chances of a full collection in this interpreter
    (``gc.get_threshold()``: a young pass every ``t0``, a middle one every ``t1 + 1`` young,
    a full one considered every ``t2 + 1`` middle); ``inf`` with the collector disabled.

    >>> gc_period() > 0
    True
    """
    t0, t1, t2 = gc.get_threshold()
    return float(t0 * (t1 + 1) * (t2 + 1)) if gc.isenabled() and t0 else math.inf


def collection_cost() -> tuple[int, float]:
    """(objects the garbage collector tracks in this process, seconds one full collection
    spends per object): what a full pass costs here, where the results of a run pile up.

    Examples
    --------
    >>> heap, per_object = collection_cost()
    >>> heap > 0 and per_object > 0
    True
    """
    gc.collect()  # garbage first: what is left is what every later pass walks
    heap = len(gc.get_objects())
    start = time.perf_counter()
    gc.collect()
    return heap, (time.perf_counter() - start) / max(1, heap)


def robust_std(values: Sequence[float]) -> float:
    """Standard deviation estimated from the interquartile range (``IQR / 1.349``), so that a
    few calls slowed down by other processes on a shared machine do not pass for uneven work.

    Examples
    --------
    >>> round(robust_std([1.0, 1.0, 1.0, 1.0, 50.0]), 3)
    0.0
    """
    import statistics

    if len(values) < 4:
        return statistics.pstdev(values) if len(values) > 1 else 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / 1.349


def check_input(func: Callable[[Any], Any], items: Iterable[Any],
                start_methods: Sequence[str]) -> list[Any]:
    """The items as a list, after checking that ``func`` and the items can reach a worker of
    every start method; :class:`AdviceError` or :class:`pools.UnpicklableError` otherwise.

    Examples
    --------
    >>> check_input(abs, [], ["fork"])
    Traceback (most recent call last):
    ...
    mpguide.profiler.AdviceError: the item list is empty: ...
    """
    for method in start_methods:
        pools.check_callable(func, method)
    try:
        items = list(items)
    except TypeError as exc:
        raise AdviceError(f"the items are not iterable ({exc}); pass a list, a range or "
                          f"another iterable of arguments for the function.") from None
    if not items:
        raise AdviceError("the item list is empty: there is nothing to profile and nothing to "
                          "parallelize; pass the items the function will really run on.")
    pools.check_items(items)
    return items


def _pickles(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=5)
    except Exception:  # noqa: BLE001 - any pickling failure
        return False
    return True


def _article(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _spin_for(seconds: float) -> int:
    """Spin (pure Python) for ``seconds`` of wall time; return the iterations done."""
    from mpguide import workloads

    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        workloads.spin(2_000)
        done += 2_000
    return done


@dataclasses.dataclass(frozen=True)
class PoolNow:
    """What a pool started by the advisor found: the cores' worth of CPU its workers got
    together, and what starting and stopping it took (this process's own ``__main__``,
    this moment's load)."""

    workers: int
    start_method: str
    free_cores: float
    start_stop_s: float


def pool_now(cores: int, start_method: str | None = None, timeout: float | None = None,
             seconds: float = FREE_CORES_S) -> PoolNow:
    """Start a pool of ``cores`` workers, as a real run would, and measure two things.

    Start-up and shut-down: from creating the pool to the end of a first tiny ``map``, plus
    close and join. Free cores: one worker spins alone, then all ``cores`` at once, then one
    alone again; the work done together over the work one does alone in the same time. On an
    idle machine that is ``cores``; when other jobs keep the machine busy it is what they
    leave, and what a pool started now can count on.
    """
    method = config.resolve_start_method(start_method)
    timeout = DEFAULT_PROFILE_TIMEOUT if timeout is None else timeout
    begin = time.perf_counter()
    with pools.bounded_pool(cores, method, timeout) as pool:
        pools.wait_result(pool.map_async(_spin_for, [0.0] * cores, chunksize=1), pool, timeout)
        started = time.perf_counter() - begin

        def run(tasks: int) -> float:
            start = time.perf_counter()
            done = pools.wait_result(pool.map_async(_spin_for, [seconds] * tasks, chunksize=1),
                                     pool, timeout, what="the free-cores probe")
            return sum(done) / (time.perf_counter() - start)

        alone = run(1)
        together = run(cores)
        alone = (alone + run(1)) / 2
        stop = time.perf_counter()
    stopped = time.perf_counter() - stop
    free = min(float(cores), max(1.0, together / alone))
    return PoolNow(cores, method, free, started + stopped)
