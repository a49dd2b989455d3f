"""The advisor: will ``multiprocessing`` speed up *this* function on *this* machine?

:func:`advise` profiles a function on a small sample of its items (a few seconds at most, in a
child process, every wait bounded), feeds the profile and the machine card's probes to the
cost model (:mod:`mpguide.model`), predicts the wall time of every configuration of a grid
(workers x chunksize x start method, plus a thread pool), and recommends one: a
``multiprocessing.Pool`` configuration, a thread pool, or the plain loop when nothing beats it.
The notes name the cost that dominates and the guide page about it.

The same runs from a shell::

    python -m mpguide advise mymodule:work --items mymodule:make_items [--json]

Examples
--------
>>> from mpguide import advise, model, workloads
>>> advice = advise.advise(workloads.square, range(20_000), start_methods=["fork"],
...                        probes=model.EXAMPLE_PROBES, time_budget=0.5)
>>> advice.recommendation.tool in {"serial", "pool", "threads"}
True
>>> sorted(advice.to_json())
['arg_bytes', 'notes', 'per_item_s', 'predictions', 'recommendation', 'result_bytes', 'serial_s']
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import pickle
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mpguide import config, pools
from mpguide.model import (
    MachineCosts,
    Prediction,
    Profile,
    default_chunksize,
    predict,
    predict_threads,
)

#: Seconds of profiling the advisor spends by default (the sample stops growing after it).
DEFAULT_TIME_BUDGET = 3.0
#: Seconds one profiling run may take before the function is declared stuck.
DEFAULT_PROFILE_TIMEOUT = 30.0
#: At most this many items are profiled, and never more than a quarter of the input.
MAX_SAMPLE = 400
#: A parallel configuration must be predicted this much faster than the loop to be recommended;
#: below it the gain is within the model's error on the validation workloads
#: (tests/benchmarks/bench_advisor.py).
MIN_SPEEDUP = 1.1
#: Start methods whose predictions lie within this factor of the fastest count as equal, and
#: the platform's default start method is then preferred (it needs no ``get_context`` change).
START_METHOD_TOLERANCE = 1.05
#: A timing of repeated sample runs lasts at least this long (clock resolution, noise).
MIN_TIMED_S = 0.02
#: Per-thread CPU times tick in 10 ms steps on Linux: the BLAS detection runs this long.
THREAD_CPU_MIN_S = 0.2
#: The function "uses BLAS threads" when, while it runs, the process's other threads (the BLAS
#: pool) burn at least this fraction of the CPU time of the thread calling it.
BLAS_GAIN = 0.1
#: Seconds each step of the free-cores measurement of :func:`pool_now` spins (three steps).
FREE_CORES_S = 0.15
#: Chunksizes tried besides Pool's default and the balanced ones (``n / (k * workers)``).
CHUNKSIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 50_000)

#: Guide page about each cost term, quoted in the notes.
PAGES = {
    "startup": "guide/01-overhead",
    "dispatch": "guide/03-tuning",
    "serialization": "guide/02-transfer",
    "compute": "guide/04-advisor",
    "imbalance": "guide/03-tuning",
    "oversubscription": "guide/03-tuning",
}


class AdviceError(pools.PoolError, ValueError):
    """The advisor cannot profile this input (empty, unpicklable, raising, stuck)."""


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What to use: ``tool`` is ``"pool"``, ``"threads"`` or ``"serial"``."""

    tool: str
    workers: int
    chunksize: int | None
    start_method: str | None
    blas_threads: int | None
    predicted_s: float
    predicted_speedup: float


