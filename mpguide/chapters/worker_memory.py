"""Chapter 2, "Moving data between processes": the memory each worker holds.

Same plumbing as :mod:`mpguide.chapters.transfer` (which declares the chapter):

* :func:`load_worker_memory` and :func:`load_cow`: RSS, USS and PSS of each worker per start
  method, and how a fork worker's private memory grows as it merely reads a big global.

This is the one measurement of worker memory: chapter 3 (:mod:`mpguide.chapters.choosing`)
reads it too, from a light ``__main__`` and from one importing numpy and pandas (the mains of
:data:`mpguide.chapters.overhead.MAINS`, as the start-up records of chapter 1). Both run
through :func:`mpguide.experiment.run_cached` (fresh interpreter, cached).

Examples
--------
>>> from mpguide.chapters import worker_memory
>>> worker_memory.walk_global(1.0)  # no big global in this process
0
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, machine, pools, workloads
from mpguide.chapters.overhead import MAINS
from mpguide.chapters.transfer import CHAPTER, FRESH_TIMEOUT, MIB, _call, _metadata
from mpguide.experiment import run_cached

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Per-process state: ``"big_global"``, set in the parent before a fork pool starts, so only
#: fork workers have it.
WORKER_STATE: dict[str, Any] = {}


def walk_global(fraction: float) -> int:
    """Read the first ``fraction`` of the big global list (touching each item's reference
    count, as any read does) and return how many items there were."""
    items = WORKER_STATE.get("big_global") or []
    count = 0
    for _ in items[: int(len(items) * fraction)]:
        count += 1
    return count


# --- 7. memory per worker ---------------------------------------------------------------------


def global_items() -> int:
    """Items of the big global list of the memory experiments (about 40 bytes each)."""
    return config.scaled(5_000_000, 500_000)


@contextlib.contextmanager
def _big_global(items: int) -> Iterator[None]:
    WORKER_STATE["big_global"] = list(range(10**6, 10**6 + items))
    try:
        yield
    finally:
        del WORKER_STATE["big_global"]


def _memory(pid: int) -> dict[str, float]:
    import psutil

    info = psutil.Process(pid).memory_full_info()
    return {"rss_mib": info.rss / MIB, "uss_mib": info.uss / MIB,
            "pss_mib": getattr(info, "pss", float("nan")) / MIB}


def measure_worker_memory(start_methods: list[str], items: int, workers: int,
                          main: str = "light") -> list[dict[str, Any]]:
    """RSS, USS and PSS of the parent and of each idle worker of a ``Pool(workers)`` per
    start method, after one task each, the parent holding a list of ``items`` ints (numpy and
    pandas imported). ``main`` names the kind of ``__main__`` it runs under (a key of
    :data:`~mpguide.chapters.overhead.MAINS`; :func:`load_worker_memory` sets it up): spawn
    workers re-import that main, forkserver's server imports it once."""
    import numpy  # noqa: F401  (a realistic parent: the imports a data script has)
    import pandas  # noqa: F401

    rows = []
    with _big_global(items):
        parent_meta = _metadata(config.start_method())
        for method in start_methods:
            meta = {**parent_meta, "start_method": method}
            with pools.bounded_pool(workers, method, FRESH_TIMEOUT) as pool:
                pools.wait_result(pool.map_async(workloads.noop, range(workers), chunksize=1),
                                  pool, FRESH_TIMEOUT)
                rows.append({"process": "parent", "main": main, **_memory(os.getpid()),
                             **meta})
                for i, worker in enumerate(pool._pool):  # type: ignore[attr-defined]
                    rows.append({"process": f"worker {i}", "main": main,
                                 **_memory(worker.pid), **meta})
    return rows


def worker_memory_params(main: str = "light") -> dict[str, Any]:
    """The ``run_cached`` params of :func:`load_worker_memory` for one kind of ``__main__``
    (every start method, ``Pool(usable cores)``, at least 2), not run."""
    if main not in MAINS:
        raise ValueError(f"unknown main {main!r}; choose one of {', '.join(MAINS)}")
    return {"start_methods": config.available_start_methods(), "items": global_items(),
            "workers": max(2, machine.usable_cpus()), "main": main}


