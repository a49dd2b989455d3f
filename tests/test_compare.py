"""``python -m mpguide compare``: the line-up it derives, its JSON, CSV, text and plot output,
a timing sanity check, and every kind of bad input as one clear paragraph (exit status 2),
within a bounded time and with nothing left running."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from mpguide import compare, executors, machine

#: The command under test.
COMMAND = [sys.executable, "-m", "mpguide", "compare"]
#: A command runner: ``run(*args) -> CompletedProcess``.
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def compare_cli(user_dir: Path, run_alone: Run) -> Run:
    """``compare_cli(*args)``: the command in ``user_dir``, alone; fail if it leaves a file."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        before = {p.name for p in user_dir.iterdir()}
        result = run_alone([*COMMAND, *args], user_dir, timeout=240)
        made = {p.name for p in user_dir.iterdir()} - before - {"loop-ran", "__pycache__"}
        assert made <= {a for a in args if a.endswith(".png")}, f"files left behind: {made}"
        return result

    return run


def _assert_one_paragraph(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mpguide compare: "), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert re.search(pattern, result.stderr), result.stderr
    assert result.stdout == ""


#: Options that keep a run tiny: one Pool, one timed run.
TINY = ("--tools", "pool", "--workers", "2", "--chunksizes", "1", "--repeats", "1")


# --- the line-up ----------------------------------------------------------------------------


def test_default_lineup_is_derived_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    labels = [s.label for s in compare.lineup(1000, start_methods=["spawn"])]
    assert labels == [
        "loop", "Threads(8)",
        "Pool(4, chunksize=1, spawn)", "Pool(4, default chunksize, spawn)",
        "Pool(4, chunksize=250, spawn)",
        "Pool(8, chunksize=1, spawn)", "Pool(8, default chunksize, spawn)",
        "Pool(8, chunksize=125, spawn)",
        "ProcessPoolExecutor(8, chunksize=1, spawn)",
        f"ProcessPoolExecutor(8, chunksize={executors.default_chunksize(1000, 8)}, spawn)",
    ]


def test_lineup_on_one_core_and_few_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 1)
    # 3 items on one worker: Pool's default is 1 chunk of 1 ... so no duplicate configurations.
    specs = compare.lineup(3, tools=["pool", "processpool"], start_methods=["fork"])
    labels = [s.label for s in specs]
    assert len(labels) == len(set(labels))
    assert labels[0] == "loop"
    assert {s.parallelism for s in specs[1:]} == {1}


def test_lineup_overrides_and_start_methods() -> None:
    specs = compare.lineup(100, tools=["pool", "processpool"], workers=[2, 3],
                           chunksizes=[1, None, 7], start_methods=["fork", "spawn"])
    pools_ = [s for s in specs if isinstance(s, executors.Pool)]
    assert len(pools_) == 2 * 2 * 3
    assert {s.chunksize for s in pools_} == {1, None, 7}
    # ProcessPoolExecutor's "default" is Pool's default value (its own default is 1).
    ppe = {(s.workers, s.chunksize) for s in specs if isinstance(s, executors.ProcessPool)}
    assert ppe == {(w, c) for w in (2, 3) for c in (1, executors.default_chunksize(100, w), 7)}
    assert {getattr(s, "start_method", None) for s in specs} == {None, "fork", "spawn"}


def test_lineup_refuses_unknown_tool_and_empty_items() -> None:
    with pytest.raises(compare.CompareError, match=r"unknown tool 'ray'.*loop, threads"):
        compare.lineup(10, tools=["ray"])
    with pytest.raises(compare.CompareError, match="item list is empty"):
        compare.lineup(0)


def test_lineup_points_dask_at_a_running_scheduler() -> None:
    """With an address, Dask's worker count is the cluster's unless given; other tools keep
    this machine's."""
    specs = compare.lineup(10, tools=["dask", "threads"], address="tcp://127.0.0.1:8786")
    dask = [s for s in specs if s.tool == "dask"]
    assert dask
    assert {s.address for s in dask} == {"tcp://127.0.0.1:8786"}  # type: ignore[attr-defined]
    assert {s.workers for s in dask} == {None}  # type: ignore[attr-defined]
    assert next(s for s in specs if s.tool == "threads").parallelism >= 1
    given = compare.lineup(10, tools=["dask"], workers=[3], address="tcp://127.0.0.1:8786")
    assert {s.workers for s in given if s.tool == "dask"} == {3}  # type: ignore[attr-defined]


def test_the_default_lineup_is_the_standard_library() -> None:
    assert {s.tool for s in compare.lineup(10)} == set(compare.DEFAULT_TOOLS)


def test_verify_command_round_trips_through_the_parser() -> None:
    import argparse
    import shlex

    line = compare.verify_command("m:f", "m:items", "pool", workers=3, chunksize=9,
                                  start_method="spawn", blas_threads=1)
    parser = argparse.ArgumentParser()
    from mpguide.cli import compare_arguments

    compare_arguments(parser)
    args = parser.parse_args(shlex.split(line)[4:])
    assert (args.function, args.items, args.tools, args.workers, args.chunksizes,
            args.start_methods, args.blas_threads) == (
        "m:f", "m:items", ["loop", "pool"], [3], [9, None], ["spawn"], 1)
    assert compare.verify_command("m:f", "m:items", "threads", workers=4).endswith(
        "--tools loop,threads --workers 4")


# --- output ---------------------------------------------------------------------------------