@dataclasses.dataclass(frozen=True)
class Advice:
    """The advisor's answer: profile, prediction grid, recommendation and notes.

    ``predictions`` holds every pool configuration and the thread pools; ``metadata`` is the
    machine record the figure caption is made from.
    """

    function: str
    profile: Profile
    costs: MachineCosts
    predictions: tuple[Prediction, ...]
    recommendation: Recommendation
    notes: tuple[str, ...]
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def serial_s(self) -> float:
        """Predicted time of the plain loop."""
        return self.profile.serial_s

    def to_json(self) -> dict[str, Any]:
        """The advice with exactly the keys of the ``advise --json`` contract (DESIGN.md)."""
        return {
            "serial_s": self.serial_s,
            "per_item_s": self.profile.per_item_s,
            "arg_bytes": self.profile.arg_bytes,
            "result_bytes": self.profile.result_bytes,
            "predictions": [
                {"workers": p.workers, "chunksize": p.chunksize, "start_method": p.start_method,
                 "predicted_s": p.predicted_s}
                for p in self.predictions if p.tool == "pool"
            ],
            "recommendation": dataclasses.asdict(self.recommendation),
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (for the result cache); :meth:`from_dict` reverses it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Advice:
        """Rebuild an :class:`Advice` from :meth:`to_dict` output (e.g. read from JSON).

        Examples
        --------
        >>> from mpguide import model, workloads
        >>> advice = advise(workloads.square, range(100), start_methods=["fork"],
        ...                 probes=model.EXAMPLE_PROBES, time_budget=0.2)
        >>> Advice.from_dict(json.loads(json.dumps(advice.to_dict()))) == advice
        True
        """
        profile = {k: tuple(v) if isinstance(v, list) else v
                   for k, v in data["profile"].items()}
        return cls(
            function=data["function"], profile=Profile(**profile),
            costs=MachineCosts(**data["costs"]),
            predictions=tuple(Prediction(**p) for p in data["predictions"]),
            recommendation=Recommendation(**data["recommendation"]),
            notes=tuple(data["notes"]), metadata=dict(data["metadata"]))

    def to_frame(self):
        """Tidy rows: one per predicted configuration, every model term a column."""
        import pandas as pd

        rows = [{"function": self.function, **p.to_dict(), "serial_s": self.serial_s,
                 "speedup": self.serial_s / p.predicted_s if p.predicted_s else math.inf}
                for p in self.predictions]
        return pd.DataFrame(rows)

    def project(self, cores: Sequence[int]):
        """Model predictions for machines with more cores (a projection, not a measurement).

        For each core count the best pool configuration with ``workers == cores`` is predicted
        with this machine's probes; start-up is assumed to stay per core what it is here.
        """
        import pandas as pd

        rows = []
        method = self.recommendation.start_method or config.start_method()
        for count in cores:
            costs = dataclasses.replace(self.costs, cores=int(count), free_cores=None)
            best = min((predict(self.profile, costs, workers=int(count), chunksize=c,
                                start_method=method)
                        for c in chunk_candidates(self.profile.n_items, int(count))),
                       key=lambda p: p.predicted_s)
            rows.append({"cores": int(count), "workers": best.workers,
                         "chunksize": best.chunksize, "predicted_s": best.predicted_s,
                         "speedup": self.serial_s / best.predicted_s, "kind": "projection"})
        return pd.DataFrame(rows)

    def snippet(self) -> str:
        """Python code that follows the recommendation."""
        rec = self.recommendation
        name = self.function.rpartition(".")[2] or "func"
        if rec.tool == "serial":
            return f"results = [{name}(item) for item in items]"
        if rec.tool == "threads":
            return ("from multiprocessing.pool import ThreadPool\n\n"
                    f"with ThreadPool({rec.workers}) as pool:\n"
                    f"    results = pool.map({name}, items, chunksize={rec.chunksize})")
        init = ""
        if rec.blas_threads:
            init = (", initializer=limit_blas_threads,\n"
                    f"                  initargs=({rec.blas_threads},)")
        head = "import multiprocessing\n"
        if rec.blas_threads:
            head += "from mpguide.advise import limit_blas_threads\n"
        return (f"{head}\nif __name__ == \"__main__\":\n"
                f"    ctx = multiprocessing.get_context({rec.start_method!r})\n"
                f"    with ctx.Pool({rec.workers}{init}) as pool:\n"
                f"        results = pool.map({name}, items, chunksize={rec.chunksize})")

    def plot(self, ax=None):
        """Predicted wall time against chunksize, one line per worker count, the loop as a
        horizontal line and the recommendation marked; returns the figure."""
        import matplotlib.pyplot as plt

        from mpguide import machine
        from mpguide.plotting import add_caption

        df = self.to_frame()
        method = self.recommendation.start_method or config.start_method()
        pool = df[(df["tool"] == "pool") & (df["start_method"] == method)]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        for workers, rows in pool.groupby("workers"):
            ordered = rows.sort_values("chunksize")
            ax.plot(ordered["chunksize"], ordered["predicted_s"], marker="o", ms=3,
                    label=f"Pool({workers})")
        ax.axhline(self.serial_s, color="black", ls="--", label="plain loop")
        rec = self.recommendation
        ax.set_title(f"{self.function}: recommended {rec.tool}"
                     + (f", {rec.workers} workers, chunksize {rec.chunksize}"
                        if rec.tool != "serial" else "")
                     + f" (predicted {rec.predicted_speedup:.2f}x)", fontsize=10)
        if rec.tool == "pool":
            ax.plot([rec.chunksize], [rec.predicted_s], marker="*", ms=14, color="crimson",
                    ls="none", label="recommended")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunksize")
        ax.set_ylabel(f"predicted wall time (s), start method {method}")
        ax.legend(fontsize=8)
        return add_caption(ax.figure, dict(self.metadata) or machine.collect_metadata(),
                           start_method=method)


def limit_blas_threads(threads: int) -> None:
    """Pool initializer: cap this worker's BLAS libraries to ``threads`` threads.

    Use ``ctx.Pool(w, initializer=limit_blas_threads, initargs=(cores // w,))`` so that ``w``
    workers never run more BLAS threads than there are cores (joblib's loky does the same).
    """
    from threadpoolctl import threadpool_limits

    global _BLAS_LIMIT  # noqa: PLW0603 - the limit lives as long as the worker process
    _BLAS_LIMIT = threadpool_limits(limits=threads, user_api="blas")


_BLAS_LIMIT: Any = None


# --- profiling -----------------------------------------------------------------------------


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


def _timed_repeat(run: Callable[[], Any], budget: float, min_time: float = MIN_TIMED_S) -> float:
    """Seconds per call of ``run``, repeating it until ``min_time`` (or ``budget``)."""
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min(min_time, budget):
            return elapsed / calls


def _profile_worker(func: Callable[[Any], Any], items: list[Any], budget: float,
                    usable_cpus: int) -> dict[str, Any]:
    """Run in a child: time ``func`` on the sample, its pickling, threads and BLAS threads."""
    from multiprocessing.pool import ThreadPool

    deadline = time.perf_counter() + budget * 0.5
    start = time.perf_counter()
    first = func(items[0])
    warm_up = time.perf_counter() - start
    # The first call is a warm-up (first-call imports, such as numpy's, and caches are paid
    # once per worker, not per item) and is repeated, unless it alone took half the budget.
    costs, results = ([], []) if warm_up < budget * 0.5 else ([warm_up], [first])
    for item in items[len(costs):]:
        start = time.perf_counter()
        results.append(func(item))
        costs.append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    done = items[:len(costs)]
    left = budget * 0.5 / 3
    if sum(costs) < MIN_TIMED_S:
        # Tiny items: one call is too short to time alone; time the whole loop instead.
        batch = _timed_repeat(lambda: [func(x) for x in done], left) / len(done)
        scale = batch / (sum(costs) / len(done)) if sum(costs) else 1.0
        costs = [c * scale for c in costs]
    arg_blobs = [pickle.dumps(x, protocol=5) for x in done]
    res_blobs = [pickle.dumps(r, protocol=5) for r in results]
    serial = _subset(done, costs, left / 4)
    if sum(costs[:len(serial)]) > left:
        serial = []  # too slow to time repeatedly within the budget: skip threads and BLAS
    k = len(done)
    out = {
        "costs": costs,
        # Item by item: pickle shares repeated objects within one dumps call, so a batch would
        # under-count identical items (Pool pickles each chunk once, items rarely repeat).
        "arg_bytes": sum(map(len, arg_blobs)) / k,
        "result_bytes": sum(map(len, res_blobs)) / k,
        "arg_dumps_s": _timed_repeat(lambda: [pickle.dumps(x, protocol=5) for x in done], left)
        / k,
        "arg_loads_s": _timed_repeat(lambda: [pickle.loads(b) for b in arg_blobs], left) / k,
        "result_dumps_s": _timed_repeat(lambda: [pickle.dumps(r, protocol=5) for r in results],
                                        left) / k,
        "result_loads_s": _timed_repeat(lambda: [pickle.loads(b) for b in res_blobs], left) / k,
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
            parallelism = _relative_parallelism(
                lambda: [func(x) for x in serial],
                lambda: threads.map(func, serial, chunksize=half), left)
            out["gil_fraction"] = min(1.0, max(0.0, 2 - parallelism))
    start = time.perf_counter()
    ThreadPool(2).terminate()
    out["thread_start_stop_s"] = time.perf_counter() - start
    out.update(_blas_profile(func, serial, left))
    return out


def _cpu_per_wall(run: Callable[[], Any], budget: float) -> float:
    """CPU seconds of this process per wall second while ``run`` repeats."""
    wall, cpu = time.perf_counter(), time.process_time()
    _timed_repeat(run, budget)
    return (time.process_time() - cpu) / max(time.perf_counter() - wall, 1e-9)


def _relative_parallelism(one: Callable[[], Any], many: Callable[[], Any], budget: float,
                          rounds: int = 3) -> float:
    """How many cores ``many`` keeps busy relative to ``one`` (CPU per wall second, the least
    of interleaved rounds, so that one lucky round cannot pass for parallelism): about 1 for
    threads that hold the GIL, up to the thread count for work that releases it.

    CPU time, not a wall-time race, and relative to the single-threaded run: on a shared
    machine other processes take the same share from both, and cannot make GIL-bound work
    look parallel.
    """
    ratios = []
    for _ in range(rounds):
        base = _cpu_per_wall(one, budget)
        ratios.append(_cpu_per_wall(many, budget) / max(base, 1e-9))
    return min(ratios)


def _noop(x: Any) -> Any:
    return x


def _subset(items: list[Any], costs: list[float], budget: float) -> list[Any]:
    """The first items whose cost fits in ``budget`` (at least two, when there are two)."""
    total, chosen = 0.0, []
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
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    threads = max((lib.num_threads for lib in controller.select(user_api="blas").lib_controllers),
                  default=1)
    if threads <= 1:
        return {}

    def run() -> None:
        for x in items:
            func(x)

    main_before, others_before = _thread_cpu()
    _timed_repeat(run, budget, min_time=THREAD_CPU_MIN_S)
    main_after, others_after = _thread_cpu()
    if others_after - others_before < BLAS_GAIN * (main_after - main_before):
        return {}
    full = single = math.inf
    for _ in range(3):
        full = min(full, _timed_repeat(run, budget))
        with controller.limit(limits=1, user_api="blas"):
            single = min(single, _timed_repeat(run, budget))
    return {"blas_threads": threads, "blas_ratio": single / full}


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
    until half of ``time_budget`` is spent, then times pickling of the sampled arguments and
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
    method = config.validate_start_method(start_method or config.start_method())
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
    except pools.PoolTimeoutError:
        raise AdviceError(
            f"{name} did not finish profiling within {timeout:g} s (a sample of "
            f"{len(sample)} of the {len(items)} items, starting with item {indices[0]}); the "
            f"profiling process was terminated. If one call of the function really takes that "
            f"long, raise the timeout (--timeout); if it never returns, run it serially on the "
            f"first item to find why."
        ) from None
    except pools.WorkerError as exc:
        cause = exc.__cause__
        raise AdviceError(
            f"{name} raised {type(cause).__name__}: {cause} while being profiled on a sample "
            f"of {len(sample)} of the {len(items)} items. A pool would fail the same way; fix "
            f"the function (run it serially on the same items to see the traceback) before "
            f"asking for advice."
        ) from None
    except pools.WorkerDiedError:
        raise AdviceError(
            f"the process profiling {name} died (a crash, os._exit, a signal or running out of "
            f"memory). A pool's workers would die the same way; run the function serially on "
            f"the same items to see why."
        ) from None
    costs = raw["costs"]
    n_done = len(costs)
    mean = sum(costs) / n_done
    std = robust_std(costs)
    n = len(items)
    positions = tuple(indices[i] / (n - 1) if n > 1 else 0.0 for i in range(n_done))
    single = mean * raw["blas_ratio"] if raw["blas_threads"] else None
    return Profile(
        n_items=n, per_item_s=mean, per_item_std_s=std, sample_positions=positions,
        sample_costs_s=tuple(costs), arg_bytes=raw["arg_bytes"],
        result_bytes=raw["result_bytes"], arg_dumps_s=raw["arg_dumps_s"],
        arg_loads_s=raw["arg_loads_s"], result_dumps_s=raw["result_dumps_s"],
        result_loads_s=raw["result_loads_s"], gil_fraction=raw["gil_fraction"],
        blas_threads=raw["blas_threads"], per_item_single_blas_s=single,
        thread_chunk_overhead_s=raw["thread_chunk_overhead_s"],
        thread_start_stop_s=raw["thread_start_stop_s"],
    )


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
    mpguide.advise.AdviceError: the item list is empty: ...
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


# --- the advisor ---------------------------------------------------------------------------


def chunk_candidates(n_items: int, workers: int) -> list[int]:
    """Chunksizes worth predicting for ``workers``: a log grid, Pool's default, and the
    balanced sizes ``ceil(n / (k * workers))`` for ``k`` in 1, 2, 4, 8.

    Examples
    --------
    >>> chunk_candidates(100, 2)
    [1, 2, 5, 7, 10, 13, 20, 25, 50]
    """
    limit = math.ceil(n_items / workers)
    balanced = {math.ceil(n_items / (k * workers)) for k in (1, 2, 4, 8)}
    grid = {c for c in CHUNKSIZES if c <= limit}
    return sorted({*grid, *balanced, default_chunksize(n_items, workers)})


def worker_candidates(max_workers: int) -> list[int]:
    """1, powers of two below ``max_workers``, and ``max_workers``.

    Examples
    --------
    >>> worker_candidates(6)
    [1, 2, 4, 6]
    """
    counts = {1, max_workers}
    power = 2
    while power < max_workers:
        counts.add(power)
        power *= 2
    return sorted(counts)


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
    method = config.validate_start_method(start_method or config.start_method())
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


def machine_probes() -> dict[str, Any]:
    """The machine card's probes (measured once per machine and cached)."""
    from mpguide import card

    return card.machine_card()["probes"]


def advise(func: Callable[[Any], Any], items: Iterable[Any], *,
           start_methods: Sequence[str] | None = None, max_workers: int | None = None,
           time_budget: float = DEFAULT_TIME_BUDGET, timeout: float | None = None,
           probes: Mapping[str, Any] | None = None,
           metadata: Mapping[str, Any] | None = None,
           measure_free_cores: bool = True) -> Advice:
    """Profile ``func`` on a sample of ``items``, predict every configuration, recommend one.

    Parameters
    ----------
    func
        The function to parallelize, importable by name (defined with ``def`` at the top of a
        module).
    items
        All its arguments; only a small sample is run.
    start_methods
        Start methods to predict (default: every one this platform has).
    max_workers
        Largest pool to consider (default: the usable cores).
    time_budget, timeout
        Seconds of profiling, and the bound on the profiling run (a stuck function fails).
    probes
        The machine card's ``probes`` (default: :func:`machine_probes`).
    metadata
        Machine record for the figure caption (default: collected).
    measure_free_cores
        Start one pool now (:func:`pool_now`) to measure how many cores' worth of CPU the
        workers can get and what start-up costs from this ``__main__``; ``False`` trusts the
        machine card alone and assumes every usable core is free.
    """
    from mpguide import machine

    methods = [config.validate_start_method(m)
               for m in (start_methods or config.available_start_methods())]
    items = check_input(func, items, methods)
    preferred = config.start_method() if config.start_method() in methods else methods[0]
    prof = profile(func, items, start_method=preferred, time_budget=time_budget,
                   timeout=timeout)
    meta = dict(metadata or machine.collect_metadata())
    cores = int(meta.get("usable_cpus") or machine.usable_cpus())
    costs = MachineCosts.from_probes(probes if probes is not None else machine_probes(), cores)
    if measure_free_cores and cores > 1:
        costs = costs.updated(pool_now(cores, preferred, timeout))
    max_workers = max(1, max_workers or cores)
    predictions = [
        predict(prof, costs, workers=w, chunksize=c, start_method=m)
        for m in methods for w in worker_candidates(max_workers)
        for c in chunk_candidates(prof.n_items, w)
    ]
    predictions += [predict_threads(prof, costs, workers=w)
                    for w in worker_candidates(max_workers) if w > 1]
    recommendation = recommend(prof, predictions, preferred)
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"
    return Advice(function=name, profile=prof, costs=costs, predictions=tuple(predictions),
                  recommendation=recommendation,
                  notes=tuple(explain(prof, costs, predictions, recommendation)),
                  metadata=meta)


def recommend(prof: Profile, predictions: Sequence[Prediction],
              preferred_method: str) -> Recommendation:
    """Pick the fastest configuration, or the loop when none is :data:`MIN_SPEEDUP` faster.

    Among start methods within :data:`START_METHOD_TOLERANCE` of the fastest, the preferred
    (platform default) one wins.
    """
    pool = [p for p in predictions if p.tool == "pool"]
    best = min(pool, key=lambda p: p.predicted_s)
    same_method = [p for p in pool if p.start_method == preferred_method]
    if same_method:
        best_preferred = min(same_method, key=lambda p: p.predicted_s)
        if best_preferred.predicted_s <= best.predicted_s * START_METHOD_TOLERANCE:
            best = best_preferred
    threads = [p for p in predictions if p.tool == "threads"]
    if threads:
        best_threads = min(threads, key=lambda p: p.predicted_s)
        if best_threads.predicted_s < best.predicted_s:
            best = best_threads
    serial = prof.serial_s
    if best.predicted_s * MIN_SPEEDUP > serial:
        return Recommendation("serial", 1, None, None, None, serial, 1.0)
    return Recommendation(best.tool, best.workers, best.chunksize,
                          best.start_method if best.tool == "pool" else None,
                          best.blas_threads if best.tool == "pool" else None,
                          best.predicted_s, serial / best.predicted_s)


def explain(prof: Profile, costs: MachineCosts, predictions: Sequence[Prediction],
            rec: Recommendation) -> list[str]:
    """Notes: why this recommendation, the dominant cost, and the guide page about it."""
    notes = [(f"Profiled {len(prof.sample_costs_s)} of {prof.n_items} items: "
              f"{prof.per_item_s * 1e6:.3g} µs per item (spread "
              f"{prof.per_item_std_s * 1e6:.3g} µs), {prof.arg_bytes:.0f} B per argument and "
              f"{prof.result_bytes:.0f} B per result pickled; the loop is predicted to take "
              f"{prof.serial_s:.3g} s.")]
    pool = min((p for p in predictions if p.tool == "pool"), key=lambda p: p.predicted_s)
    terms = pool.terms()
    dominant = pool.dominant()
    if rec.tool == "serial":
        notes.append(
            f"Don't parallelize this: the best Pool ({_workers(pool.workers)}, chunksize "
            f"{pool.chunksize}, {pool.start_method}) is predicted at {pool.predicted_s:.3g} s "
            f"against {prof.serial_s:.3g} s for the loop.")
    if rec.tool == "threads":
        notes.append(
            f"A thread pool is predicted at {rec.predicted_s:.3g} s against "
            f"{pool.predicted_s:.3g} s for the best process Pool: the work releases the GIL "
            f"(two threads ran the sample with {(1 - prof.gil_fraction) * 100:.0f}% parallel "
            f"efficiency), and threads need no pickling and no process start-up "
            f"({PAGES['serialization']}).")
    else:
        notes.append(_dominant_note(dominant, terms[dominant], prof, pool))
    if prof.blas_threads and rec.tool == "pool":
        cap = rec.blas_threads or 1
        notes.append(
            f"The function runs BLAS with {prof.blas_threads} threads; {rec.workers} workers "
            f"would put {rec.workers * prof.blas_threads} threads on {costs.cores} cores. Cap "
            f"each worker to {cap} (initializer=mpguide.advise.limit_blas_threads, "
            f"initargs=({cap},), or threadpoolctl), as joblib does "
            f"({PAGES['oversubscription']}).")
    if costs.parallelism < 0.8 * costs.cores:
        notes.append(
            f"The machine is busy: a pool got only {costs.parallelism:.1f} of its "
            f"{costs.cores} usable cores' worth of CPU while the advisor ran, and the "
            f"prediction counts on that. On an idle machine parallel work would do better.")
    if rec.tool == "pool" and rec.start_method in ("spawn", "forkserver"):
        notes.append(
            f"Start-up was measured from a script whose __main__ imports only mpguide; under "
            f"{rec.start_method} every worker re-imports your __main__, so heavy imports there "
            f"add to it ({PAGES['startup']}).")
    return notes


def _workers(count: int) -> str:
    return f"{count} worker" if count == 1 else f"{count} workers"


def _dominant_note(dominant: str, seconds: float, prof: Profile, chosen: Prediction) -> str:
    page = PAGES[dominant]
    if dominant == "dispatch":
        return (f"Dominant cost: dispatch ({seconds:.3g} s), the pool's fixed cost per chunk "
                f"and per item against {prof.per_item_s * 1e6:.3g} µs of work per item. Larger "
                f"chunks amortize it ({page}).")
    if dominant == "serialization":
        return (f"Dominant cost: moving data ({seconds:.3g} s): every argument "
                f"({prof.arg_bytes:.0f} B) and result ({prof.result_bytes:.0f} B) is pickled "
                f"and sent through one pipe. Send less: share read-only data through an "
                f"initializer or shared memory, return only what you need ({page}).")
    if dominant == "startup":
        return (f"Dominant cost: starting and stopping the pool ({seconds:.3g} s, start method "
                f"{chosen.start_method}). Reuse one pool for many maps, or prefer a start method "
                f"that starts faster ({page}).")
    if dominant == "imbalance":
        return (f"Dominant cost: load imbalance ({seconds:.3g} s): the last chunks leave "
                f"workers idle because item costs are uneven. Use smaller chunks or "
                f"imap_unordered ({page}).")
    if dominant == "oversubscription":
        return (f"Dominant cost: oversubscription ({seconds:.3g} s): more busy processes "
                f"than cores. Use fewer workers or cap BLAS threads ({page}).")
    return (f"Dominant cost: the computation itself ({seconds:.3g} s spread over "
            f"{_workers(chosen.workers)}): the work splits well, more cores would help "
            f"({page}).")


# --- command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``advise`` subcommand's arguments to ``parser``."""
    parser.add_argument("function", metavar="MODULE:FUNC",
                        help="the function to parallelize, e.g. mypackage.work:process")
    parser.add_argument("--items", required=True, metavar="MODULE:FACTORY",
                        help="a function returning the list of items (called with no argument)")
    parser.add_argument("--json", action="store_true", help="print the advice as JSON")
    parser.add_argument("--start-method", action="append", dest="start_methods",
                        choices=config.START_METHODS,
                        help="start method to consider (repeatable; default: all available)")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="largest pool to consider (default: usable cores)")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET,
                        help="seconds of profiling (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_PROFILE_TIMEOUT,
                        help="seconds before a stuck function is abandoned "
                             "(default %(default)s)")
    parser.add_argument("--card", metavar="PATH",
                        help="machine card JSON (from `python -m mpguide machine --json`) to "
                             "use instead of measuring or reading the cached one")


