"""Shared fixtures: start-method parametrization, a user's module for the advisor and
``compare`` with a way to run their commands alone, and a leak check around the whole session."""

from __future__ import annotations

import gc
import importlib
import json
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest

from mpguide import leftovers

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each start method in turn, also exported as ``MPGUIDE_START_METHOD``."""
    monkeypatch.setenv("MPGUIDE_START_METHOD", request.param)
    return request.param


#: A user's module, as the advisor and ``compare`` meet it: importable by name from every
#: start method. The ``*_after_loop`` functions work in the process that ran the loop first and
#: fail in any process started after it (a worker), as code that needs a parent's state does.
USER_MODULE = textwrap.dedent('''
    import multiprocessing
    import os
    import threading
    import time

    MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loop-ran")
    NAP_S = 0.01

    def square(x):
        return x * x

    def nap(x):
        time.sleep(NAP_S)
        return x

    def boom(x):
        raise ValueError(f"cannot handle item {x}")

    def forever(x):
        while True:
            time.sleep(0.05)

    def crash(x):
        os._exit(3)

    def differs(x):
        return os.getpid()

    def returns_lock(x):
        return threading.Lock()

    def _after_loop():
        if multiprocessing.parent_process() is None:
            open(MARK, "w").close()
            return False
        return os.path.exists(MARK)

    def crash_after_loop(x):
        if _after_loop():
            os._exit(3)
        return x

    def raise_after_loop(x):
        if _after_loop():
            raise RuntimeError("no database connection in a worker")
        return x

    def stuck_after_loop(x):
        if _after_loop():
            time.sleep(60)
        return x

    as_lambda = lambda x: x

    def _make():
        def inner(x):
            return x
        return inner

    closure = _make()

    def items():
        return list(range(200))

    def few_items():
        return list(range(20))

    def nap_items():
        return list(range(12))

    def empty():
        return []

    def with_lock():
        return [1, 2, threading.Lock()]

    def broken_factory():
        raise RuntimeError("the database is down")
''')


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding ``usermod.py`` and an example ``card.json``, first on ``sys.path``."""
    from mpguide import model

    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "usermod.py").write_text(USER_MODULE, encoding="utf-8")
    card = {"probes": model.EXAMPLE_PROBES}
    (folder / "card.json").write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def script_declares() -> Callable[[str, str, dict[str, Any]], Any]:
    """``script_declares(script, name, namespace)``: the value a gallery script's top-level
    ``name = ...`` line gives, that line alone evaluated in ``namespace`` (nothing measured):
    what a test compares with the page's declaration."""
    import ast

    gallery = Path(__file__).resolve().parents[1] / "gallery"

    def value(script: str, name: str, namespace: dict[str, Any]) -> Any:
        path = gallery / script
        (line,) = [node for node in ast.parse(path.read_text(encoding="utf-8")).body
                   if isinstance(node, ast.Assign)
                   and [getattr(t, "id", None) for t in node.targets] == [name]]
        scope = dict(namespace)
        exec(compile(ast.Module([line], []), path.name, "exec"), scope)  # noqa: S102
        return scope[name]

    return value


@pytest.fixture
def run_alone() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_alone(command, cwd, timeout)``: run ``command`` (mpguide importable) in a session
    of its own and fail if it leaves a process running."""
    import mpguide

    def run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(mpguide.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
        with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
            stdout, stderr = proc.communicate(timeout=timeout)
        # The resource tracker and fork server exit on their own once the command has gone;
        # zombies are dead (their new parent reaps them when it gets to it).
        session = [p for p in psutil.process_iter() if _session(p.pid) == proc.pid]
        _, alive = psutil.wait_procs(session, timeout=10)
        left = [p for p in alive if _status(p) != psutil.STATUS_ZOMBIE]
        for process in left:
            process.kill()
        assert not left, f"processes left running: {left}"
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    return run


def _status(process: psutil.Process) -> str:
    try:
        return str(process.status())
    except psutil.Error:
        return psutil.STATUS_ZOMBIE


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


@pytest.fixture
def usermod(user_dir: Path) -> Iterator[ModuleType]:
    sys.modules.pop("usermod", None)
    module = importlib.import_module("usermod")
    yield module
    sys.modules.pop("usermod", None)


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests always run probes in quick mode, with a cache of their own."""
    monkeypatch.setenv("MPGUIDE_QUICK", "1")
    monkeypatch.setenv("MPGUIDE_CACHE_DIR", str(tmp_path / "cache"))


