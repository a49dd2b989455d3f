"""Orphaned semaphores are found and removed; those in use are left alone."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from mpguide import leftovers

pytestmark = pytest.mark.skipif(not leftovers.SHM.is_dir(), reason="no /dev/shm (not Linux)")

#: A child that creates a named semaphore the way SemLock does, then dies without unlinking
#: it or telling a resource tracker (what a worker killed while it starts up does).
_LEAK = ("import _multiprocessing, os, sys; s = _multiprocessing.SemLock(1, 1, 1, sys.argv[1],"
         " False); print('made', flush=True); {rest}")


def _name() -> str:
    return f"/mp-test{uuid.uuid4().hex[:8]}"


def test_an_orphan_is_removed() -> None:
    name = _name()
    before = leftovers.snapshot()
    subprocess.run([sys.executable, "-c", _LEAK.format(rest="os._exit(0)"), name], check=True,
                   timeout=60, capture_output=True)
    assert f"sem{name.replace('/', '.')}" in leftovers.snapshot()
    assert leftovers.remove_orphans(before) == [f"sem{name.replace('/', '.')}"]
    assert f"sem{name.replace('/', '.')}" not in leftovers.snapshot()


def test_a_semaphore_in_use_is_kept() -> None:
    name, entry = _name(), ""
    before = leftovers.snapshot()
    with subprocess.Popen([sys.executable, "-c", _LEAK.format(rest="sys.stdin.read()"), name],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "made\n"
            entry = f"sem{name.replace('/', '.')}"
            assert (leftovers.SHM / entry).stat().st_ino in leftovers.mapped()
            assert leftovers.remove_orphans(before) == []
            assert entry in leftovers.snapshot()
        finally:
            child.communicate("", timeout=60)
    assert leftovers.remove_orphans(before) == [entry]


def test_a_half_created_semaphore_is_an_orphan_too() -> None:
    """glibc's ``sem_open`` writes ``sem.XXXXXX`` first and links it under the final name: a
    process killed in between leaves that temporary file, which is removed like an orphan."""
    before = leftovers.snapshot()
    entry = f"sem.{uuid.uuid4().hex[:6]}"
    (leftovers.SHM / entry).write_bytes(b"\0" * 32)
    try:
        assert entry in leftovers.snapshot()
        assert leftovers.remove_orphans(before) == [entry]
        assert not (leftovers.SHM / entry).exists()
    finally:
        (leftovers.SHM / entry).unlink(missing_ok=True)
