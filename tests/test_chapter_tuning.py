"""Chapter 3, tuning a Pool (mpguide.chapters.tuning, .pool_size), and the chapter's claims
(of every module of the chapter): well-formed, bounded, leak-free.

Experiments run here with tiny parameters, in this process (``fresh=False``), under every start
method; the cached ``load_*`` path (fresh interpreter + cache) is exercised by the choosing
tests and the slow claims test.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from mpguide import chapters, claims, executors, workloads
from mpguide.chapters import pool_size, task_duration, tuning
from mpguide.experiment import Experiment


def _small(experiment: Experiment, **changes: object) -> Experiment:
    """``experiment`` run once, in this process, without the cache."""
    return dataclasses.replace(experiment, repeats=1, fresh=False, cache=False, **changes)


def test_chunksize_grid_reaches_one_chunk_per_worker_and_one_in_all() -> None:
    grid = tuning.chunksize_grid(1000, 2)
    assert grid[0] == 1
    assert grid == sorted(set(grid))
    assert grid[-2:] == [500, 1000]


def test_chunksize_sweep_and_its_views(start_method: str) -> None:
    params = {"seconds": 1e-5, "count": 40}
    sweep = _small(Experiment("t-chunks", workloads.spin, task_duration.spin_items, [
        *(executors.Pool(2, chunksize=c) for c in tuning.chunksize_grid(40, 2)),
        executors.Pool(2), executors.ProcessPool(2)], params=params, startup=False)).run()
    batched = _small(Experiment("t-batched", tuning.spin_batch, tuning.spin_batches,
                                [executors.Pool(2, chunksize=1)],
                                params={**params, "size": 5}, startup=False)).run()
    df = tuning.chunksize_frame(sweep, batched, 10)
    assert set(df.strategy) == {"serial", "pool", "default", "executor", "batched"}
    assert (df.seconds > 0).all()
    assert df.loc[df.strategy == "pool", "start_method"].eq(start_method).all()
    assert set(df.loc[df.strategy == "default", "chunksize"]) == {
        executors.default_chunksize(40, 2)}
    summary = tuning.chunksize_summary(df)
    assert (summary.groupby("duration_us").vs_best.min().round(9) <= 1).all()
    choices = tuning.chunksize_choices(summary)
    assert choices.loc[0, "Pool default"] == executors.default_chunksize(40, 2)
    assert choices.notna().all(axis=None)
    plt.close(tuning.plot_chunksize(df))


def test_a_sweep_of_any_function_gets_its_task_duration() -> None:
    result = _small(Experiment("t-any", workloads.square, list(range(50)),
                               [executors.Pool(2, chunksize=c) for c in (1, 25)],
                               startup=False, repeats=2)).run()
    df = tuning.chunksize_frame(result)
    assert df.duration_us.nunique() == 1
    assert float(df.duration_us.iloc[0]) >= 0
    assert tuning.chunksize_choices(tuning.chunksize_summary(df))["batched / best"].isna().all()


def test_measure_map_variants(start_method: str) -> None:
    pool = executors.Pool(2, chunksize=1, start_method=start_method)
    run = tuning.measure_map_variants(
        func=executors.target_of(tuning.spin_then_bytes),
        items=executors.target_of(tuning.uneven_tasks),
        params={"seconds": 2e-4, "count": 40, "result_kib": 64}, pool=pool.to_dict(), repeats=1)
    df = pd.DataFrame(run["records"]).set_index("method")
    assert df.loc["map", "out_of_order"] == df.loc["imap", "out_of_order"] == 0
    assert (df.first_result_s <= df.seconds).all()
    assert df.loc["map", "peak_rss_mib"] >= 0
    assert run["metadata"]["label"] == pool.label


def test_map_variants_take_json_items_and_refuse_chunks_above_one() -> None:
    params = tuning.map_variants_params(workloads.square, [1, 2, 3],
                                        pool=executors.Pool(2, chunksize=1))
    assert params["items"] == [1, 2, 3]
    assert params["func"] == "mpguide.workloads:square"
    with pytest.raises(ValueError, match="chunksize=1"):
        tuning.map_variants_params(pool=executors.Pool(2, chunksize=5))


def test_indexed_call_and_uneven_tasks() -> None:
    assert tuning.indexed_call((workloads.square, 3, 4)) == (3, 16)
    tasks = tuning.uneven_tasks(1e-5, 3, 2)
    assert [t[1] for t in tasks] == [2048] * 3
    assert tasks[1][0] == 2 * tasks[0][0]
    assert len(tuning.spin_then_bytes(tasks[0])) == 2048


def test_maxtasks(start_method: str) -> None:
    result = _small(Experiment("t-maxtasks", workloads.spin, task_duration.spin_items, [
        executors.Pool(2, chunksize=1, maxtasksperchild=m) for m in (None, 1)],
        params={"seconds": 1e-4, "count": 6}, startup=True)).run()
    df = tuning.maxtasks_frame(result, task_us=100)
    assert len(df) == 2
    assert df.maxtasksperchild.isna().sum() == 1
    table = tuning.maxtasks_table(df)
    assert list(table.maxtasksperchild) == ["none (default)", "1"]


def test_pool_size_sweep(start_method: str) -> None:
    frames = []
    for name, (func, items) in pool_size.WORKLOADS.items():
        result = _small(Experiment("t-sizes", func, items,
                                   [executors.Pool(w, chunksize=1) for w in (1, 2)],
                                   params={"seconds": 1e-4, "count": 4}, startup=False)).run()
        frames.append(pool_size.pool_size_frame(result, name))
    df = pd.concat(frames, ignore_index=True)
    summary = pool_size.pool_size_summary(df)
    assert set(summary.workload) == set(pool_size.WORKLOADS)
    assert set(summary.workers) == {1, 2}
    assert (summary.speedup > 0).all()
    fig = pool_size.plot_pool_size(df.assign(usable_cpus=1))
    ideal = next(line for line in fig.axes[0].get_lines() if line.get_label() == "ideal")
    assert list(ideal.get_ydata()) == [1, 1]
    plt.close(fig)


def test_item_factories() -> None:
    uneven = pool_size.uneven_items(1e-5, 9)
    assert uneven[0] == uneven[8] == 8 * uneven[1]
    assert len(pool_size.numpy_items(1e-4, 3)) == 3


def test_peak_rss_and_bar_figure() -> None:
    with tuning.PeakRSS() as rss:
        block = bytearray(32 * 2**20)
    del block
    assert rss.peak_mib >= 0
    table = pd.DataFrame({"way": ["a", "b"], "median": [1.0, 2.0]})
    fig = tuning.bar_figure(table, x="way", y="median", caption="here", ylabel="s")
    assert len(fig.axes[0].patches) == 2
    plt.close(fig)


def test_chapter_states_at_least_five_claims() -> None:
    ids = chapters.claim_ids("tuning")
    assert len(ids) >= 5
    assert all(claims.registered()[cid].page == tuning.CHAPTER.page for cid in ids)


#: The chapter's claims, by id: each keeps existing through every rewrite of the chapter.
CLAIM_IDS = {"chunksize-u-curve", "default-chunksize-vs-executor", "imap-streams",
             "maxtasks-costs", "oversubscription-no-gain", "spawn-workers-own-memory",
             "threads-need-gil-release", "blas-cap-fixes-oversubscription",
             "process-per-task-for-long-waits", "threads-feed-processes", "asyncio-feeds-processes",
             "uneven-tasks-want-small-chunks", "seed003-ten-sums-in-threads",
             "cores-minus-one-costs", "all-usable-cores-beat-a-cap",
             "busy-core-still-wants-all-workers"}
#: Its demonstrations (certain by construction: shown, not counted among the claims).
DEMONSTRATION_IDS = {"imap-unordered-reorders", "fork-threads-deadlock"}


def test_every_claim_of_the_chapter_is_still_there() -> None:
    assert set(chapters.claim_ids("tuning")) == CLAIM_IDS
    assert set(chapters.claim_ids("tuning", kind=claims.DEMONSTRATION)) == DEMONSTRATION_IDS


@pytest.mark.slow
def test_every_tuning_claim_evaluates_in_quick_mode() -> None:
    verdicts = chapters.evaluate_all(chapter="tuning")
    assert {v.claim_id for v in verdicts} == CLAIM_IDS
    assert all(v.statement and v.evidence for v in verdicts)


@pytest.mark.parametrize("quick", ["1", "0"], ids=["quick", "full"])
def test_chunksize_script_declares_the_pages_items(monkeypatch: pytest.MonkeyPatch, quick: str,
                                                   script_declares: Any) -> None:
    """The chunksize script's ``PARAMS`` are the chapter's 100 µs sweep in both modes, so the
    docs build measures that sweep once."""
    from mpguide import config

    monkeypatch.setenv("MPGUIDE_QUICK", quick)
    params = script_declares("tuning/plot_chunksize.py", "PARAMS", {"config": config})
    assert params == tuning.chunksize_params(100)
