"""Pools that cannot hang: pre-flight checks, bounded waits, dead-worker detection, cleanup.

``multiprocessing.Pool.map`` waits forever when a worker dies (the pool quietly replaces it and
the lost task never comes back), and a worker function that a ``spawn`` child cannot import
kills every worker it reaches. The helpers here turn each of those into a clear exception
within a timeout, and always terminate the pool's processes on the way out.

Examples
--------
>>> from mpguide import pools, workloads
>>> pools.bounded_map(workloads.square, [1, 2, 3], workers=2, timeout=30)
[1, 4, 9]
>>> pools.check_callable(lambda x: x)
Traceback (most recent call last):
...
mpguide.pools.UnpicklableError: the worker function <lambda> is a lambda. A pool sends ...

Each error names its failure (``failure``, a kind of :data:`mpguide.failures.FAILURES`) and
ends with the guide's why and fix for it (:mod:`mpguide.failures`).
"""

from __future__ import annotations

import contextlib
import inspect
import multiprocessing
import multiprocessing.pool
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from mpguide import config
from mpguide.failures import FAILURES

_T = TypeVar("_T")
_R = TypeVar("_R")

#: How often a waiting helper checks whether a worker died (seconds).
POLL_INTERVAL = 0.05


class PoolError(RuntimeError):
    """Base class: a pool could not do what was asked; the message says why and what to do.

    ``failure`` names the kind of failure (a key of :data:`mpguide.failures.FAILURES`, or
    ``None``); each subclass has its own, and ``failure=`` sets another one.
    """

    failure: str | None = None

    def __init__(self, *args: object, failure: str | None = None) -> None:
        super().__init__(*args)
        if failure is not None:
            self.failure = failure


class UnpicklableError(PoolError, TypeError):
    """The worker function or an item cannot be sent to a child process."""

    failure = "unpicklable"


class WorkerDiedError(PoolError):
    """A worker process exited while tasks were pending (crash, ``os._exit``, import failure)."""

    failure = "worker-died"


class PoolTimeoutError(PoolError, TimeoutError):
    """The pool did not finish within its timeout; its processes were terminated."""

    failure = "timeout"


class WorkerError(PoolError):
    """The worker function raised; the original exception is chained as ``__cause__``."""

    failure = "raised"


def _advice(kind: str) -> str:
    return FAILURES[kind].advice


def _describe(func: Any) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def check_callable(func: Callable[..., Any], start_method: str | None = None) -> None:
    """Raise :class:`UnpicklableError` if ``func`` cannot reach a worker of ``start_method``.

    Catches the three classic mistakes before any process starts: a lambda, a function defined
    inside another function (closure), and (under ``spawn``/``forkserver``) a function of
    ``__main__`` that a child re-importing the main script would not find (one defined in a
    notebook cell, a sphinx-gallery block, an interactive session or code run by ``exec``).
    """
    method = config.resolve_start_method(start_method)
    if not callable(func):
        raise UnpicklableError(f"{func!r} is not callable; pass a function defined with def.")
    name = _describe(func)
    if getattr(func, "__name__", "") == "<lambda>":
        raise UnpicklableError(f"the worker function {name} is a lambda. "
                               f"{_advice('pickle-lambda')}", failure="pickle-lambda")
    if "<locals>" in name:
        raise UnpicklableError(f"the worker function {name} is defined inside another function "
                               f"(a closure). {_advice('pickle-local')}", failure="pickle-local")
    if method != "fork" and not _in_main_script(func):
        where = "a notebook or interactive session" if not _main_file() else \
            "code that is not in the main script's file"
        raise UnpicklableError(
            f"the worker function {name} is defined in __main__ by {where}, so a {method!r} "
            f"child cannot import it (it would fail with \"Can't get attribute "
            f"{getattr(func, '__name__', name)!r}\"). {_advice('main-attribute')}",
            failure="main-attribute")
    try:
        pickle.dumps(func)
    except Exception as exc:
        raise UnpicklableError(f"the worker function {name} cannot be pickled ({exc}). "
                               f"{_advice('unpicklable')}") from exc


