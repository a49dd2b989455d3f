"""The advisor: will ``multiprocessing`` speed up *this* function on *this* machine?

:func:`advise` profiles a function on a small sample of its items (a few seconds at most, in a
child process, every wait bounded: :mod:`mpguide.profiler`), feeds the profile and the machine
card's probes to the cost model (:mod:`mpguide.model`), predicts the wall time of every
configuration of a grid (workers x chunksize x start method, plus a thread pool, plus the
installed peers: joblib, mpire and Dask, :mod:`mpguide.peer_model`), and recommends one: a
``multiprocessing.Pool`` configuration, a thread pool, a peer where it is predicted clearly
faster than both, or the plain loop when nothing beats it. The notes name the cost that
dominates and the guide page about it, and put the best peer beside the best Pool. The
package exports the function as ``mpguide.advise``.

The same runs from a shell (:mod:`mpguide.cli`)::

    python -m mpguide advise mymodule:work --items mymodule:make_items [--json]

Examples
--------
>>> import mpguide
>>> from mpguide import model, workloads
>>> advice = mpguide.advise(workloads.square, range(20_000), start_methods=["fork"],
...                         probes=model.EXAMPLE_PROBES, time_budget=0.5)
>>> advice.recommendation.tool in {"serial", "pool", "threads"}
True
>>> sorted(advice.to_json())
['arg_bytes', 'notes', 'per_item_s', 'predictions', 'recommendation', 'result_bytes', 'serial_s']
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import config
from mpguide.executors import default_chunksize
from mpguide.model import (
    MachineCosts,
    PeerCosts,
    Prediction,
    Profile,
    predict,
    predict_threads,
)
from mpguide.peer_model import predict_peer
from mpguide.profiler import (
    DEFAULT_TIME_BUDGET,
    AdviceError,  # noqa: F401  (re-exported: what advise() raises)
    check_input,
    pool_now,
    profile,
)

#: A progress callback: called with one line per step of a long measurement.
Progress = Callable[[str], None]

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

#: A parallel configuration must be predicted this much faster than the loop to be recommended,
#: and a peer this much faster than the best Pool or thread pool; below it the gain is within
#: the model's error on the validation workloads (tests/benchmarks/bench_advisor.py).
MIN_SPEEDUP = 1.1
#: The peers the advisor predicts, by tool name (those installed and measured).
PEER_TOOLS = ("joblib", "mpire", "dask")
#: Start methods whose predictions lie within this factor of the fastest count as equal, and
#: the platform's default start method is then preferred (it needs no ``get_context`` change).
START_METHOD_TOLERANCE = 1.05
#: Chunksizes of one pool predicted within this factor of its fastest count as equal, and the
#: largest of them is recommended: each chunk is a message both ways through the parent, whose
#: threads contend for the GIL when a real function's arguments and results keep them busy,
#: a per-chunk cost the machine card's probe (trivial tasks) does not see.
CHUNKSIZE_TOLERANCE = 1.05
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


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What to use: ``tool`` is ``"pool"``, ``"threads"``, ``"serial"`` or a peer
    (``"joblib"``, ``"mpire"``, ``"dask"``; ``chunksize`` ``None`` is then the tool's own
    rule, ``start_method`` is set for mpire only, and joblib's and Dask's BLAS caps are their
    own, not ``blas_threads``)."""

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

    ``predictions`` holds every pool configuration, the thread pools and the peers'
    configurations; ``metadata`` is the machine record the figure caption is made from.
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
            "predictions": [_json_row(p) for p in self.predictions if p.tool != "threads"],
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
        >>> import json
        >>> from mpguide import model, workloads
        >>> advice = advise(workloads.square, range(100), start_methods=["fork"],
        ...                 probes=model.EXAMPLE_PROBES, time_budget=0.2)
        >>> Advice.from_dict(json.loads(json.dumps(advice.to_dict()))) == advice
        True
        """
        profile: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                   for k, v in data["profile"].items()}
        return cls(
            function=data["function"], profile=Profile(**profile),
            costs=MachineCosts(**data["costs"]),
            predictions=tuple(Prediction(**p) for p in data["predictions"]),
            recommendation=Recommendation(**data["recommendation"]),
            notes=tuple(data["notes"]), metadata=dict(data["metadata"]))

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows: one per predicted configuration, every model term a column."""
        import pandas as pd

        rows = [{"function": self.function, **p.to_dict(), "serial_s": self.serial_s,
                 "speedup": self.serial_s / p.predicted_s if p.predicted_s else math.inf}
                for p in self.predictions]
        frame: pd.DataFrame = pd.DataFrame(rows)
        return frame

    def project(self, cores: Sequence[int]) -> pd.DataFrame:
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
        frame: pd.DataFrame = pd.DataFrame(rows)
        return frame

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
        if rec.tool in PEER_TOOLS:
            return _peer_snippet(rec, name)
        init = ""
        if rec.blas_threads:
            init = (", initializer=limit_blas_threads,\n"
                    f"                  initargs=({rec.blas_threads},)")
        head = "import multiprocessing\n"
        if rec.blas_threads:
            head += "from mpguide.blas import limit_blas_threads\n"
        return (f"{head}\nif __name__ == \"__main__\":\n"
                f"    ctx = multiprocessing.get_context({rec.start_method!r})\n"
                f"    with ctx.Pool({rec.workers}{init}) as pool:\n"
                f"        results = pool.map({name}, items, chunksize={rec.chunksize})")

    def plot(self, ax: Axes | None = None) -> Figure | SubFigure:
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
        chunk = "its own" if rec.chunksize is None else rec.chunksize
        ax.set_title(f"{self.function}: recommended {rec.tool}"
                     + (f", {rec.workers} workers, chunksize {chunk}"
                        if rec.tool != "serial" else "")
                     + f" (predicted {rec.predicted_speedup:.2f}x)", fontsize=10)
        if rec.tool == "pool" and rec.chunksize is not None:  # a pool always has one
            ax.plot([rec.chunksize], [rec.predicted_s], marker="*", ms=14, color="crimson",
                    ls="none", label="recommended")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunksize")
        ax.set_ylabel(f"predicted wall time (s), start method {method}")
        ax.legend(fontsize=8)
        return add_caption(ax.figure, dict(self.metadata) or machine.collect_metadata(),
                           start_method=method)


