"""The fresh-interpreter runner: results come back as JSON; failures carry stderr; no orphans."""

from __future__ import annotations

import time

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
