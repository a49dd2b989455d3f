"""The tracer (mpguide.tracer) and ``python -m mpguide trace``: one record per chunk, stamps in
causal order on one clock, compute spans that add up to the loop's time, phases that tile the
wall time, a Gantt row per worker, clear errors, and nothing left running."""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import psutil
import pytest

from mpguide import executors, plotting, pools, tracer, workloads

#: A command runner: ``run(*args) -> CompletedProcess``.
Run = Callable[..., subprocess.CompletedProcess[str]]

#: Seconds per item of the sleeping workload: long enough that a few hundred µs of scheduling
#: noise stays far inside the 15% margins, and unaffected by how busy the CPUs are.
NAP_S = 0.005


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_one_record_per_chunk_in_input_order(start_method: str) -> None:
    items = list(range(23))
    run = tracer.trace(workloads.square, items, executors.Pool(2, chunksize=4))
    assert [c["chunk"] for c in run.chunks] == list(range(6))
    assert [c["items"] for c in run.chunks] == [4, 4, 4, 4, 4, 3]
    assert [c["first"] for c in run.chunks] == [0, 4, 8, 12, 16, 20]
    assert {c["worker"] for c in run.chunks} <= {0, 1}
    assert [w["worker"] for w in run.workers] == [0, 1]
    assert sum(w["items"] for w in run.workers) == len(items)
    assert all(_gone(w["pid"]) for w in run.workers), "the pool's workers must be stopped"
    summary = run.summary()
    assert (summary["chunks"], summary["chunksize"], summary["start_method"]) == \
        (6, 4, start_method)


def test_default_chunksize_is_pools(start_method: str) -> None:
    run = tracer.trace(workloads.square, range(50), executors.Pool(2))
    assert run.summary()["chunksize"] == executors.default_chunksize(50, 2)
    assert len(run.chunks) == len(tracer.chunks_of(list(range(50)),
                                                   executors.default_chunksize(50, 2)))


def test_stamps_follow_each_chunk_on_one_clock(start_method: str) -> None:
    run = tracer.trace(workloads.sleep_task, [0.002] * 12, executors.Pool(2, chunksize=2))
    for c in run.chunks:
        order = [c[k] for k in ("sent", "started", "finished", "returned", "received")]
        assert order == sorted(order), c
        assert c["sent"] <= c["queued"] <= c["received"], c
        assert c["finished"] - c["started"] >= 2 * 0.002
    ready = {w["pid"]: w["ready"] for w in run.workers}
    assert all(0 < ready[c["pid"]] <= c["started"] for c in run.chunks)
    assert max(c["received"] for c in run.chunks) <= run.summary()["wall_s"]


def test_compute_spans_add_up_to_the_loops_time(start_method: str) -> None:
    items = [NAP_S] * 40
    started = time.perf_counter()
    for item in items:
        workloads.sleep_task(item)
    loop = time.perf_counter() - started
    run = tracer.trace(workloads.sleep_task, items, executors.Pool(2, chunksize=3))
    assert run.summary()["compute_s"] == pytest.approx(loop, rel=0.15)


def test_phases_tile_the_wall_time(start_method: str) -> None:
    run = tracer.trace(workloads.sleep_task, [0.002] * 10, executors.Pool(2, chunksize=1))
    summary = run.summary()
    assert list(summary["phases"]) == list(tracer.PHASES)
    assert sum(summary["phases"].values()) == pytest.approx(summary["wall_s"], abs=1e-9)
    assert min(summary["phases"].values()) >= 0
    for line in run.segments().values():
        assert line[0][1] == 0.0
        assert line[-1][2] == pytest.approx(summary["wall_s"])
        assert all(a[2] == b[1] for a, b in itertools.pairwise(line))
    steps = summary["per_chunk"]
    assert list(steps) == list(tracer.STEPS)
    assert steps["computing"] == pytest.approx(0.002, rel=0.5)