def _json_row(p: Prediction) -> dict[str, Any]:
    """One row of ``advise --json``'s ``predictions``: a plain Pool configuration has exactly
    four keys; a capped one names its ``blas_threads``, a peer its ``tool``."""
    row: dict[str, Any] = {"workers": p.workers, "chunksize": p.chunksize,
                           "start_method": p.start_method, "predicted_s": p.predicted_s}
    if p.tool != "pool":
        row["tool"] = p.tool
    if p.blas_threads is not None:
        row["blas_threads"] = p.blas_threads
    return row


def _peer_snippet(rec: Recommendation, name: str) -> str:
    """Python code that runs ``name`` over ``items`` as the peer recommendation says."""
    chunk = rec.chunksize
    if rec.tool == "joblib":
        batch = '"auto"' if chunk is None else chunk
        return ("from joblib import Parallel, delayed\n\nif __name__ == \"__main__\":\n"
                f"    results = Parallel(n_jobs={rec.workers}, batch_size={batch})(\n"
                f"        delayed({name})(item) for item in items)")
    if rec.tool == "mpire":
        size = "" if chunk is None else f", chunk_size={chunk}"
        return ("from mpire import WorkerPool\n\nif __name__ == \"__main__\":\n"
                f"    with WorkerPool(n_jobs={rec.workers}, start_method={rec.start_method!r})"
                f" as pool:\n"
                f"        results = pool.map({name}, [(item,) for item in items]{size})")
    if chunk is None:
        submit = (f"        futures = client.map({name}, items, pure=False)\n"
                  "        results = client.gather(futures)")
    else:
        submit = (f"        futures = client.map(partial(apply_chunk, {name}), "
                  f"chunks(items, {chunk}), pure=False)\n"
                  "        results = [r for part in client.gather(futures) for r in part]")
    head = "" if chunk is None else ("from functools import partial\n\n"
                                     "from mpguide.peers import apply_chunk, chunks\n")
    return (f"{head}from distributed import Client, LocalCluster\n\n"
            "if __name__ == \"__main__\":\n"
            f"    with LocalCluster(n_workers={rec.workers}, threads_per_worker=1) as cluster, "
            "Client(cluster) as client:\n" + submit)


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


def machine_probes(progress: Progress | None = None) -> dict[str, Any]:
    """The machine card's probes (measured once per machine and cached; ``progress(line)``
    hears of each probe measured)."""
    from mpguide import card

    probes: dict[str, Any] = card.machine_card(progress=progress)["probes"]
    return probes


