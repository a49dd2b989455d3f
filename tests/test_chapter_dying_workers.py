"""Chapter 6, dying and stuck workers (mpguide.chapters.dying_workers and its page): a few
cases run for real in their bounded child, each ends as measured on the build machine, a
hang is cut at its bound, what a case leaves behind is reported and then ended, and nothing
is left running or in /dev/shm. The views are checked on a small record."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from mpguide import chapters, claims, config
from mpguide.chapters import dying_workers as dying
from mpguide.chapters import dying_workers_page as page
from mpguide.chapters import dying_workers_watch as watch

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "guide" / "06-troubleshooting.md"
#: A short cut for what hangs: the tests only need it to happen.
HANG_S = 1.0
#: A generous timeout for the bounded calls: they must raise long before it.
WAIT_S = 30.0
N_ITEMS = 8


def _ours_alive() -> list[psutil.Process]:
    """Live processes still running in a case's folder (they outlive their parent there)."""
    found = []
    for process in psutil.process_iter():
        try:
            if "mpguide-dying-" in process.cwd() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def _run(tool: str, failure: str, method: str | None, **bounds: float) -> dict[str, Any]:
    run = dying.run_case(tool, failure, method, n_items=N_ITEMS,
                         **{"hang_s": HANG_S, "wait_s": WAIT_S, **bounds})
    assert run["outcome"] != "no failure", run["stderr"]
    assert run["remaining"] == [], run["remaining"]
    assert _ours_alive() == []
    return run


def test_executor_raises_and_keeps_the_results_before(start_method: str) -> None:
    run = _run("executor", "sigkill", start_method)
    assert run["outcome"] == "raises", run["stderr"]
    assert run["error"] == "BrokenProcessPool"
    assert run["heading"].startswith("concurrent.futures.process.BrokenProcessPool: ")
    assert 1 <= run["received"] <= N_ITEMS // 2  # the iterator hands out those before it
    assert run["seconds"] < WAIT_S
    assert run["left_processes"] == []


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_map_hang_is_cut_at_its_bound(method: str) -> None:
    run = _run("pool-map", "exit", method)
    assert run["outcome"] == "hangs"
    assert run["returncode"] is None
    assert run["message"] == ""
    assert HANG_S <= run["seconds"] < HANG_S + dying.LEFT_S + 5
    assert run["received"] == 0


def test_a_stuck_worker_is_left_behind_then_ended() -> None:
    run = _run("pool-map", "stuck", "fork")
    assert run["outcome"] == "hangs"
    assert "forked worker" in run["left_processes"]  # still running after its parent


@pytest.mark.parametrize(("failure", "error"), [("rlimit", "MemoryError"),
                                                ("ctrl-c", "KeyboardInterrupt")])
def test_memory_limit_and_ctrl_c_raise(failure: str, error: str) -> None:
    run = _run("executor", failure, "fork")
    assert (run["outcome"], run["error"]) == ("raises", error), run["stderr"]


@pytest.mark.parametrize(("failure", "error"), [("sigkill", "WorkerDiedError"),
                                                ("stuck", "PoolTimeoutError")])
def test_the_recipe_bounds_the_case(failure: str, error: str) -> None:
    run = _run("bounded-map", failure, "spawn", wait_s=2.0, hang_s=2.0 + 3)
    assert (run["outcome"], run["error"]) == ("raises", error), run["stderr"]
    assert run["seconds"] < 2.0 + dying.LEFT_S + 5
    assert run["left_processes"] == []
    assert run["left_shm"] == []


@pytest.mark.skipif(importlib.util.find_spec("joblib") is None, reason="joblib not installed")
def test_joblib_reports_the_exit_code() -> None:
    run = _run("joblib", "segfault", None)
    assert run["error"] == "TerminatedWorkerError", run["stderr"]
    assert run["method"] is None
    assert "SIGSEGV" in run["message"]


def test_capture_runs_side_by_side_in_the_tables_order() -> None:
    record = dying.capture(method="fork", n_items=N_ITEMS, hang_s=HANG_S, wait_s=WAIT_S,
                           lanes=2, tools=["executor", "pool-map"], failures=["exit", "rlimit"])
    assert [(r["tool"], r["failure"]) for r in record["runs"]] == [
        ("pool-map", "exit"), ("pool-map", "rlimit"), ("executor", "exit"),
        ("executor", "rlimit")]
    assert [r["outcome"] for r in record["runs"]] == ["hangs", "raises", "raises", "raises"]
    assert record["seconds"] > HANG_S
    assert _ours_alive() == []


def test_a_stopped_case_is_ended_at_once() -> None:
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()  # a Ctrl-C of the build, while the case hangs
    with pytest.raises(dying.CaptureStopped, match="pool-map / stuck"):
        dying.run_case("pool-map", "stuck", "fork", n_items=N_ITEMS, hang_s=60, stop=stop)
    assert _ours_alive() == []


