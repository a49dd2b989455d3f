"""BLAS threads in pool workers: cap them, and read what a worker really runs.

Two pool workers that each run a BLAS call with one thread per core oversubscribe the machine
(``w`` workers x ``cores`` threads on ``cores`` cores). joblib's loky caps each worker's BLAS
pool; a plain ``multiprocessing.Pool`` does it with an initializer. threadpoolctl only limits
libraries that are already loaded, and a ``spawn`` or ``forkserver`` worker has not loaded
numpy yet when its initializer runs: :func:`limit_blas_threads` imports numpy first, so the cap
reaches the library under every start method.

Examples
--------
>>> limit_blas_threads(1)
>>> blas_threads()
1
"""

from __future__ import annotations

from typing import Any

#: The threadpoolctl limiter of this process; it lives as long as the worker does.
_LIMIT: Any = None


def limit_blas_threads(threads: int) -> None:
    """Pool initializer: cap this process's BLAS libraries to ``threads`` threads.

    Use ``ctx.Pool(w, initializer=limit_blas_threads, initargs=(cores // w,))`` so that ``w``
    workers never run more BLAS threads than there are cores (loky does the same). numpy is
    imported first: under ``spawn`` and ``forkserver`` nothing has loaded BLAS yet, and
    threadpoolctl only limits the libraries it finds loaded.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    import numpy  # noqa: F401  (loads the BLAS library that the limit must reach)
    from threadpoolctl import threadpool_limits

    global _LIMIT  # noqa: PLW0603 - the limit lives as long as the worker process
    _LIMIT = threadpool_limits(limits=threads, user_api="blas")


def blas_threads(_: Any = None) -> int:
    """Threads of the BLAS libraries loaded here (numpy imported first); 0 if there are none.

    Takes and ignores one argument, so ``pool.map(blas_threads, range(workers))`` asks every
    worker what its BLAS pool really has.
    """
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    counts = [lib["num_threads"] for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return max(counts, default=0)
