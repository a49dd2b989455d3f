"""The claim on the seed article's ten sums in a thread pool (mpguide.chapters.choosing) holds
on records where this machine's parallel efficiency is the article's, within the band, and
fails where it is not: it is fed records of the real shape (:func:`choosing.load_ten_sums`).
Nothing is measured. :data:`FAILING_CASES` declares it to the coverage test of
``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from mpguide import claims
from mpguide.chapters import choosing

CLAIM = "seed003-ten-sums-in-threads"

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = {CLAIM: "test_claims_fail_ten_sums.py::test_claim_follows_its_records"}


def _records(threads_s: dict[int, float], cores: int = 2, loop_s: float = 0.024) -> pd.DataFrame:
    """Three timed runs of the loop and of each thread pool (``threads_s``: workers ->
    median seconds), as :func:`choosing.load_ten_sums` returns them."""
    pools = {"loop": ("loop", 1, loop_s)} | {
        f"Threads({w})": ("threads", w, s) for w, s in threads_s.items()}
    rows = [{"repeat": r, "seconds": seconds * (0.99 + 0.01 * r), "label": label, "tool": tool,
             "workers": workers, "usable_cpus": cores}
            for label, (tool, workers, seconds) in pools.items() for r in range(3)]
    return pd.DataFrame(rows).assign(nbytes=32 << 20)


@pytest.mark.parametrize(("holds", "threads_s", "reads"), [
    (True, {4: 0.016, 2: 0.015}, "efficiency of 0.75"),
    (False, {4: 0.024, 2: 0.025}, "a difference of -0.27"),
], ids=["holds", "fails"])
def test_claim_follows_its_records(holds: bool, threads_s: dict[int, float], reads: str,
                                   monkeypatch: pytest.MonkeyPatch,
                                   read_verdict: Callable[..., claims.Verdict]) -> None:
    monkeypatch.setattr(choosing, "load_ten_sums", lambda: _records(threads_s))
    verdict = read_verdict(CLAIM, holds)
    assert reads in verdict.statement, verdict.statement
    assert "against 0.77 for the seed article's 3.07 with 4 threads" in verdict.statement
    assert "loop 0.024 s, 4 threads" in verdict.evidence


def test_an_efficiency_above_the_band_fails_too(monkeypatch: pytest.MonkeyPatch,
                                                read_verdict: Callable[..., claims.Verdict],
                                                ) -> None:
    """Four threads on eight cores, 3.9 times as fast as the loop (a cache holding the array
    could do that): an efficiency of 0.98 is within the band, 4.8 on four threads is not."""
    monkeypatch.setattr(choosing, "load_ten_sums",
                        lambda: _records({4: 0.024 / 3.9, 8: 0.004}, cores=8))
    assert "a difference of +0.21" in read_verdict(CLAIM, True).statement
    monkeypatch.setattr(choosing, "load_ten_sums",
                        lambda: _records({4: 0.024 / 4.8, 8: 0.004}, cores=8))
    assert "a difference of +0.43" in read_verdict(CLAIM, False).statement


def test_one_core_compares_nothing(monkeypatch: pytest.MonkeyPatch,
                                   read_verdict: Callable[..., claims.Verdict]) -> None:
    """On one usable core no two threads run at once: an efficiency near 1 there is no
    parallelism at all, so the claim fails and says why."""
    monkeypatch.setattr(choosing, "load_ten_sums", lambda: _records({4: 0.024, 1: 0.024}, 1))
    verdict = read_verdict(CLAIM, False)
    assert "1 here" in verdict.statement
    assert "One usable core" in verdict.evidence
