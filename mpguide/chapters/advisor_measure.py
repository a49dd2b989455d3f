"""The advisor's validation, measured: :func:`measure_workload` and the timed runs it makes.

:func:`measure_workload` (declared by :func:`mpguide.chapters.advisor.validation_params`, run
in a fresh interpreter and cached) asks the advisor for its predictions, then times what they
predict. Each timed run is one way of running ``func`` over ``items`` as a script would: the
plain loop, a ``Pool`` or a peer started, mapped and stopped (a script's only call), a thread
pool, joblib from cold or warm workers, and Dask on one cluster kept warm over several maps
(:func:`time_warm`: a cluster takes seconds to start). Every parallel result is checked
against the loop's before its time counts.

Examples
--------
>>> from mpguide import executors, workloads
>>> run = pool_run(workloads.square, [1, 2], [1, 4], spec=executors.Pool(1, start_method="fork"),
...                timeout=60)
>>> run() > 0
True
>>> sweep_chunksizes(100, 2)
[1, 10, 13, 50]
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import executors, machine, peers
from mpguide.chapters import advisor as advisor_chapter
from mpguide.timing import check_same

if TYPE_CHECKING:
    from mpguide.advisor import Advice
    from mpguide.model import Prediction

#: A configuration of the validation: what identifies it (tool, workers, chunksize, ...) and a
#: timed run of it.
Run = tuple[tuple[Any, ...], Callable[[], float]]

CHAPTER = advisor_chapter.CHAPTER
#: Sweep configurations predicted to take longer than this are skipped (seconds): they are far
#: from the best one and would only stretch the benchmark's run time.
MAX_CONFIG_S = 4.0


def pool_run(func: Callable[[Any], Any], items: list[Any], expected: list[Any], *,
             spec: executors.Executor, timeout: float) -> Callable[[], float]:
    """A timed ``with spec.started() as map: map(func, items)``: start, map, close and join
    (a ``Pool``, or a peer), its result checked against the loop's."""

    def run() -> float:
        start = time.perf_counter()
        with spec.started(timeout) as mapper:
            result = mapper(func, items)
        elapsed = time.perf_counter() - start
        check_same(expected, result)
        return elapsed
    return run


def time_threads(func: Callable[[Any], Any], items: list[Any], workers: int,
                 chunksize: int | None) -> float:
    """``ThreadPool(workers).map(func, items, chunksize)``, start and stop included."""
    from multiprocessing.pool import ThreadPool

    start = time.perf_counter()
    with ThreadPool(workers) as pool:
        pool.map(func, items, chunksize=chunksize)
    return time.perf_counter() - start


def time_joblib(func: Callable[[Any], Any], items: list[Any], expected: list[Any],
                workers: int, *, timeout: float = 120.0) -> tuple[float, float]:
    """``Parallel(n_jobs=workers, batch_size="auto")`` (:class:`mpguide.peers.Joblib`) from
    cold workers, start included as a script's single call pays it, then warm (the same call
    again on the same workers): one start serves both (:func:`time_warm`).

    >>> from mpguide import workloads
    >>> cold, warm = time_joblib(workloads.square, [1, 2], [1, 4], 1, timeout=60)
    >>> cold > 0 and warm > 0
    True
    """
    times = time_warm(peers.Joblib(workers), func, items, expected, repeats=1, timeout=timeout)
    return times.first_s, times.samples[0]


def time_serial(func: Callable[[Any], Any], items: list[Any]) -> float:
    """The plain loop, keeping the results as a real loop does (big results then cost their
    memory, as they do in a pool)."""
    start = time.perf_counter()
    results = [func(item) for item in items]
    elapsed = time.perf_counter() - start
    del results
    return elapsed


@dataclasses.dataclass(frozen=True)
class WarmTimes:
    """One started executor's maps: the first (start included), the later ones, the stop."""

    #: Seconds from starting the executor to the end of its first map.
    first_s: float
    #: Seconds of each later map on the same workers.
    samples: tuple[float, ...]
    #: Seconds to stop it.
    stop_s: float

    @property
    def cold_s(self) -> float:
        """The first map with start and stop: what a script's only call pays."""
        return self.first_s + self.stop_s

    @property
    def median_s(self) -> float:
        """Median of the warm maps."""
        return statistics.median(self.samples)


