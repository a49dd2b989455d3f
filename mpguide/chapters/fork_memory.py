"""Chapter 2, "Moving data between processes": what stays shared when fork workers read.

:mod:`mpguide.chapters.transfer` declares the chapter. The parent holds a numpy array and a
list of Python floats of about the same size; a ``fork`` pool of every usable core reads one
of them in every worker (sums it), while :class:`mpguide.memory.MemorySampler` samples each
worker's USS and RSS. Summing the array reads its one data buffer; summing the list touches
every float's reference count, a write, so the pages holding the floats are copied into each
worker. :func:`load_fork_memory` runs it through :func:`mpguide.experiment.run_cached` (a fresh
interpreter: what fork copies is that plain script's memory, not the page's kernel).

Under ``spawn`` and ``forkserver`` nothing is inherited, so this experiment is about ``fork``
only: there a worker gets the data pickled (a private copy) or maps shared memory.

Examples
--------
>>> from mpguide.chapters import fork_memory
>>> fork_memory.read_inherited("numpy array")  # nothing inherited in this process
0.0
>>> fork_memory.list_items(400)  # floats making 400 bytes with their list's pointers
10
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, memory, pools
from mpguide.chapters.transfer import CHAPTER, FRESH_TIMEOUT, MIB, _metadata
from mpguide.experiment import run_cached

if TYPE_CHECKING:
    import pandas as pd

#: What the parent holds and a worker reads: a numpy array of float64, a list of floats.
KINDS = ("numpy array", "list of floats")

#: Bytes of one item of a list of floats: the list's pointer (8) and the float object, 24
#: bytes in a 32-byte block of CPython's small-object allocator (16-byte aligned on 64 bits).
LIST_ITEM_BYTES = 40

#: Per-process state set in the parent before the fork pool starts (so only its workers have
#: it): the data by kind of :data:`KINDS`, and ``"barrier"`` that lines the workers up.
WORKER_STATE: dict[str, Any] = {}


def list_items(nbytes: int) -> int:
    """Floats whose list takes about ``nbytes`` (:data:`LIST_ITEM_BYTES` per item)."""
    return nbytes // LIST_ITEM_BYTES


def total(kind: str) -> float:
    """The sum of this process's data of ``kind`` (0.0 where it holds none)."""
    data = WORKER_STATE.get(kind)
    if data is None:
        return 0.0
    return float(data.sum()) if kind == KINDS[0] else float(sum(data))


def read_inherited(kind: str) -> float:
    """:func:`total` of ``kind``, once the workers and the parent have all reached the
    barrier (so that each worker takes one task)."""
    barrier = WORKER_STATE.get("barrier")
    if barrier is not None:
        barrier.wait(FRESH_TIMEOUT / 4)
    return total(kind)


