"""Cost model: the wall time of ``Pool(w).map(func, items, chunksize=c)``, term by term.

The model predicts what a plain script pays for::

    with ctx.Pool(w) as pool:
        pool.map(func, items, chunksize=c)

from two inputs: the machine's overhead probes (:class:`~mpguide.costs.MachineCosts`, built
from the machine card's ``probes``; :mod:`mpguide.costs`, whose names this module re-exports)
and a short profile of the function (:class:`Profile`, filled by
:func:`mpguide.profiler.profile`). Nothing in it is fitted to a workload: every constant is a
probe of the machine card, a measurement of the profile, or ``multiprocessing``'s own rule
(Pool's default chunksize), and each one says where it came from.

The shape of the prediction, for ``n`` items on ``cores`` usable cores:

* **startup**: pool start and stop for the start method (``pool_start_stop_s`` probe), scaled
  by how many workers must start per core, and what each fresh worker pays once for this
  function (its first call, its BLAS cap: :meth:`Profile.worker_start_s`);
* **dispatch**: the parent's task and result handler threads pay a fixed cost per chunk and a
  smaller one per item (fitted to the ``map_item_overhead_by_chunksize_s`` probe);
* **serialization**: pickling arguments and unpickling results in the parent, and the bytes
  through Pool's one task path and one result path (``pool_argument_bytes_per_s`` and
  ``pool_result_bytes_per_s`` probes, less their pickling:
  :meth:`~mpguide.costs.MachineCosts.pool_channel`), never below those paths' own rates
  (:meth:`~mpguide.costs.MachineCosts.pool_path_s`); the workers' own unpickling and pickling
  runs in parallel with the compute; results made of objects add what a real map of the
  sample on every core cost beyond these terms, per result (:meth:`Profile.pool_receive_s`);
* **compute**: the items' cost divided among the workers, each worker's BLAS threads capped so
  that ``workers * blas_threads <= cores``;
* **imbalance**: the last chunks leave some workers idle: chunks are scheduled greedily in
  order, as Pool does, over the profiled cost of each position in the input;
* **oversubscription**: more busy processes than cores (workers plus the parent's own work).

``predicted_s = startup_s + max(parent path, worker path, total CPU / cores)``, where the
start-up term also holds the first chunk's arguments and the last chunk's results, whose
transfer overlaps with nothing. :func:`predict_chunks` computes these terms for any chunking
and any executor's overheads: Pool's (:func:`predict`) and the peers'
(:mod:`mpguide.peer_model`).

Examples
--------
>>> from mpguide.model import MachineCosts, Profile, predict
>>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
>>> prof = Profile(n_items=1000, per_item_s=1e-3)
>>> p = predict(prof, costs, workers=2, chunksize=50, start_method="fork")
>>> round(p.compute_s, 3), p.bottleneck
(0.5, 'workers')
>>> 0.5 < p.predicted_s < 0.6
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mpguide.costs import (
    EXAMPLE_PEER_COSTS,
    EXAMPLE_PROBES,
    MachineCosts,
    ModelError,
    PeerCosts,
    fit_chunk_overhead,
)
from mpguide.executors import default_chunksize
from mpguide.schedule import MAX_SIMULATED_CHUNKS, chunk_sizes, schedule_makespan

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: Rank correlation between an item's position and its cost above which the profile's costs are
#: treated as a trend along the input (sorted or growing work) rather than random spread.
#: With 8+ sampled items, independent costs rarely reach it (a significance bound, not a fit).
TREND_RANK_CORRELATION = 0.6
#: Sampled items costing at least ``HEAVY_FACTOR`` times the sample's median are heavy; when
#: ``HEAVY_RUN`` of them sit next to each other in the input (a block of heavy items, such as
#: the big ones at the end), the costs follow the input. The sample is timed in spread order,
#: not input order, so one burst of load cannot slow down neighbours in the input. A heavy
#: item also costs ``HEAVY_MIN_S`` or more: below, one call's time is mostly the clock's.
HEAVY_FACTOR, HEAVY_RUN, HEAVY_MIN_S = 2.0, 2, 1e-4


@dataclasses.dataclass(frozen=True)
class Profile:
    """What the model needs to know about one function and its items.

    Filled by :func:`mpguide.profiler.profile` from a small sample of the items; all times are
    seconds per item, all sizes pickled bytes per item (means over the sample).
    """

    #: Items in the whole input.
    n_items: int
    #: Mean compute seconds per item, with the BLAS threads the function used by default.
    per_item_s: float
    #: Standard deviation of the per-item compute time.
    per_item_std_s: float = 0.0
    #: Positions (0 = first item, 1 = last) and costs of the sampled items, for uneven inputs.
    sample_positions: tuple[float, ...] = ()
    sample_costs_s: tuple[float, ...] = ()
    #: Pickled size of one argument and one result.
    arg_bytes: float = 0.0
    result_bytes: float = 0.0
    #: Seconds to pickle / unpickle one argument and one result (``None``: estimate from the
    #: size and the pickle probes).
    arg_dumps_s: float | None = None
    arg_loads_s: float | None = None
    result_dumps_s: float | None = None
    result_loads_s: float | None = None
    #: Fraction of the compute that holds the GIL (1: pure Python, 0: releases it throughout).
    gil_fraction: float = 1.0
    #: BLAS threads the function ran with by default, or ``None`` when it does not gain from
    #: BLAS threads.
    blas_threads: int | None = None
    #: Mean seconds per item with BLAS capped to one thread (``None`` without BLAS).
    per_item_single_blas_s: float | None = None
    #: A ``ThreadPool``'s overhead per chunk, and its start+stop (measured by the profile,
    #: since the machine card has no thread probe).
    thread_chunk_overhead_s: float = 0.0
    thread_start_stop_s: float = 0.0
    #: Objects the garbage collector tracks in one result (dicts, lists, instances), the
    #: objects it tracks in the process that keeps the results, and the seconds one full
    #: collection spends per tracked object (:meth:`collection_s`).
    result_objects: float = 0.0
    heap_objects: int = 0
    gc_object_s: float = 0.0
    #: Tracked objects one call allocates (kept or not), and how many tracked allocations
    #: pass between two chances of a full collection (``gc.get_threshold()``: 700 x 11 x 11).
    allocated_objects: float = 0.0
    gc_period_objects: float = 84_700.0
    #: Seconds a ``Pool(pool_map_workers)`` of ``pool_map_method`` took to start, map the
    #: first ``pool_map_items`` sampled items at chunksize 1 (results kept) and stop
    #: (measured when results hold objects; ``0``: not measured): :meth:`pool_receive_s`.
    pool_map_s: float = 0.0
    pool_map_items: int = 0
    pool_map_workers: int = 1
    pool_map_method: str = ""
    #: Seconds a fresh worker's first call took beyond the same item's next one (imports,
    #: caches), and the BLAS cap of a pool's initializer took there (``0``: no BLAS).
    first_call_s: float = 0.0
    blas_cap_s: float = 0.0

    def __post_init__(self) -> None:
        if self.n_items < 1:
            raise ModelError(f"the profile needs at least one item, got {self.n_items}.")
        if len(self.sample_positions) != len(self.sample_costs_s):
            raise ModelError("sample_positions and sample_costs_s differ in length.")
        if self.per_item_s < 0:
            raise ModelError(f"per_item_s must be >= 0, got {self.per_item_s}.")

    @property
    def serial_s(self) -> float:
        """Predicted time of the plain loop over all items, keeping the results."""
        return self.n_items * self.per_item_s + self.collection_s()

    def collection_s(self) -> float:
        """Seconds of the garbage collector's full passes while the results of every item
        pile up, in a loop or in the parent of a pool. CPython 3.8-3.13 considers a full
        pass once every ``gc_period_objects`` tracked allocations, and runs it when the
        objects kept since the last one exceed a quarter of those it kept; a pass walks every
        tracked object. The expectation over where the first chance falls; zero when results
        hold no tracked objects (numbers, strings, bytes, arrays).

        Examples
        --------
        >>> p = Profile(n_items=100, per_item_s=0.0, result_objects=100.0,
        ...             allocated_objects=1000.0, heap_objects=10_000, gc_object_s=1e-6)
        >>> round(p.collection_s(), 3), Profile(n_items=100, per_item_s=0.0).collection_s()
        (0.014, 0.0)
        """
        return _collection_s(self.n_items, self.result_objects,
                             max(self.allocated_objects, self.result_objects),
                             self.heap_objects, self.gc_object_s,
                             period=self.gc_period_objects)

    def pool_receive_s(self, costs: MachineCosts) -> float:
        """Seconds per result that a real ``Pool``'s parent spends beyond the model's terms:
        the measured map of the sample (:attr:`pool_map_s`) less its prediction, never
        below 0.

        Results made of objects (dicts, lists) cost a real pool more than their unpickling
        timed alone: the collector's passes in the parent walk them in a busy process, fresh
        workers walk the heap they inherited, Pool's worker handler wakes whenever the
        result pipe holds unread data, and a worker whose result outgrows the pipe waits
        for the parent to read it. That cost is measured on this function, not derived; it
        is paid once per result in the parent, so it does not shrink with more workers.

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> p = Profile(n_items=100, per_item_s=1e-3, pool_map_s=0.04, pool_map_items=10,
        ...             pool_map_method="fork")
        >>> round(p.pool_receive_s(costs) * 1e3, 1)  # ms per result
        2.7
        >>> Profile(n_items=100, per_item_s=1e-3).pool_receive_s(costs)
        0.0
        """
        if not self.pool_map_items:
            return 0.0
        sample = dataclasses.replace(self, n_items=self.pool_map_items, pool_map_items=0)
        modelled = predict(sample, costs, workers=self.pool_map_workers, chunksize=1,
                           start_method=self.pool_map_method, cap_blas=False)
        return max(0.0, (self.pool_map_s - modelled.predicted_s) / self.pool_map_items)

    def worker_start_s(self, workers: int, cores: int, *, capped: bool) -> float:
        """Seconds a pool's start-up grows by for this function: each fresh worker's first
        call, and its BLAS cap when ``capped``, paid once per worker, ``cores`` workers at a
        time. Both are timed in the profile's worker, started from this process as it is
        now: a forked worker inherits what its parent has imported by then, so a script that
        imports more before starting its pool pays less.

        >>> Profile(n_items=1, per_item_s=0, first_call_s=0.01, blas_cap_s=0.02).worker_start_s(
        ...     4, 2, capped=True)
        0.06
        """
        once = self.first_call_s + (self.blas_cap_s if capped else 0.0)
        return once * math.ceil(workers / max(1, cores))

    def per_item_with_blas(self, threads: int) -> float:
        """Mean compute seconds per item with BLAS capped to ``threads`` threads.

        Amdahl's law fitted through the two profiled points (one thread, default threads).

        Examples
        --------
        >>> p = Profile(n_items=1, per_item_s=0.6, blas_threads=2, per_item_single_blas_s=1.0)
        >>> p.per_item_with_blas(1), round(p.per_item_with_blas(2), 3)
        (1.0, 0.6)
        """
        if not self.blas_threads or self.per_item_single_blas_s is None:
            return self.per_item_s
        base = self.per_item_single_blas_s
        speedup = base / self.per_item_s if self.per_item_s else 1.0
        if self.blas_threads <= 1 or speedup <= 1:
            return min(base, self.per_item_s) if threads >= self.blas_threads else base
        parallel = min(1.0, max(0.0, (1 - 1 / speedup) / (1 - 1 / self.blas_threads)))
        return base * ((1 - parallel) + parallel / max(1, threads))

    def item_costs(self, per_item_s: float | None = None) -> NDArray[np.float64]:
        """Cost of every item (numpy array), interpolated between the sampled items' costs
        where they follow the input (:meth:`follows_input`), else the mean for every item;
        scaled to a mean of ``per_item_s`` (``None``: as sampled)."""
        import numpy as np

        mean = self.per_item_s if per_item_s is None else per_item_s
        if self.follows_input():
            order = np.argsort(self.sample_positions)
            xs = np.asarray(self.sample_positions)[order]
            ys = np.asarray(self.sample_costs_s)[order]
            positions = np.linspace(0.0, 1.0, self.n_items) if self.n_items > 1 else np.zeros(1)
            costs: NDArray[np.float64] = np.interp(positions, xs, ys)
            if per_item_s is None or not costs.sum():
                return costs
            return costs * float(mean * self.n_items / costs.sum())
        return np.full(self.n_items, mean)

    def follows_input(self) -> bool:
        """Whether item costs depend on their place in the input: a trend (sorted or growing
        work) or a block of heavy items (:data:`HEAVY_FACTOR`, :data:`HEAVY_RUN`), which the
        schedule must see where they are, rather than independent spread around the mean.

        Examples
        --------
        >>> at = tuple(i / 9 for i in range(10))
        >>> Profile(n_items=100, per_item_s=1.75, sample_positions=at[:8],
        ...         sample_costs_s=(0, 1, 1, 2, 2, 2, 3, 3)).follows_input()
        True
        >>> heavy_last = (1, 1, 1, 1, 1, 1, 1, 1, 20, 20)
        >>> Profile(n_items=100, per_item_s=4.8, sample_positions=at,
        ...         sample_costs_s=heavy_last).follows_input()
        True
        >>> one_slow_call = (1, 1, 1, 20, 1, 1, 1, 1, 1, 1)
        >>> Profile(n_items=100, per_item_s=2.9, sample_positions=at,
        ...         sample_costs_s=one_slow_call).follows_input()
        False
        """
        import numpy as np

        if len(self.sample_costs_s) < 8:
            return False
        if abs(_rank_correlation(self.sample_positions, self.sample_costs_s)) \
                >= TREND_RANK_CORRELATION:
            return True
        in_order = np.asarray(self.sample_costs_s)[np.argsort(self.sample_positions)]
        heavy = (in_order >= HEAVY_FACTOR * np.median(in_order)) & (in_order >= HEAVY_MIN_S)
        return bool(np.convolve(heavy, np.ones(HEAVY_RUN), "valid").max() >= HEAVY_RUN)

    def serialization_s(self, costs: MachineCosts,
                        channel: tuple[float, float] | None = None) -> tuple[float, float]:
        """Seconds per item of (parent-side, worker-side) pickling and transfer.

        The parent pickles arguments, unpickles results and pushes both through Pool's single
        task and result pipes (``channel``: another executor's seconds per argument byte and
        per result byte instead); the workers unpickle arguments and pickle results in
        parallel.
        """
        def timed(value: float | None, nbytes: float, rate: float) -> float:
            return value if value is not None else nbytes / rate

        arg_dumps = timed(self.arg_dumps_s, self.arg_bytes, costs.pickle_dumps_bytes_per_s)
        arg_loads = timed(self.arg_loads_s, self.arg_bytes, costs.pickle_loads_bytes_per_s)
        res_dumps = timed(self.result_dumps_s, self.result_bytes, costs.pickle_dumps_bytes_per_s)
        res_loads = timed(self.result_loads_s, self.result_bytes, costs.pickle_loads_bytes_per_s)
        arg_byte, result_byte = channel or costs.pool_channel()
        sent = arg_dumps + self.arg_bytes * arg_byte
        received = res_loads + self.result_bytes * result_byte
        if channel is None:  # Pool's own paths: never faster than the card measured them
            floor_sent, floor_received = costs.pool_path_s(self.arg_bytes, self.result_bytes)
            sent, received = max(sent, floor_sent), max(received, floor_received)
        return sent + received, arg_loads + res_dumps


@functools.lru_cache(maxsize=256)
def _collection_s(n_items: int, kept: float, allocated: float, heap: int, per_object_s: float,
                  *, period: float, phases: int = 8) -> float:
    """:meth:`Profile.collection_s`, averaged over ``phases`` places of the first chance."""
    if kept <= 0 or per_object_s <= 0 or period <= 0:
        return 0.0
    spacing = period / allocated  # items between two chances of a full pass
    seconds = 0.0
    for phase in range(phases):
        walked, last = float(max(1, heap)), 0.0
        at = (phase + 0.5) / phases * spacing
        while at <= n_items:
            pending = (at - last) * kept
            if pending > walked / 4:
                walked, last = walked + pending, at
                seconds += walked * per_object_s
            at += spacing
    return seconds / phases


def _ranks(values: Sequence[float]) -> NDArray[np.float64]:
    """Ranks with ties sharing their average rank (so equal costs carry no trend)."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    order = np.argsort(array, kind="stable")
    ranks = np.empty(len(array))
    ordered = array[order]
    start = 0
    while start < len(array):
        end = start
        while end + 1 < len(array) and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2
        start = end + 1
    return ranks