def time_warm(spec: executors.Executor, func: Callable[[Any], Any], items: list[Any],
              expected: list[Any], *, repeats: int, timeout: float) -> WarmTimes:
    """Start ``spec`` once, map ``func`` over ``items`` ``1 + repeats`` times, stop it (a
    peer's package imported first, as a script imports it at its top).

    Examples
    --------
    >>> from mpguide import workloads
    >>> times = time_warm(executors.Pool(1, start_method="fork"), workloads.square, [1, 2],
    ...                   [1, 4], repeats=2, timeout=60)
    >>> len(times.samples), times.cold_s >= times.first_s > 0
    (2, True)
    """
    if isinstance(spec, peers.PeerExecutor):
        importlib.import_module(spec.requires)
    begin = time.perf_counter()
    with spec.started(timeout) as run:
        check_same(expected, run(func, items))
        first = time.perf_counter() - begin
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = run(func, items)
            samples.append(time.perf_counter() - start)
            check_same(expected, result)
        stopping = time.perf_counter()
    return WarmTimes(first, tuple(samples), time.perf_counter() - stopping)


def sweep_chunksizes(n_items: int, workers: int) -> list[int]:
    """Chunksizes of the measured sweep: 1, 10, 100, 1000 below ``n / workers``, Pool's
    default, and one chunk per worker.

    Examples
    --------
    >>> sweep_chunksizes(5000, 2)
    [1, 10, 100, 625, 1000, 2500]
    """
    from mpguide.executors import default_chunksize

    limit = math.ceil(n_items / workers)
    grid = {c for c in (1, 10, 100, 1000) if c <= limit}
    return sorted({*grid, default_chunksize(n_items, workers), limit})


def sweep_predictions(advice: Advice, count: int, workers: int,
                      start_method: str) -> list[Prediction]:
    """The sweep's ``Pool(count)`` configurations, as predicted: every chunksize of
    :func:`sweep_chunksizes` for the most workers, only the best predicted one for fewer
    (a smaller pool is rarely the fastest, and its chunksizes cost the most time to run);
    none predicted past :data:`MAX_CONFIG_S`."""
    from mpguide.model import predict

    preds = [predict(advice.profile, advice.costs, workers=count, chunksize=chunksize,
                     start_method=start_method)
             for chunksize in sweep_chunksizes(advice.profile.n_items, count)]
    if count < workers:
        preds = [min(preds, key=lambda p: p.predicted_s)]
    return [p for p in preds if p.predicted_s <= MAX_CONFIG_S]


