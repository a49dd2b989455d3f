"""Share a numpy array with worker processes without pickling it and without leaking it.

:func:`shared_array` copies an array once into a ``multiprocessing.shared_memory`` segment and
yields a :class:`SharedArrayHandle`: a few dozen bytes (name, shape, dtype) that pickle cheaply
into any worker, under every start method. A worker maps the segment by name with
:meth:`SharedArrayHandle.attach` and works on slices by index. Whatever happens inside the
``with`` block (a worker that raises or calls ``os._exit``, ``KeyboardInterrupt``, ``SIGTERM``),
the segment is closed and unlinked on the way out, so ``/dev/shm`` is left as it was.
:func:`shared_arena` gives the same guarantees to a loop that hands over many arrays, reusing
its segments instead of creating one per array (creating a segment costs more than copying).

Cleanup rules this module follows, and why:

* Only the creator unlinks. ``close()`` drops one process's mapping; ``unlink()`` removes the
  name, and the memory is freed once the last mapping is gone.
* Workers attach *without* the resource tracker. By default every ``SharedMemory(name=...)``
  registers the segment with a resource tracker (still so on 3.13+, where ``track=True`` is
  the default); a worker that started its own tracker (a ``fork`` worker started before the
  segment existed) then unlinks the parent's segment when it exits and warns about a "leaked
  shared_memory object". Python 3.13 added ``SharedMemory(name, track=False)`` to opt out;
  :meth:`SharedArrayHandle.attach` maps the segment directly, which behaves like
  ``track=False`` on every version.
* The creator *is* tracked (``SharedMemory(create=True)``, ``track=True`` on 3.13+), so even a
  ``SIGKILL`` of the parent, which skips every ``finally``, ends with the tracker unlinking it.
* ``SIGTERM`` normally kills Python without running ``finally`` blocks; inside the block it
  raises ``SystemExit(143)`` instead, and the previous handler is restored on exit.

Examples
--------
>>> import numpy as np
>>> from mpguide import pools, shm
>>> data = np.arange(1_000, dtype=np.float64)
>>> with shm.shared_array(data) as handle:
...     tasks = [(handle, start, start + 250) for start in range(0, 1_000, 250)]
...     partial = pools.bounded_map(shm.sum_slice, tasks, workers=2, timeout=60)
>>> float(sum(partial)) == float(data.sum())
True
>>> handle.exists()
False
"""

from __future__ import annotations

import contextlib
import dataclasses
import mmap
import os
import signal
import sys
import threading
from collections.abc import Iterator
from multiprocessing import shared_memory
from typing import Any

#: Exit status a ``SIGTERM`` inside :func:`shared_array` exits with (128 + signal number,
#: what a shell reports for a process killed by ``SIGTERM``).
SIGTERM_EXIT_CODE = 128 + signal.SIGTERM

#: Views a worker keeps open for its whole life (filled by :func:`init_worker`).
_WORKER_VIEWS: dict[str, Any] = {}


class SharedArrayError(RuntimeError):
    """An array cannot be shared, or a segment cannot be found."""


@dataclasses.dataclass(frozen=True)
class SharedArrayHandle:
    """What a worker needs to map a shared array: segment name, shape and dtype.

    Small and picklable: send it as an argument or an ``initargs`` entry instead of the array.

    Examples
    --------
    >>> import pickle
    >>> import numpy as np
    >>> with shared_array(np.ones((2, 3), dtype=np.int32)) as handle:
    ...     with handle.attach() as view:
    ...         total = int(view.sum())
    ...     size = len(pickle.dumps(handle))
    >>> total, handle.shape, handle.dtype, size < 300
    (6, (2, 3), '<i4', True)
    """

    name: str
    shape: tuple[int, ...]
    dtype: Any
    nbytes: int

    def exists(self) -> bool:
        """Whether the segment still exists (before the creator's block ends)."""
        try:
            mapping = _open_mapping(self.name, max(self.nbytes, 1), readonly=True)
        except FileNotFoundError:
            return False
        mapping.close()
        return True

    @contextlib.contextmanager
    def attach(self, readonly: bool = False, populate: bool = False) -> Iterator[Any]:
        """Map the segment and yield it as an ndarray; drop the mapping on exit.

        The mapping is not registered with any resource tracker, so a worker that attaches
        never unlinks the parent's segment nor warns about it. A view of the array that
        outlives the block keeps the mapping alive until that view is garbage-collected
        (closing it under a live view would crash the process). ``populate=True`` maps every
        page at once (Linux), cheaper than faulting them in one by one when the worker is going
        to read all of the array.
        """
        mapping = _open_mapping(self.name, max(self.nbytes, 1), readonly, populate)
        try:
            yield _as_array(mapping, self, readonly)
        finally:
            with contextlib.suppress(BufferError):
                mapping.close()


def _as_array(mapping: mmap.mmap, handle: SharedArrayHandle, readonly: bool) -> Any:
    import numpy as np

    dtype = np.lib.format.descr_to_dtype(handle.dtype)
    count = handle.nbytes // dtype.itemsize if dtype.itemsize else 0
    array = np.frombuffer(mapping, dtype=dtype, count=count).reshape(handle.shape)
    if readonly:
        array.flags.writeable = False
    return array


