"""The memory of the processes a program started, while they work.

:class:`MemorySampler` samples, in a thread, the USS (unique set size: the memory only that
process holds) and RSS of every live descendant of this process, and how much ``/dev/shm``
grew meanwhile (joblib memory-maps big arrays there, into files that no process's private
memory shows). A spike shorter than the sampling interval can escape it; the kernel's own
high-water mark of a process's resident memory (``VmHWM``, :func:`high_water_bytes`) cannot,
and can be reset before a run (:func:`reset_high_water`). Those two read ``/proc`` (Linux);
elsewhere they answer ``None`` and ``False``.

Examples
--------
>>> from mpguide import memory
>>> with memory.MemorySampler(interval=0.005) as sampler:
...     pass
>>> len(sampler.samples) >= 1, sampler.peak_uss(set())
(True, 0)
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide.leftovers import SHM

if TYPE_CHECKING:
    from typing_extensions import Self

#: Seconds between two samples of :class:`MemorySampler`.
INTERVAL_S = 0.01


def descendants() -> dict[int, Any]:
    """The live (not zombie) descendant processes of this one, by pid (``psutil.Process``).

    >>> os.getpid() in descendants()
    False
    """
    import psutil

    alive = {}
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive[process.pid] = process
    return alive


def high_water_bytes(pid: int) -> int | None:
    """Peak resident memory of process ``pid`` so far (``VmHWM`` of ``/proc/<pid>/status``,
    kept by the kernel: no sample can miss it), ``None`` where there is no such file.

    >>> peak = high_water_bytes(os.getpid())
    >>> peak is None or peak > 0
    True
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def reset_high_water(pid: int) -> bool:
    """Reset the ``VmHWM`` of process ``pid`` to its current resident size (``5`` written to
    ``/proc/<pid>/clear_refs``, Linux 4.0+, a process of the same user); whether it worked."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _tree_bytes(path: Path) -> int:
    """Bytes of the files at ``path`` (a file, or a folder walked), 0 for what vanished."""
    with contextlib.suppress(OSError):
        if not path.is_dir():
            return path.stat().st_size
        total = 0
        for folder, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(folder, name)).st_size
        return total
    return 0


def shm_usage() -> dict[str, int]:
    """Bytes of each entry of ``/dev/shm`` (a folder: the files in it), by name; empty where
    there is no ``/dev/shm``.

    >>> all(size >= 0 for size in shm_usage().values())
    True
    """
    if not SHM.is_dir():
        return {}
    with contextlib.suppress(OSError):
        return {name: _tree_bytes(SHM / name) for name in os.listdir(SHM)}
    return {}


class MemorySampler:
    """Sample, every ``interval`` seconds until stopped, the USS and RSS of every descendant
    process and how much ``/dev/shm`` grew.

    Use as a context manager around the work to watch; :meth:`peak_uss` then sums the samples
    over the processes that count (:meth:`seen` lists them all). ``shm_before``
    (:func:`shm_usage`) is where ``/dev/shm`` growth counts from (default: when the sampler
    starts); ``shm_peak`` is its largest growth, in bytes.
    """

    def __init__(self, interval: float = INTERVAL_S,
                 shm_before: Mapping[str, int] | None = None) -> None:
        self.interval = interval
        self.samples: list[dict[int, tuple[int, int]]] = []
        self.shm_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mpguide-memory", daemon=True)
        self._shm_before = dict(shm_before) if shm_before is not None else None
        self._processes: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if self._shm_before is None:
            self._shm_before = shm_usage()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._processes = descendants()
        self._sample()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval):
                return

    def _sample(self) -> None:
        import psutil

        if len(self.samples) % 5 == 0:  # finding the processes costs more than reading them
            self._processes = descendants()
        sample = {}
        for pid, process in self._processes.items():
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                sample[pid] = (int(info.uss), int(info.rss))
        self.samples.append(sample)
        before = self._shm_before or {}
        grown = sum(max(0, size - before.get(name, 0)) for name, size in shm_usage().items())
        self.shm_peak = max(self.shm_peak, grown)

    def seen(self) -> set[int]:
        """Every pid some sample saw."""
        return {pid for sample in self.samples for pid in sample}

    def peak_uss(self, pids: set[int]) -> int:
        """The largest sum, over one sample, of the USS of ``pids`` (bytes)."""
        return max((sum(s[p][0] for p in pids if p in s) for s in self.samples), default=0)
