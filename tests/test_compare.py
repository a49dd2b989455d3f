"""``python -m mpguide compare``: the line-up it derives, its JSON, CSV, text and plot output,
a timing sanity check, and every kind of bad input as one clear paragraph (exit status 2),
within a bounded time and with nothing left running."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from mpguide import compare, executors, machine

#: The command under test.
COMMAND = [sys.executable, "-m", "mpguide", "compare"]
#: Seconds each item of ``usermod:nap`` sleeps, and how many items ``usermod:nap_items`` has.
NAP_S, NAP_ITEMS = 0.01, 12

#: A user's module, as compare meets it: importable by name from every start method.
USER_MODULE = textwrap.dedent(f'''
    import multiprocessing
    import os
    import threading
    import time

    MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loop-ran")

    def square(x):
        return x * x

    def nap(x):
        time.sleep({NAP_S})
        return x

    def boom(x):
        if x == 3:
            raise ValueError(f"cannot handle item {{x}}")
        return x

    def forever(x):
        while True:
            time.sleep(0.05)

    def crash(x):
        os._exit(3)

    def differs(x):
        return os.getpid()

    def returns_lock(x):
        return threading.Lock()

    def _after_loop():
        """True in a process started after compare ran the loop in its own process."""
        if multiprocessing.parent_process() is None:
            open(MARK, "w").close()
            return False
        return os.path.exists(MARK)

    def crash_after_loop(x):
        if _after_loop():
            os._exit(3)
        return x

    def raise_after_loop(x):
        if _after_loop():
            raise RuntimeError("no database connection in a worker")
        return x

    def stuck_after_loop(x):
        if _after_loop():
            time.sleep(60)
        return x

    as_lambda = lambda x: x

    def _make():
        def inner(x):
            return x
        return inner

    closure = _make()

    def items():
        return list(range(20))

    def nap_items():
        return list(range({NAP_ITEMS}))

    def empty():
        return []

    def with_lock():
        return [1, 2, threading.Lock(), 4, 5, 6, 7, 8]

    def broken_factory():
        raise RuntimeError("the database is down")
''')


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "usermod.py").write_text(USER_MODULE, encoding="utf-8")
    return folder


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command in ``folder`` in its own session; fail if it leaves a process or a
    file behind."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(compare.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    before = {p.name for p in folder.iterdir()}
    with subprocess.Popen([*COMMAND, *args], cwd=folder, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        stdout, stderr = proc.communicate(timeout=240)
    # The resource tracker and fork server exit on their own once the command has gone.
    session = [p for p in psutil.process_iter() if _session(p.pid) == proc.pid]
    _, alive = psutil.wait_procs(session, timeout=10)
    left = [p for p in alive if _status(p) != psutil.STATUS_ZOMBIE]
    for process in left:
        process.kill()
    assert not left, f"processes left running: {left}"
    made = {p.name for p in folder.iterdir()} - before - {"loop-ran", "__pycache__"}
    assert made <= {a for a in args if a.endswith(".png")}, f"files left behind: {made}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _status(process: psutil.Process) -> str:
    try:
        return str(process.status())
    except psutil.Error:
        return psutil.STATUS_ZOMBIE


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


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
    with pytest.raises(compare.CompareError, match=r"unknown tool 'dask'.*loop, threads"):
        compare.lineup(10, tools=["dask"])
    with pytest.raises(compare.CompareError, match="item list is empty"):
        compare.lineup(0)


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


def test_cli_json_records(user_dir: Path, start_method: str) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items", "--tools",
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


def test_cli_csv(user_dir: Path) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items", *TINY, "--csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["tool"] for r in rows] == ["loop", "pool"]
    assert list(rows[0]) == list(compare.RECORD_COLUMNS)
    assert rows[1]["chunksize"] == "1"
    assert float(rows[1]["median_s"]) > 0


def test_cli_text_and_plot(user_dir: Path) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items", *TINY,
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


def test_times_include_the_work(user_dir: Path, start_method: str) -> None:
    """Each map sleeps NAP_S per item: no configuration can beat the total over its workers
    (never a speedup asserted, only what physics allows)."""
    result = _cli(user_dir, "usermod:nap", "--items", "usermod:nap_items", "--tools",
                  "threads,pool", "--workers", "2", "--chunksizes", "1", "--repeats", "2", "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    total = NAP_S * NAP_ITEMS
    loop = next(r for r in records if r["tool"] == "loop")
    assert loop["median_s"] >= total
    for record in records:
        assert min(record["samples_s"]) >= total / record["workers"] * 0.99, record


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "pattern"), [
    (("usermod:as_lambda", "--items", "usermod:items"), "is a lambda"),
    (("usermod:closure", "--items", "usermod:items"), "closure"),
    (("usermod:square", "--items", "usermod:with_lock"), r"item 2 \(a lock\) cannot be pickled"),
    (("nosuchmodule:square", "--items", "usermod:items"), "cannot import module 'nosuchmodule'"),
    (("usermod:cube", "--items", "usermod:items"), "'cube' is not defined in module usermod"),
    (("usermod", "--items", "usermod:items"), "must be written MODULE:NAME"),
    (("usermod:square", "--items", "usermod:empty"), "the item list is empty"),
    (("usermod:square", "--items", "usermod:broken_factory"),
     "raised RuntimeError: the database is down"),
    (("usermod:square", "--items", "usermod:items", "--tools", "loop,dask"),
     "unknown tool 'dask'"),
    (("usermod:square", "--items", "usermod:items", "--plot", "no/such/folder/x.png"),
     "folder no/such/folder does not exist"),
])
def test_cli_bad_input(user_dir: Path, args: tuple[str, ...], pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, *args), pattern)


@pytest.mark.parametrize(("target", "pattern"), [
    ("usermod:boom", r"raised ValueError: cannot handle item 3 on items\[3\] == 3 .*usermod\.py"),
    ("usermod:forever", r"did not finish within 5 s .*items\[0\] == 0"),
    ("usermod:crash", r"killed the process running it .* items\[0\] == 0"),
    ("usermod:returns_lock", "returned a lock for item 0 .* cannot be pickled"),
    ("usermod:differs", r"the result of Pool\(2, chunksize=1, .*\) differs from the serial one"),
    ("usermod:crash_after_loop", r"a worker of Pool\(2, .*\) exited while tasks were pending"),
    ("usermod:raise_after_loop",
     "raised RuntimeError: no database connection in a worker in a worker process"),
    ("usermod:stuck_after_loop", r"Pool\(2, .*\) did not finish within 5 s.*--timeout"),
])
def test_cli_failing_function(user_dir: Path, start_method: str, target: str,
                              pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, target, "--items", "usermod:items", *TINY,
                               "--timeout", "5"), pattern)


@pytest.mark.parametrize("target", ["usermod:crash_after_loop", "usermod:raise_after_loop",
                                    "usermod:stuck_after_loop"])
def test_cli_failing_process_pool_executor(user_dir: Path, target: str) -> None:
    result = _cli(user_dir, target, "--items", "usermod:items", "--tools", "processpool",
                  "--workers", "2", "--chunksizes", "1", "--repeats", "1", "--timeout", "5")
    _assert_one_paragraph(result, r"ProcessPoolExecutor\(2|in a thread or worker process")
