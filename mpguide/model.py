"""Cost model: the wall time of ``Pool(w).map(func, items, chunksize=c)``, term by term.

The model predicts what a plain script pays for::

    with ctx.Pool(w) as pool:
        pool.map(func, items, chunksize=c)

from two inputs: the machine's overhead probes (:class:`MachineCosts`, built from the machine
card's ``probes``) and a short profile of the function (:class:`Profile`, filled by
:func:`mpguide.profiler.profile`). Nothing in it is fitted to a workload: every constant is a
probe of the machine card, a measurement of the profile, or ``multiprocessing``'s own rule
(Pool's default chunksize), and each one says where it came from.

The shape of the prediction, for ``n`` items on ``cores`` usable cores:

* **startup**: pool start and stop for the start method (``pool_start_stop_s`` probe), scaled
  by how many workers must start per core;
* **dispatch**: the parent's task and result handler threads pay a fixed cost per chunk and a
  smaller one per item (fitted to the ``map_item_overhead_by_chunksize_s`` probe);
* **serialization**: pickling arguments and unpickling results in the parent, and the bytes
  through Pool's one task pipe and one result pipe (``pipe_bytes_per_s`` probe); the workers'
  own unpickling and pickling runs in parallel with the compute;
* **compute**: the items' cost divided among the workers, each worker's BLAS threads capped so
  that ``workers * blas_threads <= cores``;
* **imbalance**: the last chunks leave some workers idle: chunks are scheduled greedily in
  order, as Pool does, over the profiled cost of each position in the input;
* **oversubscription**: more busy processes than cores (workers plus the parent's own work).

``predicted_s = startup_s + max(parent path, worker path, total CPU / cores)``, where the
start-up term also holds the first chunk's arguments and the last chunk's results, whose
transfer overlaps with nothing.

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
import heapq
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide.executors import default_chunksize

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: Probes of a typical 2-core Linux box, for examples and tests only (never used to predict
#: unless passed explicitly): the shape of ``mpguide.card.machine_card()["probes"]``.
EXAMPLE_PROBES: dict[str, Any] = {
    "pool_start_stop_s": {"fork": 0.006, "spawn": 0.05, "forkserver": 0.025},
    "pool_workers": 2,
    "apply_round_trip_s": 1e-4,
    "map_item_overhead_s": 2e-5,
    "map_item_overhead_by_chunksize_s": {"1": 2e-5, "10": 3e-6, "100": 6e-7, "1000": 2e-7},
    "pickle_dumps_bytes_per_s": 1.5e9,
    "pickle_loads_bytes_per_s": 2.5e9,
    "memcpy_bytes_per_s": 5e9,
    "pipe_bytes_per_s": 1e9,
    "pipe_round_trip_s": 3e-5,
    "shm_create_attach_s": 1e-4,
}

#: Above this many chunks the greedy schedule is not simulated chunk by chunk: the tail is then
#: at most one chunk out of thousands (a bound on the model's own run time, not a measurement).
MAX_SIMULATED_CHUNKS = 20_000

#: Rank correlation between an item's position and its cost above which the profile's costs are
#: treated as a trend along the input (sorted or growing work) rather than random spread.
#: With 8+ sampled items, independent costs rarely reach it (a significance bound, not a fit).
TREND_RANK_CORRELATION = 0.6


class ModelError(ValueError):
    """The probes or the profile cannot feed the model (missing key, impossible value)."""


@dataclasses.dataclass(frozen=True)
class MachineCosts:
    """The machine's overhead constants, as the model uses them.

    Built by :meth:`from_probes` from the machine card's ``probes``; every field names the probe
    that measured it.
    """

    #: Usable cores of this machine (``machine.usable_cpus``).
    cores: int
    #: Pool start+stop seconds per start method, with :attr:`probe_workers` workers
    #: (probe ``pool_start_stop_s``).
    start_stop_s: Mapping[str, float]
    #: Workers of the pool the start-up and map probes used (probe ``pool_workers``).
    probe_workers: int
    #: Parent-side seconds per chunk, fitted to ``map_item_overhead_by_chunksize_s``.
    chunk_overhead_s: float
    #: Parent-side seconds per item beyond the chunk cost, same fit.
    item_overhead_s: float
    #: Bytes per second through a pipe between two processes (probe ``pipe_bytes_per_s``).
    pipe_bytes_per_s: float
    #: ``pickle.dumps`` and ``pickle.loads`` bytes per second (probes of the same names), used
    #: only when the profile did not time pickling itself.
    pickle_dumps_bytes_per_s: float
    pickle_loads_bytes_per_s: float
    #: Cores' worth of CPU this process could get when the advisor ran (measured by
    #: :func:`mpguide.profiler.pool_now`; ``None``: all of :attr:`cores`). On a shared machine
    #: other jobs take the rest, and the workers share what is left.
    free_cores: float | None = None

    def updated(self, now: Any) -> MachineCosts:
        """These costs corrected by a pool the advisor started just now
        (:class:`mpguide.profiler.PoolNow`): its free cores, and its start-up. The card's
        start-up of every start method is scaled by the ratio measured for ``now``'s method,
        so the methods keep the card's proportions while the level follows this moment and
        this ``__main__``.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> now = SimpleNamespace(workers=2, start_method="spawn", free_cores=1.5,
        ...                       start_stop_s=0.1)
        >>> fresh = costs.updated(now)
        >>> fresh.free_cores, fresh.start_stop_s["spawn"], fresh.start_stop_s["fork"]
        (1.5, 0.1, 0.012)
        """
        predicted = self.startup_s(now.start_method, now.workers)
        factor = now.start_stop_s / predicted if predicted > 0 else 1.0
        return dataclasses.replace(
            self, free_cores=now.free_cores,
            start_stop_s={m: s * factor for m, s in self.start_stop_s.items()})

    @property
    def parallelism(self) -> float:
        """Cores the workers can really run on: :attr:`free_cores`, at most :attr:`cores`."""
        if self.free_cores is None:
            return float(self.cores)
        return min(float(self.cores), max(1.0, self.free_cores))

    @classmethod
    def from_probes(cls, probes: Mapping[str, Any], cores: int,
                    free_cores: float | None = None) -> MachineCosts:
        """Derive the model's constants from a machine card's ``probes`` dict.

        The per-item map overhead ``o(c)`` measured at chunksizes ``c`` is split into a cost
        per chunk ``a`` and per item ``b`` (``o(c) = a / c + b``) by least squares on relative
        error, so a chunksize the probe never ran is interpolated on a curve of the right
        shape, not on a straight line.

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> 1.5e-5 < costs.chunk_overhead_s < 2.5e-5, costs.item_overhead_s < 1e-6
        (True, True)
        >>> MachineCosts.from_probes({}, cores=2)
        Traceback (most recent call last):
        ...
        mpguide.model.ModelError: the machine card's probes lack 'pool_start_stop_s'; ...
        """
        required = ("pool_start_stop_s", "pool_workers", "pipe_bytes_per_s",
                    "pickle_dumps_bytes_per_s", "pickle_loads_bytes_per_s")
        for key in required:
            if key not in probes:
                raise ModelError(f"the machine card's probes lack {key!r}; re-run "
                                 f"`python -m mpguide machine` with this mpguide version.")
        by_chunk = probes.get("map_item_overhead_by_chunksize_s") or {
            "1": probes["map_item_overhead_s"]}
        chunk_s, item_s = fit_chunk_overhead(
            {int(c): float(v) for c, v in by_chunk.items()})
        return cls(
            cores=max(1, int(cores)),
            start_stop_s={m: float(s) for m, s in probes["pool_start_stop_s"].items()},
            probe_workers=max(1, int(probes["pool_workers"])),
            chunk_overhead_s=chunk_s,
            item_overhead_s=item_s,
            pipe_bytes_per_s=float(probes["pipe_bytes_per_s"]),
            pickle_dumps_bytes_per_s=float(probes["pickle_dumps_bytes_per_s"]),
            pickle_loads_bytes_per_s=float(probes["pickle_loads_bytes_per_s"]),
            free_cores=free_cores,
        )

    def startup_s(self, start_method: str, workers: int) -> float:
        """Pool start+stop for ``workers`` workers.

        The probe started :attr:`probe_workers` children. Under ``fork`` the parent copies
        itself once per worker, one after the other, so the cost grows with the workers.
        Under ``spawn`` and ``forkserver`` each child imports the interpreter and the main
        module itself, in parallel on the cores, so the cost grows with children per core.

        Examples
        --------
        >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
        >>> costs.startup_s("spawn", 1), costs.startup_s("spawn", 2), costs.startup_s("spawn", 4)
        (0.05, 0.05, 0.1)
        >>> costs.startup_s("fork", 1), costs.startup_s("fork", 4)
        (0.003, 0.012)
        """
        if start_method not in self.start_stop_s:
            raise ModelError(f"no start-up probe for start method {start_method!r}; the card "
                             f"has {', '.join(self.start_stop_s)}.")
        probe = self.start_stop_s[start_method]
        if start_method == "fork":
            return probe * workers / self.probe_workers
        per_child = probe * min(self.probe_workers, self.cores) / self.probe_workers
        return per_child * workers / min(workers, self.cores)


def fit_chunk_overhead(overhead_by_chunksize: Mapping[int, float]) -> tuple[float, float]:
    """Split per-item map overhead ``o(c)`` into ``a`` per chunk and ``b`` per item.

    Minimises the relative error of ``a / c + b`` against the probe; both stay >= 0.

    Examples
    --------
    >>> a, b = fit_chunk_overhead({1: 2.1e-5, 10: 3e-6, 100: 1.2e-6, 1000: 1e-6})
    >>> round(a * 1e6), round(b * 1e6, 1)
    (20, 1.0)
    """
    import numpy as np

    points = sorted((c, v) for c, v in overhead_by_chunksize.items() if c >= 1 and v > 0)
    if not points:
        raise ModelError("the per-item map overhead probe holds no positive value.")
    if len(points) == 1:
        c, v = points[0]
        return v * c, 0.0
    rows = np.array([[1.0 / (c * v), 1.0 / v] for c, v in points])
    (a, b), *_ = np.linalg.lstsq(rows, np.ones(len(points)), rcond=None)
    if b < 0:
        a, b = float(np.mean([c * v for c, v in points])), 0.0
    if a < 0:
        a, b = 0.0, float(np.mean([v for _, v in points]))
    return float(a), float(b)


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

    def __post_init__(self) -> None:
        if self.n_items < 1:
            raise ModelError(f"the profile needs at least one item, got {self.n_items}.")
        if len(self.sample_positions) != len(self.sample_costs_s):
            raise ModelError("sample_positions and sample_costs_s differ in length.")
        if self.per_item_s < 0:
            raise ModelError(f"per_item_s must be >= 0, got {self.per_item_s}.")

    @property
    def serial_s(self) -> float:
        """Predicted time of the plain loop over all items."""
        return self.n_items * self.per_item_s

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

    def item_costs(self, per_item_s: float) -> NDArray[np.float64]:
        """Cost of every item (numpy array), following the profile's trend along the input
        when there is one, else the mean for every item."""
        import numpy as np

        if self.has_trend():
            scale = per_item_s / self.per_item_s if self.per_item_s else 1.0
            order = np.argsort(self.sample_positions)
            xs = np.asarray(self.sample_positions)[order]
            ys = np.asarray(self.sample_costs_s)[order] * scale
            positions = np.linspace(0.0, 1.0, self.n_items) if self.n_items > 1 else np.zeros(1)
            costs = np.interp(positions, xs, ys)
            return costs * (per_item_s * self.n_items / costs.sum()) if costs.sum() else costs
        return np.full(self.n_items, per_item_s)

    def has_trend(self) -> bool:
        """Whether item costs follow their position in the input (sorted or growing work).

        Examples
        --------
        >>> Profile(n_items=100, per_item_s=2.0, sample_positions=(0, .25, .5, .75, 1),
        ...         sample_costs_s=(0, 1, 2, 3, 4)).has_trend()
        False
        >>> Profile(n_items=100, per_item_s=1.75, sample_positions=tuple(i / 7 for i in range(8)),
        ...         sample_costs_s=(0, 1, 1, 2, 2, 2, 3, 3)).has_trend()
        True
        """
        if len(self.sample_costs_s) < 8:
            return False
        return abs(_rank_correlation(self.sample_positions, self.sample_costs_s)) \
            >= TREND_RANK_CORRELATION

    def serialization_s(self, costs: MachineCosts) -> tuple[float, float]:
        """Seconds per item of (parent-side, worker-side) pickling and transfer.

        The parent pickles arguments, unpickles results and pushes both through Pool's single
        task and result pipes; the workers unpickle arguments and pickle results in parallel.
        """
        def timed(value: float | None, nbytes: float, rate: float) -> float:
            return value if value is not None else nbytes / rate

        arg_dumps = timed(self.arg_dumps_s, self.arg_bytes, costs.pickle_dumps_bytes_per_s)
        arg_loads = timed(self.arg_loads_s, self.arg_bytes, costs.pickle_loads_bytes_per_s)
        res_dumps = timed(self.result_dumps_s, self.result_bytes, costs.pickle_dumps_bytes_per_s)
        res_loads = timed(self.result_loads_s, self.result_bytes, costs.pickle_loads_bytes_per_s)
        pipe = (self.arg_bytes + self.result_bytes) / costs.pipe_bytes_per_s
        return arg_dumps + res_loads + pipe, arg_loads + res_dumps


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
    chunksize: int
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
    n_chunks = math.ceil(n / chunksize)
    per_item = profile.per_item_with_blas(threads_per_worker)
    parent_ser, worker_ser = profile.serialization_s(costs)
    startup = costs.startup_s(start_method, workers)
    dispatch = n_chunks * costs.chunk_overhead_s + n * costs.item_overhead_s
    serialization = n * parent_ser
    worker_items = profile.item_costs(per_item) + worker_ser
    compute = n * per_item / workers
    makespan = schedule_makespan(worker_items, chunksize, workers)
    if workers > 1 and profile.per_item_std_s and not profile.has_trend():
        # Independent costs: the last chunk of each worker ends at a random time; the expected
        # maximum of ``workers`` chunk totals lies about sqrt(2 ln w) deviations above the mean
        # (a Gaussian tail bound), and on average the pool waits for half of that.
        makespan += (profile.per_item_std_s * math.sqrt(chunksize)
                     * math.sqrt(2 * math.log(workers)) / 2)
    # The workers finish no earlier than their busiest one (makespan), and no earlier than all
    # the CPU work divided by the cores they really get (cpu_path below): more processes or
    # BLAS threads than free cores stretch the second, not the first.
    worker_path = makespan
    # The first chunk's arguments travel before any worker can start, and the last chunk's
    # results after every worker has finished: those transfers overlap with nothing.
    fill_drain = chunksize * (_arg_transfer(profile, costs) + _result_transfer(profile, costs))
    parent_path = dispatch + serialization
    cpu_path = (parent_path + n * (per_item * threads_per_worker + worker_ser)) \
        / costs.parallelism
    steady = max(parent_path, worker_path, cpu_path)
    parent_bound = parent_path >= max(worker_path, cpu_path)
    return Prediction(
        tool="pool", workers=workers, chunksize=chunksize, start_method=start_method,
        blas_threads=blas_threads, n_chunks=n_chunks, startup_s=startup + fill_drain,
        dispatch_s=dispatch, serialization_s=serialization,
        worker_serialization_s=n * worker_ser / workers,
        compute_s=compute, imbalance_s=max(0.0, makespan - compute - n * worker_ser / workers),
        oversubscription_s=0.0 if parent_bound else max(worker_path, cpu_path) - makespan,
        predicted_s=startup + fill_drain + steady,
        bottleneck="parent" if parent_bound else "workers",
    )


def _arg_transfer(profile: Profile, costs: MachineCosts) -> float:
    """Seconds to pickle, send and unpickle one argument."""
    dumps = profile.arg_dumps_s if profile.arg_dumps_s is not None \
        else profile.arg_bytes / costs.pickle_dumps_bytes_per_s
    loads = profile.arg_loads_s if profile.arg_loads_s is not None \
        else profile.arg_bytes / costs.pickle_loads_bytes_per_s
    return dumps + loads + profile.arg_bytes / costs.pipe_bytes_per_s


def _result_transfer(profile: Profile, costs: MachineCosts) -> float:
    """Seconds to pickle, send and unpickle one result."""
    dumps = profile.result_dumps_s if profile.result_dumps_s is not None \
        else profile.result_bytes / costs.pickle_dumps_bytes_per_s
    loads = profile.result_loads_s if profile.result_loads_s is not None \
        else profile.result_bytes / costs.pickle_loads_bytes_per_s
    return dumps + loads + profile.result_bytes / costs.pipe_bytes_per_s


def predict_threads(profile: Profile, costs: MachineCosts, *, workers: int,
                    chunksize: int | None = None) -> Prediction:
    """Predict ``multiprocessing.pool.ThreadPool(workers).map(func, items, chunksize)``.

    No pickling and no start-up beyond the profiled thread pool's; the share of the compute
    that holds the GIL (``profile.gil_fraction``) runs one thread at a time, the rest in
    parallel on up to ``cores`` threads.

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
    parallel = min(workers, costs.parallelism)
    serial_part = n * profile.per_item_s * profile.gil_fraction
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


