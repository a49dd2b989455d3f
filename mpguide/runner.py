"""Run an experiment in a fresh ``python`` process and get its JSON result back.

pyperf's manager/worker idea: when the parent's state would change a number (fork copies the
parent's memory, spawn re-imports its ``__main__``, sphinx and Jupyter start threads), the
experiment runs in a clean interpreter whose ``__main__`` imports nothing but mpguide. The child
runs in its own session, so on a timeout the whole process group (its pool workers included) is
killed and nothing is left behind.

Examples
--------
>>> from mpguide.runner import run_fresh
>>> run_fresh("mpguide.workloads:spin", {"iterations": 3}, timeout=60)
8
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpguide import config, leftovers

#: Lines of the child's stderr quoted in an error.
STDERR_TAIL_LINES = 15
#: Seconds the child's leftover processes get to exit by themselves before being signalled.
GROUP_EXIT_GRACE = 2.0
#: Seconds what survives SIGTERM gets before SIGKILL: multiprocessing's resource tracker
#: ignores SIGTERM and exits once it has unlinked what the child leaked (on a loaded machine
#: that can take seconds; killed earlier, it leaves ``sem.mp-*`` entries in /dev/shm).
TRACKER_EXIT_GRACE = 20.0


#: Environment variable in which :func:`run_fresh` tells its child the parent's pid.
PARENT_PID_ENV = "MPGUIDE_PARENT_PID"


class FreshInterpreterError(RuntimeError):
    """The child interpreter failed, timed out or returned something that is not JSON."""


def run_fresh(target: str, kwargs: Mapping[str, Any] | None = None, *,
              timeout: float | None = None, env: Mapping[str, str] | None = None,
              preamble: str | None = None) -> Any:
    """Call ``module:function(**kwargs)`` in a new interpreter and return its JSON result.

    Parameters
    ----------
    target
        ``"package.module:function"``; the function must be importable and return JSON-ready
        data (dicts, lists, numbers, strings; see :meth:`Measurement.to_dict`).
    kwargs
        Keyword arguments, JSON-serializable.
    timeout
        Seconds before the child and everything it started are killed
        (default: :data:`config.DEFAULT_TIMEOUT` times 5).
    env
        Extra environment variables for the child (``MPGUIDE_*`` settings are inherited).
    preamble
        Source run at the top of the child's ``__main__`` (e.g. ``"import numpy"``). The
        child is then a generated plain script, ``python main.py``, so under ``spawn`` and
        ``forkserver`` its workers re-import what the preamble imports, as the workers of a
        user's script that starts with those imports would. ``None`` (default): the child's
        ``__main__`` is :mod:`mpguide._child`, which imports only mpguide.

    Examples
    --------
    >>> info = run_fresh("mpguide.runner:interpreter_info", preamble="import numpy")
    >>> info["main"].endswith("main.py"), "numpy" in info["modules"]
    (True, True)
    """
    module, sep, function = target.partition(":")
    if not sep or not module or not function:
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    timeout = config.DEFAULT_TIMEOUT * 5 if timeout is None else timeout
    request = json.dumps({"module": module, "function": function, "kwargs": dict(kwargs or {})})
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1",
                 PARENT_PID_ENV: str(os.getpid())}
    with tempfile.TemporaryDirectory(prefix="mpguide-main-") as folder:
        if preamble is None:
            command = [sys.executable, "-m", "mpguide._child"]
        else:
            script = Path(folder, "main.py")
            script.write_text(_SCRIPT.format(preamble=preamble), encoding="utf-8")
            command = [sys.executable, str(script)]
        stdout, stderr, returncode = _communicate(command, request, child_env, timeout, target)
    if returncode != 0:
        raise FreshInterpreterError(
            f"{target} failed in a fresh interpreter (exit code {returncode}).{_tail(stderr)}"
        )
    try:
        return json.loads(stdout.rpartition(_MARKER)[2])
    except json.JSONDecodeError as exc:
        raise FreshInterpreterError(f"{target} returned no JSON result ({exc}).{_tail(stderr)}") \
            from exc


#: The generated ``__main__`` of :func:`run_fresh` with a preamble.
_SCRIPT = '''"""A plain script written by mpguide.runner.run_fresh."""
{preamble}

if __name__ == "__main__":
    from mpguide._child import main

    main()
'''


def _communicate(command: list[str], request: str, env: Mapping[str, str], timeout: float,
                 target: str) -> tuple[str, str, int]:
    """Run ``command`` in its own session, send ``request``; end its whole group afterwards
    and remove the semaphores it left (:mod:`mpguide.leftovers`)."""
    before = leftovers.snapshot()
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, start_new_session=True,
    ) as child:
        try:
            stdout, stderr = child.communicate(request, timeout=timeout)
        except subprocess.TimeoutExpired:
            end_group(child.pid, grace=0)
            _, stderr = child.communicate()
            raise FreshInterpreterError(
                f"{target} did not finish within {timeout:g} s in a fresh interpreter; it and "
                f"its child processes were killed.{_tail(stderr)}"
            ) from None
        finally:
            end_group(child.pid, grace=GROUP_EXIT_GRACE)
            leftovers.remove_orphans(before)
    return stdout, stderr, child.returncode


#: Separates the child's own prints from the JSON result on its stdout.
_MARKER = "\n--mpguide-result--\n"


def interpreter_info() -> dict[str, Any]:
    """What this interpreter looks like: its ``__main__``, start method, threads and modules.

    Run through :func:`run_fresh` to show that an experiment's child is clean.
    """
    import threading

    main = sys.modules["__main__"]
    return {
        "main": getattr(main.__spec__, "name", None) or getattr(main, "__file__", None),
        "start_method": config.start_method(),
        "threads": threading.active_count(),
        "modules": sorted(m for m in sys.modules if "." not in m),
    }


def end_group(pgid: int, grace: float) -> None:
    """End the child's whole session: what it left running, and nothing too early.

    Members get ``grace`` seconds to exit on their own (a resource tracker unlinks what the
    child leaked once its pipe closes), then SIGTERM, which multiprocessing's resource tracker
    ignores so it can still clean up while pool workers die, then SIGKILL for whatever is left.
    """
    for signum, wait in ((None, grace), (signal.SIGTERM, TRACKER_EXIT_GRACE),
                         (signal.SIGKILL, 0)):
        if signum is not None:
            try:
                os.killpg(pgid, signum)
            except (ProcessLookupError, PermissionError):
                return
        deadline = time.monotonic() + wait
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not group_alive(pgid):
            return


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count: where PID 1 does
    not reap orphans, as in some containers, they linger and are harmless)."""
    import psutil

    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and \
                    process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False


def end_with_parent(interval: float = 0.5) -> threading.Thread:
    """In a child of :func:`run_fresh`: end this process's whole group (its pool workers too)
    once the parent is gone, however it went (a docs build killed by ``SIGKILL`` cannot end its
    children; a child in a session of its own gets no Ctrl-C from the terminal).

    A daemon thread polls the parent's pid every ``interval`` seconds; on a change it sends
    SIGTERM to the group (multiprocessing's resource tracker survives it and unlinks what the
    group leaked), then exits.
    """
    # The parent named itself: it may be gone before this line runs (then getppid() is
    # already someone else's pid, and watching that would never end).
    parent = int(os.environ.get(PARENT_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(0), signal.SIGTERM)
        os._exit(143)

    thread = threading.Thread(target=watch, daemon=True, name="mpguide-parent-watch")
    thread.start()
    return thread


def _tail(stderr: str | None) -> str:
    lines = (stderr or "").strip().splitlines()[-STDERR_TAIL_LINES:]
    if not lines:
        return ""
    return "\nLast lines of its stderr:\n    " + "\n    ".join(lines)
