"""Chapter 3, tuning a Pool (mpguide.chapters.tuning, .pool_size), and the chapter's claims
(of every module of the chapter): well-formed, bounded, leak-free.

Experiments run here with tiny parameters, in this process, under every start method; the
cached ``load_*`` path (fresh interpreter + cache) is exercised by the choosing tests.
"""

from __future__ import annotations

import pytest

from mpguide import chapters, claims
from mpguide.chapters import pool_size, tuning


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
    df = tuning.records_frame(pool_size.measure_pool_size(
        start_method=start_method, mode="quick", workers=[1, 2], n_items=4, task_ms=1,
        kinds=list(pool_size.POOL_SIZE_WORKLOADS), repeats=1))
    summary = pool_size.pool_size_summary(df)
    assert set(summary.workload) == set(pool_size.POOL_SIZE_WORKLOADS)
    assert (summary.speedup > 0).all()


def test_pool_size_items_rejects_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        pool_size.pool_size_items("gpu", 4, 1)


def test_chapter_states_at_least_five_claims() -> None:
    ids = chapters.claim_ids("tuning")
    assert len(ids) >= 5
    assert all(claims.registered()[cid].page == tuning.CHAPTER.page for cid in ids)


@pytest.mark.slow
def test_every_tuning_claim_evaluates_in_quick_mode() -> None:
    verdicts = chapters.evaluate_all(chapter="tuning")
    assert len(verdicts) >= 5
    assert all(v.statement and v.evidence for v in verdicts)
