"""The fresh-interpreter runner: results come back as JSON; failures carry stderr; no orphans."""

from __future__ import annotations

import time

import psutil
import pytest

from mpguide import runner, workloads


def test_returns_json_result() -> None:
    assert runner.run_fresh("mpguide.workloads:spin", {"iterations": 10}) == workloads.spin(10)


def test_child_is_a_fresh_interpreter(start_method: str) -> None:
    info = runner.run_fresh("mpguide.runner:interpreter_info", {})
    assert info["main"] == "mpguide._child"
    assert info["start_method"] == start_method
    assert "pandas" not in info["modules"], "the child's __main__ must stay light"


def test_failure_carries_stderr_tail() -> None:
    with pytest.raises(runner.FreshInterpreterError, match="has no attribute 'nope'"):
        runner.run_fresh("mpguide.workloads:nope", {})


def test_timeout_kills_the_child() -> None:
    started = time.monotonic()
    with pytest.raises(runner.FreshInterpreterError, match="did not finish within 1 s"):
        runner.run_fresh("mpguide.workloads:sleep_task", {"seconds": 3600}, timeout=1)
    assert time.monotonic() - started < 10


def test_bad_target_is_explained() -> None:
    with pytest.raises(ValueError, match=r"package\.module:function"):
        runner.run_fresh("mpguide.workloads.spin")


def test_the_child_ends_when_its_parent_is_killed() -> None:
    """A SIGKILLed parent cannot end its children; the fresh interpreter (in a session of its
    own, so no Ctrl-C reaches it either) notices and ends itself."""
    import subprocess
    import sys

    code = ("from mpguide import runner; "
            "runner.run_fresh('mpguide.workloads:sleep_task', {'seconds': 120}, timeout=300)")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            children = [c for c in psutil.Process(parent.pid).children(recursive=True)
                        if "mpguide._child" in " ".join(c.cmdline())]
        assert children, "the fresh interpreter did not start"
    finally:
        parent.kill()
        parent.wait(30)
    deadline = time.monotonic() + 20
    while (alive := [c for c in children if _running(c)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in alive:
        process.kill()
    assert not alive, "the fresh interpreter outlived its killed parent"


def _running(process: psutil.Process) -> bool:
    """Alive and not a zombie (where PID 1 does not reap orphans, the dead linger as those)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