def schedule_makespan(item_costs: Any, chunksize: int, workers: int) -> float:
    """Finish time of the busiest worker when chunks go, in order, to the first free worker.

    That is how ``Pool.map`` hands out chunks: one shared task queue, read by whichever worker
    is idle. Beyond :data:`MAX_SIMULATED_CHUNKS` chunks the tail is bounded analytically.

    Examples
    --------
    >>> schedule_makespan([1.0] * 10, chunksize=1, workers=4)  # 3 rounds
    3.0
    >>> schedule_makespan([1.0] * 10, chunksize=5, workers=4)  # 2 chunks, 2 idle workers
    5.0
    """
    import numpy as np

    costs = np.asarray(item_costs, dtype=float)
    starts = np.arange(0, len(costs), chunksize)
    chunks = np.add.reduceat(costs, starts) if len(costs) else np.zeros(0)
    if len(chunks) == 0:
        return 0.0
    if workers == 1:
        return float(chunks.sum())
    if len(chunks) > MAX_SIMULATED_CHUNKS:
        return float(chunks.sum() / workers + chunks.max() * (1 - 1 / workers))
    free = [0.0] * min(workers, len(chunks))
    for chunk in chunks.tolist():
        heapq.heapreplace(free, free[0] + chunk)
    return float(max(free))
