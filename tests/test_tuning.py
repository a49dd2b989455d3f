"""Chapter 3 experiments (mpguide.tuning, mpguide.choosing): well-formed, bounded, leak-free.

Experiments run here with tiny parameters, in this process, under every start method; the
cached ``load_*`` path (fresh interpreter + cache) is exercised once per module.
"""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.request

import pytest

from mpguide import choosing, claims, config, runner, tuning, waiting


@pytest.mark.parametrize(("n", "workers"), [(1, 1), (7, 2), (8, 2), (1000, 2), (999, 3)])
def test_pool_default_chunksize_is_cpython_heuristic(n: int, workers: int) -> None:
    assert tuning.pool_default_chunksize(n, workers) == max(1, math.ceil(n / (4 * workers)))


def test_chunksize_grid_reaches_one_chunk_per_worker_and_one_in_all() -> None:
    grid = tuning.chunksize_grid(1000, 2)
    assert grid[0] == 1
    assert grid == sorted(set(grid))
    assert grid[-2:] == [500, 1000]


def test_measure_chunksize(start_method: str) -> None:
    result = tuning.measure_chunksize(start_method=start_method, mode="quick", workers=2,
                                      durations_us=[10, 1000], serial_target_s=0.01, repeats=1)
    df = tuning.records_frame(result)
    assert set(df.strategy) == {"serial", "pool", "batched", "executor"}
    assert (df.seconds > 0).all()
    assert df.start_method.eq(start_method).all()
    summary = tuning.chunksize_summary(df)
    assert (summary.groupby("duration_us").vs_best.min().round(9) <= 1).all()


def test_measure_map_variants(start_method: str) -> None:
    df = tuning.records_frame(tuning.measure_map_variants(
        start_method=start_method, mode="quick", workers=2, n_items=40, task_us=200,
        result_kib=64, chunksize=1, repeats=1)).set_index("method")
    assert df.loc["map", "out_of_order"] == df.loc["imap", "out_of_order"] == 0
    assert (df.first_result_s <= df.seconds).all()
    assert df.loc["map", "peak_rss_mib"] >= 0


def test_measure_maxtasks(start_method: str) -> None:
    df = tuning.records_frame(tuning.measure_maxtasks(
        start_method=start_method, mode="quick", workers=2, n_items=6, task_us=100,
        maxtasks=[0, 1], repeats=1))
    assert len(df) == 2
    assert df.maxtasksperchild.isna().sum() == 1


def test_measure_pool_size(start_method: str) -> None:
    df = tuning.records_frame(tuning.measure_pool_size(
        start_method=start_method, mode="quick", workers=[1, 2], n_items=4, task_ms=1,
        kinds=list(tuning.POOL_SIZE_WORKLOADS), repeats=1))
    summary = tuning.pool_size_summary(df)
    assert set(summary.workload) == set(tuning.POOL_SIZE_WORKLOADS)
    assert (summary.speedup > 0).all()


def test_pool_size_items_rejects_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        tuning.pool_size_items("gpu", 4, 1)


def test_measure_start_method_light(start_method: str) -> None:
    records = choosing.measure_start_method(method=start_method, workers=1, repeats=1)
    assert [r["first"] for r in records] == [True, False]
    assert all(r["start_stop_s"] >= r["start_s"] > 0 for r in records)
    assert all(r["worker_uss_mib"] > 0 for r in records)


def test_heavy_main_runs_under_a_generated_script() -> None:
    records = runner.run_fresh("mpguide.choosing:measure_start_method",
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


def test_measure_pool_vs_process(start_method: str) -> None:
    scenarios = {"cpu": {"kind": "cpu", "n": 3, "task_s": 0.001},
                 "io": {"kind": "io", "n": 3, "task_s": 0.01}}
    df = tuning.records_frame(waiting.measure_pool_vs_process(
        start_method=start_method, mode="quick", workers=2, scenarios=scenarios, repeats=1))
    assert set(df.way) == {"serial", "Pool", "Process per task"}
    assert len(df) == 6


def test_measure_io_cpu(start_method: str) -> None:
    df = tuning.records_frame(waiting.measure_io_cpu(
        start_method=start_method, mode="quick", workers=2, threads=4, n_items=4, delay_ms=5,
        cpu_ms=1, nbytes=64, repeats=1))
    assert set(df.way) == {"serial", "threads only", "processes only", "threads feed processes"}


def test_local_server_is_gone_after_the_block() -> None:
    with waiting.local_server(delay_s=0.0, nbytes=16) as base:
        assert len(waiting.fetch(f"{base}/item/1")) == 16
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/item/1", timeout=2)


def test_python_facts() -> None:
    facts = choosing.python_facts()
    assert facts["default_here"] in config.START_METHODS
    assert facts["fork_threads_warning_since"] == "3.12"


def test_chapter_states_at_least_five_claims() -> None:
    ids = claims.registered(chapter="tuning")
    assert len(ids) >= 5
    assert all(c.page == "guide/03-tuning" for c in ids.values())


@pytest.mark.slow
def test_every_tuning_claim_evaluates_in_quick_mode() -> None:
    verdicts = claims.evaluate_all(chapter="tuning")
    assert len(verdicts) >= 5
    assert all(v.statement and v.evidence for v in verdicts)
