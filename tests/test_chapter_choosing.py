"""Chapter 3, choosing between tools (mpguide.chapters.choosing): start methods (read from
chapters 1 and 2), the fork-with-threads deadlock, threads or processes, BLAS threads;
well-formed, bounded, leak-free.
"""

from __future__ import annotations

import ast
import dataclasses
import time
from pathlib import Path

import pandas as pd
import pytest

from mpguide import config, executors, machine, runner, workloads
from mpguide.chapters import choosing, overhead, pool_size, transfer, worker_memory
from mpguide.experiment import Experiment, Result


def test_start_methods_read_chapter_1_and_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def memory(mains: tuple[str, ...]) -> pd.DataFrame:
        return pd.DataFrame([
            {"process": process, "main": main, "start_method": method,
             "uss_mib": uss, "rss_mib": 2 * uss, "pss_mib": uss}
            for main in mains for method, uss in (("fork", 1.0), ("spawn", 8.0))
            for process in ("parent", "worker 0", "worker 1")])

    def startup() -> pd.DataFrame:
        return pd.DataFrame([{"start_method": m, "main": main, "pool": pool, "value": 0.01}
                             for m in ("fork", "spawn") for main in overhead.MAINS
                             for pool in ("first", "later")])

    monkeypatch.setattr(worker_memory, "load_worker_memory", memory)
    monkeypatch.setattr(overhead, "load_startup", startup)
    starts = choosing.load_start_methods()
    assert set(starts.main) == set(overhead.MAINS)
    assert "parent" not in set(starts.process)
    table = choosing.start_methods_table()
    assert len(table) == 2 * len(overhead.MAINS)
    assert table.set_index(["main", "method"]).loc[("light", "spawn"), "worker_uss_mib"] == 8.0
    assert table.first_pool_ms.tolist() == pytest.approx([10.0] * len(table))


def test_worker_memory_runs_under_a_heavy_main() -> None:
    params = {**worker_memory.worker_memory_params("numpy+pandas"), "start_methods": ["spawn"],
              "items": 10_000, "workers": 1}
    rows = runner.run_fresh(f"{worker_memory.__name__}:measure_worker_memory", params,
                            timeout=120, preamble=overhead.MAINS["numpy+pandas"])
    assert {r["main"] for r in rows} == {"numpy+pandas"}
    assert [r["process"] for r in rows] == ["parent", "worker 0"]
    assert rows[1]["uss_mib"] > 0


def test_fork_deadlock_demo_ends_within_its_timeout() -> None:
    params = choosing.fork_deadlock_params()
    start = time.monotonic()
    df = choosing.load_fork_deadlock().set_index("method")
    elapsed = time.monotonic() - start
    assert elapsed < params["wait_s"] * len(params["methods"]) + 60
    assert df.loc["fork", "outcome"] == "deadlocked"
    assert df.loc["fork", "waited_s"] < params["wait_s"] + 5
    assert df.loc["spawn", "outcome"] == "finished"


def test_threads_vs_processes(start_method: str) -> None:
    frames = []
    for name in choosing.THREAD_WORKLOADS:
        func, items = pool_size.WORKLOADS[name]
        exp = Experiment("t-threads", func, items, [executors.Threads(2), executors.Pool(2)],
                         params={"seconds": 1e-3, "count": 4}, startup=False)
        result = dataclasses.replace(exp, repeats=1, fresh=False, cache=False).run()
        frames.append(choosing.threads_frame(result, name))
    out = choosing.speedups(pd.concat(frames), ["workload"], "executor")
    assert set(out.executor) == {"serial", "threads", "processes"}
    assert (out[out.executor == "serial"].speedup == 1).all()


