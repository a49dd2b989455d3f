"""Chapter 6, part 3: what one program of :mod:`mpguide.chapters.dying_workers` runs and
leaves, though other programs run beside it.

A :class:`Watch` is made before the program starts (what ``/dev/shm`` held then) and looks at
it while it runs: the processes below its main process (a tool may move its workers out of
the group) and the ``/dev/shm`` files they map. So it can tell, once the main process has
ended, which processes of the program still run (:meth:`Watch.members`) and which entries it
made (:meth:`Watch.shm`: named after one of its processes, or mapped by one), and end all of
it (:meth:`Watch.end`). :func:`watchdog` starts, beside the program, a process that kills the
program's group once the process that started it is gone.

Examples
--------
>>> from mpguide.chapters import dying_workers_watch as watch
>>> watch.process_kind("python -m joblib.externals.loky.backend.popen_loky_posix")
'loky worker'
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from mpguide import leftovers
from mpguide.chapters.troubleshooting import CHAPTER
from mpguide.runner import TRACKER_EXIT_GRACE, end_group

__all__ = ["CHAPTER", "WATCHDOG", "Watch", "cmdline", "named_pid", "process_kind", "watchdog"]

#: What a process is, from a fragment of its command line.
_KINDS = (("resource_tracker", "resource tracker"), ("forkserver", "fork server"),
          ("loky", "loky worker"), ("spawn_main", "spawned worker"), ("main.py", "forked worker"))
#: A process id in the name of a ``/dev/shm`` entry (``sem.loky-<pid>-...``,
#: ``joblib_memmapping_folder_<pid>_...``).
_NAMED_PID = re.compile(r"[-_](\d+)[-_]")


def process_kind(cmdline: str) -> str:
    """What a process left behind is, from its command line.

    Examples
    --------
    >>> process_kind("python -c from multiprocessing.resource_tracker import main;main(5)")
    'resource tracker'
    >>> process_kind("python main.py")
    'forked worker'
    """
    return next((kind for fragment, kind in _KINDS if fragment in cmdline), cmdline[:40])


def named_pid(entry: str) -> int | None:
    """The process id a ``/dev/shm`` entry is named after, if any (never a semaphore of
    ``multiprocessing``, whose names are random).

    Examples
    --------
    >>> named_pid("sem.loky-27936-193gvzse"), named_pid("sem.mp-12_45abc")
    (27936, None)
    """
    match = None if entry.startswith(leftovers.PREFIX) else _NAMED_PID.search(entry)
    return int(match.group(1)) if match else None


def _shm() -> dict[str, int]:
    """The entries of ``/dev/shm`` owned by this user, name to inode."""
    if not leftovers.SHM.is_dir():
        return {}
    found = {}
    for entry in os.scandir(leftovers.SHM):
        with contextlib.suppress(FileNotFoundError):
            if entry.stat().st_uid == os.getuid():
                found[entry.name] = entry.inode()
    return found


class Watch:
    """The processes of one program (its group, and whatever was seen below its main
    process) and the ``/dev/shm`` files they mapped: what the program owns, though other
    programs run beside it."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        """Taken before the program starts: what ``/dev/shm`` held then. Once ``stop`` is set,
        every wait on the program ends."""
        self.pid, self.seen, self.inodes = 0, set[Any](), set[int]()
        self.shm_before, self.semaphores = _shm(), leftovers.snapshot()
        self.stop = stop or threading.Event()

    def look(self) -> None:
        """Note the main process's descendants and the files they map now."""
        import psutil

        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.pid)
            self.seen.update({main, *main.children(recursive=True)})
        for process in self.seen:
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{process.pid}/maps").read_text(errors="replace")
                self.inodes.update(int(line.split()[4]) for line in text.splitlines()
                                   if " /dev/shm/" in line)

    def members(self) -> list[Any]:
        """Its live processes (zombies are dead): in its group, or seen below it (a tool
        may move its workers to a group of their own)."""
        import psutil

        found = {}
        for process in [*psutil.process_iter(), *self.seen]:
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                if process.status() != psutil.STATUS_ZOMBIE and (
                        process in self.seen or os.getpgid(process.pid) == self.pid):
                    found[process.pid] = process
        return list(found.values())

    def shm(self) -> list[str]:
        """Its ``/dev/shm`` entries made since it started: named after one of its processes,
        or mapped by one of them."""
        pids = {self.pid, *(p.pid for p in self.seen)}
        return sorted(name for name, inode in _shm().items()
                      if self.shm_before.get(name) != inode
                      and (named_pid(name) in pids if named_pid(name) is not None
                           else inode in self.inodes))

    def end(self) -> list[str]:
        """End all of it; the semaphores it orphaned, removed. Its workers first (a resource
        tracker unlinks what it tracks once they are gone), then the trackers, then the rest
        of its group (:func:`mpguide.runner.end_group`)."""
        import psutil

        members = self.members()
        trackers = [p for p in members if process_kind(cmdline(p)) == "resource tracker"]
        for process in members:
            if process not in trackers:
                with contextlib.suppress(psutil.Error):
                    process.kill()
        psutil.wait_procs(trackers, timeout=TRACKER_EXIT_GRACE)
        for process in self.members():
            with contextlib.suppress(psutil.Error):
                process.kill()
        end_group(self.pid, grace=0)
        return leftovers.remove_orphans(self.semaphores)


def cmdline(process: Any) -> str:
    """A process's command line, in one string (``""`` once it has gone)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


#: Beside each program, in a session of its own: once the process that started it is gone
#: (a build killed by SIGKILL cannot end what it started), it kills the program's group.
WATCHDOG = """import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
while os.getppid() == parent:
    time.sleep(0.5)
os.killpg(group, signal.SIGKILL)
"""


def watchdog(pgid: int) -> subprocess.Popen[bytes]:
    """Start the watchdog of the program whose group is ``pgid`` (:data:`WATCHDOG`)."""
    return subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(pgid)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
