"""Chapter 3, choosing between tools (mpguide.chapters.choosing): start methods, the
fork-with-threads deadlock, threads or processes, BLAS threads; well-formed, bounded, leak-free.
"""

from __future__ import annotations

import time

from mpguide import config, runner
from mpguide.chapters import choosing, tuning


def test_measure_start_method_light(start_method: str) -> None:
    records = choosing.measure_start_method(method=start_method, workers=1, repeats=1)
    assert [r["first"] for r in records] == [True, False]
    assert all(r["start_stop_s"] >= r["start_s"] > 0 for r in records)
    assert all(r["worker_uss_mib"] > 0 for r in records)


def test_heavy_main_runs_under_a_generated_script() -> None:
    records = runner.run_fresh(f"{choosing.__name__}:measure_start_method",
                               {"method": "spawn", "workers": 1, "repeats": 0}, timeout=60,
                               preamble=choosing.heavy_preamble(["json"]))
    assert records[0]["method"] == "spawn"


def test_fork_deadlock_demo_ends_within_its_timeout() -> None:
    params = choosing.fork_deadlock_params()
    start = time.monotonic()
    df = choosing.load_fork_deadlock().set_index("method")
    elapsed = time.monotonic() - start
    assert elapsed < params["wait_s"] * len(params["methods"]) + 60
    assert df.loc["fork", "outcome"] == "deadlocked"
    assert df.loc["fork", "waited_s"] < params["wait_s"] + 5
    assert df.loc["spawn", "outcome"] == "finished"


def test_measure_threads_vs_processes(start_method: str) -> None:
    df = tuning.records_frame(choosing.measure_threads_vs_processes(
        start_method=start_method, mode="quick", workers=2, n_items=4, task_ms=1, repeats=1))
    out = choosing.speedups(df, ["workload"], "executor")
    assert set(out.executor) == {"serial", "threads", "processes"}
    assert (out[out.executor == "serial"].speedup == 1).all()


def test_measure_blas_caps_worker_threads(start_method: str) -> None:
    df = tuning.records_frame(choosing.measure_blas(
        start_method=start_method, mode="quick", workers=2, n_items=4, size=32, repeats=1))
    threads = df.set_index("variant").blas_threads_per_worker
    assert threads["pool, BLAS capped at 1"] == 1


def test_python_facts() -> None:
    facts = choosing.python_facts()
    assert facts["default_here"] in config.START_METHODS
    assert facts["fork_threads_warning_since"] == "3.12"
