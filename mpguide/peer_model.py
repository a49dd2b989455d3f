"""The cost model for the peers: joblib, mpire and Dask, term by term like ``Pool``.

:func:`predict_peer` predicts one peer configuration from the same profile terms as
:func:`mpguide.model.predict` (compute spread over the chunks by the greedy schedule,
transfer, imbalance, oversubscription; :func:`mpguide.model.predict_chunks`) and from the
peer's own measured costs (:class:`~mpguide.costs.PeerCosts`: start and stop, cost per task
and per item). What differs between the tools is how they cut the items into tasks and how
many BLAS threads their workers run:

* **joblib** (``Parallel(n_jobs, batch_size=...)``, loky workers): a fixed ``batch_size``
  cuts like ``Pool``; ``batch_size="auto"`` is *simulated* (:func:`joblib_auto_batches`)
  rather than replaced by a fixed size, because its batches depend on the function: they
  start at one item, double while a batch takes under 0.2 s from dispatch to completion, and
  shrink at the end of the input, so a fixed size would be wrong on tiny and on slow items
  alike. loky caps each worker's BLAS threads to ``cores // workers``.
* **mpire** (``WorkerPool.map``): its default chunking makes ``64 * n_jobs`` chunks
  (:func:`mpire_chunks`); an explicit ``chunk_size`` cuts like ``Pool``; no BLAS cap.
* **Dask** (``client.map``): one task per item, or one per chunk (batched); its nanny starts
  workers with one BLAS thread.

Examples
--------
>>> from mpguide.costs import EXAMPLE_PEER_COSTS, EXAMPLE_PROBES, MachineCosts, PeerCosts
>>> from mpguide.model import Profile
>>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
>>> joblib = PeerCosts.from_record(EXAMPLE_PEER_COSTS["joblib"])
>>> p = predict_peer(Profile(n_items=2000, per_item_s=2e-3), costs, joblib, workers=2,
...                  chunksize=None)
>>> p.tool, p.chunksize, p.n_chunks < 200, p.startup_s > 0.5
('joblib', None, True, True)
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import math
from collections.abc import Sequence
from typing import Any

from mpguide.costs import MachineCosts, ModelError, PeerCosts
from mpguide.model import Prediction, Profile, blas_cap, predict_chunks
from mpguide.schedule import MAX_SIMULATED_CHUNKS, chunk_sizes

#: joblib's ``AutoBatchingMixin`` (``joblib/_parallel_backends.py``): a batch lasting less than
#: ``MIN_IDEAL_BATCH_DURATION`` seconds from dispatch to completion grows, one lasting more
#: than ``MAX_IDEAL_BATCH_DURATION`` shrinks; durations are smoothed 0.8 old / 0.2 new.
MIN_IDEAL_BATCH_DURATION = 0.2
MAX_IDEAL_BATCH_DURATION = 2.0
SMOOTHING = 0.8
#: joblib's ``Parallel`` (``joblib/parallel.py``): ``pre_dispatch="2*n_jobs"`` items are sent
#: before the first completion; once the input runs short, the last slice is cut into batches
#: ``FINAL_BATCH_SPLIT`` times smaller than an even split.
PRE_DISPATCH_PER_WORKER = 2
FINAL_BATCH_SPLIT = 10
#: mpire's default chunking (``mpire/params.py``): ``n_tasks / (n_jobs * 64)`` items a chunk.
MPIRE_CHUNKS_PER_WORKER = 64
#: Dask's nanny starts workers with ``OMP/MKL/OPENBLAS_NUM_THREADS=1`` (``distributed.yaml``,
#: ``distributed.nanny.pre-spawn-environ``).
DASK_BLAS_THREADS = 1


@dataclasses.dataclass
class JoblibAutoBatching:
    """joblib's auto-batching state, updated as its ``AutoBatchingMixin`` does.

    Examples
    --------
    >>> state = JoblibAutoBatching()
    >>> state.batch_completed(1, 0.01)
    >>> state.compute_batch_size()  # too fast: doubles, at most
    2
    >>> state.batch_completed(2, 5.0)
    >>> state.compute_batch_size()  # too slow: shrinks
    1
    """

    effective: int = 1
    smoothed: float = 0.0

    def compute_batch_size(self) -> int:
        """The next batch's size (``AutoBatchingMixin.compute_batch_size``)."""
        old, duration = self.effective, self.smoothed
        size = old
        if 0 < duration < MIN_IDEAL_BATCH_DURATION:
            ideal = int(old * MIN_IDEAL_BATCH_DURATION / duration) * 2
            size = max(1, min(2 * old, ideal))
        elif duration > MAX_IDEAL_BATCH_DURATION and old >= 2:
            size = max(2 * int(old * MIN_IDEAL_BATCH_DURATION / duration), 1)
        if size != old:
            self.effective, self.smoothed = size, 0.0
        return size

    def batch_completed(self, size: int, duration: float) -> None:
        """A batch of ``size`` items took ``duration`` seconds from dispatch to completion."""
        if size == self.effective:
            self.smoothed = duration if self.smoothed == 0.0 \
                else SMOOTHING * self.smoothed + (1 - SMOOTHING) * duration


