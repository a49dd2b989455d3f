"""Shared fixtures: start-method parametrization and a leak check around the whole session."""

from __future__ import annotations

import gc
import multiprocessing
import os
from pathlib import Path

import psutil
import pytest

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each start method in turn, also exported as ``MPGUIDE_START_METHOD``."""
    monkeypatch.setenv("MPGUIDE_START_METHOD", request.param)
    return request.param


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests always run probes in quick mode, with a cache of their own."""
    monkeypatch.setenv("MPGUIDE_QUICK", "1")
    monkeypatch.setenv("MPGUIDE_CACHE_DIR", str(tmp_path / "cache"))


def _shm_entries() -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir()} if shm.is_dir() else set()


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
    """Fail a test that leaves a shared-memory segment or a child process behind."""
    shm_before = _shm_entries()
    yield
    gc.collect()  # a pool's named semaphores are unlinked when their locks are collected
    leaked_shm = _shm_entries() - shm_before
    _, alive = psutil.wait_procs(_leftover_children(), timeout=5)
    for proc in alive:
        proc.kill()
    assert not leaked_shm, f"shared memory left in /dev/shm: {sorted(leaked_shm)}"
    assert not alive, f"child processes left running: {[p.pid for p in alive]}"


@pytest.fixture(scope="session", autouse=True)
def _pid_sanity() -> None:
    """Guard against running inside an already-forked worker."""
    assert os.getpid() == psutil.Process().pid