def measure_workload(*, name: str, shape: str, func: str, items: str, params: dict[str, Any],
                     start_method: str, repeats: int, workers: int, peers: Sequence[str] = (),
                     timeout: float = 120.0, **hashes: str) -> dict[str, Any]:
    """Advise on ``func`` over ``items(**params)``, then measure the sweep, the peers and the
    recommendation, with pools up to ``workers``.

    Run in a fresh interpreter (:func:`mpguide.chapters.advisor.validate` passes
    :func:`~mpguide.chapters.advisor.validation_params` to
    :func:`mpguide.experiment.run_cached`) so that pool start-up describes a plain script.
    Every configuration is timed once per round, rounds repeated ``repeats`` times, so that a
    change of load on a shared machine hits all of them alike: the loop, the sweep, Pool's
    default, a thread pool of ``workers`` threads and, if in ``peers``, joblib's auto batching
    (cold and warm) and mpire's default chunking. A configuration that two rows name (Pool's
    default chunksize is a point of the sweep, and so is the recommendation, mostly) is timed
    once and its rows share the samples. Then, unless the recommendation was the fastest, it
    and the fastest configuration are timed again, alternately (:func:`runoff_rows`). Dask, if
    in ``peers``, runs after the rounds (:func:`_dask_row`).
    The peers' packages are imported first, as a script imports them at its top. Each result
    is checked against the loop's. ``hashes`` (of the function's and factory's source) only
    key the cache. Returns JSON-ready ``{"advice", "advise_s", "records", "metadata"}``.
    """
    from mpguide import advisor as kit
    from mpguide.peer_probes import peer_spec

    del hashes
    func_ = executors.resolve_target(func)
    items_ = list(executors.resolve_target(items)(**params))
    probes = kit.machine_probes()  # read (or measure) the cards outside the advisor's time
    peer_costs = kit.machine_peer_costs()
    start = time.perf_counter()
    advice = kit.advise(func_, items_, start_methods=[start_method], probes=probes,
                        peer_costs=peer_costs, max_workers=workers)
    advise_s = time.perf_counter() - start
    expected = [func_(x) for x in items_]
    for tool in peers:
        importlib.import_module(peer_spec(tool, 1).requires)

    def run_of(spec: executors.Executor) -> Callable[[], float]:
        return pool_run(func_, items_, expected, spec=spec, timeout=timeout)

    def pool(count: int, chunksize: int | None, blas: int | None) -> Run:
        key = ("pool", count, chunksize or executors.default_chunksize(len(items_), count), blas)
        return key, run_of(executors.Pool(count, chunksize=chunksize, start_method=start_method,
                                          blas_threads=blas))

    def threads(count: int, chunksize: int | None) -> Run:
        key = ("threads", count,
               chunksize or executors.default_chunksize(len(items_), count))
        return key, functools.partial(time_threads, func_, items_, count, chunksize)

    def peer_s(tool: str, chunksize: int | None, *, warm: bool = False) -> float | None:
        return _peer_predicted(advice, peer_costs, tool, workers, chunksize, warm=warm)

    configs: list[tuple[dict[str, Any], Run]] = [
        ({"kind": "serial", "tool": "serial", "workers": 1, "chunksize": None,
          "predicted_s": advice.serial_s}, (("serial",), lambda: time_serial(func_, items_)))]
    for count in kit.worker_candidates(workers):
        for pred in sweep_predictions(advice, count, workers, start_method):
            configs.append(({"kind": "sweep", "tool": "pool", "workers": count,
                             "chunksize": pred.chunksize, "blas_threads": pred.blas_threads,
                             "predicted_s": pred.predicted_s},
                            pool(count, pred.chunksize, pred.blas_threads)))
    configs.append(({"kind": "pool-default", "tool": "pool", "workers": workers,
                     "chunksize": executors.default_chunksize(len(items_), workers)},
                    pool(workers, None, None)))
    configs.append(({"kind": "threads", "tool": "threads", "workers": workers,
                     "chunksize": None}, threads(workers, None)))
    if "joblib" in peers:
        # One start gives both samples: the warm row's run, declared (so run) right after
        # the cold one in each round, takes the warm sample that run left.
        warm_joblib: list[float] = []

        def cold_joblib() -> float:
            cold, warm = time_joblib(func_, items_, expected, workers, timeout=timeout)
            warm_joblib.append(warm)
            return cold
        configs.append(({"kind": "joblib-auto", "tool": "joblib", "workers": workers,
                         "chunksize": None, "predicted_s": peer_s("joblib", None)},
                        (("joblib",), cold_joblib)))
        configs.append(({"kind": "joblib-auto-warm", "tool": "joblib", "workers": workers,
                         "chunksize": None, "predicted_s": peer_s("joblib", None, warm=True)},
                        (("joblib", "warm"), warm_joblib.pop)))
    mpire_s = peer_s("mpire", None) if "mpire" in peers else None
    if mpire_s is not None and mpire_s <= MAX_CONFIG_S:
        configs.append(({"kind": "mpire-default", "tool": "mpire", "workers": workers,
                         "chunksize": None, "predicted_s": mpire_s},
                        (("mpire", workers, None),
                         run_of(peer_spec("mpire", workers, None, start_method)))))
    rec = advice.recommendation
    if rec.tool == "pool":
        recommended = pool(rec.workers, rec.chunksize, rec.blas_threads)
    elif rec.tool in kit.PEER_TOOLS:
        recommended = ((rec.tool, rec.workers, rec.chunksize),
                       run_of(peer_spec(rec.tool, rec.workers, rec.chunksize,
                                        rec.start_method)))
    elif rec.tool == "threads":
        recommended = threads(rec.workers, rec.chunksize)
    else:
        recommended = configs[0][1]  # the loop
    configs.append(({"kind": "recommended", "tool": rec.tool, "workers": rec.workers,
                     "chunksize": rec.chunksize, "blas_threads": rec.blas_threads,
                     "predicted_s": rec.predicted_s}, recommended))
    runs = dict(run for _, run in configs)  # a configuration two rows name runs once
    samples: dict[tuple[Any, ...], list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            samples[key].append(run())
    rows = [{**record, "samples": samples[key], "measured_s": statistics.median(samples[key])}
            for record, (key, _) in configs]
    rows += runoff_rows(configs, samples, rounds=max(repeats, RUNOFF_ROUNDS))
    rows += _dask_row(advice, peer_costs, func_, items_, expected, workers=workers,
                      repeats=repeats, timeout=timeout) if "dask" in peers else []
    records = [{**row, "workload": name, "shape": shape, "start_method": start_method,
                "n_items": len(items_)} for row in rows]
    return {"advice": advice.to_json(), "advise_s": advise_s, "records": records,
            "metadata": machine.collect_metadata()}


#: Kinds of the rows a configuration can be the best of the validation by (what
#: :func:`~mpguide.chapters.advisor.summary` compares the recommendation with; Dask's first
#: call is timed apart, by :func:`_dask_row`).
CONTENDERS = ("serial", "sweep", "pool-default", "threads", "joblib-auto", "mpire-default")
#: Rounds of the runoff between the recommendation and the fastest configuration, at least.
RUNOFF_ROUNDS = 5


def runoff_rows(configs: Sequence[tuple[dict[str, Any], Run]],
                samples: dict[tuple[Any, ...], list[float]], *,
                rounds: int) -> list[dict[str, Any]]:
    """The recommendation against the fastest of the :data:`CONTENDERS`, timed again on fresh
    samples: ``rounds`` rounds, the two runs in turn, first one then the other (none if the
    recommendation was the fastest).

    The fastest of several medians of a few noisy samples each is faster than its
    configuration: picked for its luck, it is the least of several draws. Comparing the
    recommendation with it measures that luck as the recommendation's shortfall; new samples
    of both, taken alike, do not (selection on one sample, comparison on another). Rows
    ``runoff-recommended`` and ``runoff-best``, the latter naming the configuration.

    Examples
    --------
    >>> run = lambda seconds: (lambda: seconds)
    >>> configs = [({"kind": "sweep", "tool": "pool", "workers": 2, "chunksize": 1},
    ...             (("pool", 1), run(0.3))),
    ...            ({"kind": "recommended", "tool": "pool", "workers": 2, "chunksize": 5},
    ...             (("pool", 5), run(0.4)))]
    >>> rows = runoff_rows(configs, {("pool", 1): [0.2], ("pool", 5): [0.4]}, rounds=2)
    >>> [(r["kind"], r["chunksize"], r["samples"]) for r in rows]
    [('runoff-recommended', 5, [0.4, 0.4]), ('runoff-best', 1, [0.3, 0.3])]
    """
    contenders = [(record, run) for record, run in configs if record["kind"] in CONTENDERS]
    best_record, (best_key, best_run) = min(
        contenders, key=lambda c: statistics.median(samples[c[1][0]]))
    rec_record, (rec_key, rec_run) = next(c for c in configs if c[0]["kind"] == "recommended")
    if rec_key == best_key or statistics.median(samples[rec_key]) <= statistics.median(
            samples[best_key]):
        return []
    fresh: dict[str, list[float]] = {"rec": [], "best": []}
    for round_ in range(rounds):
        order = [("rec", rec_run), ("best", best_run)]
        for name, run in order[::-1] if round_ % 2 else order:
            fresh[name].append(run())
    return [{**record, "kind": kind, "samples": fresh[name],
             "measured_s": statistics.median(fresh[name])}
            for kind, name, record in (("runoff-recommended", "rec", rec_record),
                                       ("runoff-best", "best", best_record))]


def _peer_predicted(advice: Advice, peer_costs: dict[str, Any], tool: str, workers: int,
                    chunksize: int | None, *, warm: bool) -> float | None:
    """The model's seconds for ``tool`` (``None`` where it was not measured here)."""
    from mpguide.model import PeerCosts
    from mpguide.peer_model import predict_peer

    if tool not in peer_costs:
        return None
    return predict_peer(advice.profile, advice.costs, PeerCosts.from_record(peer_costs[tool]),
                        workers=workers, chunksize=chunksize, warm=warm).predicted_s


def _dask_row(advice: Advice, peer_costs: dict[str, Any], func: Callable[[Any], Any],
              items: list[Any], expected: list[Any], *, workers: int, repeats: int,
              timeout: float) -> list[dict[str, Any]]:
    """Dask batched at the chunksize of its best predicted configuration, on one cluster kept
    warm for ``repeats`` maps (:func:`time_warm`; a cluster takes seconds to start), its first
    call, start and stop included, kept as ``cold_s``; none past :data:`MAX_CONFIG_S`."""
    from mpguide.peer_probes import peer_spec

    batched = [p for p in advice.predictions
               if p.tool == "dask" and p.workers == workers and p.chunksize is not None]
    if not batched:
        return []
    size = min(batched, key=lambda p: p.predicted_s).chunksize
    predicted = _peer_predicted(advice, peer_costs, "dask", workers, size, warm=True)
    if predicted is None or predicted > MAX_CONFIG_S:
        return []
    times = time_warm(peer_spec("dask", workers, size), func, items, expected,
                      repeats=repeats, timeout=timeout)
    return [{"kind": "dask-batched", "tool": "dask", "workers": workers, "chunksize": size,
             "predicted_s": predicted, "samples": list(times.samples),
             "measured_s": times.median_s, "cold_s": times.cold_s,
             "predicted_cold_s": _peer_predicted(advice, peer_costs, "dask", workers, size,
                                                 warm=False)}]


__all__ = ["CONTENDERS", "MAX_CONFIG_S", "RUNOFF_ROUNDS", "WarmTimes", "measure_workload",
           "pool_run", "runoff_rows", "sweep_chunksizes", "sweep_predictions", "time_joblib",
           "time_serial", "time_threads", "time_warm"]
