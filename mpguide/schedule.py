"""How ``Pool.map`` hands chunks to its workers, simulated: the chunks it cuts, and when the
busiest worker finishes.

One shared task queue, read by whichever worker is idle: chunks go, in input order, to the
first free worker. :mod:`mpguide.model` prices every configuration on this schedule, and
:mod:`mpguide.peer_model` on the batches joblib and mpire cut.

Examples
--------
>>> chunk_sizes(10, 4)
[4, 4, 2]
>>> schedule_makespan([1.0] * 10, chunksize=4, workers=2)  # chunks of 4, 4, 2 on two workers
6.0
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

#: Above this many chunks the greedy schedule is not simulated chunk by chunk: the tail is then
#: at most one chunk out of thousands (a bound on the model's own run time, not a measurement).
MAX_SIMULATED_CHUNKS = 20_000


def chunk_sizes(n_items: int, chunksize: int) -> list[int]:
    """Sizes of the chunks ``map`` cuts ``n_items`` into at ``chunksize``, in order.

    >>> chunk_sizes(10, 4)
    [4, 4, 2]
    """
    full, rest = divmod(n_items, chunksize)
    return [chunksize] * full + ([rest] if rest else [])


def schedule_makespan(item_costs: Any, chunksize: int | Sequence[int], workers: int) -> float:
    """Finish time of the busiest worker when chunks go, in order, to the first free worker.

    That is how ``Pool.map`` hands out chunks: one shared task queue, read by whichever worker
    is idle. ``chunksize`` is one size for every chunk, or the size of each chunk in order (an
    executor whose chunks differ, such as joblib's auto batching). Beyond
    :data:`MAX_SIMULATED_CHUNKS` chunks the tail is bounded analytically.

    Examples
    --------
    >>> schedule_makespan([1.0] * 10, chunksize=1, workers=4)  # 3 rounds
    3.0
    >>> schedule_makespan([1.0] * 10, chunksize=5, workers=4)  # 2 chunks, 2 idle workers
    5.0
    >>> schedule_makespan([1.0] * 10, chunksize=[1, 1, 8], workers=2)  # the 8 starts at 1
    9.0
    """
    import numpy as np

    costs = np.asarray(item_costs, dtype=float)
    if isinstance(chunksize, int):
        starts = np.arange(0, len(costs), chunksize)
    else:
        starts = np.concatenate([[0], np.cumsum(chunksize)[:-1]]).astype(int)
    chunk_costs = np.add.reduceat(costs, starts) if len(costs) else np.zeros(0)
    if len(chunk_costs) == 0:
        return 0.0
    if workers == 1:
        return float(chunk_costs.sum())
    if len(chunk_costs) > MAX_SIMULATED_CHUNKS:
        return float(chunk_costs.sum() / workers + chunk_costs.max() * (1 - 1 / workers))
    free = [0.0] * min(workers, len(chunk_costs))
    for chunk in chunk_costs.tolist():
        heapq.heapreplace(free, free[0] + chunk)
    return float(max(free))


__all__ = ["MAX_SIMULATED_CHUNKS", "chunk_sizes", "schedule_makespan"]