def _open_mapping(name: str, nbytes: int, readonly: bool, populate: bool = False) -> mmap.mmap:
    """Map an existing segment ``name`` without touching the resource tracker.

    ``populate`` asks Linux to fault every page in at once (``MAP_POPULATE``), much cheaper
    than one page fault per 4 KiB page while copying into a fresh segment.
    """
    if sys.platform == "win32":  # os.name == "nt"; spelt so that type checkers narrow on it
        access = mmap.ACCESS_READ if readonly else mmap.ACCESS_WRITE
        return mmap.mmap(-1, nbytes, tagname=name, access=access)
    import _posixshmem  # the module SharedMemory itself uses on POSIX

    open_flags = os.O_RDONLY if readonly else os.O_RDWR
    fd: int = _posixshmem.shm_open("/" + name, open_flags, mode=0o600)
    try:
        flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
        prot = mmap.PROT_READ | (0 if readonly else mmap.PROT_WRITE)
        return mmap.mmap(fd, nbytes, flags=flags, prot=prot)
    finally:
        os.close(fd)


@contextlib.contextmanager
def shared_array(array: Any) -> Iterator[SharedArrayHandle]:
    """Copy ``array`` once into a new shared-memory segment; yield its handle; always unlink.

    Parameters
    ----------
    array
        Any numpy array without Python objects inside (object dtype cannot be shared).

    Yields
    ------
    SharedArrayHandle
        Pass it to workers; they call :meth:`SharedArrayHandle.attach` (or use
        :func:`init_worker` and :func:`sum_slice`). The parent can attach too, e.g. to read
        what workers wrote.

    Examples
    --------
    >>> import numpy as np
    >>> with shared_array(np.zeros(4)) as handle:
    ...     with handle.attach() as view:
    ...         view[1] = 5.0
    ...     with handle.attach(readonly=True) as view:
    ...         print(view.tolist())
    [0.0, 5.0, 0.0, 0.0]
    >>> with shared_array(np.array([{}], dtype=object)):
    ...     pass
    Traceback (most recent call last):
    ...
    mpguide.shm.SharedArrayError: an array of dtype object holds pointers to Python objects...
    """
    with shared_arena() as arena, arena.share(array) as handle:
        yield handle


class SharedArena:
    """Shared-memory segments that are reused from one hand-off to the next.

    Made by :func:`shared_arena`, which unlinks every segment when its block ends. Creating a
    segment costs more than copying into it (the kernel allocates and zeroes every page), so
    a loop that hands arrays of similar size to workers again and again pays that once.
    """

    def __init__(self) -> None:
        self._segments: list[shared_memory.SharedMemory] = []
        self._free: list[shared_memory.SharedMemory] = []

    @property
    def names(self) -> list[str]:
        """Names of the segments this arena created so far."""
        return [segment.name for segment in self._segments]

    @contextlib.contextmanager
    def share(self, array: Any) -> Iterator[SharedArrayHandle]:
        """Copy ``array`` into a free segment (a new one if none is big enough) and yield its
        handle. The segment returns to the arena when the block ends: collect the workers'
        results before leaving it, as the next :meth:`share` may overwrite the bytes."""
        import numpy as np

        array = np.asarray(array)
        if array.dtype.hasobject:
            raise SharedArrayError(
                f"an array of dtype {array.dtype} holds pointers to Python objects, which mean "
                f"nothing in another process; share numeric data, or pickle these objects."
            )
        segment = self._take(max(array.nbytes, 1))
        try:
            handle = SharedArrayHandle(segment.name, tuple(array.shape),
                                       np.lib.format.dtype_to_descr(array.dtype), array.nbytes)
            _fill(handle, array)
            yield handle
        finally:
            self._free.append(segment)

    def _take(self, nbytes: int) -> shared_memory.SharedMemory:
        fitting = [s for s in self._free if s.size >= nbytes]
        if fitting:
            segment = min(fitting, key=lambda s: s.size)
            self._free.remove(segment)
            return segment
        with _signals_deferred():
            segment = shared_memory.SharedMemory(create=True, size=nbytes)
            self._segments.append(segment)
        return segment

    def _unlink_all(self) -> None:
        with _signals_deferred():
            while self._segments:
                _close_and_unlink(self._segments.pop())
            self._free.clear()


@contextlib.contextmanager
def shared_arena() -> Iterator[SharedArena]:
    """A :class:`SharedArena` whose segments are all closed and unlinked when the block ends,
    with the same guarantees as :func:`shared_array` (crashes, ``KeyboardInterrupt``,
    ``SIGTERM``; the resource tracker after ``SIGKILL``).

    Examples
    --------
    >>> import numpy as np
    >>> with shared_arena() as arena:
    ...     with arena.share(np.ones(1000)) as first:
    ...         pass
    ...     with arena.share(np.zeros(500)) as second:  # fits: the same segment again
    ...         pass
    ...     len(arena.names), first.name == second.name
    (1, True)
    >>> first.exists()
    False
    """
    arena = SharedArena()
    with _sigterm_raises_system_exit():
        try:
            yield arena
        finally:
            arena._unlink_all()


