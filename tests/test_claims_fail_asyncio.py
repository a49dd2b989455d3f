"""The claim that asyncio feeding a process pool beats both single designs
(mpguide.chapters.waiting) holds on records where it should and fails on records where it
should not: it is fed records of the real shape, with numbers like this machine's or like a
machine's that misses it. Nothing is measured. :data:`FAILING_CASES` declares the case to the
coverage test of ``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from mpguide import claims
from mpguide.chapters import waiting

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = {"asyncio-feeds-processes":
                 "test_claims_fail_asyncio.py::test_asyncio_claim_follows_its_records"}


def _io_cpu(asyncio_s: float) -> pd.DataFrame:
    """Two repeats of the five designs; asyncio feeding processes takes ``asyncio_s``."""
    ways = {"asyncio feeds processes": asyncio_s, "threads feed processes": 0.1,
            "threads only": 0.2, "processes only": 0.28, "serial": 0.54}
    rows = [{"way": way, "repeat": r, "seconds": v * (0.98 + 0.04 * r)}
            for way, v in ways.items() for r in range(2)]
    return pd.DataFrame(rows).assign(n_items=8, delay_ms=50, cpu_ms=10, workers=2, threads=8)


def _returning(value: pd.DataFrame) -> Callable[..., Any]:
    return lambda *_, **__: value.copy()


@pytest.mark.parametrize(("asyncio_s", "holds", "reads"), [
    (0.104, True, "took 0.10 s, 1.04x the time of threads feeding it (0.10 s)"),
    # Where it fails, the event loop falls behind threads alone (a loop that starts slowly,
    # or a machine where one thread cannot keep the pool busy).
    (0.25, False, "took 0.25 s, 2.50x the time of threads feeding it (0.10 s)"),
    # A loop faster than the threads' version reads true too: no direction word to flip.
    (0.08, True, "0.80x the time of threads feeding it"),
], ids=["holds", "fails", "holds-faster"])
def test_asyncio_claim_follows_its_records(asyncio_s: float, holds: bool, reads: str,
                                           monkeypatch: pytest.MonkeyPatch,
                                           read_verdict: Callable[..., claims.Verdict]) -> None:
    monkeypatch.setattr(waiting, "load_io_cpu", _returning(_io_cpu(asyncio_s)))
    verdict = read_verdict("asyncio-feeds-processes", holds)
    assert reads in verdict.statement, verdict.statement
    assert verdict.evidence


def test_asyncio_claim_fails_behind_processes_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """It also fails where processes alone are the faster single design and asyncio loses to
    them (few, long computations)."""
    frame = _io_cpu(0.15)
    frame.loc[frame.way == "processes only", "seconds"] = 0.12
    monkeypatch.setattr(waiting, "load_io_cpu", _returning(frame))
    verdict = claims.evaluate("asyncio-feeds-processes")
    assert not verdict.holds
    assert "0.12 s for processes alone" in verdict.statement