def _main_file() -> str | None:
    return getattr(sys.modules.get("__main__"), "__file__", None)


def _in_main_script(func: Callable[..., Any]) -> bool:
    """False for a function of ``__main__`` whose code is not in the main script's file (a
    child re-importing that script would not define it); True for any other callable."""
    if getattr(func, "__module__", None) != "__main__":
        return True
    main = _main_file()
    code = getattr(inspect.unwrap(func), "__code__", None)
    if main is None or code is None:
        return main is not None
    return os.path.abspath(str(code.co_filename)) == os.path.abspath(main)


def check_items(items: Sequence[Any], sample: int = 3) -> None:
    """Raise :class:`UnpicklableError` if one of the first and last ``sample`` items cannot be
    pickled (open files, locks, generators, sockets, ...).

    Examples
    --------
    >>> import threading
    >>> check_items([1, threading.Lock()])
    Traceback (most recent call last):
    ...
    mpguide.pools.UnpicklableError: item 1 (a lock) cannot be pickled ...
    """
    n = len(items)
    for index in sorted({*range(min(sample, n)), *range(max(0, n - sample), n)}):
        try:
            pickle.dumps(items[index], protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            kind = type(items[index]).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            raise UnpicklableError(f"item {index} ({article} {kind}) cannot be pickled ({exc}). "
                                   f"{_advice('unpicklable')}") from exc


def get_context(start_method: str | None = None) -> multiprocessing.context.BaseContext:
    """The multiprocessing context for ``start_method`` (default: :func:`config.start_method`)."""
    return multiprocessing.get_context(config.resolve_start_method(start_method))


def _processes(pool: multiprocessing.pool.Pool) -> list[multiprocessing.process.BaseProcess]:
    # Pool keeps its processes in the private list ``_pool``; the public API offers no other
    # way to notice that a worker died and was silently replaced.
    # It is private, so typeshed's Pool does not declare it: hence the ignore.
    processes: list[multiprocessing.process.BaseProcess]
    processes = list(pool._pool)  # type: ignore[attr-defined]
    return processes


def _workers(pool: multiprocessing.pool.Pool) -> dict[int, multiprocessing.process.BaseProcess]:
    return {p.pid: p for p in _processes(pool) if p.pid is not None}


def _crashed(workers: dict[int, multiprocessing.process.BaseProcess],
             current: dict[int, multiprocessing.process.BaseProcess]) -> bool:
    """Whether a worker that left the pool exited with a non-zero code.

    A worker retired by ``maxtasksperchild`` exits with code 0 and is replaced normally; one that
    crashed, called ``os._exit(n)`` with ``n != 0``, was killed by a signal, or could not
    unpickle its task exits with a non-zero code (or has none yet, while being reaped).
    """
    for pid in workers.keys() - current.keys():
        process = workers[pid]
        process.join(POLL_INTERVAL)
        if process.exitcode != 0:
            return True
    return False


def wait_result(result: multiprocessing.pool.AsyncResult[_T], pool: multiprocessing.pool.Pool,
                timeout: float, what: str = "the pool") -> _T:
    """``result.get()`` bounded by ``timeout`` that fails fast when a worker dies.

    Raises :class:`WorkerDiedError` as soon as a worker exits with a non-zero code (the task it
    held is lost and would never complete; workers retired by ``maxtasksperchild`` exit with
    code 0 and are fine), :class:`PoolTimeoutError` after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    seen = _workers(pool)
    while not result.ready():
        if time.monotonic() > deadline:
            raise PoolTimeoutError(
                f"{what} did not finish within {timeout:g} s; its workers were terminated. If "
                f"the work is just slow, raise timeout=. {_advice('timeout')}")
        result.wait(POLL_INTERVAL)
        current = _workers(pool)
        if _crashed(seen, current) and not result.ready():
            raise WorkerDiedError(
                f"a worker of {what} exited while tasks were pending (a crash, os._exit, a "
                f"signal, running out of memory, or a worker function the child could not "
                f"import); the tasks it held are lost. {_advice('worker-died')}")
        seen = current
    try:
        return result.get(0)
    except PoolError:
        raise
    except Exception as exc:
        raise WorkerError(f"the worker function raised {type(exc).__name__}: {exc}. "
                          f"{_advice('raised')}") from exc


@contextlib.contextmanager
def bounded_pool(workers: int, start_method: str | None = None, timeout: float | None = None,
                 *, join: bool = True,
                 **pool_kwargs: Any) -> Iterator[multiprocessing.pool.Pool]:
    """A ``ctx.Pool(workers)`` that is always terminated on exit, within ``timeout``.

    On a clean exit the pool is closed and joined (workers finish and exit), or with
    ``join=False`` terminated, as ``with ctx.Pool(workers) as pool:`` does; on an exception it
    is terminated. Either way no worker process outlives the block.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    pool = get_context(start_method).Pool(workers, **pool_kwargs)
    try:
        yield pool
    except BaseException:
        terminate(pool, timeout)
        raise
    if join:
        close_and_join(pool, timeout)
    else:
        terminate(pool, timeout)


def close_and_join(pool: multiprocessing.pool.Pool, timeout: float) -> None:
    """``pool.close(); pool.join()`` bounded by ``timeout``; terminates the pool if it expires."""
    pool.close()
    if not _in_thread(pool.join).wait(timeout):
        terminate(pool, timeout)
        raise PoolTimeoutError(f"the pool's workers did not exit within {timeout:g} s after "
                               f"close(); they were terminated.")


def terminate(pool: multiprocessing.pool.Pool, timeout: float) -> None:
    """``pool.terminate()`` bounded by ``timeout``; kills workers that ignore SIGTERM."""
    stop_or_kill(pool.terminate, _processes(pool), timeout)


def stop_or_kill(stop: Callable[[], object],
                 processes: Iterable[multiprocessing.process.BaseProcess], timeout: float) -> None:
    """Run ``stop()`` (a pool's terminate, an executor's shutdown) bounded by ``timeout``; if
    it has not returned by then, kill ``processes`` and give it ``timeout`` more."""
    processes = list(processes)
    done = _in_thread(stop)
    if not done.wait(timeout):
        for process in processes:
            with contextlib.suppress(ValueError):  # a closed process object: it has ended
                if process.is_alive():
                    process.kill()
        done.wait(timeout)


def _in_thread(action: Callable[[], object]) -> threading.Event:
    """Start ``action()`` in a daemon thread; the event is set once it returns."""
    done = threading.Event()

    def _run() -> None:
        action()
        done.set()

    threading.Thread(target=_run, daemon=True, name="mpguide-wait").start()
    return done


def bounded_map(func: Callable[[_T], _R], items: Iterable[_T], *, workers: int = 2,
                chunksize: int | None = None, start_method: str | None = None,
                timeout: float | None = None, **pool_kwargs: Any) -> list[_R]:
    """``Pool(workers).map(func, items, chunksize)`` that never hangs.

    Checks that ``func`` and the items can reach a worker, then maps with every wait bounded by
    ``timeout`` (default :data:`config.DEFAULT_TIMEOUT`). A worker that raises gives
    :class:`WorkerError`; one that dies gives :class:`WorkerDiedError` at once; a task that
    never returns gives :class:`PoolTimeoutError`. The pool is terminated in every case.
    """
    method = config.resolve_start_method(start_method)
    items = list(items)
    check_callable(func, method)
    check_items(items)
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    with bounded_pool(workers, method, timeout, **pool_kwargs) as pool:
        result = pool.map_async(func, items, chunksize=chunksize)
        return wait_result(result, pool, timeout, what=f"map({_describe(func)})")
