"""The command line (mpguide.cli): ``python -m mpguide advise`` prints the advice, and every
kind of bad input is one clear paragraph on stderr, exit status 2, no process left behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

#: A command runner: ``run(*args) -> CompletedProcess``.
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def advise_cli(user_dir: Path, run_alone: Run) -> Run:
    """``advise_cli(*args, method=None)``: ``python -m mpguide advise`` in ``user_dir``, alone."""
    def run(*args: str, method: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = ["--start-method", method] if method else []
        return run_alone([sys.executable, "-m", "mpguide", "advise", *args, "--card",
                          "card.json", "--time-budget", "0.5", "--timeout", "3", *extra],
                         user_dir, timeout=120)

    return run


def _assert_one_paragraph(result: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mpguide advise: ")
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert re.search(pattern, result.stderr), result.stderr


def test_cli_json(advise_cli: Run, start_method: str) -> None:
    result = advise_cli("usermod:square", "--items", "usermod:items", "--json",
                        method=start_method)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["tool"] == "serial"
    assert {p["start_method"] for p in data["predictions"]} == {start_method}


def test_cli_text(advise_cli: Run) -> None:
    result = advise_cli("usermod:square", "--items", "usermod:items")
    assert result.returncode == 0, result.stderr
    assert "Recommendation: keep the plain loop" in result.stdout


@pytest.mark.parametrize(("target", "factory", "pattern"), [
    ("usermod:as_lambda", "usermod:items", "is a lambda"),
    ("usermod:closure", "usermod:items", "closure"),
    ("usermod:square", "usermod:with_lock", r"item 2 \(a lock\) cannot be pickled"),
    ("nosuchmodule:square", "usermod:items", "cannot import module 'nosuchmodule'"),
    ("usermod:cube", "usermod:items", "'cube' is not defined in module usermod.*square"),
    ("usermod:square", "usermod:empty", "the item list is empty"),
    ("usermod:square", "usermod:broken_factory", "raised RuntimeError: the database is down"),
    ("usermod", "usermod:items", "must be written MODULE:NAME"),
])
def test_cli_bad_input_before_any_process(advise_cli: Run, target: str, factory: str,
                                          pattern: str) -> None:
    _assert_one_paragraph(advise_cli(target, "--items", factory), pattern)


@pytest.mark.parametrize(("target", "pattern"), [
    ("usermod:boom", "raised ValueError: cannot handle item 0"),
    ("usermod:forever", "did not finish profiling within 3 s"),
    ("usermod:crash", "died"),
])
def test_cli_failing_function(advise_cli: Run, start_method: str, target: str,
                              pattern: str) -> None:
    _assert_one_paragraph(advise_cli(target, "--items", "usermod:items", method=start_method),
                          pattern)


def test_advise_says_what_it_probes(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The machine's and the peers' costs take minutes the first time: each step is a progress
    line on stderr, and what was probed is what the advice is computed from."""
    from mpguide import card, cli, peer_probes
    from mpguide.costs import EXAMPLE_PEER_COSTS, EXAMPLE_PROBES

    def machine_card(progress: Callable[[str], None] | None = None,
                     **_: object) -> dict[str, object]:
        assert progress is not None
        progress("[1/1] pool start and stop")
        return {"probes": EXAMPLE_PROBES}

    def peer_card(progress: Callable[[str], None] | None = None,
                  **_: object) -> dict[str, object]:
        assert progress is not None
        progress("[1/1] dask start, stop and overhead per task")
        return dict(EXAMPLE_PEER_COSTS)

    monkeypatch.setattr(card, "machine_card", machine_card)
    monkeypatch.setattr(peer_probes, "peer_card", peer_card)
    status = cli.main(["advise", "mpguide.workloads:square", "--items",
                       "mpguide.chapters.advisor:tiny_items", "--start-method", "fork",
                       "--time-budget", "0.5", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "probing [1/1] pool start and stop\n" in captured.err
    assert "probing [1/1] dask start, stop and overhead per task\n" in captured.err
    tools = {p.get("tool", "pool") for p in json.loads(captured.out)["predictions"]}
    assert set(EXAMPLE_PEER_COSTS) <= tools  # the probed peers' costs were used