def _rank_correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation of two samples (0 when either is constant)."""
    import numpy as np

    rx, ry = _ranks(xs), _ranks(ys)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def blas_cap(profile: Profile, workers: int, cores: int) -> int | None:
    """BLAS threads per worker so that ``workers * threads <= cores``; ``None`` without BLAS.

    Examples
    --------
    >>> blas_cap(Profile(n_items=1, per_item_s=1, blas_threads=8), workers=2, cores=8)
    4
    >>> blas_cap(Profile(n_items=1, per_item_s=1), workers=2, cores=8) is None
    True
    """
    if not profile.blas_threads:
        return None
    return max(1, min(profile.blas_threads, cores // workers))


@dataclasses.dataclass(frozen=True)
class Prediction:
    """Predicted wall time of one configuration, with every term of the model visible.

    ``predicted_s = startup_s + max(dispatch_s + serialization_s, compute_s +
    worker_serialization_s + imbalance_s + oversubscription_s)``, where the oversubscription
    term also absorbs the CPU the parent's own work takes from the workers.
    ``bottleneck`` says which side set the time: ``"parent"`` (dispatch and transfer) or
    ``"workers"``.
    """

    tool: str
    workers: int
    #: Items per chunk; ``None`` for a tool's own rule (joblib's ``batch_size="auto"``, mpire's
    #: default chunking, one Dask task per item).
    chunksize: int | None
    start_method: str
    blas_threads: int | None
    n_chunks: int
    startup_s: float
    dispatch_s: float
    serialization_s: float
    worker_serialization_s: float
    compute_s: float
    imbalance_s: float
    oversubscription_s: float
    predicted_s: float
    bottleneck: str

    def terms(self) -> dict[str, float]:
        """The named cost terms (seconds), for notes and stacked plots."""
        return {"startup": self.startup_s, "dispatch": self.dispatch_s,
                "serialization": self.serialization_s + self.worker_serialization_s,
                "compute": self.compute_s, "imbalance": self.imbalance_s,
                "oversubscription": self.oversubscription_s}

    def dominant(self) -> str:
        """Name of the largest cost term."""
        terms = self.terms()
        return max(terms, key=terms.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self)


def predict(profile: Profile, costs: MachineCosts, *, workers: int, chunksize: int | None,
            start_method: str, blas_threads: int | None = None,
            cap_blas: bool = True) -> Prediction:
    """Predict ``ctx.Pool(workers).map(func, items, chunksize)`` including start and stop.

    ``chunksize=None`` means Pool's default. ``blas_threads`` is the cap each worker applies
    (default: :func:`blas_cap`, so workers never oversubscribe the cores through BLAS);
    ``cap_blas=False`` predicts the plain pool, whose every worker runs BLAS on as many
    threads as the profile found (``blas_threads`` of the prediction is then ``None``).

    Examples
    --------
    >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
    >>> tiny = Profile(n_items=100_000, per_item_s=1e-6)
    >>> one = predict(tiny, costs, workers=2, chunksize=1, start_method="fork")
    >>> big = predict(tiny, costs, workers=2, chunksize=1000, start_method="fork")
    >>> one.bottleneck, one.predicted_s > 10 * big.predicted_s
    ('parent', True)
    """
    if workers < 1:
        raise ModelError(f"workers must be >= 1, got {workers}.")
    n = profile.n_items
    chunksize = default_chunksize(n, workers) if chunksize is None else max(1, int(chunksize))
    if not cap_blas:
        blas_threads = None
        threads_per_worker = profile.blas_threads or 1
    else:
        if blas_threads is None:
            blas_threads = blas_cap(profile, workers, costs.cores)
        threads_per_worker = blas_threads or 1
    startup_s = costs.startup_s(start_method, workers) + profile.worker_start_s(
        workers, costs.cores, capped=blas_threads is not None)
    return predict_chunks(
        profile, costs, chunksize, tool="pool", workers=workers,
        chunksize=chunksize, start_method=start_method, blas_threads=blas_threads,
        threads_per_worker=threads_per_worker, startup_s=startup_s,
        chunk_overhead_s=costs.chunk_overhead_s, item_overhead_s=costs.item_overhead_s,
        receive_s=profile.pool_receive_s(costs))


def predict_chunks(profile: Profile, costs: MachineCosts, chunks: int | Sequence[int], *,
                   tool: str, workers: int, chunksize: int | None, start_method: str,
                   blas_threads: int | None, threads_per_worker: int, startup_s: float,
                   chunk_overhead_s: float, item_overhead_s: float,
                   channel: tuple[float, float] | None = None,
                   receive_s: float = 0.0) -> Prediction:
    """The model's terms for ``chunks`` (one chunksize, or every chunk's size in the order they
    are handed out to the first free of ``workers`` workers, each running BLAS on
    ``threads_per_worker`` threads), with an executor's own start+stop and parent-side cost
    per chunk and per item.

    :func:`predict` is this with Pool's costs; the peers' predictions
    (:mod:`mpguide.peer_model`) are this with theirs. ``tool``, ``chunksize`` (``None``: the
    tool's own rule), ``start_method`` and ``blas_threads`` only label the prediction;
    ``channel`` is the executor's seconds per argument and per result byte (default: Pool's
    pipes, :meth:`Profile.serialization_s`); ``receive_s`` the parent's measured extra seconds
    per result (Pool's: :meth:`Profile.pool_receive_s`).
    """
    n = profile.n_items
    n_chunks, first, last = _chunk_shape(chunks, n, workers)
    per_item = profile.per_item_with_blas(threads_per_worker)
    parent_ser, worker_ser = profile.serialization_s(costs, channel)
    dispatch = n_chunks * chunk_overhead_s + n * item_overhead_s
    # Results pile up in the parent (collection_s), each at its measured extra cost.
    serialization = n * (parent_ser + receive_s) + profile.collection_s()
    worker_items = profile.item_costs(per_item) + worker_ser
    compute = n * per_item / workers
    makespan = schedule_makespan(worker_items, chunks, workers)
    if workers > 1 and profile.per_item_std_s and not profile.follows_input():
        # Independent costs: the last chunk of each worker ends at a random time; the expected
        # maximum of ``workers`` chunk totals lies about sqrt(2 ln w) deviations above the mean
        # (a Gaussian tail bound), and on average the pool waits for half of that.
        makespan += (profile.per_item_std_s * math.sqrt(last)
                     * math.sqrt(2 * math.log(workers)) / 2)
    # The workers finish no earlier than their busiest one (makespan), and no earlier than all
    # the CPU work divided by the cores they really get (cpu_path below): more processes or
    # BLAS threads than free cores stretch the second, not the first.
    worker_path = makespan
    # The first chunk's arguments travel before any worker can start, and the last chunk's
    # results after every worker has finished: those transfers overlap with nothing.
    arg_byte, result_byte = channel or costs.pool_channel()
    p = profile
    fill_drain = first * _transfer(p.arg_bytes, p.arg_dumps_s, p.arg_loads_s, costs, arg_byte) \
        + last * _transfer(p.result_bytes, p.result_dumps_s, p.result_loads_s, costs, result_byte)
    parent_path = dispatch + serialization
    cpu_path = (parent_path + n * (per_item * threads_per_worker + worker_ser)) \
        / costs.parallelism
    steady = max(parent_path, worker_path, cpu_path)
    parent_bound = parent_path >= max(worker_path, cpu_path)
    return Prediction(
        tool=tool, workers=workers, chunksize=chunksize, start_method=start_method,
        blas_threads=blas_threads, n_chunks=n_chunks, startup_s=startup_s + fill_drain,
        dispatch_s=dispatch, serialization_s=serialization,
        worker_serialization_s=n * worker_ser / workers,
        compute_s=compute, imbalance_s=max(0.0, makespan - compute - n * worker_ser / workers),
        oversubscription_s=0.0 if parent_bound else max(worker_path, cpu_path) - makespan,
        predicted_s=startup_s + fill_drain + steady,
        bottleneck="parent" if parent_bound else "workers",
    )


def _chunk_shape(chunks: int | Sequence[int], n_items: int,
                 workers: int) -> tuple[int, int, int]:
    """(number of chunks, size of the first, largest of the last round): the last round of
    chunks decides when the workers finish.

    >>> _chunk_shape(4, 10, 2), _chunk_shape([1, 1, 8], 10, 2)
    ((3, 4, 4), (3, 1, 8))
    """
    if not isinstance(chunks, int):
        if sum(chunks) != n_items:
            raise ModelError(f"the chunks hold {sum(chunks)} items, the profile {n_items}.")
        return len(chunks), chunks[0], max(chunks[-workers:])
    count = math.ceil(n_items / chunks)
    rest = n_items - (count - 1) * chunks
    return count, min(chunks, n_items), rest if workers == 1 or count == 1 else chunks


def _transfer(nbytes: float, dumps_s: float | None, loads_s: float | None,
              costs: MachineCosts, per_byte: float) -> float:
    """Seconds to pickle, send (``per_byte``) and unpickle one argument or result of
    ``nbytes``, at the profile's timed pickling where it has one, else the card's."""
    dumps = dumps_s if dumps_s is not None else nbytes / costs.pickle_dumps_bytes_per_s
    loads = loads_s if loads_s is not None else nbytes / costs.pickle_loads_bytes_per_s
    return dumps + loads + nbytes * per_byte


def predict_threads(profile: Profile, costs: MachineCosts, *, workers: int,
                    chunksize: int | None = None) -> Prediction:
    """Predict ``multiprocessing.pool.ThreadPool(workers).map(func, items, chunksize)``.

    No pickling and no start-up beyond the profiled thread pool's; the share of the compute
    that holds the GIL (``profile.gil_fraction``) runs one thread at a time, the rest in
    parallel on up to ``cores`` threads (for a BLAS function, the cores its BLAS threads'
    speedup in the loop leaves).

    Examples
    --------
    >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
    >>> gil = predict_threads(Profile(n_items=100, per_item_s=0.01), costs, workers=2)
    >>> free = predict_threads(Profile(n_items=100, per_item_s=0.01, gil_fraction=0.0),
    ...                        costs, workers=2)
    >>> round(gil.predicted_s, 2), round(free.predicted_s, 2)
    (1.0, 0.5)
    """
    n = profile.n_items
    chunksize = default_chunksize(n, workers) if chunksize is None else max(1, int(chunksize))
    n_chunks = math.ceil(n / chunksize)
    # A BLAS function's loop already gets its BLAS threads' speedup: threads add the rest.
    gain = max(1.0, (profile.per_item_single_blas_s or 0.0) / (profile.per_item_s or 1.0))
    parallel = max(1.0, min(workers * gain, costs.parallelism) / gain)
    serial_part = n * profile.per_item_s * profile.gil_fraction + profile.collection_s()
    compute = n * profile.per_item_s * (1 - profile.gil_fraction) / parallel + serial_part
    dispatch = n_chunks * profile.thread_chunk_overhead_s
    makespan = schedule_makespan(profile.item_costs(profile.per_item_s), chunksize, workers)
    imbalance = max(0.0, makespan - n * profile.per_item_s / workers) \
        * (1 - profile.gil_fraction)
    steady = compute + imbalance + dispatch
    return Prediction(
        tool="threads", workers=workers, chunksize=chunksize, start_method="threads",
        blas_threads=profile.blas_threads, n_chunks=n_chunks,
        startup_s=profile.thread_start_stop_s, dispatch_s=dispatch, serialization_s=0.0,
        worker_serialization_s=0.0, compute_s=compute, imbalance_s=imbalance,
        oversubscription_s=0.0, predicted_s=profile.thread_start_stop_s + steady,
        bottleneck="gil" if profile.gil_fraction > 0.5 else "workers",
    )


__all__ = ["EXAMPLE_PEER_COSTS", "EXAMPLE_PROBES", "HEAVY_FACTOR", "HEAVY_MIN_S", "HEAVY_RUN",
           "MAX_SIMULATED_CHUNKS", "TREND_RANK_CORRELATION", "MachineCosts", "ModelError",
           "PeerCosts", "Prediction", "Profile", "blas_cap", "chunk_sizes", "fit_chunk_overhead",
           "predict", "predict_chunks", "predict_threads", "schedule_makespan"]