def test_heavy_items_last_leave_one_worker_alone() -> None:
    # Pool's default chunksize puts the four heavy items in the last chunk: one worker takes
    # it while the other runs out of work after ~30 ms and waits for ~90 ms.
    items = [0.001] * 28 + [0.03] * 4
    run = tracer.trace(workloads.sleep_task, items, executors.Pool(2))
    summary = run.summary()
    assert summary["chunksize"] == 4
    assert summary["alone_s"] > 0.06
    assert summary["phases"]["imbalance"] > 0.03
    text = tracer.render_text(run)
    assert "one worker computed alone" in text


def test_plot_has_a_row_per_worker_even_an_idle_one(start_method: str) -> None:
    # One chunk for three workers: two of them never compute, and still get their row.
    run = tracer.trace(workloads.square, range(6), executors.Pool(3, chunksize=6))
    assert len(run.workers) == 3
    assert sum(w["chunks"] for w in run.workers) == 1
    fig = run.plot()
    try:
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        assert labels == [f"worker {w['worker']}\npid {w['pid']}" for w in run.workers]
        assert start_method in (plotting.caption_of(fig) or "")
    finally:
        plt.close(fig)


def test_to_dict_is_json_and_reads_back() -> None:
    run = tracer.trace(workloads.square, range(10), executors.Pool(2, chunksize=3))
    data = json.loads(json.dumps(run.to_dict()))
    assert set(data) == {"chunks", "workers", "summary"}
    assert len(data["chunks"]) == 4
    assert {"worker", "items", "sent", "started", "finished", "received"} <= set(data["chunks"][0])
    again = tracer.Trace.from_dict(data)
    assert again.summary() == run.summary()
    assert list(run.table()["phase"])[-1] == "wall"
    assert len(run.to_frame()) == 4


def test_no_record_reads_as_an_empty_trace() -> None:
    # What a spawn worker re-running a gallery script gets from the cache on a miss.
    empty = tracer.Trace.from_dict(None)
    assert empty.to_frame().empty
    assert list(empty.to_frame().columns) == tracer.CHUNK_FIELDS
    assert empty.table().empty
    fig = empty.plot()
    try:
        assert not fig.axes[0].patches
    finally:
        plt.close(fig)


def test_workers_retired_by_maxtasksperchild_are_traced(start_method: str) -> None:
    spec = executors.Pool(2, chunksize=1, maxtasksperchild=2)
    run = tracer.trace(workloads.square, range(8), spec)
    assert len(run.chunks) == 8
    assert len(run.workers) > 2
    assert {c["worker"] for c in run.chunks} <= {w["worker"] for w in run.workers}


def test_worker_death_is_an_error_not_a_hang(start_method: str) -> None:
    started = time.monotonic()
    with pytest.raises(pools.WorkerDiedError, match="traced Pool"):
        tracer.trace(os._exit, [3, 3, 3, 3], executors.Pool(2, chunksize=1), timeout=30)
    assert time.monotonic() - started < 20


def test_stuck_function_times_out() -> None:
    with pytest.raises(pools.PoolTimeoutError, match="within 1 s"):
        tracer.trace(workloads.sleep_task, [3600], executors.Pool(1), timeout=1)


def test_raising_function_is_a_worker_error() -> None:
    with pytest.raises(pools.WorkerError, match="TypeError"):
        tracer.trace(workloads.spin, ["not a number"], executors.Pool(1))


def test_a_partial_is_traced_and_named() -> None:
    func = functools.partial(workloads.make_payload, nbytes=8)
    run = tracer.trace(func, ["bytes"] * 4, executors.Pool(1, chunksize=2))
    assert "make_payload" in run.summary()["function"]
    assert len(run.chunks) == 2


