"""Find and remove the named semaphores a killed program left in ``/dev/shm``.

Under ``spawn`` and ``forkserver`` every ``multiprocessing`` lock and queue is a POSIX named
semaphore (``/dev/shm/sem.mp-*`` on Linux) that its resource tracker unlinks when the program
dies. A process killed between creating one and registering it (a pool worker terminated
while it starts up, as a pool does to workers that re-import a script without the
``__main__`` guard) leaves it behind, and nothing in CPython will ever remove it. While a
semaphore is in use, every process using it maps its file (glibc maps a temporary file and
links it under the final name, so the map names the temporary file: :func:`mapped` matches
inodes); one that no process maps and that appeared while a program of ours ran, owned by us,
is an orphan of that program.

:func:`snapshot` before a bounded child runs, :func:`remove_orphans` after its whole process
group has ended. Elsewhere than Linux (no ``/proc``, semaphores not in a folder) both do
nothing.

Examples
--------
>>> from mpguide import leftovers
>>> before = leftovers.snapshot()
>>> leftovers.remove_orphans(before)
[]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

#: Where Linux keeps POSIX named semaphores and shared memory segments.
SHM = Path("/dev/shm")
#: How ``multiprocessing.synchronize.SemLock`` names its semaphores in :data:`SHM`.
PREFIX = "sem.mp-"
#: The temporary file glibc's ``sem_open`` creates (``sem.XXXXXX``, from ``mkstemp``) before it
#: links it under the semaphore's name: a process killed in between leaves it behind.
HALF_CREATED = re.compile(r"sem\.[A-Za-z0-9]{6}")


def _ours() -> dict[str, int]:
    """Our semaphores in :data:`SHM`, name to inode."""
    if not SHM.is_dir() or not Path("/proc/self/maps").exists():
        return {}
    found = {}
    for entry in os.scandir(SHM):
        try:
            semaphore = entry.name.startswith(PREFIX) or HALF_CREATED.fullmatch(entry.name)
            if semaphore and entry.stat().st_uid == os.getuid():
                found[entry.name] = entry.inode()
        except FileNotFoundError:
            continue
    return found


def snapshot() -> frozenset[str]:
    """The ``multiprocessing`` semaphores in ``/dev/shm`` owned by this user, now (glibc's
    half-created ones too: :data:`HALF_CREATED`)."""
    return frozenset(_ours())


def mapped(exclude: Iterable[int] = ()) -> set[int]:
    """The inodes of the ``/dev/shm`` files that some process readable to us (other than
    those in ``exclude``) has mapped."""
    found: set[int] = set()
    skip = {str(pid) for pid in exclude}
    for maps in Path("/proc").glob("[0-9]*/maps"):
        if maps.parent.name in skip:
            continue
        try:
            text = maps.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.update(int(line.split()[4]) for line in text.splitlines() if " /dev/shm/" in line)
    return found


def remove_orphans(before: frozenset[str]) -> list[str]:
    """Unlink the semaphores that appeared since ``before`` and that no process maps; their
    names, sorted. Call it once the program that may have left them has ended."""
    new = {name: inode for name, inode in _ours().items() if name not in before}
    if not new:
        return []
    in_use = mapped()
    orphans = sorted(name for name, inode in new.items() if inode not in in_use)
    for name in orphans:
        try:
            (SHM / name).unlink()
        except FileNotFoundError:
            continue
    return orphans