def _fill(handle: SharedArrayHandle, array: Any) -> None:
    """The one copy: ``array`` into the segment, through a pre-faulted mapping."""
    import numpy as np

    if not array.nbytes:
        return
    mapping = _open_mapping(handle.name, handle.nbytes, readonly=False, populate=True)
    try:
        target = _as_array(mapping, handle, readonly=False)
        np.copyto(target, array, casting="no")
        del target
    finally:
        mapping.close()


def _close_and_unlink(segment: shared_memory.SharedMemory) -> None:
    """Close our mapping and remove the name; tolerate a segment already unlinked."""
    with contextlib.suppress(BufferError):
        segment.close()
    try:
        segment.unlink()
    except FileNotFoundError:
        if os.name != "nt":
            # Someone else removed the name; forget it so the tracker does not warn at exit.
            from multiprocessing import resource_tracker

            # ``_name`` is the name as registered (with its leading "/"; ``.name`` drops it).
            # It is private, so typeshed's SharedMemory does not declare it: hence the ignore.
            registered = segment._name  # type: ignore[attr-defined]
            resource_tracker.unregister(registered, "shared_memory")


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, so creation or cleanup cannot be cut in
    half; a signal that arrived meanwhile is raised again right after.

    Works at the Python level (handlers run in the main thread whichever thread the kernel
    picked), so it only acts in the main thread and leaves handlers set from C alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not None:
            previous[signum] = signal.signal(signum, lambda s, _f: received.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])


@contextlib.contextmanager
def _sigterm_raises_system_exit() -> Iterator[None]:
    """While the block runs, turn SIGTERM into ``SystemExit`` so ``finally`` blocks run.

    Only when SIGTERM still has its default action (a handler the program installed itself is
    left alone) and only in the main thread (the only place Python allows it). A process forked
    inside the block gets the default action back, so ``Pool.terminate()`` still stops it.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    if not main_thread or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    owner = os.getpid()

    def _raise(signum: int, frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        signal.signal(signum, signal.SIG_IGN)
        raise SystemExit(SIGTERM_EXIT_CODE)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def init_worker(*handles: SharedArrayHandle) -> None:
    """Pool initializer: attach each handle once for the worker's whole life.

    Tasks then find the array with :func:`worker_view` (or :func:`sum_slice` uses it at once)
    instead of mapping it per task. The mapping goes away when the worker exits.
    """
    for handle in handles:
        _WORKER_VIEWS[handle.name] = _as_array(
            _open_mapping(handle.name, max(handle.nbytes, 1), readonly=True), handle, True)


def worker_view(handle: SharedArrayHandle) -> Any:
    """The read-only view :func:`init_worker` attached in this worker."""
    try:
        return _WORKER_VIEWS[handle.name]
    except KeyError:
        raise SharedArrayError(
            f"segment {handle.name!r} was not attached in this process; pass "
            f"initializer=mpguide.shm.init_worker, initargs=(handle,) to the pool."
        ) from None


def sum_slice(task: tuple[SharedArrayHandle, int, int]) -> float:
    """Worker task: sum of ``flat[start:stop]`` of a shared array, given ``(handle, start,
    stop)``. Uses the worker's lifetime view when :func:`init_worker` made one.

    Examples
    --------
    >>> import numpy as np
    >>> with shared_array(np.arange(10.0)) as handle:
    ...     sum_slice((handle, 2, 5))
    9.0
    >>> with shared_array(np.arange(10.0)) as handle:
    ...     sum_slice((handle, 5, 11))
    Traceback (most recent call last):
    ...
    IndexError: slice [5, 11) is outside the shared array of 10 elements
    """
    handle, start, stop = task
    size = handle.nbytes // max(1, _itemsize(handle.dtype))
    if not 0 <= start <= stop <= size:
        raise IndexError(f"slice [{start}, {stop}) is outside the shared array of {size} "
                         f"elements")
    if handle.name in _WORKER_VIEWS:
        return float(_WORKER_VIEWS[handle.name].reshape(-1)[start:stop].sum())
    with handle.attach(readonly=True) as view:
        return float(view.reshape(-1)[start:stop].sum())


def _itemsize(descr: Any) -> int:
    import numpy as np

    return np.lib.format.descr_to_dtype(descr).itemsize


def touch_pages(data: Any, page: int = mmap.PAGESIZE) -> int:
    """Worker task: read one byte per memory page of an array or a shared array's handle.

    Makes the worker actually map every page it received (pickled data is already touched
    by unpickling; a fresh shared mapping is not), and returns a checksum of those bytes.
    """
    import numpy as np

    if isinstance(data, SharedArrayHandle):
        with data.attach(readonly=True, populate=True) as view:
            return touch_pages(view, page)
    flat = np.asarray(data).reshape(-1).view(np.uint8)
    return int(flat[::page].sum(dtype=np.int64))
