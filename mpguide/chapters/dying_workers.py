"""Chapter 6, part 3: dying and stuck workers, measured, tool by tool.

A worker that segfaults, calls ``os._exit``, is killed by ``SIGKILL`` (what the kernel's
out-of-memory killer does), hits its address-space limit (``RLIMIT_AS``) or never returns,
and a Ctrl-C while a map runs: what does the plain call a user writes (``Pool.map``,
``Pool.map_async(...).get(timeout)``, ``ProcessPoolExecutor.map``, joblib, mpire, Dask) do
with it? :data:`TOOLS` holds each call as the small program a user writes (``main.py``),
:data:`FAILURES` the failure, written into the task of ``work.py`` beside it.

:func:`run_case` runs one pair in a child process of its own session, with its output in
files (a worker that outlives its parent keeps a pipe open). The failing task writes the
time it failed; a program still running :data:`HANG_S` seconds later "hangs" and is stopped
the way ``timeout`` stops a command, ``SIGTERM`` to its main process only. What of its
processes still runs :data:`LEFT_S` seconds after its main process ended, and the
``/dev/shm`` entries it made that are still there, are what it left behind
(:class:`~mpguide.chapters.dying_workers_watch.Watch` tells them from other programs'); then
all of it is ended (:func:`mpguide.runner.end_group`) and the semaphores it orphaned removed
(:mod:`mpguide.leftovers`), so the build leaves nothing, killed or interrupted included. The
message is found by :func:`mpguide.chapters.troubleshooting_runner.exceptions`.

:func:`capture` runs every pair, :func:`load_dying` caches it through
:func:`mpguide.experiment.run_cached`; the views and claims are in
:mod:`mpguide.chapters.dying_workers_page`.

Examples
--------
>>> from mpguide.chapters import dying_workers as dying
>>> list(dying.FAILURES)
['segfault', 'exit', 'sigkill', 'rlimit', 'stuck', 'ctrl-c']
>>> print(dying.TOOLS["executor"].render("spawn", 2.0).splitlines()[-2].strip())
for result in executor.map(task, ITEMS):
>>> dying.exception_type("concurrent.futures.process.BrokenProcessPool: A process died")
'BrokenProcessPool'
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mpguide
from mpguide import config, machine
from mpguide.chapters.dying_workers_watch import Watch, cmdline, process_kind, watchdog
from mpguide.chapters.troubleshooting import CHAPTER
from mpguide.chapters.troubleshooting_runner import exceptions, heading
from mpguide.experiment import run_cached

__all__ = ["CHAPTER", "FAILURES", "HANG_S", "TOOLS", "capture", "load_dying", "run_case"]

#: Seconds a program may go on after its task failed before it counts as hanging and is
#: stopped: a tool that notices a dead worker does so well within it.
HANG_S = 5.0
#: Seconds ``Pool.map_async(...).get(timeout)`` and ``bounded_map`` wait for the results
#: (shorter than :data:`HANG_S`, so that their timeout shows before the cut).
WAIT_S = 2.0
#: Seconds the processes of a program may outlive its main process and still count as
#: exiting with it (a resource tracker exits once its pipe closes; a worker once it sees its
#: parent gone); what still runs after that is left behind.
LEFT_S = 2.0
#: Seconds until the failing task starts: a tool whose workers take longer to start is broken
#: here, not slow (a Dask cluster takes a few seconds).
START_S = config.DEFAULT_TIMEOUT
#: Seconds between two looks at a running program (its exit, the failing task's mark).
POLL_S = 0.02
#: Seconds between two looks at the processes a program runs and the files they map.
LOOK_S = 0.2
#: Cases run side by side: most of a case's time is a tool starting or a hang being waited
#: out, and each case watches only its own processes and files.
LANES = 6
#: Cases a quick build skips: Dask's worker ends the same way whether it segfaults, calls
#: ``os._exit`` or is killed (its nanny sees the process exit), and every Dask case pays for a
#: cluster's start, the most expensive part of the table (SIGKILL stands for the three).
QUICK_SKIP: dict[str, list[str]] = {"dask": ["segfault", "exit"]}
#: Items per usable core: several tasks per worker, so results come back before the failure.
ITEMS_PER_CPU = 4


@dataclasses.dataclass(frozen=True)
class Failure:
    """How the failing task fails: ``code`` is the body of ``fail()`` in ``work.py``;
    ``interrupt``: a long task, during which the runner presses Ctrl-C (``SIGINT`` to the
    program's whole process group, as a terminal sends it); ``linux_only``: it reads
    ``/proc`` (run where that exists)."""

    title: str
    code: str
    interrupt: bool = False
    linux_only: bool = False


@dataclasses.dataclass(frozen=True)
class Tool:
    """A plain call as a user writes it: ``source`` is ``main.py`` (a
    :class:`string.Template`: ``$method``, the start method; ``$wait``, the seconds of a
    timeout the call takes); ``per_method``: whether the start method applies (joblib's loky
    and Dask start their workers their own way); ``requires``: the package it needs."""

    label: str
    source: str
    per_method: bool = True
    requires: str = ""

    def render(self, method: str | None, wait_s: float) -> str:
        """``main.py`` under ``method``, with a timeout of ``wait_s`` seconds."""
        return string.Template(self.source).substitute(method=method or "",
                                                       wait=f"{wait_s:g}")

    def available(self) -> bool:
        """Whether :attr:`requires` is installed here."""
        return not self.requires or importlib.util.find_spec(self.requires) is not None


def _hear_ctrl_c() -> None:
    """In the case's child, before ``exec``: Ctrl-C's default disposition, as in a terminal,
    whatever this process inherited (a background job of a script ignores ``SIGINT``, and
    Python then never raises ``KeyboardInterrupt``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: ``work.py``: the task every program maps. ``$n_items`` items; item ``BAD`` waits a little
#: (the others come back first), writes when it fails (for the runner), then fails.
WORK = '''import ctypes
import os
import resource
import signal
import time

ITEMS = range($n_items)
BAD = $bad
MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "failed-at")


def vm_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmSize:"))


def fail():
    $failure


def task(x):
    if x == BAD:
        time.sleep(0.3)  # the other items come back first
        with open(MARK, "a") as mark:  # when it failed, for the runner
            mark.write(f"{time.time()}\\n")
        fail()
    time.sleep(0.05)
    return x * x
'''

#: The failures, in the table's order.
FAILURES: dict[str, Failure] = {
    "segfault": Failure("segfault", "ctypes.string_at(0)  # reads address 0: SIGSEGV"),
    "exit": Failure("os._exit(1)", "os._exit(1)"),
    "sigkill": Failure("SIGKILL (OOM killer)",
                       "os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer sends"),
    "rlimit": Failure("RLIMIT_AS", "limit = vm_size() + 256 * 2**20  # 256 MiB to spare\n"
                      "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
                      "    return len(bytearray(2**30))  # 1 GiB: over the limit",
                      linux_only=True),
    "stuck": Failure("never returns", "time.sleep(3600)  # never returns"),
    "ctrl-c": Failure("Ctrl-C", "time.sleep(3600)  # a long task: Ctrl-C is pressed now",
                      interrupt=True),
}

_POOL_MAP = '''import multiprocessing

from work import ITEMS, task

if __name__ == "__main__":
    with multiprocessing.get_context("$method").Pool() as pool:
        for result in pool.map(task, ITEMS):
            print("result", result)
'''

_MAP_ASYNC = '''import multiprocessing

from work import ITEMS, task

if __name__ == "__main__":
    with multiprocessing.get_context("$method").Pool() as pool:  # terminate() on the way out
        for result in pool.map_async(task, ITEMS).get(timeout=$wait):
            print("result", result)
'''

_EXECUTOR = '''import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from work import ITEMS, task

if __name__ == "__main__":
    context = multiprocessing.get_context("$method")
    with ProcessPoolExecutor(mp_context=context) as executor:
        for result in executor.map(task, ITEMS):
            print("result", result)
'''

_JOBLIB = '''from joblib import Parallel, delayed

from work import ITEMS, task

if __name__ == "__main__":
    for result in Parallel(n_jobs=-1)(delayed(task)(x) for x in ITEMS):
        print("result", result)
'''

_MPIRE = '''from mpire import WorkerPool

from work import ITEMS, task

if __name__ == "__main__":
    with WorkerPool(start_method="$method") as pool:
        for result in pool.map(task, ITEMS):
            print("result", result)
'''

_DASK = '''from dask.distributed import Client, LocalCluster

from work import ITEMS, task

if __name__ == "__main__":
    with LocalCluster() as cluster, Client(cluster) as client:
        for result in client.gather(client.map(task, ITEMS)):
            print("result", result)
'''

_BOUNDED = '''from mpguide import machine, pools

from work import ITEMS, task

if __name__ == "__main__":
    results = pools.bounded_map(task, ITEMS, workers=machine.usable_cpus(),
                                start_method="$method", timeout=$wait)
    for result in results:
        print("result", result)
'''

#: The plain calls, in the table's order, and last the recipe that bounds every case.
TOOLS: dict[str, Tool] = {
    "pool-map": Tool("Pool.map", _POOL_MAP),
    "map-async": Tool("Pool.map_async(...).get(timeout)", _MAP_ASYNC),
    "executor": Tool("ProcessPoolExecutor.map", _EXECUTOR),
    "joblib": Tool("joblib Parallel", _JOBLIB, per_method=False, requires="joblib"),
    "mpire": Tool("mpire WorkerPool.map", _MPIRE, requires="mpire"),
    "dask": Tool("Dask client.map + gather", _DASK, per_method=False, requires="distributed"),
    "bounded-map": Tool("mpguide pools.bounded_map", _BOUNDED),
}

#: The tools that are the plain calls of a library (not the recipe).
PLAIN = tuple(name for name in TOOLS if name != "bounded-map")


def work_source(failure: str, n_items: int) -> str:
    """``work.py`` for ``failure`` over ``n_items`` items (the middle one fails)."""
    return string.Template(WORK).substitute(n_items=n_items, bad=n_items // 2,
                                            failure=FAILURES[failure].code)


def exception_type(message: str) -> str:
    """The class name an exception message starts with (``""`` for none)."""
    return message.partition(":")[0].strip().rpartition(".")[2]


# ---------------------------------------------------------------------------------------------
# One case, bounded
# ---------------------------------------------------------------------------------------------

def _mark(path: Path) -> float | None:
    with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
        return float(path.read_text(encoding="utf-8").split()[0])
    return None


def _wait(child: subprocess.Popen[bytes], until: float, watch: Watch,
          mark: Path | None = None) -> float | None:
    """Poll ``child`` until it exits, ``until`` passes or (given) ``mark`` is written; the
    time in ``mark``, if it was. Looks at what the program runs meanwhile."""
    looked = 0.0
    while child.poll() is None and time.time() < until and not watch.stop.is_set():
        if mark is not None and (failed := _mark(mark)) is not None:
            return failed
        if time.monotonic() - looked > LOOK_S:
            watch.look()
            looked = time.monotonic()
        time.sleep(POLL_S)
    return _mark(mark) if mark is not None else None


def _stop_main(child: subprocess.Popen[bytes]) -> None:
    """``SIGTERM`` to the main process only, as ``timeout`` sends it; ``SIGKILL`` if that
    is not enough."""
    child.terminate()
    try:
        child.wait(LEFT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _left_behind(watch: Watch) -> list[Any]:
    """What of the program still runs after :data:`LEFT_S` (less, once nothing does)."""
    deadline = time.monotonic() + LEFT_S
    while (members := watch.members()) and time.monotonic() < deadline:
        time.sleep(5 * POLL_S)
    return members


class CaptureStopped(RuntimeError):
    """The capture was stopped (a Ctrl-C of the build) while this case ran; it was ended."""


def run_case(tool: str, failure: str, method: str | None, *, n_items: int,
             hang_s: float = HANG_S, wait_s: float = WAIT_S,
             stop: threading.Event | None = None) -> dict[str, Any]:
    """Run ``TOOLS[tool]`` over a task that fails as ``FAILURES[failure]`` says, bounded.

    Returns ``outcome`` (``"raises"``, ``"hangs"``, ``"ends"``: exit 0, ``"dies"``: by a
    signal without a message, ``"no failure"``: the task never failed), ``error`` (the
    exception's class), ``message`` (the last exception printed: the one the program ended
    with), ``seconds`` (from the failure, or the Ctrl-C, to the end or the cut),
    ``startup_s`` (to the failure), ``received`` of ``n_items`` results, ``left_processes``
    (kinds of the processes left behind), ``left_shm`` (``/dev/shm`` entries left behind),
    ``swept`` (orphaned semaphores removed afterwards), ``remaining`` (its entries still
    there after that: none), the tails of ``stdout`` and ``stderr``. Once ``stop`` is set,
    the case is ended at once and :class:`CaptureStopped` raised.
    """
    spec, fails = TOOLS[tool], FAILURES[failure]
    with tempfile.TemporaryDirectory(prefix="mpguide-dying-") as name:
        folder = Path(name)
        (folder / "main.py").write_text(spec.render(method, wait_s), encoding="utf-8")
        (folder / "work.py").write_text(work_source(failure, n_items), encoding="utf-8")
        (folder / "tmp").mkdir()  # the program's temporary files (a fork server's socket...)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(folder / "tmp"),
               "PYTHONPATH": os.pathsep.join([str(Path(mpguide.__file__).parents[1]),
                                              os.environ.get("PYTHONPATH", "")])}
        with open(folder / "out", "wb") as out, open(folder / "err", "wb") as err:
            watch, start = Watch(stop), time.time()
            child = subprocess.Popen([sys.executable, "main.py"], cwd=folder, env=env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True,
                                     preexec_fn=_hear_ctrl_c)  # noqa: PLW1509 (one sigaction)
            watch.pid, guard = child.pid, watchdog(child.pid)
            try:
                failed = _wait(child, start + START_S, watch, folder / "failed-at")
                if failed is not None and fails.interrupt:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGINT)
                    failed = time.time()
                _wait(child, failed + hang_s if failed is not None else 0.0, watch)
                if watch.stop.is_set():
                    raise CaptureStopped(f"stopped while {tool} / {failure} ran")
                hung = child.poll() is None
                if hung:
                    _stop_main(child)
                ended, printed = time.time(), (folder / "err").stat().st_size
                watch.look()
                left = [process_kind(cmdline(p)) for p in _left_behind(watch)]
                left_shm = watch.shm()
            finally:
                swept = watch.end()
                for process in (child, guard):
                    process.kill()
                    process.wait()
        stdout = (folder / "out").read_text(encoding="utf-8", errors="replace")
        stderr = (folder / "err").read_bytes()
    # What the main process ended with is the last exception printed before it ended (its
    # orphans may print more afterwards); a program that was cut ended with none.
    found = [] if hung else exceptions(stderr[:printed].decode(errors="replace"))
    message = found[-1] if found else ""
    outcome = ("no failure" if failed is None else "hangs" if hung else "ends"
               if child.returncode == 0 else "raises" if message else "dies")
    return {"tool": tool, "label": spec.label, "failure": failure, "title": fails.title,
            "method": method if spec.per_method else None, "outcome": outcome,
            "error": exception_type(message),
            "message": message, "heading": heading(message) if message else "",
            "returncode": None if hung else child.returncode,
            "seconds": ended - (failed or start), "startup_s": (failed or ended) - start,
            "received": _result_count(stdout), "n_items": n_items,
            "left_processes": sorted(left), "left_shm": left_shm, "swept": swept,
            "remaining": watch.shm(), "hang_s": hang_s, "wait_s": wait_s,
            "stdout": _tail(stdout), "stderr": _tail(stderr.decode(errors="replace"))}


def _result_count(stdout: str) -> int:
    return sum(line.startswith("result ") for line in stdout.splitlines())


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# The table, once per build
# ---------------------------------------------------------------------------------------------

def cases(tools: Iterable[str] | None = None, failures: Iterable[str] | None = None,
          skip: Mapping[str, Iterable[str]] | None = None) -> list[tuple[str, str]]:
    """The ``(tool, failure)`` pairs this machine can run (installed tools, failures of this
    platform, none that ``skip`` names for a tool), failure by failure: run side by side,
    neighbours are different tools.

    Examples
    --------
    >>> cases(["pool-map", "executor"], ["sigkill", "stuck"], skip={"executor": ["stuck"]})
    [('pool-map', 'sigkill'), ('executor', 'sigkill'), ('pool-map', 'stuck')]
    """
    linux, skip = Path("/proc/self/status").exists(), skip or {}
    return [(tool, failure) for failure in (failures or FAILURES)
            if linux or not FAILURES[failure].linux_only
            for tool in (tools or TOOLS)
            if TOOLS[tool].available() and failure not in skip.get(tool, ())]


def capture(*, method: str, n_items: int, hang_s: float, wait_s: float, lanes: int = LANES,
            tools: list[str] | None = None, failures: list[str] | None = None,
            skip: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """Every case of :func:`cases`, ``lanes`` at a time (each watches its own processes and
    files): JSON-ready, in the table's order, with the machine's metadata and ``seconds``,
    what the whole capture took. Interrupted, it ends the cases running and starts no more."""
    start, stop = time.perf_counter(), threading.Event()
    with ThreadPoolExecutor(lanes, thread_name_prefix="dying") as threads:
        futures = [threads.submit(run_case, tool, failure, method, n_items=n_items,
                                  hang_s=hang_s, wait_s=wait_s, stop=stop)
                   for tool, failure in cases(tools, failures, skip)]
        try:
            runs = [future.result() for future in futures]
        except BaseException:  # a Ctrl-C of the build: end the running cases, start no more
            stop.set()
            for future in futures:
                future.cancel()
            raise
    order = {tool: i for i, tool in enumerate(TOOLS)}
    runs.sort(key=lambda run: order[run["tool"]])
    meta = machine.collect_metadata()
    return {"chapter": CHAPTER.name, "method": method, "python": meta.get("python"),
            "meta": meta, "runs": runs, "seconds": time.perf_counter() - start,
            "hang_s": hang_s, "wait_s": wait_s, "n_items": n_items, "lanes": lanes,
            "skip": dict(skip or {})}


def capture_params() -> dict[str, Any]:
    """The ``run_cached`` params of the table, not run: the default start method, the items
    (:data:`ITEMS_PER_CPU` per usable core), the bounds, the lanes, and in quick mode the
    cases skipped (:data:`QUICK_SKIP`)."""
    return {"method": config.start_method(), "n_items": ITEMS_PER_CPU * machine.usable_cpus(),
            "hang_s": HANG_S, "wait_s": WAIT_S, "lanes": LANES,
            "skip": config.scaled({}, QUICK_SKIP)}


def load_dying() -> dict[str, Any]:
    """:func:`capture`, cached (an empty capture in a worker re-importing its parent's
    script, on a cache miss)."""
    params = capture_params()
    return run_cached("troubleshooting-dying-workers", f"{__name__}:capture", params,
                      fresh=False) or {**params, "runs": [], "meta": {}}
