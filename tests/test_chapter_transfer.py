"""Chapter 2 (mpguide.chapters.transfer, .send_less, .worker_memory): well-formed records,
summaries, figures and claims in quick mode, and plans sized by the usable cores."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from mpguide import chapters, claims, config, executors, machine, plotting, workloads
from mpguide.chapters import send_less, transfer, worker_memory
from mpguide.experiment import REPEATS, Result

KIB = transfer.KIB


def _frame(record: dict) -> object:
    return Result.from_dict(record).frame()


def _check_figure(fig: object) -> None:
    assert plotting.caption_of(fig), "every figure carries the machine caption"
    plt.close(fig)


def test_plans_use_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a card with 8 usable cores every experiment of the chapter plans 8 workers."""
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    params = [transfer.pool_transfer_params("spawn"), send_less.send_less_params("spawn"),
              send_less.handoff_params("spawn"), send_less.shared_vs_pickled_params("spawn"),
              send_less.files_params()]
    assert all(p["workers"] == 8 for p in params)
    assert send_less.shared_vs_pickled_params()["parts"] == 32
    assert transfer.seed003_params()["parts"] == 8
    pools = [transfer.plan_pool_transfer(8), transfer.plan_seed003(),
             list(send_less.plan_send_less(8, "spawn").values())]
    workers = {e.workers for plan in pools for e in plan}
    article = {e.label for e in transfer.plan_seed003()[:2]}
    assert article == {"Threads(1)", "Pool(1, chunksize=1, spawn)"}  # the seed's own setup
    assert workers == {1, 8}
    experiment = transfer.seed003_experiment()
    assert [s.parallelism for s in experiment.executors] == [1, 1, 1, 8, 8]


GALLERY = Path(__file__).resolve().parents[1] / "gallery" / "transfer"

#: Names a gallery script assigns to build its declarations, in order.
DECLARING = {"KIB", "MIB", "workers", "article", "ours", "plan", "params", "PARAMS"}


def _declarations(script: str) -> tuple[list[dict], dict]:
    """Every ``params`` dict a gallery script passes to ``run_cached``, and its other
    declaring names, evaluated here (the assignments only: nothing is measured)."""
    tree = ast.parse((GALLERY / script).read_text(encoding="utf-8"))
    namespace = {"config": config, "executors": executors, "machine": machine,
                 "transfer": transfer, "send_less": send_less, "workloads": workloads,
                 "method": config.start_method(), "REPEATS": REPEATS}
    found = []
    for node in ast.walk(tree):
        names = {n.id for t in getattr(node, "targets", []) for n in ast.walk(t)
                 if isinstance(n, ast.Name)}
        if isinstance(node, ast.Assign) and names and names <= DECLARING:
            exec(compile(ast.Module([node], []), script, "exec"), namespace)  # noqa: S102
            if "params" in names:
                found.append(namespace["params"])
    return found, namespace


@pytest.mark.parametrize("quick", ["1", "0"], ids=["quick", "full"])
def test_gallery_declares_what_the_page_measures(monkeypatch: pytest.MonkeyPatch,
                                                 quick: str) -> None:
    """A script's declarations equal the chapter's in both modes, so the docs build measures
    each once."""
    monkeypatch.setenv("MPGUIDE_QUICK", quick)
    expected = {
        "plot_pickling_cost.py": [transfer.pickling_params()],
        "plot_big_arguments_and_results.py": [transfer.pool_transfer_params()],
        "plot_send_less.py": [send_less.send_less_params()],
        "plot_shared_memory.py": [send_less.handoff_params(),
                                  send_less.shared_vs_pickled_params()],
        "plot_files.py": [send_less.files_params()],
    }
    def canonical(dicts: list[dict]) -> list[str]:
        return sorted(json.dumps(d, sort_keys=True) for d in dicts)

    for script, params in expected.items():
        assert canonical(_declarations(script)[0]) == canonical(params), script
    _, seed = _declarations("plot_threads_vs_processes.py")
    assert seed["PARAMS"] == transfer.seed003_params()
    assert seed["plan"] == transfer.plan_seed003()


def test_memcpy_floor_is_the_probe() -> None:
    import numpy as np

    best = transfer.probes.memcpy(source=np.ones(1000), repeats=2, tries=3)
    assert best.params == {"nbytes": 8000, "tries": 3}
    assert len(best.samples) == 2


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
    df = _frame(transfer.measure_pool_transfer(start_method, kinds=["ndarray"],
                                               sizes=[64 * KIB], count=2, workers=2,
                                               repeats=1))
    summary = transfer.pool_transfer_summary(df)
    assert list(summary["kind"]) == ["ndarray"]
    assert (summary[["argument_s", "result_s", "memcpy_s", "build_s"]] >= 0).all().all()
    assert set(df.loc[df["tool"] == "pool", "start_method"]) == {start_method}
    assert set(df["direction"].dropna()) == {"argument", "result"}
    _check_figure(transfer.plot_pool_transfer(df))


