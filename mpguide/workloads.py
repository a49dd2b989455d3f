"""Workloads and payloads that every start method can use.

Everything a pool pickles by reference (worker functions, initializers) lives here, in an
importable module: a function defined in a notebook cell or a sphinx-gallery script cannot be
found by a ``spawn`` or ``forkserver`` child. Heavy imports (numpy, pandas) happen inside the
functions that need them, so a ``spawn`` worker that only runs :func:`spin` starts as fast as
one from a stdlib-only script.

Examples
--------
>>> from mpguide import workloads
>>> workloads.spin(1000) == workloads.spin(1000)
True
>>> len(workloads.make_payload("bytes", 1024))
1024
>>> workloads.payload_size(workloads.make_payload("ndarray", 8000))
8000
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

PAYLOAD_KINDS = ("bytes", "ndarray", "nested", "dataframe")


def noop(x: Any) -> Any:
    """Return ``x`` unchanged: a task with no work, only overhead."""
    return x


def square(x: float) -> float:
    """Return ``x * x``: the classic tiny task of pool tutorials."""
    return x * x


def spin(iterations: int) -> int:
    """Pure-Python integer loop of ``iterations`` steps; holds the GIL the whole time.

    Returns a checksum so a parallel result can be compared with the serial one.

    Examples
    --------
    >>> spin(0), spin(3)
    (0, 8)
    """
    total = 0
    for i in range(iterations):
        total = (total + i * i) % 1_000_003 + 1
    return total if iterations else 0


@functools.lru_cache(maxsize=1)
def spin_rate(min_time: float = 0.02) -> float:
    """Iterations of :func:`spin` per second in this process (measured once, then cached).

    Doubles the iteration count until one call lasts ``min_time``, then takes the best of three.
    """
    n = 1_000
    while True:
        start = time.perf_counter()
        spin(n)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        n *= 2
    best = elapsed
    for _ in range(2):
        start = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - start)
    return n / best


def iterations_for(seconds: float) -> int:
    """How many :func:`spin` iterations last about ``seconds`` on this machine.

    Examples
    --------
    >>> iterations_for(0.0)
    0
    >>> iterations_for(1e-3) > 0
    True
    """
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    return round(seconds * spin_rate())


def sleep_task(seconds: float) -> float:
    """Wait ``seconds`` without using the CPU (an I/O stand-in); returns ``seconds``."""
    time.sleep(seconds)
    return seconds


def numpy_sum_task(n: int) -> float:
    """Sum ``sqrt`` over ``n`` float64 values: numpy work that releases the GIL.

    Examples
    --------
    >>> numpy_sum_task(4)
    4.146264369941973
    """
    import numpy as np

    return float(np.sqrt(np.arange(n, dtype=np.float64)).sum())


def matmul_task(n: int) -> float:
    """Multiply two ``n x n`` matrices (BLAS, multithreaded unless capped); return the trace."""
    import numpy as np

    rng = np.random.default_rng(n)
    a = rng.random((n, n))
    return float(np.trace(a @ a))


def make_payload(kind: str, nbytes: int) -> Any:
    """Build a payload of about ``nbytes`` bytes of the given kind.

    ``"bytes"`` (a bytes object), ``"ndarray"`` (float64 array), ``"nested"`` (list of small
    dicts of ints and strings, many small objects to pickle), ``"dataframe"`` (pandas frame with
    a float and an int column). Sizes are in-memory data sizes (see :func:`payload_size`).

    Examples
    --------
    >>> make_payload("nested", 1000)[0]
    {'id': 0, 'name': 'item-0', 'score': 0.0}
    >>> make_payload("sets", 10)
    Traceback (most recent call last):
    ...
    ValueError: unknown payload kind 'sets'; choose one of bytes, ndarray, nested, dataframe
    """
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes!r}")
    if kind == "bytes":
        return bytes(nbytes)
    if kind == "ndarray":
        import numpy as np

        return np.arange(nbytes // 8, dtype=np.float64)
    if kind == "nested":
        count = max(1, nbytes // _NESTED_ITEM_BYTES)
        return [{"id": i, "name": f"item-{i}", "score": i / 2} for i in range(count)]
    if kind == "dataframe":
        import numpy as np
        import pandas as pd

        rows = nbytes // 16
        return pd.DataFrame({"x": np.arange(rows, dtype=np.float64), "k": np.arange(rows)})
    raise ValueError(f"unknown payload kind {kind!r}; choose one of {', '.join(PAYLOAD_KINDS)}")


#: Rough in-memory size of one ``nested`` item; only used to scale the item count.
_NESTED_ITEM_BYTES = 100


def payload_size(payload: Any) -> int:
    """Data bytes of a payload made by :func:`make_payload` (``nested``: its pickled size)."""
    if isinstance(payload, bytes | bytearray):
        return len(payload)
    if hasattr(payload, "nbytes"):
        return int(payload.nbytes)
    if hasattr(payload, "memory_usage"):
        return int(payload.memory_usage(index=False).sum())
    import pickle

    return len(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def payload_task(spec: tuple[str, int]) -> Any:
    """Return a fresh payload ``make_payload(*spec)``: a task whose *result* is big."""
    kind, nbytes = spec
    return make_payload(kind, nbytes)


def payload_length(payload: Any) -> int:
    """Return ``len(payload)``: a task whose *argument* is big and whose result is tiny."""
    return len(payload)


def timed_call(func: Callable[[Any], Any], item: Any) -> tuple[Any, float, float, int]:
    """Call ``func(item)`` and return ``(result, start, end, pid)`` with ``time.time`` stamps.

    Used to split a ``Pool.map`` run into time spent computing in workers and everything else.
    """
    import os

    start = time.time()
    result = func(item)
    return result, start, time.time(), os.getpid()


def log_work(n: int) -> float:
    """A small numeric task (``sum(log(i))``), the seed articles' kind of tiny task."""
    return math.fsum(math.log(i + 1) for i in range(n))