def joblib_auto_batches(item_costs: Sequence[float], workers: int, *, task_overhead_s: float,
                        item_overhead_s: float, ready_s: float = 0.0,
                        state: JoblibAutoBatching | None = None) -> list[int]:
    """Batch sizes, in dispatch order, of ``Parallel(n_jobs=workers, batch_size="auto")``.

    An event simulation of joblib's dispatch: ``2 * workers`` items first, then one batch per
    completed batch, each dispatch costing the parent ``task_overhead_s`` plus
    ``item_overhead_s`` per item, each batch run by the first free worker (workers are free
    from ``ready_s``), its duration measured from dispatch to completion as joblib does.
    ``state`` carries joblib's learned batch size from an earlier call on the same
    ``Parallel`` (it is updated). Past :data:`~mpguide.schedule.MAX_SIMULATED_CHUNKS` batches
    the rest is cut at the batch size reached.

    Examples
    --------
    >>> joblib_auto_batches([1e-4] * 100, 2, task_overhead_s=1e-4, item_overhead_s=0)[:8]
    [1, 1, 1, 1, 2, 2, 2, 2]
    >>> sum(joblib_auto_batches([1e-4] * 100, 2, task_overhead_s=1e-4, item_overhead_s=0))
    100
    """
    n = len(item_costs)
    prefix = [0.0, *itertools.accumulate(float(c) for c in item_costs)]
    state = JoblibAutoBatching() if state is None else state
    batches: list[int] = []
    ready: collections.deque[int] = collections.deque()
    free = [ready_s] * workers
    events: list[tuple[float, int, int, float]] = []  # (done, order, size, dispatched)
    parent = 0.0
    sliced = position = 0

    def dispatch(now: float, limit: int) -> bool:
        nonlocal parent, sliced, position
        size = state.compute_batch_size()
        if not ready:
            wanted = size * workers
            take = min(wanted, limit - sliced)
            if take <= 0:
                return False
            final = max(1, take // (FINAL_BATCH_SPLIT * workers)) \
                if limit == n and take < wanted else max(1, take // workers)
            ready.extend(chunk_sizes(take, final))
            sliced += take
        batch = ready.popleft()
        sent = max(now, parent)
        parent = sent + task_overhead_s + batch * item_overhead_s
        done = max(parent, heapq.heappop(free)) + prefix[position + batch] - prefix[position]
        position += batch
        heapq.heappush(free, done)
        heapq.heappush(events, (done, len(batches), batch, sent))
        batches.append(batch)
        return True

    while dispatch(0.0, min(n, PRE_DISPATCH_PER_WORKER * workers)):
        pass
    while events and len(batches) < MAX_SIMULATED_CHUNKS:
        done, _, size, sent = heapq.heappop(events)
        state.batch_completed(size, done - sent)
        dispatch(done, n)
    rest = n - position
    return batches + (chunk_sizes(rest, state.effective) if rest > 0 else [])


def mpire_chunks(n_items: int, workers: int) -> list[int]:
    """Chunk sizes of mpire's default chunking: ``n / (64 * workers)`` items per chunk, a
    fractional size carried over from chunk to chunk (``mpire.utils.chunk_tasks``).

    Examples
    --------
    >>> mpire_chunks(300, 2)[:6], len(mpire_chunks(300, 2))
    ([3, 2, 3, 2, 2, 3], 128)
    >>> len(mpire_chunks(20_000, 2)), len(mpire_chunks(50, 2))
    (128, 50)
    """
    size = n_items / (workers * MPIRE_CHUNKS_PER_WORKER)
    chunks: list[int] = []
    current, returned = size, 0
    while returned < n_items:
        chunk = min(max(1, math.ceil(current)), n_items - returned)
        chunks.append(chunk)
        returned += chunk
        current = current + size - math.ceil(current)
    return chunks


def predict_peer(profile: Profile, costs: MachineCosts, peer: PeerCosts, *, workers: int,
                 chunksize: int | None, warm: bool = False) -> Prediction:
    """Predict one call of ``peer`` with ``workers`` workers and ``chunksize`` items per task
    (``None``: the tool's own rule), start and stop included, as a script's only call pays
    them; ``warm=True`` predicts a later call on the same, already started workers (joblib's
    auto batching then starts from the batch size its first call learned).

    Examples
    --------
    >>> from mpguide.costs import EXAMPLE_PEER_COSTS, EXAMPLE_PROBES
    >>> costs = MachineCosts.from_probes(EXAMPLE_PROBES, cores=2)
    >>> dask = PeerCosts.from_record(EXAMPLE_PEER_COSTS["dask"])
    >>> prof = Profile(n_items=1000, per_item_s=1e-3)
    >>> per_item = predict_peer(prof, costs, dask, workers=2, chunksize=None, warm=True)
    >>> batched = predict_peer(prof, costs, dask, workers=2, chunksize=100, warm=True)
    >>> per_item.n_chunks, batched.n_chunks, per_item.predicted_s > batched.predicted_s
    (1000, 10, True)
    """
    if workers < 1:
        raise ModelError(f"workers must be >= 1, got {workers}.")
    threads, blas = _blas_threads(peer.tool, profile, workers, costs.cores)
    chunks: int | list[int]
    if chunksize is not None:
        chunks = max(1, int(chunksize))
    elif peer.tool == "joblib":
        chunks = _joblib_auto(profile, costs, peer, workers=workers, threads=threads, warm=warm)
    elif peer.tool == "mpire":
        chunks = mpire_chunks(profile.n_items, workers)
    else:
        chunks = 1  # one Dask task per item
    return predict_chunks(
        profile, costs, chunks, tool=peer.tool, workers=workers, chunksize=chunksize,
        start_method=peer.start_method, blas_threads=blas, threads_per_worker=threads,
        startup_s=0.0 if warm else peer.startup_s(workers, costs.cores)
        + profile.worker_start_s(workers, costs.cores, capped=False),
        chunk_overhead_s=peer.chunk_overhead_s, item_overhead_s=peer.item_overhead_s,
        channel=peer.channel(costs))


def _blas_threads(tool: str, profile: Profile, workers: int,
                  cores: int) -> tuple[int, int | None]:
    """(BLAS threads each worker runs, the cap the tool applies or ``None``)."""
    if not profile.blas_threads:
        return 1, None
    if tool == "joblib":
        cap = blas_cap(profile, workers, cores)
        return cap or 1, cap
    if tool == "dask":
        return DASK_BLAS_THREADS, DASK_BLAS_THREADS
    return profile.blas_threads, None


def _joblib_auto(profile: Profile, costs: MachineCosts, peer: PeerCosts, *, workers: int,
                 threads: int, warm: bool) -> list[int]:
    """joblib's auto batches for this profile: a cold call, or the call after it."""
    parent_ser, worker_ser = profile.serialization_s(costs, peer.channel(costs))
    item_costs = (profile.item_costs(profile.per_item_with_blas(threads)) + worker_ser).tolist()
    kwargs: dict[str, Any] = {"task_overhead_s": peer.chunk_overhead_s,
                              "item_overhead_s": peer.item_overhead_s + parent_ser}
    state = JoblibAutoBatching()
    batches = joblib_auto_batches(item_costs, workers, ready_s=peer.ready_s(workers, costs.cores),
                                  state=state, **kwargs)
    if warm:
        batches = joblib_auto_batches(item_costs, workers, state=state, **kwargs)
    return batches


__all__ = ["DASK_BLAS_THREADS", "FINAL_BATCH_SPLIT", "MAX_IDEAL_BATCH_DURATION",
           "MIN_IDEAL_BATCH_DURATION", "MPIRE_CHUNKS_PER_WORKER", "PRE_DISPATCH_PER_WORKER",
           "SMOOTHING", "JoblibAutoBatching", "joblib_auto_batches", "mpire_chunks",
           "predict_peer"]
