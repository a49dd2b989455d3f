"""How much of a function's work holds the GIL: two threads raced against one.

:func:`relative_parallelism` times the same work on one thread and on two (CPU per wall second
and wall time); :func:`gil_fraction_of` runs that race on the user's work and on a reference
that releases the GIL throughout (:func:`_compress`), and turns the two readings into the share
of the work that holds the GIL (:func:`gil_fraction`), which the thread pool's prediction
(:func:`mpguide.model.predict_threads`) uses. The profile (:mod:`mpguide.profiler`) runs it in
its child process.

Examples
--------
>>> from multiprocessing.pool import ThreadPool
>>> blobs = [bytes(1 << 16)] * 4
>>> with ThreadPool(2) as threads:
...     share = gil_fraction_of(lambda: [_compress(b) for b in blobs],
...                             lambda: threads.map(_compress, blobs, chunksize=2), threads, 0.5)
>>> 0.0 <= share <= 1.0
True
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Sequence
from multiprocessing.pool import ThreadPool
from typing import Any

from mpguide.timing import seconds_per_call

#: Seconds each reading of the race lasts at least (:func:`relative_parallelism`), and how
#: many interleaved rounds it runs: short readings made its answer vary between runs.
RACE_MIN_S, RACE_ROUNDS = 0.05, 5
#: The reference race's work (:func:`_compress`): buffers of this many random bytes, which zlib
#: compresses with the GIL released, so two threads reach whatever parallelism the machine
#: allows now (of the standard library's GIL-free C code tried here, the one that scaled best:
#: hashing reads memory faster and gained less from a second thread).
REFERENCE_BYTES = 1 << 18
#: Below this ceiling the reference saw no second core at all: the race cannot tell the GIL
#: from the load, and :func:`gil_fraction` reads it against two free cores instead.
MIN_CEILING = 1.25


def gil_fraction_of(one: Callable[[], Any], many: Callable[[], Any], threads: ThreadPool,
                    budget: float) -> float:
    """Share of the work that holds the GIL: the race of ``one`` (the work on this thread)
    against ``many`` (the same work on the two ``threads``), read against the reference's
    race on the same threads at the same moments (:func:`race` interleaves their rounds)."""
    blobs = [random.Random(0).randbytes(REFERENCE_BYTES)] * 4
    ceiling, parallelism = race([(lambda: [_compress(b) for b in blobs],
                                  lambda: threads.map(_compress, blobs, chunksize=2)),
                                 (one, many)], budget)
    return gil_fraction(parallelism, ceiling)


def cpu_per_wall(run: Callable[[], Any], budget: float) -> tuple[float, float]:
    """CPU seconds of this process per wall second while ``run`` repeats (for
    :data:`RACE_MIN_S` at least), and the wall seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    per_call = seconds_per_call(run, budget, min_time=RACE_MIN_S)
    return (time.process_time() - cpu) / max(time.perf_counter() - wall, 1e-9), per_call


def relative_parallelism(one: Callable[[], Any], many: Callable[[], Any], budget: float,
                         rounds: int = RACE_ROUNDS) -> float:
    """How many cores' worth of work ``many`` does relative to ``one``: about 1 for threads
    that hold the GIL, up to the thread count for work that releases it.

    Two readings of interleaved rounds, the larger one kept. CPU per wall second (the least
    ratio of the rounds): on a shared machine other processes take the same share from both
    runs, and cannot make GIL-bound work look parallel. And the wall-time speedup, fastest
    call against fastest call: it sees work that releases the GIL without using the CPU for
    it (waits, page faults) and work whose one thread already keeps several cores busy to
    little use (a BLAS library's spinning threads on small matrices), which CPU time counts
    as parallelism already present; load only slows a run down, so GIL-bound threads cannot
    win this race either.
    """
    return race([(one, many)], budget, rounds)[0]


def race(pairs: Sequence[tuple[Callable[[], Any], Callable[[], Any]]], budget: float,
         rounds: int = RACE_ROUNDS) -> list[float]:
    """:func:`relative_parallelism` of each ``(one, many)`` pair, their rounds interleaved so
    that every pair is read at the same moments (a shared machine's free cores come and go
    within seconds)."""
    readings: list[tuple[list[float], list[float], list[float]]] = [([], [], []) for _ in pairs]
    for _ in range(rounds):
        for (one, many), (ratios, one_s, many_s) in zip(pairs, readings, strict=True):
            base, base_call = cpu_per_wall(one, budget)
            busy, busy_call = cpu_per_wall(many, budget)
            ratios.append(busy / max(base, 1e-9))
            one_s.append(base_call)
            many_s.append(busy_call)
    return [max(min(ratios), min(one_s) / max(min(many_s), 1e-9))
            for ratios, one_s, many_s in readings]


def gil_fraction(parallelism: float, ceiling: float) -> float:
    """Share of the work that holds the GIL, from the ``parallelism`` two threads reached on
    it and the ``ceiling`` they reached at the same moments on work that releases it
    throughout (:func:`_compress`: on a busy machine, less than 2; below :data:`MIN_CEILING`,
    two). Amdahl's law on two threads,
    ``parallelism = 1 / (g + (1 - g) / ceiling)``, solved for ``g``: the thread pool's
    prediction (:func:`mpguide.model.predict_threads`) then gives back the race's time.

    >>> gil_fraction(1.0, 2.0), gil_fraction(2.0, 2.0), round(gil_fraction(1.5, 2.0), 3)
    (1.0, 0.0, 0.333)
    >>> gil_fraction(1.6, 1.6), gil_fraction(1.7, 1.6)  # as parallel as the machine allows
    (0.0, 0.0)
    """
    ceiling = ceiling if ceiling >= MIN_CEILING else 2.0
    share = (1 / max(parallelism, 1e-9) - 1 / ceiling) / (1 - 1 / ceiling)
    return min(1.0, max(0.0, share))


def _compress(data: bytes) -> bytes:
    """``data`` compressed by zlib at level 1: the reference race's work (zlib releases the GIL
    while it compresses)."""
    return zlib.compress(data, 1)
