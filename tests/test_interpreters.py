"""Finding the interpreters of a machine (stub interpreters on a fake PATH and pyenv folder),
the standard-library probe under the running interpreter, and bounded probe runs that leave
nothing behind; the versions chapter's tables on those records."""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from mpguide import interpreters
from mpguide.chapters import versions
from mpguide.interpreters import Interpreter


def stub(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def python_stub(path: Path, version: tuple[int, int, int], free_threaded: bool = False,
                asked: Path | None = None) -> Path:
    """A stub that answers :func:`interpreters.describe` as that version would (and touches
    ``asked`` when run)."""
    answer = json.dumps({"implementation": "CPython", "version": list(version),
                         "executable": str(path), "free_threaded": free_threaded})
    touch = f"touch {asked}\n" if asked else ""
    return stub(path, f"{touch}echo '{answer}'")


@pytest.fixture
def machine_dirs(tmp_path: Path) -> dict[str, Any]:
    """A fake PATH folder and pyenv root holding stub interpreters of several versions."""
    bin_dir, more, root = tmp_path / "bin", tmp_path / "more", tmp_path / "pyenv"
    here = sys.version_info
    python_stub(bin_dir / f"python{here.major}.{here.minor}", (here.major, here.minor, 99))
    python_stub(more / "python3.10", (3, 10, 9))
    python_stub(more / "python3.13t", (3, 13, 1), free_threaded=True)
    stub(more / "python3.14", "echo 'pyenv: python3.14: command not found' >&2; exit 127")
    python_stub(root / "versions" / "3.12.4" / "bin" / "python3.12", (3, 12, 4))
    (more / "python3.12").symlink_to(root / "versions" / "3.12.4" / "bin" / "python3.12")
    old = python_stub(root / "versions" / "3.9.18" / "bin" / "python3.9", (3, 9, 18),
                      asked=tmp_path / "old-asked")
    shim = python_stub(root / "shims" / "python3.11", (3, 11, 0),
                       asked=tmp_path / "shim-asked")
    return {"path": os.pathsep.join(map(str, (root / "shims", bin_dir, more))), "root": root,
            "old": old, "shim": shim, "tmp": tmp_path}


def test_discovery_finds_each_version_once(machine_dirs: dict[str, Any]) -> None:
    found = interpreters.discover(machine_dirs["path"], machine_dirs["root"], listed="")
    here = interpreters.current()
    assert found[0] == here  # the running interpreter first, never replaced by a stub
    labels = [i.label for i in found]
    assert len(labels) == len(set(labels))
    assert {"3.10", "3.12", "3.13t"} <= set(labels)
    assert "3.14" not in labels  # a command that is not a Python
    by_label = {i.label: i for i in found}
    assert by_label["3.13t"].free_threaded
    if here.label != "3.12":  # the pyenv version, found once though also linked on PATH
        assert by_label["3.12"].version == "3.12.4"
    others = labels[1:]
    assert others == sorted(others, key=interpreters.LABELS.index)


def test_discovery_skips_old_versions_and_shims_without_asking(
        machine_dirs: dict[str, Any]) -> None:
    candidates = interpreters.candidates(machine_dirs["path"], machine_dirs["root"], listed="")
    assert str(machine_dirs["old"]) not in candidates
    assert str(machine_dirs["shim"]) not in candidates
    interpreters.discover(machine_dirs["path"], machine_dirs["root"], listed="")
    assert not (machine_dirs["tmp"] / "old-asked").exists()
    assert not (machine_dirs["tmp"] / "shim-asked").exists()
    real = [os.path.realpath(c) for c in candidates]
    assert len(real) == len(set(real))  # the symlinked 3.12 counted once


def test_listed_interpreters_replace_the_search(machine_dirs: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    minor = 12 if sys.version_info[:2] != (3, 12) else 10  # not the running one's
    listed = python_stub(machine_dirs["tmp"] / "mine" / "python", (3, minor, 7))
    monkeypatch.setenv(interpreters.ENV_VAR, str(listed))
    found = interpreters.discover(machine_dirs["path"], machine_dirs["root"])
    assert [(i.label, i.version) for i in found[1:]] == [(f"3.{minor}", f"3.{minor}.7")]


def test_describe_rejects_what_is_not_a_python_in_time(tmp_path: Path) -> None:
    garbage = stub(tmp_path / "python3.11", "echo 'Python 3.11.0'")
    slow = stub(tmp_path / "python3.12", "exec sleep 30")
    assert interpreters.describe(str(garbage)) is None
    start = time.monotonic()
    assert interpreters.describe(str(slow), timeout=0.5) is None
    assert time.monotonic() - start < 10
    assert interpreters.describe(str(tmp_path / "missing")) is None


#: The smallest probe: one worker, one repeat, tiny payloads.
TINY = {"workers": 1, "start_method": "fork", "repeats": 1, "map_items": 20,
        "pickle_floats": 1000, "pickle_bytes": 4096, "shm_bytes": 4096,
        "thread_task_s": 0.001, "timeout": 30}


@pytest.fixture(scope="module")
def tiny_record() -> dict[str, Any]:
    """The probe's record under the running interpreter, smallest sizes (bounded)."""
    return interpreters.run_probe(interpreters.current(), TINY, timeout=120)


def test_probe_runs_under_the_current_interpreter(tiny_record: dict[str, Any]) -> None:
    record = tiny_record
    assert record["python"] == interpreters.current().version
    assert set(record["pool_start_stop_s"]) == set(record["start_methods"])
    assert all(len(s) == 1 and s[0] > 0 for s in record["pool_start_stop_s"].values())
    assert set(record["pickle"]["floats"]) == {str(pickle.DEFAULT_PROTOCOL), "5"}
    assert record["pickle_default_protocol"] == pickle.DEFAULT_PROTOCOL
    assert record["shm_round_trip_s"][0] > 0
    assert (record["interpreter_pool"] is None) == (sys.version_info < (3, 14))
    row = versions.summary(record)
    assert row["start_stop_fork_s"] > 0
    assert row["workers"] == 1


def _group_members(pid_file: Path) -> list[psutil.Process]:
    alive = []
    for pid in map(int, pid_file.read_text().split()):
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def test_a_probe_that_overruns_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    hang = stub(tmp_path / "python3.12", f"sleep 60 &\necho $$ $! > {pids}\nwait")
    interpreter = Interpreter("3.12", "3.12.0", str(hang))
    start = time.monotonic()
    with pytest.raises(interpreters.ProbeError, match="did not finish within 1 s"):
        interpreters.run_probe(interpreter, TINY, timeout=1)
    assert time.monotonic() - start < 30
    assert pids.exists()
    assert not _group_members(pids)


def test_a_failing_probe_says_why(tmp_path: Path) -> None:
    broken = stub(tmp_path / "python3.12", "echo 'SyntaxError: invalid syntax' >&2; exit 1")
    with pytest.raises(interpreters.ProbeError, match=r"exit code 1.*SyntaxError"):
        interpreters.run_probe(Interpreter("3.12", "3.12.0", str(broken)), TINY, timeout=30)
    silent = stub(tmp_path / "python3.13", "echo 'no JSON here'")
    with pytest.raises(interpreters.ProbeError, match="printed no record"):
        interpreters.run_probe(Interpreter("3.13", "3.13.0", str(silent)), TINY, timeout=30)


def test_measure_cached_measures_each_interpreter_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(interpreter: Interpreter, params: Any, timeout: float) -> dict[str, Any]:
        calls.append(interpreter.label)
        return {"python": interpreter.version, "params": dict(params)}

    monkeypatch.setattr(interpreters, "run_probe", fake)
    here = interpreters.current()
    first = interpreters.measure_cached(here, TINY)
    assert interpreters.measure_cached(here, TINY) == first
    assert calls == [here.label]
    assert first is not None
    assert first["metadata"]["python"] == here.version


def test_versions_table_shows_no_number_for_absent_versions(
        tiny_record: dict[str, Any]) -> None:
    here = interpreters.current().label
    records = {here: tiny_record, "3.14": {"python": "3.14.0", "error": "timed out"}}
    table = versions.versions_table(records)
    assert list(table.index) == versions.row_labels(records)
    assert table.loc[here, "status"] == "measured"
    assert table.loc["3.14", "status"] == "probe failed: timed out"
    for label in set(interpreters.LABELS) - {here, "3.14"}:
        assert table.loc[label, "status"] == versions.ABSENT
        assert set(table.loc[label].drop("status")) == {""}
    assert not table.isna().any().any()
    documented = versions.documented_table(records)
    assert len(documented) == len(versions.DOCUMENTED)
    assert all(documented["source"].str.len() > 0)


def test_a_failed_probe_is_a_row_and_is_tried_again(tiny_record: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Interpreter("3.12", "3.12.0", "/nonexistent/bin/python3.12")
    real, calls = interpreters.run_probe, []

    def probe(interpreter: Interpreter, params: Any, timeout: float) -> dict[str, Any]:
        calls.append(interpreter.label)
        return dict(tiny_record) if interpreter.current else real(interpreter, params, timeout)

    monkeypatch.setattr(versions, "found", lambda: (interpreters.current(), broken))
    monkeypatch.setattr(interpreters, "run_probe", probe)
    records = versions.load_versions()
    assert "could not be started" in records["3.12"]["error"]
    assert versions.versions_table(records).loc["3.12", "status"].startswith("probe failed")
    versions.load_versions()
    assert calls == [interpreters.current().label, "3.12", "3.12"]  # the failure is not cached