def test_cli_json_records(compare_cli: Run, start_method: str) -> None:
    result = compare_cli("usermod:square", "--items", "usermod:few_items", "--tools",
                         "loop,threads,pool,processpool", "--workers", "2", "--chunksizes",
                         "1,default", "--repeats", "2", "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    labels = [r["label"] for r in records]
    assert labels == ["loop", "Threads(2)", f"Pool(2, chunksize=1, {start_method})",
                      f"Pool(2, default chunksize, {start_method})",
                      f"ProcessPoolExecutor(2, chunksize=1, {start_method})",
                      f"ProcessPoolExecutor(2, chunksize=3, {start_method})"]
    required = {"label", "tool", "workers", "chunksize", "start_method", "median_s", "iqr_s",
                "speedup"}
    assert all(required <= set(r) for r in records)
    by_label = {r["label"]: r for r in records}
    default = by_label[f"Pool(2, default chunksize, {start_method})"]
    assert default["chunksize"] is None
    assert default["chunksize_used"] == executors.default_chunksize(20, 2)
    assert by_label["loop"]["start_method"] is None
    assert by_label["loop"]["speedup"] == pytest.approx(1.0)
    for record in records:
        assert record["n_items"] == 20
        assert len(record["samples_s"]) == record["repeats"] == 2
        assert record["median_s"] > 0
        assert math.isclose(record["speedup"],
                            by_label["loop"]["median_s"] / record["median_s"])


def test_cli_csv(compare_cli: Run) -> None:
    result = compare_cli("usermod:square", "--items", "usermod:few_items", *TINY, "--csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["tool"] for r in rows] == ["loop", "pool"]
    assert list(rows[0]) == list(compare.RECORD_COLUMNS)
    assert rows[1]["chunksize"] == "1"
    assert float(rows[1]["median_s"]) > 0


def test_cli_text_and_plot(compare_cli: Run, user_dir: Path) -> None:
    result = compare_cli("usermod:square", "--items", "usermod:few_items", *TINY,
                         "--plot", "cmp.png")
    assert result.returncode == 0, result.stderr
    assert (user_dir / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("usermod:square over 20 items")
    assert re.match(r"label\s+median_s\s+iqr_s\s+speedup", lines[1])
    assert lines[2].startswith("loop ")
    assert lines[-2].startswith("fastest: ")
    assert "usable cores" in lines[-1]
    # Not a terminal: the progress bar stays off and stderr is empty.
    assert result.stderr == ""


def test_times_include_the_work(compare_cli: Run, usermod: ModuleType, start_method: str) -> None:
    """Each map sleeps ``NAP_S`` per item: no configuration can beat the total over its
    workers (never a speedup asserted, only what physics allows)."""
    result = compare_cli("usermod:nap", "--items", "usermod:nap_items", "--tools",
                         "threads,pool", "--workers", "2", "--chunksizes", "1", "--repeats", "2",
                         "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    total = usermod.NAP_S * len(usermod.nap_items())
    loop = next(r for r in records if r["tool"] == "loop")
    assert loop["median_s"] >= total
    for record in records:
        assert min(record["samples_s"]) >= total / record["workers"] * 0.99, record


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "pattern"), [
    (("usermod:as_lambda", "--items", "usermod:few_items"), "is a lambda"),
    (("usermod:closure", "--items", "usermod:few_items"), "closure"),
    (("usermod:square", "--items", "usermod:with_lock"), r"item 2 \(a lock\) cannot be pickled"),
    (("nosuchmodule:square", "--items", "usermod:few_items"), "cannot import module 'nosuchmodule'"),
    (("usermod:cube", "--items", "usermod:few_items"), "'cube' is not defined in module usermod"),
    (("usermod", "--items", "usermod:few_items"), "must be written MODULE:NAME"),
    (("usermod:square", "--items", "usermod:empty"), "the item list is empty"),
    (("usermod:square", "--items", "usermod:broken_factory"),
     "raised RuntimeError: the database is down"),
    (("usermod:square", "--items", "usermod:few_items", "--tools", "loop,ray"),
     "unknown tool 'ray'"),
    (("usermod:square", "--items", "usermod:few_items", "--plot", "no/such/folder/x.png"),
     "folder no/such/folder does not exist"),
])
def test_cli_bad_input(compare_cli: Run, args: tuple[str, ...], pattern: str) -> None:
    _assert_one_paragraph(compare_cli(*args), pattern)


@pytest.mark.parametrize(("target", "pattern"), [
    ("usermod:boom", r"raised ValueError: cannot handle item 0 on items\[0\] == 0 .*usermod\.py"),
    ("usermod:forever", r"did not finish within 5 s .*items\[0\] == 0"),
    ("usermod:crash", r"killed the process running it .* items\[0\] == 0"),
    ("usermod:returns_lock", "returned a lock for item 0 .* cannot be pickled"),
    ("usermod:differs", r"the result of Pool\(2, chunksize=1, .*\) differs from the serial one"),
    ("usermod:crash_after_loop", r"a worker of Pool\(2, .*\) exited while tasks were pending"),
    ("usermod:raise_after_loop",
     "raised RuntimeError: no database connection in a worker in a worker process"),
    ("usermod:stuck_after_loop", r"Pool\(2, .*\) did not finish within 5 s.*--timeout"),
])
def test_cli_failing_function(compare_cli: Run, start_method: str, target: str,
                              pattern: str) -> None:
    _assert_one_paragraph(compare_cli(target, "--items", "usermod:few_items", *TINY,
                                      "--timeout", "5"), pattern)


@pytest.mark.parametrize("target", ["usermod:crash_after_loop", "usermod:raise_after_loop",
                                    "usermod:stuck_after_loop"])
def test_cli_failing_process_pool_executor(compare_cli: Run, target: str) -> None:
    result = compare_cli(target, "--items", "usermod:few_items", "--tools", "processpool",
                         "--workers", "2", "--chunksizes", "1", "--repeats", "1", "--timeout", "5")
    _assert_one_paragraph(result, r"ProcessPoolExecutor\(2|in a thread or worker process")