def resolve(target: str, what: str) -> Any:
    """Import ``"module:name"`` and return the attribute; :class:`AdviceError` if impossible.

    Examples
    --------
    >>> resolve("mpguide.workloads:square", "function").__name__
    'square'
    >>> resolve("mpguide.workloads:cube", "function")
    Traceback (most recent call last):
    ...
    mpguide.advise.AdviceError: the function 'cube' is not defined in module mpguide.workloads; ...
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise AdviceError(f"the {what} {target!r} must be written MODULE:NAME, for example "
                          f"mypackage.work:process (a module importable from the current "
                          f"directory or sys.path, then a colon, then the name).")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdviceError(f"cannot import module {module_name!r} for the {what} ({exc}); run "
                          f"the command from the directory that holds it, or install it, or "
                          f"add its folder to PYTHONPATH.") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise AdviceError(f"the {what} {attribute!r} is not defined in module {module_name}; "
                          f"check the spelling (names defined there: "
                          f"{', '.join(_public(module)[:12]) or 'none'}).") from None


def _public(module: Any) -> list[str]:
    """Names of the functions a module defines itself (not those it imports)."""
    return sorted(name for name, value in vars(module).items()
                  if not name.startswith("_") and callable(value)
                  and getattr(value, "__module__", None) == module.__name__)


def run_cli(args: argparse.Namespace) -> int:
    """Run the ``advise`` subcommand; print the advice, or one error paragraph on stderr.

    Returns the exit status: 0 on success, 2 when the input cannot be advised on.
    """
    try:
        func = resolve(args.function, "function")
        factory = resolve(args.items, "item factory")
        if not callable(factory):
            raise AdviceError(f"the item factory {args.items} is not callable; it must be a "
                              f"function that returns the list of items.")
        try:
            items = factory()
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one paragraph
            raise AdviceError(f"the item factory {args.items} raised {type(exc).__name__}: "
                              f"{exc}; it must return the list of items without arguments."
                              ) from None
        probes = None
        if args.card:
            with open(args.card, encoding="utf-8") as handle:
                probes = json.load(handle).get("probes")
            if not isinstance(probes, dict):
                raise AdviceError(f"{args.card} holds no machine card (no 'probes' object); "
                                  f"write one with `python -m mpguide machine --json > "
                                  f"{args.card}`.")
        methods = args.start_methods or config.available_start_methods()
        items = check_input(func, items, methods)
        advice = advise(func, items, start_methods=methods, max_workers=args.max_workers,
                        time_budget=args.time_budget, timeout=args.timeout, probes=probes)
    except (pools.PoolError, config.ConfigError, OSError, KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"mpguide advise: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(advice.to_json(), indent=2))
    else:
        print(render_text(advice))
    return 0


def render_text(advice: Advice) -> str:
    """The advice as a few lines of plain text for the terminal."""
    rec = advice.recommendation
    if rec.tool == "serial":
        head = "Recommendation: keep the plain loop (no parallel configuration wins)."
    else:
        head = (f"Recommendation: {rec.tool}, {rec.workers} workers, chunksize {rec.chunksize}"
                + (f", start method {rec.start_method}" if rec.start_method else "")
                + (f", BLAS capped to {rec.blas_threads} thread(s) per worker"
                   if rec.blas_threads else "")
                + f": predicted {rec.predicted_s:.3g} s, {rec.predicted_speedup:.2f}x the loop.")
    lines = [f"{advice.function}", head, "", *[f"- {note}" for note in advice.notes], "",
             advice.snippet()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mpguide.advise ...``: the ``advise`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="mpguide advise", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


class _CallableModule(type(sys)):
    """Lets ``mpguide.advise(func, items)`` work whether ``mpguide.advise`` resolves to this
    module (once imported, the package attribute is the module) or to the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Advice:
        return advise(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


if __name__ == "__main__":
    sys.exit(main())
