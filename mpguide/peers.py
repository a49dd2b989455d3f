"""The tools readers reach for after ``Pool``, as executors: joblib, mpire and Dask.

Each is one more spec of :mod:`mpguide.executors` (frozen, JSON-ready, a readable label), so
the experiment verb, ``python -m mpguide compare --tools joblib,mpire,dask`` and the cache take
them without knowing them. ``chunksize`` means the same everywhere: items per task sent to a
worker, ``None`` for the tool's own default (joblib's ``batch_size="auto"``, mpire's chunking,
one Dask task per item). Nothing here imports joblib, mpire or Dask until a spec is started;
:attr:`~PeerExecutor.requires` names the package, and a spec whose package is missing says
how to install it.

The guarantees of :func:`mpguide.pools.bounded_map` hold for each: every wait is bounded (joblib
and mpire bound each task by ``timeout``, Dask the whole map), a dead worker raises
:class:`~mpguide.pools.WorkerDiedError`, and on the way out the workers are stopped (joblib's
reusable loky executor too, which joblib itself keeps for later calls), a local Dask cluster is
closed and its scratch folder removed. A Dask scheduler given by ``address`` (or
``MPGUIDE_DASK_ADDRESS``) is not ours: only the client is closed, the cluster keeps running.

Examples
--------
>>> from mpguide import peers
>>> peers.Joblib(4).label, peers.Joblib(4, chunksize=50).label
('joblib(4, batch_size=auto)', 'joblib(4, batch_size=50)')
>>> peers.Mpire(2, start_method="spawn").label
'mpire(2, default chunk_size, spawn)'
>>> peers.Dask(2, chunksize=10).label
'Dask(2, chunksize=10, local cluster)'
>>> peers.Dask(address="tcp://127.0.0.1:8786").label
'Dask(per item, tcp://127.0.0.1:8786)'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import importlib.util
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from mpguide import config, pools
from mpguide.executors import Executor, Mapper, _chunksize, _timeout, _workers, register

#: Environment variable naming a running Dask scheduler (``tcp://host:port``).
DASK_ADDRESS_ENV = "MPGUIDE_DASK_ADDRESS"


class MissingToolError(ImportError):
    """A peer executor was asked for but its package is not installed."""


@dataclasses.dataclass(frozen=True)
class PeerExecutor(Executor):
    """Base of the peers: ``requires`` names the package that :meth:`started` imports."""

    #: The importable package the tool needs.
    requires: ClassVar[str] = ""
    processes: ClassVar[bool] = True

    @classmethod
    def available(cls) -> bool:
        """Whether :attr:`requires` is installed here."""
        return importlib.util.find_spec(cls.requires) is not None

    def _require(self) -> None:
        if not self.available():
            raise MissingToolError(
                f"{self.label} needs {self.requires}, which is not installed here; install it "
                f"with `pip install {self.requires}` (or `pip install mpguide[peers]`).")


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of ``size`` (the last may be shorter).

    >>> chunks([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def apply_chunk(func: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    """``[func(x) for x in chunk]``: the task a worker runs for one chunk (importable, so it
    pickles by reference under every start method)."""
    return [func(item) for item in chunk]


@register
@dataclasses.dataclass(frozen=True)
class Joblib(PeerExecutor):
    """``joblib.Parallel(n_jobs=workers, backend="loky", batch_size=...)(delayed(func)(x) ...)``.

    ``chunksize`` is joblib's ``batch_size`` (``None``: ``"auto"``, which grows batches until
    one takes 0.2-2 s). joblib's loky workers start like ``spawn`` and cap their BLAS pools to
    ``cpu_count // workers`` threads: left as it is, since that is what a user gets.
    """

    workers: int | None = None
    chunksize: int | None = None
    tool: ClassVar[str] = "joblib"
    requires: ClassVar[str] = "joblib"

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "chunksize", _chunksize(self.chunksize))

    @property
    def label(self) -> str:
        batch = "auto" if self.chunksize is None else self.chunksize
        return f"joblib({self.workers}, batch_size={batch})"

    def record(self) -> dict[str, Any]:
        return {**super().record(), "start_method": "loky"}

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        self._require()
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        limit = _timeout(timeout)
        batch: int | str = "auto" if self.chunksize is None else self.chunksize
        try:
            # One worker: joblib runs the items in this process (its sequential backend),
            # where a timeout has nothing to stop and only warns that it is ignored.
            with Parallel(n_jobs=self.workers, backend="loky", batch_size=batch,
                          timeout=limit if self.workers != 1 else None) as parallel:
                def run(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                    try:
                        return list(parallel(delayed(func)(item) for item in items))
                    except TerminatedWorkerError as exc:
                        raise pools.WorkerDiedError(
                            f"a worker of {self.label} died while tasks were pending: "
                            f"{exc}") from exc
                    except (TimeoutError, multiprocessing.TimeoutError):
                        raise pools.PoolTimeoutError(
                            f"a task of {self.label} did not finish within {limit:g} s; "
                            f"its workers were stopped.") from None

                yield run
        finally:
            _stop_loky(_stop_bound(limit))


def _stop_bound(limit: float) -> float:
    """Seconds that stopping a tool's workers may take: ``limit`` or
    :data:`~mpguide.config.DEFAULT_TIMEOUT`, whichever is longer (a short bound on the map
    must not turn a slow but normal shutdown into a kill)."""
    return max(limit, config.DEFAULT_TIMEOUT)


def _stop_loky(timeout: float) -> None:
    """Stop joblib's reusable loky executor (joblib keeps its workers for later calls, idle
    for 300 s) and remove its memory-mapping folders (in /dev/shm; joblib's resource tracker
    removes them too if this process is killed): nothing is left once the map is done."""
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    if executor is None:
        return
    processes = list((getattr(executor, "_processes", None) or {}).values())
    # terminate: shutdown, then delete the memory-mapping folders of every Parallel call
    # (joblib recreates its executor after a dead worker or a timeout, in its default folder).
    pools.stop_or_kill(lambda: executor.terminate(kill_workers=True), processes, timeout)
    with reusable_executor._executor_lock:  # a stopped executor is not for reuse: let it go
        if reusable_executor._executor is executor:
            reusable_executor._executor = None


@register
@dataclasses.dataclass(frozen=True)
class Mpire(PeerExecutor):
    """``mpire.WorkerPool(n_jobs=workers, start_method=...).map(func, items, chunk_size=...)``.

    Each item is passed as one argument (mpire unpacks tuples into several arguments unless
    they are wrapped, so every item is wrapped), numpy results are returned as they are
    (``concatenate_numpy_output=False``), and the workers are kept alive between maps of one
    started pool (``keep_alive``), as a ``Pool`` keeps its workers.
    """

    workers: int | None = None
    chunksize: int | None = None
    start_method: str | None = None
    tool: ClassVar[str] = "mpire"
    requires: ClassVar[str] = "mpire"

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "chunksize", _chunksize(self.chunksize))
        object.__setattr__(self, "start_method", config.resolve_start_method(self.start_method))

    @property
    def label(self) -> str:
        chunk = "default chunk_size" if self.chunksize is None else f"chunk_size={self.chunksize}"
        return f"mpire({self.workers}, {chunk}, {self.start_method})"

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        self._require()
        from mpire.pool import WorkerPool

        limit = _timeout(timeout)
        pool = WorkerPool(n_jobs=self.workers, start_method=str(self.start_method),
                          keep_alive=True)
        try:
            def run(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                try:
                    return list(pool.map(func, [(item,) for item in items],
                                         iterable_len=len(items), chunk_size=self.chunksize,
                                         concatenate_numpy_output=False, task_timeout=limit,
                                         worker_init_timeout=limit, worker_exit_timeout=limit))
                except TimeoutError:
                    raise pools.PoolTimeoutError(
                        f"a task of {self.label} did not finish within {limit:g} s; its "
                        f"workers were stopped.") from None
                except RuntimeError as exc:
                    if "died" in str(exc) or "terminated" in str(exc):
                        raise pools.WorkerDiedError(
                            f"a worker of {self.label} died while tasks were pending: "
                            f"{exc}") from exc
                    raise

            yield run
        finally:
            processes = [p for p in getattr(pool, "_workers", None) or [] if p is not None]
            pools.stop_or_kill(pool.terminate, processes, _stop_bound(limit))


@register
@dataclasses.dataclass(frozen=True)
class Dask(PeerExecutor):
    """Dask distributed: ``client.map(func, items, pure=False)`` then ``client.gather``.

    ``chunksize=None`` submits one task per item; an integer submits one task per chunk of
    that many items (:func:`apply_chunk`). Without ``address`` (and without
    ``MPGUIDE_DASK_ADDRESS``), each start makes a ``LocalCluster`` of ``workers`` worker
    processes with one thread each, its HTTP server (the dashboard, where bokeh is installed)
    on a free port, its scratch space in a temporary folder, and closes it on the way out. With an address the client connects to that scheduler and
    ``workers`` is only what the label says (``None``: what the cluster has); the cluster is
    not ours and keeps running.
    """

    workers: int | None = None
    chunksize: int | None = None
    address: str | None = None
    tool: ClassVar[str] = "dask"
    requires: ClassVar[str] = "distributed"

    def __post_init__(self) -> None:
        address = self.address or os.environ.get(DASK_ADDRESS_ENV) or None
        object.__setattr__(self, "address", address)
        if address is None or self.workers is not None:
            object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "chunksize", _chunksize(self.chunksize))

    @property
    def label(self) -> str:
        parts = [] if self.workers is None else [str(self.workers)]
        parts.append("per item" if self.chunksize is None else f"chunksize={self.chunksize}")
        parts.append(self.address or "local cluster")
        return f"Dask({', '.join(parts)})"

    @property
    def parallelism(self) -> int:
        """The workers of the label (1 for a cluster of unknown size)."""
        return self.workers or 1

    def record(self) -> dict[str, Any]:
        return {**super().record(), "workers": self.workers,
                "start_method": None if self.address else "spawn", "address": self.address}

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        self._require()
        limit = _timeout(timeout)
        with contextlib.ExitStack() as stack:
            client = stack.enter_context(self._client(limit))

            def run(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                return _gather(client, func, list(items), chunksize=self.chunksize, limit=limit,
                               label=self.label)

            yield run

    @contextlib.contextmanager
    def _client(self, limit: float) -> Iterator[Any]:
        """A client of the scheduler at :attr:`address`, or of a new local cluster; starting
        and closing bounded by :func:`_stop_bound` (a cluster takes seconds to start)."""
        import dask.config
        from distributed import Client, LocalCluster

        bound = _stop_bound(limit)
        with contextlib.ExitStack() as stack:
            if self.address is None:
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="mpguide-dask-"))
                # The scheduler's scratch too (it reads the config, not local_directory).
                stack.enter_context(dask.config.set({"temporary-directory": scratch}))
                cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                       processes=True, dashboard_address="127.0.0.1:0",
                                       scheduler_port=0,
                                       local_directory=scratch, silence_logs=logging.CRITICAL,
                                       timeout=bound)
                stack.callback(cluster.close, timeout=bound)
                client = Client(cluster, timeout=bound)
                stack.callback(client.close, timeout=bound)
                stack.callback(_settle, client, int(self.workers or 1))
            else:
                client = Client(self.address, timeout=bound)
                stack.callback(client.close, timeout=bound)
            yield client


#: Seconds a local cluster is given to bring back the workers it is restarting before it is
#: closed (a nanny restarts a dead worker in about a second).
SETTLE_S = 15.0


def _settle(client: Any, workers: int) -> None:
    """Wait (at most :data:`SETTLE_S`) until the local cluster has its ``workers`` again.

    After a worker died, its nanny starts a new one; closing the cluster in the middle of that
    fails inside distributed ("can only join a started process") and may leave the new worker
    running. A cluster that does not recover in time is closed as it is.
    """
    with contextlib.suppress(TimeoutError, asyncio.TimeoutError, OSError):
        client.wait_for_workers(workers, timeout=SETTLE_S)


def _gather(client: Any, func: Callable[[Any], Any], items: list[Any], *,
            chunksize: int | None, limit: float, label: str) -> list[Any]:
    """Submit ``items`` (per item, or per chunk) and gather the results within ``limit``."""
    from distributed import KilledWorker, wait

    if chunksize is None:
        futures = client.map(func, items, pure=False)
    else:
        futures = client.map(functools.partial(apply_chunk, func), chunks(items, chunksize),
                             pure=False)
    try:
        wait(futures, timeout=limit)
        results = client.gather(futures)
    except (TimeoutError, concurrent.futures.TimeoutError):
        client.cancel(futures)
        raise pools.PoolTimeoutError(
            f"{label} did not finish within {limit:g} s; its tasks were cancelled.") from None
    except KilledWorker as exc:
        client.cancel(futures)  # the other tasks would kill more workers
        raise pools.WorkerDiedError(
            f"a worker of {label} died while running a task (Dask retried it on other "
            f"workers, and they died too): {exc}") from exc
    if chunksize is None:
        return list(results)
    return [result for chunk in results for result in chunk]


__all__ = ["DASK_ADDRESS_ENV", "Dask", "Joblib", "MissingToolError", "Mpire", "PeerExecutor",
           "apply_chunk", "chunks"]