def test_per_item_table() -> None:
    from mpguide.experiment import Experiment

    result = Experiment("test-per-item", workloads.payload_length, transfer.fat_items,
                        [executors.Threads(2)], params={"kind": "bytes", "nbytes": 100,
                                                       "count": 4},
                        repeats=1, fresh=False, cache=False).run()
    table = transfer.per_item(result)
    assert list(table["label"]) == ["loop", "Threads(2)"]
    assert (table["ms_per_item"] > 0).all()
    assert table["beyond_loop_ms"].iloc[0] == 0


def test_seed003_experiment_and_table(start_method: str) -> None:
    from mpguide.experiment import Experiment

    plan = transfer.plan_seed003(2, start_method)
    results = [Experiment("test-seed003", transfer.array_sum, transfer.seed003_items, plan,
                          params={"nbytes": 256 * KIB, "parts": 2}, repeats=1,
                          startup=startup, fresh=False, cache=False).run()
               for startup in (True, False)]
    df = transfer.seed003_frame(results, 256 * KIB)
    assert {"Threads(1)", "Pool(1, chunksize=1, spawn)"} <= set(df["label"])
    table = transfer.seed003_table(df)
    assert list(table["thread_pool_s"].iloc[:1]) == [transfer.SEED_003_SUM["thread pool"]]
    assert table["process_over_thread"].iloc[0] == pytest.approx(1.80 / 0.31)
    assert table["process_over_thread"].iloc[1] > 0
    assert table["array"].iloc[1] == "256 KiB"
    _check_figure(transfer.plot_seed003(df))
    assert transfer.seed003_table(transfer.seed003_frame(results))["array"].iloc[1] == \
        "your items"


def test_send_less_compares_both_ways(start_method: str) -> None:
    df = _frame(send_less.measure_send_less(start_method, sizes=[8 * KIB], tasks=4,
                                            workers=2, repeats=1))
    assert set(df["name"]) == {"loop", "state with every task", "initializer + index"}
    assert (df["seconds"] > 0).all()
    assert "state" not in send_less.WORKER_STATE
    _check_figure(send_less.plot_send_less(df))


def test_shm_handoff_records_the_floor(start_method: str) -> None:
    df = _frame(send_less.measure_shm_handoff(start_method, nbytes=1 << 20, workers=2,
                                              repeats=1))
    summary = send_less.handoff_summary(df)
    assert list(summary["start_method"]) == [start_method]
    assert (summary[["shared_array_x_memcpy", "pickle_x_memcpy"]] > 0).all().all()
    _check_figure(send_less.plot_shm_handoff(df))


def test_shared_vs_pickled(start_method: str) -> None:
    df = _frame(send_less.measure_shared_vs_pickled(start_method, nbytes=1 << 20, parts=4,
                                                    workers=2, repeats=1))
    assert set(df["name"]) == {"pickled slices", "shared_array + indices"}


def test_files_are_read_back_by_a_worker(start_method: str) -> None:
    df = _frame(send_less.measure_files(start_method, rows=10_000, workers=2, repeats=1))
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
    assert transfer.array_sum(transfer.seed003_items(10, 1)[0]) == 10


def test_load_is_cached_and_tidy(start_method: str) -> None:
    import pandas as pd

    first = transfer.load_pool_transfer(start_method)
    second = transfer.load_pool_transfer(start_method)
    pd.testing.assert_frame_equal(first, second, check_like=True)
    assert {"cpu_model", "python", "mode", "start_method", "measured_in",
            "seconds"} <= set(first.columns)
    assert set(first["mode"]) == {"quick"}
    assert set(first["measured_in"]) == {"fresh interpreter"}


def test_chapter_states_its_claims() -> None:
    ids = set(chapters.claim_ids("transfer", kind=None))
    assert {"nested-pickles-slowest", "oob-beats-in-band", "seed003-threads-win",
            "shm-handoff-near-memcpy", "initializer-wins-big-state",
            "shm-beats-pickled-slices", "parquet-beats-pickle"} <= ids
    registered = claims.registered()
    assert all(registered[c].page == transfer.CHAPTER.page for c in ids)


def test_a_claim_evaluates_with_filled_statement() -> None:
    verdict = claims.evaluate("oob-beats-in-band")
    assert "{" not in verdict.statement
    assert "protocol 4" in verdict.evidence
