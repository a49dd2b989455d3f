"""The command line (mpguide.cli): ``python -m mpguide advise`` prints the advice, and every
kind of bad input is one clear paragraph on stderr, exit status 2, no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

import mpguide


def _cli(user_dir: Path, *args: str, method: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m mpguide advise`` in its own session; fail if it leaves a process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(mpguide.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    extra = ["--start-method", method] if method else []
    with subprocess.Popen(
        [sys.executable, "-m", "mpguide", "advise", *args, "--card", "card.json",
         "--time-budget", "0.5", "--timeout", "3", *extra],
        cwd=user_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:
        stdout, stderr = proc.communicate(timeout=120)
    # The resource tracker and fork server exit on their own once the CLI has gone; give
    # them a moment. Zombies are dead (their new parent reaps them when it gets to it).
    session = [p for p in psutil.process_iter() if _session(p.pid) == proc.pid]
    _, alive = psutil.wait_procs(session, timeout=10)
    left = [p for p in alive if _status(p) != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left running: {left}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _status(process: psutil.Process) -> str:
    try:
        return process.status()
    except psutil.Error:
        return psutil.STATUS_ZOMBIE


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _assert_one_paragraph(result: subprocess.CompletedProcess, pattern: str) -> None:
    import re

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mpguide advise: ")
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert re.search(pattern, result.stderr), result.stderr


def test_cli_json(user_dir: Path, start_method: str) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items", "--json",
                  method=start_method)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["tool"] == "serial"
    assert {p["start_method"] for p in data["predictions"]} == {start_method}


def test_cli_text(user_dir: Path) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items")
    assert result.returncode == 0, result.stderr
    assert "Recommendation: keep the plain loop" in result.stdout


@pytest.mark.parametrize(("target", "factory", "pattern"), [
    ("usermod:as_lambda", "usermod:items", "is a lambda"),
    ("usermod:closure", "usermod:items", "closure"),
    ("usermod:square", "usermod:with_lock", r"item 2 \(a lock\) cannot be pickled"),
    ("nosuchmodule:square", "usermod:items", "cannot import module 'nosuchmodule'"),
    ("usermod:cube", "usermod:items", "'cube' is not defined in module usermod.*square"),
    ("usermod:square", "usermod:empty", "the item list is empty"),
    ("usermod:square", "usermod:broken_factory", "raised RuntimeError: the database is down"),
    ("usermod", "usermod:items", "must be written MODULE:NAME"),
])
def test_cli_bad_input_before_any_process(user_dir: Path, target: str, factory: str,
                                          pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, target, "--items", factory), pattern)


@pytest.mark.parametrize(("target", "pattern"), [
    ("usermod:boom", "raised ValueError: cannot handle item 0"),
    ("usermod:forever", "did not finish profiling within 3 s"),
    ("usermod:crash", "died"),
])
def test_cli_failing_function(user_dir: Path, start_method: str, target: str,
                              pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, target, "--items", "usermod:items",
                               method=start_method), pattern)
