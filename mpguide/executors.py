"""Executors: one small interface for "map this function over these items".

Each executor is a frozen, JSON-ready spec with a readable label: the plain loop, a thread
pool, ``multiprocessing.Pool`` and ``concurrent.futures.ProcessPoolExecutor`` here; joblib,
mpire and Dask in :mod:`mpguide.peers`. A spec keys the
result cache and travels to a fresh interpreter as a dict (:meth:`Executor.to_dict`,
:func:`from_dict`). Running one keeps the guarantees of :func:`mpguide.pools.bounded_map`:
the function and items are checked before any process starts, every wait is bounded, a dead
worker is an exception, and nothing is left running afterwards.

Worker counts default to the usable cores of this machine and start methods to
:func:`mpguide.config.start_method`, resolved when the spec is made, so the label says what
runs.

A new tool plugs in as one more subclass registered with :func:`register`; callers (the
experiment verb, ``python -m mpguide compare``) only see :meth:`Executor.started`.

Examples
--------
>>> from mpguide import executors, workloads
>>> spec = executors.Pool(2, chunksize=50, start_method="spawn")
>>> spec.label
'Pool(2, chunksize=50, spawn)'
>>> executors.from_dict(spec.to_dict()) == spec
True
>>> executors.Loop().map(workloads.square, [1, 2, 3])
[1, 4, 9]
>>> executors.Threads(2).map(workloads.square, [1, 2, 3], timeout=30)
[1, 4, 9]
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import importlib
import itertools
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, cast

from mpguide import config, machine, pools

#: A function of one started executor: ``run(func, items) -> results``.
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]

_REGISTRY: dict[str, type[Executor]] = {}
E = TypeVar("E", bound="type[Executor]")
E_ = TypeVar("E_", bound="Executor")


def register(cls: E) -> E:
    """Class decorator: make ``cls`` known to :func:`from_dict` under its ``tool`` name."""
    _REGISTRY[cls.tool] = cls
    return cls


def registered() -> dict[str, type[Executor]]:
    """Every executor class by its ``tool`` name, in the order they were registered: these
    four, then the peers of :mod:`mpguide.peers` (importing it imports no peer library).

    Examples
    --------
    >>> list(registered())
    ['loop', 'threads', 'pool', 'processpool', 'joblib', 'mpire', 'dask']
    """
    importlib.import_module("mpguide.peers")
    return dict(_REGISTRY)


def default_chunksize(n_items: int, workers: int) -> int:
    """The chunksize ``Pool.map`` picks when none is given: about four chunks per worker.

    CPython computes ``divmod(n_items, 4 * workers)`` and adds one for a remainder; for no
    items this returns 1 (a valid chunksize) where CPython uses 0.

    Examples
    --------
    >>> default_chunksize(10, 2), default_chunksize(1000, 4), default_chunksize(0, 2)
    (2, 63, 1)
    """
    chunksize, extra = divmod(n_items, workers * 4)
    return max(1, chunksize + bool(extra))


def resolve_target(target: str, what: str = "object") -> Callable[..., Any]:
    """The object named ``"package.module:name"`` (``what`` it is, for the error message);
    a :class:`ValueError` that says how to fix the name when it cannot be found.

    Examples
    --------
    >>> resolve_target("mpguide.workloads:square")(3)
    9
    >>> resolve_target("mpguide.workloads:cube", "function")
    Traceback (most recent call last):
    ...
    ValueError: the function 'cube' is not defined in module mpguide.workloads; ...
    """
    module_name, sep, name = target.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"the {what} {target!r} must be written MODULE:NAME, for example "
                         f"mypackage.work:process (a module importable from the current "
                         f"directory or sys.path, then a colon, then the name).")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} for the {what} ({exc}); run "
                         f"the command from the directory that holds it, or install it, or "
                         f"add its folder to PYTHONPATH.") from None
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"the {what} {name!r} is not defined in module {module_name}; "
                             f"check the spelling (names defined there: "
                             f"{', '.join(_defined_in(module)[:24]) or 'none'}).")
        obj = getattr(obj, part)
    return cast("Callable[..., Any]", obj)


def _defined_in(module: Any) -> list[str]:
    """Names of the functions a module defines itself (not those it imports)."""
    return sorted(name for name, value in vars(module).items()
                  if not name.startswith("_") and callable(value)
                  and getattr(value, "__module__", None) == module.__name__)


def target_of(func: Callable[..., Any]) -> str:
    """``"module:qualname"`` of an importable function: how a spec names it in JSON.

    Examples
    --------
    >>> from mpguide import workloads
    >>> target_of(workloads.square)
    'mpguide.workloads:square'
    """
    return f"{func.__module__}:{func.__qualname__}"


@dataclasses.dataclass(frozen=True)
class Executor:
    """Base spec: how to map a function over items. Subclasses set :attr:`tool`."""

    #: Name of the tool in records and JSON (``"loop"``, ``"threads"``, ``"pool"``, ...).
    tool: ClassVar[str] = ""
    #: Whether workers are processes (the function and items must be picklable).
    processes: ClassVar[bool] = False

    @property
    def label(self) -> str:
        """Readable name, e.g. ``Pool(4, chunksize=50, spawn)``."""
        raise NotImplementedError

    @property
    def parallelism(self) -> int:
        """Workers that run at once (1 for the loop)."""
        return int(getattr(self, "workers", 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"tool": ..., <fields>}``; :func:`from_dict` reverses it."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"tool": self.tool, **{k: list(v) if isinstance(v, tuple) else v
                                      for k, v in fields.items()}}

    def record(self) -> dict[str, Any]:
        """Flat columns for result rows: label, tool, workers, chunksize, start method."""
        return {"label": self.label, "tool": self.tool, "workers": self.parallelism,
                "chunksize": getattr(self, "chunksize", None),
                "start_method": getattr(self, "start_method", None)}

    def check(self, func: Callable[[Any], Any], items: Sequence[Any]) -> None:
        """Raise :class:`mpguide.pools.UnpicklableError` if ``func`` or an item cannot reach
        a worker of this executor (a no-op for the loop and threads)."""
        if self.processes:
            pools.check_callable(func, getattr(self, "start_method", None))
            pools.check_items(items)

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        """Start the executor once and yield ``run(func, items) -> list``, every wait bounded
        by ``timeout`` (default :data:`mpguide.config.DEFAULT_TIMEOUT`); stop it on exit."""
        yield from ()  # yields nothing; makes this a generator, as in the subclasses
        raise NotImplementedError

    def map(self, func: Callable[[Any], Any], items: Sequence[Any], *,
            timeout: float | None = None) -> list[Any]:
        """Start, map ``func`` over ``items`` (checked first), stop: what a user's
        ``with Pool(w) as p: p.map(func, items)`` does, bounded."""
        items = list(items)
        self.check(func, items)
        with self.started(timeout) as run:
            return run(func, items)


def _timeout(timeout: float | None) -> float:
    return config.DEFAULT_TIMEOUT if timeout is None else timeout


def _workers(workers: int | None) -> int:
    count = machine.usable_cpus() if workers is None else int(workers)
    if count < 1:
        raise ValueError(f"workers must be >= 1, got {count}")
    return count


def _chunksize(chunksize: int | None) -> int | None:
    if chunksize is not None and int(chunksize) < 1:
        raise ValueError(f"chunksize must be >= 1 or None (the tool's default), got {chunksize}")
    return None if chunksize is None else int(chunksize)


@register
@dataclasses.dataclass(frozen=True)
class Loop(Executor):
    """The plain loop, ``[func(x) for x in items]``: the baseline of every speedup."""

    tool: ClassVar[str] = "loop"

    @property
    def label(self) -> str:
        return "loop"

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        yield lambda func, items: [func(item) for item in items]


@register
@dataclasses.dataclass(frozen=True)
class Threads(Executor):
    """``concurrent.futures.ThreadPoolExecutor(workers).map``: wins only when ``func``
    releases the GIL (I/O, hashing, compression, numpy)."""

    workers: int | None = None
    tool: ClassVar[str] = "threads"

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _workers(self.workers))

    @property
    def label(self) -> str:
        return f"Threads({self.workers})"

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        limit = _timeout(timeout)
        executor = concurrent.futures.ThreadPoolExecutor(self.workers,
                                                         thread_name_prefix="mpguide")
        try:
            yield lambda func, items: list(executor.map(func, items, timeout=limit))
        except concurrent.futures.TimeoutError:
            raise pools.PoolTimeoutError(
                f"{self.label} did not finish within {limit:g} s; threads cannot be killed, so "
                f"the ones still running finish in the background.") from None
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


@register
@dataclasses.dataclass(frozen=True)
class Pool(Executor):
    """``multiprocessing.get_context(start_method).Pool(workers).map(func, items, chunksize)``.

    ``initializer`` is ``"module:function"`` (JSON-ready) called with ``initargs`` in each
    worker; ``blas_threads`` caps each worker's BLAS pool (:func:`mpguide.blas.limit_blas_threads`,
    it cannot be combined with an initializer). ``chunksize=None`` is Pool's default
    (:func:`default_chunksize`).
    """

    workers: int | None = None
    chunksize: int | None = None
    start_method: str | None = None
    initializer: str | None = None
    initargs: tuple[Any, ...] = ()
    maxtasksperchild: int | None = None
    blas_threads: int | None = None
    tool: ClassVar[str] = "pool"
    processes: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "chunksize", _chunksize(self.chunksize))
        object.__setattr__(self, "start_method", config.resolve_start_method(self.start_method))
        object.__setattr__(self, "initargs", tuple(self.initargs))
        if self.blas_threads is not None and self.initializer is not None:
            raise ValueError("blas_threads sets the initializer (mpguide.blas:limit_blas_threads)"
                             "; call limit_blas_threads from your own initializer instead")

    @property
    def label(self) -> str:
        parts = [str(self.workers)]
        parts.append("default chunksize" if self.chunksize is None
                     else f"chunksize={self.chunksize}")
        if self.maxtasksperchild is not None:
            parts.append(f"maxtasksperchild={self.maxtasksperchild}")
        if self.blas_threads is not None:
            parts.append(f"blas_threads={self.blas_threads}")
        if self.initializer is not None:
            parts.append(f"initializer={self.initializer.rpartition(':')[2]}")
        return f"Pool({', '.join([*parts, str(self.start_method)])})"

    def record(self) -> dict[str, Any]:
        return {**super().record(), "blas_threads": self.blas_threads}

    def _initializer(self) -> tuple[Callable[..., Any] | None, tuple[Any, ...]]:
        if self.blas_threads is not None:
            from mpguide.blas import limit_blas_threads

            return limit_blas_threads, (self.blas_threads,)
        if self.initializer is not None:
            return resolve_target(self.initializer), self.initargs
        return None, ()

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        limit = _timeout(timeout)
        initializer, initargs = self._initializer()
        assert self.workers is not None
        # join=False: on the way out the pool is terminated, as a user's ``with Pool(...)``
        # block does, so a timed start+map+stop costs what it costs in their script.
        with pools.bounded_pool(self.workers, self.start_method, limit, join=False,
                                initializer=initializer, initargs=initargs,
                                maxtasksperchild=self.maxtasksperchild) as pool:
            def run(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                tasks = pool.map_async(func, items, chunksize=self.chunksize)
                results = pools.wait_result(tasks, pool, limit, what=self.label)
                return list(results)

            yield run


@register
@dataclasses.dataclass(frozen=True)
class ProcessPool(Executor):
    """``concurrent.futures.ProcessPoolExecutor(workers, mp_context=...).map(func, items,
    chunksize=chunksize)``; its default chunksize is 1."""

    workers: int | None = None
    chunksize: int = 1
    start_method: str | None = None
    max_tasks_per_child: int | None = None
    tool: ClassVar[str] = "processpool"
    processes: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "chunksize", _chunksize(self.chunksize) or 1)
        object.__setattr__(self, "start_method", config.resolve_start_method(self.start_method))
        if self.max_tasks_per_child is not None and self.start_method == "fork":
            raise ValueError("ProcessPoolExecutor refuses max_tasks_per_child with fork; use "
                             "spawn or forkserver")

    @property
    def label(self) -> str:
        parts = [str(self.workers), f"chunksize={self.chunksize}"]
        if self.max_tasks_per_child is not None:
            parts.append(f"max_tasks_per_child={self.max_tasks_per_child}")
        return f"ProcessPoolExecutor({', '.join([*parts, str(self.start_method)])})"

    @contextlib.contextmanager
    def started(self, timeout: float | None = None) -> Iterator[Mapper]:
        import multiprocessing
        from concurrent.futures.process import BrokenProcessPool

        limit = _timeout(timeout)
        kwargs: dict[str, Any] = {"mp_context": multiprocessing.get_context(self.start_method)}
        if self.max_tasks_per_child is not None:
            kwargs["max_tasks_per_child"] = self.max_tasks_per_child
        executor = concurrent.futures.ProcessPoolExecutor(self.workers, **kwargs)
        timed_out = False
        try:
            def run(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
                nonlocal timed_out
                try:
                    return list(executor.map(func, items, chunksize=self.chunksize,
                                             timeout=limit))
                except BrokenProcessPool as exc:
                    raise pools.WorkerDiedError(
                        f"a worker of {self.label} died while tasks were pending (a crash, "
                        f"os._exit, a signal, running out of memory, or a function the child "
                        f"could not import); run the function serially to see why.") from exc
                except concurrent.futures.TimeoutError:
                    timed_out = True
                    raise pools.PoolTimeoutError(
                        f"{self.label} did not finish within {limit:g} s; its workers were "
                        f"killed.") from None

            yield run
        finally:
            shutdown_bounded(executor, limit, kill=timed_out)


def shutdown_bounded(executor: concurrent.futures.ProcessPoolExecutor, timeout: float,
                     kill: bool = False) -> None:
    """Shut ``executor`` down within ``timeout``, first killing its workers if ``kill`` (a task
    that never returns); a task that raised leaves live workers, which stop as usual.

    Examples
    --------
    >>> executor = concurrent.futures.ProcessPoolExecutor(1)
    >>> executor.submit(abs, -2).result(timeout=60)
    2
    >>> shutdown_bounded(executor, timeout=10)
    """
    processes = list((getattr(executor, "_processes", None) or {}).values())
    if kill:
        if sys.version_info < (3, 12):
            # Before 3.12 the manager thread dies with a traceback (InvalidStateError) when it
            # marks a cancelled future (map's timeout cancels the rest) as broken. Give those
            # work items a fresh future to mark instead; nobody waits on it.
            pending = getattr(executor, "_pending_work_items", None) or {}
            for item in list(pending.values()):
                if item.future.cancelled():
                    item.future = concurrent.futures.Future()
        for process in processes:
            process.kill()
    pools.stop_or_kill(lambda: executor.shutdown(wait=True, cancel_futures=True), processes,
                       timeout)


def from_dict(data: Mapping[str, Any]) -> Executor:
    """The spec that :meth:`Executor.to_dict` wrote.

    Examples
    --------
    >>> from_dict({"tool": "threads", "workers": 3}).label
    'Threads(3)'
    """
    fields = dict(data)
    tool = fields.pop("tool", None)
    known = registered()
    if tool not in known:
        raise ValueError(f"unknown executor tool {tool!r}; known: {', '.join(sorted(known))}")
    return known[tool](**fields)


def grid(kind: Callable[..., E_], **axes: Sequence[Any] | Any) -> list[E_]:
    """One spec per combination of the ``axes`` values (scalars are fixed values).

    Examples
    --------
    >>> [s.label for s in grid(Pool, workers=[1, 2], chunksize=[1, None], start_method="fork")]
    ['Pool(1, chunksize=1, fork)', 'Pool(1, default chunksize, fork)', \
'Pool(2, chunksize=1, fork)', 'Pool(2, default chunksize, fork)']
    """
    names = list(axes)
    values = [v if isinstance(v, (list, tuple, range)) else [v] for v in axes.values()]
    return [kind(**dict(zip(names, combo, strict=False))) for combo in itertools.product(*values)]



def standard(workers: int | None = None, start_method: str | None = None,
             chunksizes: Sequence[int | None] = (None,)) -> list[Executor]:
    """The usual line-up: the loop, threads, ``Pool`` at each chunksize (``None``: its
    default), and ``ProcessPoolExecutor``, all with ``workers`` (default: usable cores).

    Examples
    --------
    >>> [s.tool for s in standard(2, "fork")]
    ['loop', 'threads', 'pool', 'processpool']
    """
    return [Loop(), Threads(workers),
            *(Pool(workers, chunksize=c, start_method=start_method) for c in chunksizes),
            ProcessPool(workers, start_method=start_method)]


__all__ = ["Executor", "Loop", "Pool", "ProcessPool", "Threads", "default_chunksize",
           "from_dict", "grid", "register", "registered", "resolve_target", "shutdown_bounded",
           "standard", "target_of"]
