"""Shared fixtures: start-method parametrization, a user's module for the advisor and its
command line, and a leak check around the whole session."""

from __future__ import annotations

import gc
import importlib
import json
import multiprocessing
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psutil
import pytest

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each start method in turn, also exported as ``MPGUIDE_START_METHOD``."""
    monkeypatch.setenv("MPGUIDE_START_METHOD", request.param)
    return request.param


#: A user's module, as the advisor meets it: importable by name from every start method.
USER_MODULE = textwrap.dedent('''
    import os
    import threading
    import time

    def square(x):
        return x * x

    def boom(x):
        raise ValueError(f"cannot handle item {x}")

    def forever(x):
        while True:
            time.sleep(0.05)

    def crash(x):
        os._exit(3)

    as_lambda = lambda x: x

    def _make():
        def inner(x):
            return x
        return inner

    closure = _make()

    def items():
        return list(range(200))

    def empty():
        return []

    def with_lock():
        return [1, 2, threading.Lock()]

    def broken_factory():
        raise RuntimeError("the database is down")
''')


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from mpguide import model

    (tmp_path / "usermod.py").write_text(USER_MODULE, encoding="utf-8")
    card = {"probes": model.EXAMPLE_PROBES}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


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
    while (left := {e for e in _shm_entries() - before if _created_here(e, mine)}) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"left in /dev/shm after the test run: {sorted(left)}"


def _created_here(entry: str, pids: set[int]) -> bool:
    """False for entries that name a process outside this run (loky's ``sem.loky-PID-...``)."""
    parts = entry.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1]) in pids or not psutil.pid_exists(int(parts[1]))
    return True