@pytest.mark.parametrize(("func", "items", "spec", "error", "pattern"), [
    (workloads.square, [], None, ValueError, "item list is empty"),
    (workloads.square, [1], executors.Threads(2), TypeError, "Pool runs only"),
    (lambda x: x, [1], None, pools.UnpicklableError, "lambda"),
])
def test_bad_input_before_any_process(func: Callable[[object], object], items: list[object],
                                      spec: executors.Executor | None,
                                      error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        tracer.trace(func, items, spec)


def test_overhead_pairs_plain_and_traced_runs() -> None:
    result = tracer.overhead(workloads.sleep_task, [0.001] * 8,
                             executors.Pool(2, chunksize=1), repeats=2)
    assert len(result["plain_s"]) == len(result["traced_s"]) == 2
    assert min(result["plain_s"] + result["traced_s"]) > 4 * 0.001
    ratios = [t / p - 1 for t, p in zip(result["traced_s"], result["plain_s"], strict=True)]
    assert result["overhead"] == pytest.approx(sum(ratios) / 2)


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def trace_cli(user_dir: Path, run_alone: Run) -> Run:
    """``trace_cli(*args)``: ``python -m mpguide trace`` in ``user_dir``, alone."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_alone([sys.executable, "-m", "mpguide", "trace", *args], user_dir,
                         timeout=120)

    return run


def test_cli_json(trace_cli: Run, start_method: str) -> None:
    result = trace_cli("usermod:nap", "--items", "usermod:nap_items", "--workers", "2",
                       "--chunksize", "5", "--start-method", start_method, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [c["items"] for c in data["chunks"]] == [5, 5, 2]
    assert len(data["workers"]) == 2
    assert data["summary"]["start_method"] == start_method
    assert data["summary"]["compute_s"] >= 12 * 0.01


def test_cli_text_and_plot(trace_cli: Run, user_dir: Path) -> None:
    result = trace_cli("usermod:nap", "--items", "usermod:nap_items", "--workers", "2",
                       "--plot", "timeline.png")
    assert result.returncode == 0, result.stderr
    assert re.search(r"computing\s+\d+\.\d+ s", result.stdout), result.stdout
    assert "wall" in result.stdout
    assert (user_dir / "timeline.png").stat().st_size > 0


@pytest.mark.parametrize(("args", "pattern"), [
    (("usermod:cube", "--items", "usermod:items"), "'cube' is not defined in module usermod"),
    (("nosuchmodule:square", "--items", "usermod:items"), "cannot import module"),
    (("usermod:as_lambda", "--items", "usermod:items"), "is a lambda"),
    (("usermod:square", "--items", "usermod:empty"), "item list is empty"),
    (("usermod:square", "--items", "usermod:with_lock"), r"item 2 \(a lock\)"),
    (("usermod:square", "--items", "usermod:items", "--plot", "no/such/dir/x.png"),
     "does not exist"),
])
def test_cli_bad_input_is_one_paragraph(trace_cli: Run, args: tuple[str, ...],
                                        pattern: str) -> None:
    result = trace_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mpguide trace: "), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert re.search(pattern, result.stderr), result.stderr


@pytest.mark.parametrize("option", [("--workers", "0"), ("--chunksize", "many"),
                                    ("--start-method", "threads")])
def test_cli_refuses_what_is_not_a_pool_option(trace_cli: Run, option: tuple[str, str]) -> None:
    result = trace_cli("usermod:square", "--items", "usermod:items", *option)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"argument {option[0]}" in result.stderr


def test_the_advisors_trace_command_round_trips_through_the_parser() -> None:
    """``advise`` ends with a ``trace`` line for a Pool recommendation: it parses back to the
    same configuration."""
    import shlex

    from mpguide import cli

    line = cli.trace_command("m:f", "m:items", workers=3, chunksize=9, start_method="spawn")
    args = cli.build_parser().parse_args(shlex.split(line)[3:])
    assert (args.command, args.function, args.items, args.workers, args.chunksize,
            args.start_method, args.plot) == ("trace", "m:f", "m:items", 3, 9, "spawn",
                                              "timeline.png")