def machine_peer_costs(progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """The installed peers' costs (measured once per machine and cached, like the card;
    ``progress(line)`` hears of each peer measured)."""
    from mpguide import peer_probes

    return peer_probes.peer_card(progress=progress)


def peer_predictions(prof: Profile, costs: MachineCosts,
                     peer_costs: Mapping[str, Mapping[str, Any]],
                     max_workers: int) -> list[Prediction]:
    """Every configuration of every peer in ``peer_costs``: its own chunking (``None``) and
    the chunksizes tried for Pool (Dask's chunksize 1 is its per-item default).

    Examples
    --------
    >>> from mpguide.costs import EXAMPLE_PEER_COSTS, EXAMPLE_PROBES
    >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
    >>> grid = peer_predictions(Profile(n_items=100, per_item_s=1e-3), costs,
    ...                         EXAMPLE_PEER_COSTS, max_workers=2)
    >>> sorted({p.tool for p in grid}), sum(p.chunksize is None for p in grid)
    (['dask', 'joblib', 'mpire'], 6)
    """
    predictions = []
    for tool, record in peer_costs.items():
        peer = PeerCosts.from_record(record)
        for workers in worker_candidates(max_workers):
            sizes = [c for c in chunk_candidates(prof.n_items, workers)
                     if tool != "dask" or c > 1]
            predictions += [predict_peer(prof, costs, peer, workers=workers, chunksize=c)
                            for c in (None, *sizes)]
    return predictions


def advise(func: Callable[[Any], Any], items: Iterable[Any], *,
           start_methods: Sequence[str] | None = None, max_workers: int | None = None,
           time_budget: float = DEFAULT_TIME_BUDGET, timeout: float | None = None,
           probes: Mapping[str, Any] | None = None,
           peer_costs: Mapping[str, Mapping[str, Any]] | None = None,
           metadata: Mapping[str, Any] | None = None,
           measure_free_cores: bool = True, progress: Progress | None = None) -> Advice:
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
    peer_costs
        The peers' measured costs by tool name (:func:`mpguide.peer_probes.peer_card`;
        default: :func:`machine_peer_costs` when ``probes`` is the card's too, none when
        ``probes`` is given); ``{}`` considers no peer.
    metadata
        Machine record for the figure caption (default: collected).
    measure_free_cores
        Start one pool now (:func:`pool_now`) to measure how many cores' worth of CPU the
        workers can get and what start-up costs from this ``__main__``; ``False`` trusts the
        machine card alone and assumes every usable core is free.
    progress
        Called with one line per step when the machine card or the peers' costs are measured
        (the first call on a machine: minutes), as ``python -m mpguide advise`` shows them.
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
    costs = MachineCosts.from_probes(probes if probes is not None else machine_probes(progress),
                                     cores)
    if measure_free_cores and cores > 1:
        costs = costs.updated(pool_now(cores, preferred, timeout))
    max_workers = max(1, max_workers or cores)
    # A prediction is for exactly the configuration it names: with BLAS in the function, the
    # plain pool (every worker on the profile's BLAS threads) and the capped one are two rows.
    caps = (False, True) if prof.blas_threads else (True,)
    predictions = [
        predict(prof, costs, workers=w, chunksize=c, start_method=m, cap_blas=cap)
        for m in methods for w in worker_candidates(max_workers)
        for c in chunk_candidates(prof.n_items, w) for cap in caps
    ]
    predictions += [predict_threads(prof, costs, workers=w)
                    for w in worker_candidates(max_workers) if w > 1]
    if peer_costs is None:
        peer_costs = machine_peer_costs(progress) if probes is None else {}
    predictions += peer_predictions(prof, costs, peer_costs, max_workers)
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
    (platform default) one wins; among that pool's chunksizes within
    :data:`CHUNKSIZE_TOLERANCE` of its fastest, the largest. A peer is picked only when it is
    predicted :data:`MIN_SPEEDUP` times faster than the best Pool or thread pool: the
    standard library needs no extra package, and a smaller gain is within the model's error.
    """
    pool = [p for p in predictions if p.tool == "pool"]
    best = min(pool, key=lambda p: p.predicted_s)
    same_method = [p for p in pool if p.start_method == preferred_method]
    if same_method:
        best_preferred = min(same_method, key=lambda p: p.predicted_s)
        if best_preferred.predicted_s <= best.predicted_s * START_METHOD_TOLERANCE:
            best = best_preferred
    fastest = best
    best = max((p for p in pool if (p.workers, p.start_method, p.blas_threads)
                == (fastest.workers, fastest.start_method, fastest.blas_threads)
                and p.predicted_s <= fastest.predicted_s * CHUNKSIZE_TOLERANCE),
               key=lambda p: (p.chunksize or 0, -p.predicted_s))
    threads = [p for p in predictions if p.tool == "threads"]
    if threads:
        best_threads = min(threads, key=lambda p: p.predicted_s)
        if best_threads.predicted_s < fastest.predicted_s:
            best = best_threads
    peer = _best_peer(predictions)
    if peer is not None and peer.predicted_s * MIN_SPEEDUP <= best.predicted_s:
        best = peer
    serial = prof.serial_s
    if best.predicted_s * MIN_SPEEDUP > serial:
        return Recommendation("serial", 1, None, None, None, serial, 1.0)
    return Recommendation(best.tool, best.workers, best.chunksize,
                          best.start_method if best.tool in ("pool", "mpire") else None,
                          best.blas_threads if best.tool == "pool" else None,
                          best.predicted_s, serial / best.predicted_s)


def _best_peer(predictions: Sequence[Prediction]) -> Prediction | None:
    peers = [p for p in predictions if p.tool in PEER_TOOLS]
    return min(peers, key=lambda p: p.predicted_s) if peers else None


def explain(prof: Profile, costs: MachineCosts, predictions: Sequence[Prediction],
            rec: Recommendation) -> list[str]:
    """Notes: why this recommendation, the dominant cost, and the guide page about it."""
    notes = [(f"Profiled {len(prof.sample_costs_s)} of {prof.n_items} items: "
              f"{prof.per_item_s * 1e6:.3g} µs per item (spread "
              f"{prof.per_item_std_s * 1e6:.3g} µs), {prof.arg_bytes:.0f} B per argument and "
              f"{prof.result_bytes:.0f} B per result pickled; the loop is predicted to take "
              f"{prof.serial_s:.3g} s.")]
    if prof.follows_input():
        costliest = max(zip(prof.sample_costs_s, prof.sample_positions, strict=True))
        notes.append(
            f"Item costs follow their place in the input (sampled from "
            f"{min(prof.sample_costs_s) * 1e6:.3g} to {costliest[0] * 1e6:.3g} µs, the costliest "
            f"{costliest[1]:.0%} of the way in): each chunksize's schedule is simulated over "
            f"them, so chunks that leave one worker alone with the heavy items lose "
            f"({PAGES['imbalance']}).")
    pool = min((p for p in predictions if p.tool == "pool"), key=lambda p: p.predicted_s)
    peer = _best_peer(predictions)
    chosen = peer if peer is not None and rec.tool == peer.tool else pool
    terms = chosen.terms()
    dominant = chosen.dominant()
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
        notes.append(_dominant_note(dominant, terms[dominant], prof, chosen))
    if peer is not None:
        notes.append(_peer_note(pool, peer, rec))
    if prof.blas_threads and rec.tool == "pool":
        cap = rec.blas_threads or 1
        notes.append(
            f"The function runs BLAS with {prof.blas_threads} threads; {rec.workers} workers "
            f"would put {rec.workers * prof.blas_threads} threads on {costs.cores} cores. Cap "
            f"each worker to {cap}, as joblib does: `from mpguide.blas import "
            f"limit_blas_threads`, then Pool(..., initializer=limit_blas_threads, "
            f"initargs=({cap},)) ({PAGES['oversubscription']}).")
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


def _peer_note(pool: Prediction, peer: Prediction, rec: Recommendation) -> str:
    """The best peer's prediction beside the best Pool's, and why it is (not) recommended."""
    from mpguide.peer_probes import peer_spec

    label = peer_spec(peer.tool, peer.workers, peer.chunksize,
                      peer.start_method if peer.tool == "mpire" else None).label
    ours, theirs = pool.terms(), peer.terms()
    head = (f"Best other tool: {label}, predicted at {peer.predicted_s:.3g} s (start-up "
            f"{peer.startup_s:.3g} s) against {pool.predicted_s:.3g} s for the best Pool "
            f"({_workers(pool.workers)}, chunksize {pool.chunksize}, {pool.start_method})")
    if rec.tool == peer.tool:
        saved = max(ours, key=lambda t: ours[t] - theirs[t])
        return (f"{head}: recommended, being over {MIN_SPEEDUP:g}x faster; it saves most on "
                f"{saved} ({ours[saved]:.3g} s against {theirs[saved]:.3g} s).")
    costly = max(theirs, key=lambda t: theirs[t] - ours[t])
    why = (f"; its largest extra cost is {costly} ({theirs[costly]:.3g} s against "
           f"{ours[costly]:.3g} s)" if theirs[costly] > ours[costly] else "")
    return (f"{head}{why}. A peer is recommended only where it is predicted {MIN_SPEEDUP:g}x "
            f"faster than the standard library's best.")


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