@contextlib.contextmanager
def _inherited(nbytes: int, parties: int) -> Iterator[dict[str, int]]:
    """The data of :data:`KINDS` and a fork barrier of ``parties`` in :data:`WORKER_STATE`;
    yields the bytes each kind takes (the list's: its pointers and its float objects, by
    ``sys.getsizeof``: the growth of this process's USS would depend on what its allocator had
    free already)."""
    import multiprocessing
    import sys

    import numpy as np

    floats = [float(i) for i in range(list_items(nbytes))]
    list_bytes = sys.getsizeof(floats) + sum(sys.getsizeof(x) for x in floats)
    WORKER_STATE.update({KINDS[0]: np.arange(nbytes // 8, dtype=np.float64), KINDS[1]: floats,
                         "barrier": multiprocessing.get_context("fork").Barrier(parties)})
    try:
        yield {KINDS[0]: WORKER_STATE[KINDS[0]].nbytes, KINDS[1]: list_bytes}
    finally:
        WORKER_STATE.clear()


def _first_sample(sampler: memory.MemorySampler, pids: set[int]) -> dict[int, tuple[int, int]]:
    """The sampler's first sample that saw every one of ``pids`` (bounded wait)."""
    deadline = time.monotonic() + FRESH_TIMEOUT / 4
    while time.monotonic() < deadline:
        for sample in list(sampler.samples):
            if pids <= set(sample):
                return sample
        time.sleep(sampler.interval / 2)
    raise TimeoutError(f"no memory sample saw the workers {sorted(pids)}")


def measure_fork_memory(nbytes: int, workers: int) -> list[dict[str, Any]]:
    """Each fork worker's USS and RSS before and after it summed the inherited data, per kind
    of :data:`KINDS` (a fresh pool each): one row per worker, in MiB, with the data's size.
    "Before" is the sampler's first sample, taken while the workers wait at the barrier;
    "after" its last, once every sum is back (copied pages stay copied)."""
    rows = []
    with _inherited(nbytes, workers + 1) as sizes:
        meta = _metadata("fork")
        barrier = WORKER_STATE["barrier"]
        for kind in KINDS:
            expected = total(kind)
            with pools.bounded_pool(workers, "fork", FRESH_TIMEOUT) as pool:
                pids = {worker.pid for worker in pool._pool}  # type: ignore[attr-defined]
                warm = pool.map_async(read_inherited, ["warm-up"] * workers, chunksize=1)
                barrier.wait(FRESH_TIMEOUT / 4)
                pools.wait_result(warm, pool, FRESH_TIMEOUT / 4)
                with memory.MemorySampler() as sampler:
                    pending = pool.map_async(read_inherited, [kind] * workers, chunksize=1)
                    before = _first_sample(sampler, pids)
                    barrier.wait(FRESH_TIMEOUT / 4)
                    sums = pools.wait_result(pending, pool, FRESH_TIMEOUT / 2)
                if sums != [expected] * workers:
                    raise RuntimeError(f"{kind}: workers summed {sums}, the parent {expected}")
                after = sampler.samples[-1]
                for i, pid in enumerate(sorted(pids)):
                    rows.append({"kind": kind, "worker": i, "data_mib": sizes[kind] / MIB,
                                 "uss_before_mib": before[pid][0] / MIB,
                                 "uss_after_mib": after[pid][0] / MIB,
                                 "rss_before_mib": before[pid][1] / MIB,
                                 "rss_after_mib": after[pid][1] / MIB, **meta})
    return rows


def fork_memory_params() -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_fork_memory`, not run: 256 MiB of each kind
    (32 MiB in quick mode), halved until the parent's two copies and every worker's private
    one fit in half the available memory; a worker per usable core.

    Examples
    --------
    >>> params = fork_memory_params()
    >>> params["workers"] == machine.usable_cpus(), params["nbytes"] % MIB
    (True, 0)
    """
    import psutil

    workers = machine.usable_cpus()
    nbytes = config.scaled(256, 32) * MIB
    while nbytes > MIB and nbytes * (2 + workers) > psutil.virtual_memory().available / 2:
        nbytes //= 2
    return {"nbytes": nbytes, "workers": workers}


def load_fork_memory() -> pd.DataFrame:
    """Per fork worker and kind of data, its memory (MiB) before and after reading it."""
    import pandas as pd

    return pd.DataFrame(run_cached("transfer-fork-memory", f"{__name__}:measure_fork_memory",
                                   fork_memory_params(), timeout=FRESH_TIMEOUT) or [])


def fork_memory_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per kind of data: its size and the median worker's growth of USS (private
    memory) and RSS, in MiB and as a share of the data (``uss_share``)."""
    grown = df.assign(uss_growth_mib=df["uss_after_mib"] - df["uss_before_mib"],
                      rss_growth_mib=df["rss_after_mib"] - df["rss_before_mib"])
    table = grown.groupby("kind", sort=False).agg(
        data_mib=("data_mib", "first"), workers=("worker", "count"),
        uss_growth_mib=("uss_growth_mib", "median"), rss_growth_mib=("rss_growth_mib", "median"))
    table["uss_share"] = table["uss_growth_mib"] / table["data_mib"]
    return table


# --- claims -----------------------------------------------------------------------------------


#: Most of the array a worker that summed it may hold privately for "stays shared": a tenth
#: (the interpreter's own writes after a task are a few hundred KiB; a copy is the whole).
ARRAY_SHARED_BELOW = 0.1
#: Least of the list a worker that summed it must hold privately for "copied": half (the floats
#: are four fifths of its bytes, :data:`LIST_ITEM_BYTES`, each one's reference count written).
LIST_COPIED_ABOVE = 0.5


@claims.claim("fork-numpy-stays-shared", chapter=CHAPTER,
              statement="Summing an inherited {array_mib:.0f} MiB numpy array left a fork "
                        "worker {array_uss:.1f} MiB of private memory ({array_share:.2%} of "
                        "the array, under {shared_below:.0%}), while summing a list of floats "
                        "of {list_mib:.0f} MiB copied {list_uss:.0f} MiB into it "
                        "({list_share:.0%}, over {copied_above:.0%}).")
def _fork_numpy_stays_shared() -> claims.Evidence:
    table = fork_memory_table(load_fork_memory())
    array, floats = table.loc[KINDS[0]], table.loc[KINDS[1]]
    values = {"array_mib": float(array["data_mib"]), "array_uss": float(array["uss_growth_mib"]),
              "array_share": float(array["uss_share"]), "list_mib": float(floats["data_mib"]),
              "list_uss": float(floats["uss_growth_mib"]),
              "list_share": float(floats["uss_share"]),
              "shared_below": ARRAY_SHARED_BELOW, "copied_above": LIST_COPIED_ABOVE}
    return claims.Evidence(
        holds=bool(values["array_share"] < ARRAY_SHARED_BELOW
                   and values["list_share"] > LIST_COPIED_ABOVE),
        values=values,
        evidence=f"Median of {int(array['workers'])} fork workers, USS growth after one sum "
                 f"each; their RSS grew {float(array['rss_growth_mib']):.1f} MiB (array) and "
                 f"{float(floats['rss_growth_mib']):.1f} MiB (list): the pages were mapped "
                 f"already, the list's are now private copies.")