def test_blas_cap_reaches_the_workers(start_method: str) -> None:
    specs = [executors.Pool(2, chunksize=1), executors.Pool(2, chunksize=1, blas_threads=1)]
    threads = choosing.measure_blas_threads(specs=[s.to_dict() for s in specs])
    assert threads[specs[1].label] == 1
    exp = Experiment("t-blas", choosing.matmul_trace, [32] * 4, specs, startup=False)
    result = dataclasses.replace(exp, repeats=1, fresh=False, cache=False).run()
    df = choosing.blas_frame(result, threads)
    assert set(df.variant) == {"serial", "pool, default BLAS threads", "pool, BLAS capped at 1"}
    table = choosing.blas_table(df).set_index("variant")
    assert table.loc["pool, BLAS capped at 1", "blas_threads_per_worker"] == 1
    assert table.loc["serial", "speedup"] == pytest.approx(1.0)


def test_matmul_trace_is_rounded() -> None:
    assert choosing.matmul_trace(8) == round(workloads.matmul_task(8), 3)


def test_python_facts() -> None:
    facts = choosing.python_facts()
    assert facts["default_here"] in config.START_METHODS
    assert facts["fork_threads_warning_since"] == "3.12"


def test_ten_sums_items_are_one_array_ten_times() -> None:
    items = choosing.ten_sums_items(1024, 10)
    assert len(items) == 10
    assert all(item is items[0] for item in items)
    assert items[0].dtype == "float64"
    assert items[0].nbytes == 1024
    assert transfer.array_sum(items[0]) == 128


@pytest.mark.parametrize(("cores", "labels"), [
    (8, ["loop", "Threads(4)", "Threads(8)"]), (4, ["loop", "Threads(4)"])])
def test_ten_sums_plan_uses_the_usable_cores(cores: int, labels: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: cores)
    experiment = choosing.ten_sums_experiment()
    assert [e.label for e in experiment.executors] == labels
    assert experiment.params == {"nbytes": transfer.seed003_nbytes(), "count": 10}
    assert experiment.func is transfer.array_sum
    assert not experiment.startup


def test_ten_sums_table_sets_ours_beside_the_article() -> None:
    exp = dataclasses.replace(choosing.ten_sums_experiment(), repeats=1, fresh=False,
                              cache=False, params={"nbytes": 8 * 1024, "count": 10})
    df = exp.run().frame().assign(nbytes=8 * 1024)
    table = choosing.ten_sums_table(df)
    assert len(table) == len(exp.executors)
    published = table.iloc[0]
    assert published.array == "8 GiB"
    assert published.speedup == pytest.approx(3.07, abs=0.01)
    assert published.efficiency == pytest.approx(0.77, abs=0.01)
    ours = table.iloc[1:]
    assert (ours.array == "8 KiB").all()
    assert list(ours.parallel) == [min(t, machine.usable_cpus()) for t in ours.threads]
    assert (ours.efficiency == ours.speedup / ours.parallel).all()
    empty = Result("t-ten-sums", ()).frame().assign(nbytes=8 * 1024)  # a re-imported script
    assert choosing.ten_sums_table(empty).source.tolist() == [published.source]


def _ten_sums_statement(text: str) -> str:
    """The ``ten_sums = Experiment(...)`` statement of a gallery script or page."""
    lines = text[text.index("ten_sums = Experiment("):].splitlines()
    for end in range(1, len(lines) + 1):
        try:
            ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
        return "\n".join(lines[:end])
    raise AssertionError("no complete ten_sums statement")


@pytest.mark.parametrize("path", ["gallery/tuning/plot_threads_blas.py",
                                  "docs/guide/03-tuning.md"])
def test_gallery_and_page_declare_the_chapters_ten_sums(
        path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One measurement, three views: the claim reads the record the page and script show."""
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    namespace = {"Experiment": Experiment, "choosing": choosing, "transfer": transfer}
    text = (Path(__file__).resolve().parents[1] / path).read_text(encoding="utf-8")
    exec(_ten_sums_statement(text), namespace)  # noqa: S102 - our own page and script
    assert namespace["ten_sums"].declaration() == choosing.ten_sums_experiment().declaration()