def load_worker_memory(mains: tuple[str, ...] = ("light",)) -> pd.DataFrame:
    """Memory (MiB) per process (parent, worker i), start method and kind of ``__main__``
    (``main``: ``"light"`` by default; ``"numpy+pandas"`` too for chapter 3), measured in a
    generated plain script whose top imports what that main imports."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for main in mains:
        rows += run_cached("transfer-worker-memory", f"{__name__}:measure_worker_memory",
                           worker_memory_params(main), preamble=MAINS[main],
                           timeout=FRESH_TIMEOUT) or []
    return pd.DataFrame(rows, columns=None if rows else ["process", "main", "start_method",
                                                         "rss_mib", "uss_mib", "pss_mib"])


def measure_cow(items: int, fractions: list[float]) -> list[dict[str, Any]]:
    """Memory of one fork worker as it reads more and more of the inherited global list
    (reading an item writes its reference count, so its page is copied)."""
    rows = []
    with _big_global(items), pools.bounded_pool(1, "fork", FRESH_TIMEOUT) as pool:
        meta = _metadata("fork")
        pid = _call(pool, os.getpid)
        for fraction in fractions:
            read = _call(pool, walk_global, fraction)
            rows.append({"fraction_read": fraction, "items_read": read, **_memory(pid), **meta})
    return rows


def load_cow() -> pd.DataFrame:
    """A fork worker's memory (MiB) after reading a growing fraction of the global."""
    import pandas as pd

    params = {"items": global_items(), "fractions": [0.0, 0.25, 0.5, 0.75, 1.0]}
    return pd.DataFrame(run_cached("transfer-cow", f"{__name__}:measure_cow", params,
                                   timeout=FRESH_TIMEOUT) or [])


def plot_memory(memory: pd.DataFrame, cow: pd.DataFrame) -> Figure:
    """Left: RSS, PSS and USS of one worker per start method; right: a fork worker's USS and
    RSS as it reads the inherited global."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    workers = memory[memory["process"] == "worker 0"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9), layout="constrained")
    width = 0.27
    for i, column in enumerate(("rss_mib", "pss_mib", "uss_mib")):
        left.bar([x + (i - 1) * width for x in range(len(workers))], workers[column], width,
                 label=column.split("_")[0].upper())
    left.set_xticks(range(len(workers)), workers["start_method"])
    left.set_ylabel("MiB (one idle worker)")
    left.set_title("Memory of a worker per start method")
    left.legend(fontsize=8)
    right.plot(cow["fraction_read"] * 100, cow["rss_mib"], "o-", label="RSS")
    right.plot(cow["fraction_read"] * 100, cow["uss_mib"], "o-", label="USS (private)")
    right.set_xlabel("% of the inherited list read by the worker")
    right.set_ylabel("MiB")
    right.set_title("fork: reading is writing (reference counts)")
    right.legend(fontsize=8)
    return plotting.add_caption(fig, memory, "fork, spawn, forkserver")


# --- claims -----------------------------------------------------------------------------------


#: Bytes of one small int object in CPython (what each item of the big global list points to).
INT_OBJECT_BYTES = 32


@claims.claim("fork-reading-copies", chapter=CHAPTER,
              statement="A fork worker starts out sharing the parent's {items:,}-item list "
                        "(private memory {uss_before:.0f} MiB), but merely reading all of it "
                        "adds {growth:.0f} MiB of private memory, about the {objects:.0f} MiB "
                        "of int objects whose reference counts the reads wrote.")
def _fork_reading_copies() -> claims.Evidence:
    cow = load_cow().sort_values("fraction_read")
    before, after = cow.iloc[0], cow.iloc[-1]
    growth = float(after["uss_mib"] - before["uss_mib"])
    items = int(after["items_read"])
    objects = items * INT_OBJECT_BYTES / MIB
    return claims.Evidence(
        holds=growth >= objects / 2,
        values={"items": items, "uss_before": float(before["uss_mib"]), "growth": growth,
                "objects": objects},
        evidence=f"USS {before['uss_mib']:.0f} → {after['uss_mib']:.0f} MiB and PSS "
                 f"{before['pss_mib']:.0f} → {after['pss_mib']:.0f} MiB while RSS stayed "
                 f"{before['rss_mib']:.0f} → {after['rss_mib']:.0f} MiB: the pages were "
                 f"already mapped, now they are private copies.")


@claims.claim("spawn-workers-start-small", chapter=CHAPTER,
              statement="A spawn worker's private memory ({spawn:.0f} MiB) does not grow with "
                        "the parent's data; an idle fork worker's RSS counts the inherited "
                        "{parent:.0f} MiB parent ({fork_rss:.0f} MiB RSS) while its USS stays "
                        "at {fork_uss:.0f} MiB.")
def _spawn_workers_start_small() -> claims.Evidence:
    memory = load_worker_memory()
    workers = memory[memory["process"] == "worker 0"].set_index("start_method")
    parent = float(memory[memory["process"] == "parent"]["rss_mib"].median())
    fork, spawn = workers.loc["fork"], workers.loc["spawn"]
    return claims.Evidence(
        holds=bool(spawn["rss_mib"] < parent / 2 and fork["uss_mib"] < fork["rss_mib"] / 2),
        values={"spawn": float(spawn["uss_mib"]), "parent": parent,
                "fork_rss": float(fork["rss_mib"]), "fork_uss": float(fork["uss_mib"])},
        evidence=f"parent RSS {parent:.0f} MiB; spawn worker RSS {spawn['rss_mib']:.0f} MiB, "
                 f"USS {spawn['uss_mib']:.0f} MiB; fork worker RSS {fork['rss_mib']:.0f} MiB, "
                 f"PSS {fork['pss_mib']:.0f} MiB, USS {fork['uss_mib']:.0f} MiB.")