def test_a_killed_build_leaves_nothing_running(tmp_path: Path) -> None:
    """The build killed by SIGKILL mid-case: the case's watchdog ends what it started."""
    code = ("from mpguide.chapters import dying_workers as d\n"
            "d.run_case('pool-map', 'stuck', 'fork', n_items=8, hang_s=60)")
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the case's folder, left by the kill
    with subprocess.Popen([sys.executable, "-c", code], env=env,
                          start_new_session=True) as build:
        deadline = time.monotonic() + 60
        while len(_ours_alive()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_ours_alive()) >= 2  # the program and its workers run
        os.killpg(build.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _ours_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ours_alive() == []


def test_one_ctrl_c_stops_the_capture(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the build's group, which the cases' own sessions do not get) ends
    the cases running, starts no more, and the build exits within seconds."""
    code = ("import signal\n"  # Ctrl-C's default, whatever disposition the suite inherited
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from mpguide.chapters import dying_workers as d\n"
            "d.capture(method='fork', n_items=8, hang_s=60, wait_s=2, lanes=2,"
            " tools=['pool-map'], failures=['stuck', 'exit', 'sigkill'])")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE,
                          start_new_session=True) as build:
        deadline = time.monotonic() + 60
        while len(_ours_alive()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(build.pid, signal.SIGINT)
        start = time.monotonic()
        _, stderr = build.communicate(timeout=60)
    assert time.monotonic() - start < 15
    assert b"KeyboardInterrupt" in stderr
    assert _ours_alive() == []


def test_every_program_compiles() -> None:
    for name, tool in dying.TOOLS.items():
        compile(tool.render("spawn", 2.0), f"{name}/main.py", "exec")
    for failure in dying.FAILURES:
        compile(dying.work_source(failure, N_ITEMS), f"{failure}/work.py", "exec")


def test_cases_and_params() -> None:
    assert len(dying.cases()) == sum(tool.available() for tool in dying.TOOLS.values()) \
        * len(dying.FAILURES)
    params = dying.capture_params()
    assert params["hang_s"] == dying.HANG_S > params["wait_s"]
    assert params["method"] == config.start_method()
    assert params["skip"] == config.scaled({}, dying.QUICK_SKIP)
    assert params["n_items"] % dying.ITEMS_PER_CPU == 0


def test_process_kinds_and_named_entries() -> None:
    assert watch.process_kind("python -m joblib.externals.loky.backend.popen_loky_posix") \
        == "loky worker"
    assert watch.process_kind("python -c from multiprocessing.spawn import spawn_main") \
        == "spawned worker"
    assert watch.named_pid("joblib_memmapping_folder_31636_72217_abc") == 31636
    assert watch.named_pid("psm_1234abcd") is None


# --- the views, on a small record -------------------------------------------------------------

def _record() -> dict[str, Any]:
    base = {"n_items": N_ITEMS, "hang_s": 5.0, "wait_s": 2.0, "left_shm": [], "swept": [],
            "remaining": [], "received": 0, "left_processes": [], "method": "fork"}
    runs = [
        {**base, "tool": "pool-map", "failure": "sigkill", "outcome": "hangs", "error": "",
         "message": "", "seconds": 5.0},
        {**base, "tool": "executor", "failure": "sigkill", "outcome": "raises",
         "error": "BrokenProcessPool", "seconds": 0.1, "received": 4,
         "message": "concurrent.futures.process.BrokenProcessPool: A process died."},
        {**base, "tool": "executor", "failure": "segfault", "outcome": "raises",
         "error": "BrokenProcessPool", "seconds": 0.1, "received": 4,
         "message": "concurrent.futures.process.BrokenProcessPool: A process died."},
        {**base, "tool": "bounded-map", "failure": "sigkill", "outcome": "raises",
         "error": "WorkerDiedError", "seconds": 0.1,
         "message": "mpguide.pools.WorkerDiedError: a worker of map(task) exited"},
    ]
    for run in runs:
        run.update(label=dying.TOOLS[run["tool"]].label,
                   title=dying.FAILURES[run["failure"]].title)
    return {"method": "fork", "wait_s": 2.0, "hang_s": 5.0, "runs": runs,
            "meta": {"cpu_model": "Xeon", "usable_cpus": 2, "python": "3.11.7",
                     "date": "2026-12-01", "mpguide_version": "0", "mode": "quick"}}


def test_table_has_a_row_per_call_and_a_column_per_failure() -> None:
    table = page.table(_record())
    assert list(table.index) == ["Pool.map", "ProcessPoolExecutor.map",
                                 "mpguide pools.bounded_map"]
    assert list(table.columns) == [f.title for f in dying.FAILURES.values()]
    assert table.loc["Pool.map", "SIGKILL (OOM killer)"].startswith("hangs (cut at 5 s)")
    assert table.loc["Pool.map", "segfault"] == "not run"
    assert "4 of 7 other results" in table.loc["ProcessPoolExecutor.map", "segfault"]
    assert "Xeon" in page.caption(_record())


def test_messages_are_grouped_and_verbatim() -> None:
    text = page.messages_markdown(_record())
    assert text.count("BrokenProcessPool: A process died.") == 1
    assert "*ProcessPoolExecutor.map* (SIGKILL (OOM killer), segfault):" in text
    assert page.messages_markdown({"runs": []}) == "No call raised on this machine."


def test_recipe_and_programs_markdown() -> None:
    text = page.recipe_markdown(_record())
    assert "map_async(task, ITEMS).get(timeout=2)" in text
    assert "not run in this build" in text  # map-async has no sigkill run in this record
    assert "left nothing" in text
    programs = page.programs_markdown("spawn")
    assert all(tool.label in programs for tool in dying.TOOLS.values())
    assert "| RLIMIT_AS | `limit = vm_size() + 256 * 2**20; resource.setrlimit(" in programs
    assert "| os._exit(1) | `os._exit(1)` |" in programs


def test_the_page_shows_every_claim_of_the_section() -> None:
    text = PAGE.read_text(encoding="utf-8")
    ours = [cid for cid in chapters.claim_ids("troubleshooting", kind=None)
            if claims.registered()[cid].check.__module__ == page.__name__]
    assert ours
    assert all(f'claims.show("{cid}")' in text for cid in ours)
    assert "(dying-workers)=" in text
