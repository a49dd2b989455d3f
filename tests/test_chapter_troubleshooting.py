"""Chapter 6, "When it goes wrong" (mpguide.chapters.troubleshooting and its runner): each
reproduction fails with its message under the start methods where it occurs and runs clean
where it does not, each fix runs clean, a program that would wait forever is killed at its
bound, and nothing is left running or in /dev/shm."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from mpguide.chapters import troubleshooting
from mpguide.chapters import troubleshooting_runner as runs

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "guide" / "06-troubleshooting.md"
#: Bounds for the tests: generous waits, a short kill bound for what hangs.
BOUNDS = {"wait_s": 30.0, "timeout_wait_s": 3.0, "hang_s": 3.0}
PER_METHOD = [name for name, case in troubleshooting.CASES.items() if case.per_method]
ONCE = [name for name, case in troubleshooting.CASES.items() if not case.per_method]


def _children() -> set[int]:
    """Live descendants of this test process (zombies are dead)."""
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.add(child.pid)
        except psutil.Error:
            continue
    return alive


def _check(capture: dict[str, Any]) -> None:
    case = troubleshooting.CASES[capture["case"]]
    snippets = {s.label: s for s in (*case.reproductions, case.fix)}
    assert capture["runs"]
    for run in capture["runs"]:
        snippet = snippets[run["label"]]
        where = f"{capture['case']} / {run['label']} under {run['method']}"
        assert not run["left_running"], where
        if run["role"] == "fix" or not run["expected"]:
            assert run["outcome"] == "ok", f"{where}: {run['outcome']}\n{run['stderr']}"
            assert not run["message"], where
            assert run["stdout"].strip(), where
            continue
        assert run["outcome"] in {"error", "killed"}, f"{where}: {run['stdout']}"
        assert re.search(snippet.expect, run["message"]), f"{where}: {run['message']!r}"
        assert run["heading"], where
        assert "\n" not in run["heading"], where
        if snippet.hangs:
            assert run["outcome"] == "killed", where
            assert run["seconds"] < BOUNDS["hang_s"] + 5, where
        else:
            assert run["outcome"] == "error", where


@pytest.mark.parametrize("case", PER_METHOD)
def test_reproductions_and_fixes(case: str, start_method: str) -> None:
    before = _children()
    start = time.monotonic()
    capture = runs.capture_case(case=case, methods=[start_method], **BOUNDS)
    assert {run["method"] for run in capture["runs"]} == {start_method}
    _check(capture)
    longest = 2 * BOUNDS["wait_s"] + BOUNDS["hang_s"] * len(capture["runs"])
    assert time.monotonic() - start < longest
    assert _children() <= before


@pytest.mark.parametrize("case", ONCE)
def test_tools_with_their_own_start(case: str) -> None:
    capture = runs.capture_case(case=case, methods=["spawn"], **BOUNDS)
    assert {run["method"] for run in capture["runs"]} == {"loky"}
    _check(capture)


def test_where_each_error_occurs() -> None:
    """The start-method dependent errors are exactly the ones a re-imported main causes."""
    cases = troubleshooting.CASES
    for name in ("main-attribute", "bootstrap", "global-name"):
        assert cases[name].occurs == ("spawn", "forkserver")
        assert not cases[name].occurs_under("fork")
    for name in ("pickle-local", "pickle-lambda", "unpicklable", "broken-pool"):
        assert all(cases[name].occurs_under(m) for m in ("fork", "spawn", "forkserver"))


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_hanging_map_is_killed_at_its_bound(method: str) -> None:
    """``Pool.map`` of a function its workers cannot find never returns; the runner ends it
    (and everything it started) at the bound."""
    snippet = troubleshooting.CASES["main-attribute"].reproductions[0]
    assert snippet.hangs
    before = _children()
    start = time.monotonic()
    run = runs.run_snippet(snippet, method, wait_s=30, hang_s=2)
    assert run["outcome"] == "killed"
    assert 2 <= run["seconds"] < 4
    assert time.monotonic() - start < 2 + runs.CLEANUP_GRACE + 5  # the group ends too
    assert not run["left_running"]
    assert _children() <= before
    assert "Can't get attribute 'square'" in run["message"]


def test_exceptions_and_headings() -> None:
    text = textwrap.dedent('''\
        Process SpawnPoolWorker-1:
        Traceback (most recent call last):
          File "x.py", line 1, in <module>
        AttributeError: Can't get attribute 'f' on <module '__main__' (built-in)>
        multiprocessing.pool.RemoteTraceback:
        """
        RuntimeError:
                An attempt has been made to start a new process before the
                current process has finished its bootstrapping phase.

                This probably means that you are not using fork
        Traceback (most recent call last):
        multiprocessing.context.TimeoutError
        /usr/lib/python3/resource_tracker.py:254: UserWarning: resource_tracker: leaked
        ''')
    found = runs.exceptions(text)
    assert [m.split(":")[0] for m in found] == ["AttributeError", "RuntimeError",
                                                "multiprocessing.context.TimeoutError"]
    assert runs.heading(found[1]) == ("RuntimeError: An attempt has been made to start a new "
                                      "process before the current process has finished its "
                                      "bootstrapping phase.")
    assert "UserWarning" not in found[2]
    assert runs.heading("X: <function f at 0xdeadbeef> failed") == "X: <function f at 0x…> failed"


def test_plans_cover_every_start_method() -> None:
    from mpguide import config

    for name in troubleshooting.CASES:
        params = runs.capture_params(name)
        assert params["methods"] == config.available_start_methods()
        assert params["timeout_wait_s"] < params["hang_s"] < params["wait_s"]


def test_the_page_has_a_section_per_error() -> None:
    """Each case is a section headed by its glued message, and shows its fix."""
    text = PAGE.read_text(encoding="utf-8")
    for name in troubleshooting.CASES:
        key = f"heading_{name.replace('-', '_')}"
        assert f"## {{glue:md}}`{key}`" in text, name
        assert f'runs.source_markdown("{name}", "fix")' in text, name
    assert "03-tuning.md#the-fork-with-threads-deadlock" in text
    assert "auto_examples/troubleshooting/plot_errors" in text


def _private_shm() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /dev/shm"],
                           capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm on this platform")
def test_nothing_left_in_dev_shm() -> None:
    """The cases that start pools and get killed or fail leave no semaphore behind: checked in
    a private /dev/shm (a mount namespace of its own) where root allows it, so other programs'
    entries cannot be blamed; else by a diff of the shared one."""
    code = textwrap.dedent(f'''\
        import json, os
        from mpguide.chapters import troubleshooting_runner as runs
        for case in ("main-attribute", "bootstrap", "unpicklable", "broken-pool"):
            runs.capture_case(case=case, methods=["spawn", "forkserver"], **{BOUNDS!r})
        print(json.dumps(sorted(os.listdir("/dev/shm"))))
        ''')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if _private_shm():
        command = ["unshare", "-m", "sh", "-c",
                   'mount -t tmpfs tmpfs /dev/shm && exec "$0" -c "$1"', sys.executable, code]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                              check=True)
        assert json.loads(done.stdout.strip().splitlines()[-1]) == []
        return
    before = set(os.listdir("/dev/shm"))
    subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=300,
                   check=True)
    deadline = time.monotonic() + 10
    while (new := set(os.listdir("/dev/shm")) - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not new
