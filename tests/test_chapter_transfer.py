"""Chapter 2 (mpguide.chapters.transfer, .send_less, .worker_memory): well-formed records,
summaries, figures and claims in quick mode."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from mpguide import chapters, claims, plotting, workloads
from mpguide.chapters import send_less, transfer, worker_memory

KIB = transfer.KIB


def _frame(records: list[dict]) -> object:
    return transfer._frame(records)


def _check_figure(fig: object) -> None:
    assert plotting.caption_of(fig), "every figure carries the machine caption"
    plt.close(fig)


def test_pickling_covers_every_kind_and_serializer() -> None:
    df = _frame(transfer.measure_pickling([64 * KIB], repeats=1))
    summary = transfer.pickling_summary(df)
    assert set(summary["kind"]) == set(workloads.PAYLOAD_KINDS)
    assert set(summary["serializer"]) == set(transfer.SERIALIZERS)
    assert (summary["total_s"] > 0).all()
    assert (summary["x_memcpy"] > 0).all()
    assert (summary["pickled_bytes"] > 0).all()
    _check_figure(transfer.plot_pickling(df))


def test_pool_transfer_times_arguments_and_results(start_method: str) -> None:
    df = _frame(transfer.measure_pool_transfer(start_method, [64 * KIB], ["ndarray"], 1))
    summary = transfer.pool_transfer_summary(df)
    assert list(summary["kind"]) == ["ndarray"]
    assert (summary[["argument_s", "result_s", "memcpy_s"]] >= 0).all().all()
    assert set(df["start_method"]) == {start_method}
    _check_figure(transfer.plot_pool_transfer(df))


def test_seed003_experiment_and_table(start_method: str) -> None:
    df = _frame(transfer.measure_seed003(256 * KIB, start_method, 1))
    assert set(df["name"]) == {"thread pool", "process pool, first call", "process pool, warm"}
    table = transfer.seed003_table(df)
    assert list(table["thread_pool_s"].iloc[:1]) == [transfer.SEED_003_SUM["thread pool"]]
    assert table["process_over_thread"].iloc[0] == pytest.approx(1.80 / 0.31)
    assert table["process_over_thread"].iloc[1] > 0
    _check_figure(transfer.plot_seed003(df))


def test_send_less_compares_both_ways(start_method: str) -> None:
    df = _frame(send_less.measure_send_less(start_method, [8 * KIB], tasks=4, workers=2,
                                           repeats=1))
    assert set(df["name"]) == {"state with every task", "initializer + index"}
    assert (df["value"] > 0).all()
    _check_figure(send_less.plot_send_less(df))


def test_shm_handoff_records_the_floor(start_method: str) -> None:
    df = _frame(send_less.measure_shm_handoff(start_method, 1 << 20, repeats=1))
    summary = send_less.handoff_summary(df)
    assert list(summary["start_method"]) == [start_method]
    assert (summary[["shared_array_x_memcpy", "pickle_x_memcpy"]] > 0).all().all()
    _check_figure(send_less.plot_shm_handoff(df))


def test_shared_vs_pickled(start_method: str) -> None:
    df = _frame(send_less.measure_shared_vs_pickled(start_method, 1 << 20, parts=4, workers=2,
                                                   repeats=1))
    assert set(df["name"]) == {"pickled slices", "shared_array + indices"}


def test_files_are_read_back_by_a_worker(start_method: str) -> None:
    df = _frame(send_less.measure_files(start_method, rows=10_000, repeats=1))
    table = send_less.files_table(df)
    assert set(table["name"]) == {"pickle", "parquet file", ".npy file", "np.memmap of .npy"}
    published = table.set_index("name")["published_s"]
    assert published["parquet file"] == send_less.SEED_003_FILES["parquet"]
    _check_figure(send_less.plot_files(df))


def test_worker_memory_and_copy_on_write() -> None:
    import pandas as pd

    memory = pd.DataFrame(worker_memory.measure_worker_memory(["fork", "spawn"], 100_000, 2))
    assert set(memory["process"]) == {"parent", "worker 0", "worker 1"}
    fork = memory[(memory["start_method"] == "fork") & (memory["process"] == "worker 0")]
    assert float(fork["uss_mib"].iloc[0]) < float(fork["rss_mib"].iloc[0])
    cow = pd.DataFrame(worker_memory.measure_cow(200_000, [0.0, 1.0]))
    assert list(cow["items_read"]) == [0, 200_000]
    assert cow["uss_mib"].iloc[1] > cow["uss_mib"].iloc[0]
    _check_figure(worker_memory.plot_memory(memory, cow))


def test_worker_functions() -> None:
    send_less.install_state([10.0, 20.0])
    try:
        assert send_less.lookup_index(3) == 20.0
    finally:
        send_less.WORKER_STATE.pop("state")
    assert send_less.lookup_in(([1.0, 2.0, 3.0], 4)) == 2.0
    assert worker_memory.walk_global(1.0) == 0


def test_load_is_cached_and_tidy(start_method: str) -> None:
    import pandas as pd

    first = transfer.load_pool_transfer(start_method)
    second = transfer.load_pool_transfer(start_method)
    pd.testing.assert_frame_equal(first, second, check_like=True)
    assert {"cpu_model", "python", "mode", "start_method", "measured_in"} <= set(first.columns)
    assert set(first["mode"]) == {"quick"}


def test_chapter_states_at_least_five_claims() -> None:
    registered = {cid: claims.registered()[cid] for cid in chapters.claim_ids("transfer")}
    assert len(registered) >= 5
    assert all(c.page == transfer.CHAPTER.page for c in registered.values())


def test_a_claim_evaluates_with_filled_statement() -> None:
    verdict = claims.evaluate("oob-beats-in-band")
    assert "{" not in verdict.statement
    assert "protocol 4" in verdict.evidence