#: Names of shared-memory segments (multiprocessing.shared_memory on POSIX, mpguide's own).
SEGMENT_PREFIXES = ("psm_", "wnsm_", "mpguide")


def _shm_entries(prefixes: tuple[str, ...] = ("",)) -> set[str]:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return set()
    return {p.name for p in shm.iterdir() if p.name.startswith(prefixes)}


def _leftover_children() -> list[psutil.Process]:
    """Descendants of this test process, except the forkserver and resource tracker that
    multiprocessing keeps for the whole session by design."""
    keep = ("forkserver", "resource_tracker")
    procs = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if not any(k in cmdline for k in keep):
            procs.append(child)
    return procs


@pytest.fixture(autouse=True)
def _no_leaks() -> None:
    """Fail a test that leaves a shared-memory segment or a child process behind.

    Only segments are checked per test: a pool's named semaphores (``sem.*``) go when their
    locks are garbage-collected, and other programs on the machine create entries too. The
    session-wide check below covers every kind of entry.
    """
    segments_before = _shm_entries(SEGMENT_PREFIXES)
    yield
    leaked = _shm_entries(SEGMENT_PREFIXES) - segments_before
    _, alive = psutil.wait_procs(_leftover_children(), timeout=5)
    for proc in alive:
        proc.kill()
    assert not leaked, f"shared memory segments left in /dev/shm: {sorted(leaked)}"
    assert not alive, f"child processes left running: {[p.pid for p in alive]}"


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_in_dev_shm() -> None:
    """After the whole run, nothing the run created is left in /dev/shm (semaphores included).

    Entries named after a process that is not part of this run (e.g. ``sem.loky-<pid>-...``
    of another program) are not counted.
    """
    before = _shm_entries()
    yield
    gc.collect()
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    deadline = time.monotonic() + 5
    while (left := _left_by_this_run(before, mine)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"left in /dev/shm after the test run: {sorted(left)}"


def _left_by_this_run(before: set[str], pids: set[int]) -> set[str]:
    """New entries of /dev/shm that this run can be blamed for: not named after a process
    outside it, and, for multiprocessing's semaphores, mapped by no process outside it (a
    semaphore another program is using meanwhile is mapped by that program)."""
    new = {e for e in _shm_entries() - before if _created_here(e, pids)}
    in_use = leftovers.mapped(exclude=pids)
    return {e for e in new if not (e.startswith(leftovers.PREFIX) and _inode(e) in in_use)}


def _inode(entry: str) -> int | None:
    try:
        return (Path("/dev/shm") / entry).stat().st_ino
    except FileNotFoundError:
        return None


def _created_here(entry: str, pids: set[int]) -> bool:
    """False for entries that name a process outside this run (loky's ``sem.loky-PID-...``)."""
    parts = entry.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1]) in pids or not psutil.pid_exists(int(parts[1]))
    return True



#: A ratio below 1 with a direction word ("0.8x faster"): a statement that reads false.
_NONSENSE = re.compile(r"(?<![\d.])0\.\d+x (faster|slower|more|less)\b")


@pytest.fixture
def read_verdict() -> Callable[[str, bool], Any]:
    """``read_verdict(claim_id, holds)``: evaluate a claim fed with records (by the test) and
    check that its verdict is ``holds`` and that its statement is filled and reads true to
    its numbers (no placeholder, no nan, no "0.8x faster"); returns the verdict."""
    from mpguide import claims

    def read(claim_id: str, holds: bool) -> claims.Verdict:
        verdict = claims.evaluate(claim_id)
        assert verdict.holds is holds, str(verdict)
        assert "{" not in verdict.statement
        assert "nan" not in verdict.statement
        assert not _NONSENSE.search(verdict.statement), verdict.statement
        return verdict

    return read


@pytest.fixture
def feed_records(monkeypatch: pytest.MonkeyPatch,
                 read_verdict: Callable[[str, bool], Any]) -> Callable[..., Any]:
    """``feed_records(patches, claim_id, holds)``: replace each ``(module, load function)`` of
    ``patches`` by one that returns a copy of its records, then :func:`read_verdict`."""
    def feed(patches: dict[tuple[Any, str], Any], claim_id: str, holds: bool) -> Any:
        for (module, name), value in patches.items():
            assert callable(getattr(module, name)), (module, name)
            monkeypatch.setattr(module, name, lambda *_, value=value, **__: value.copy())
        return read_verdict(claim_id, holds)

    return feed
