"""The claim about what tracing costs (mpguide.chapters.trace_cost) holds on records where the
stamps cost little and fails where they cost more than promised. Nothing is measured: the
chapter's ``load_trace_cost`` is replaced by a record of the real shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mpguide import claims
from mpguide.chapters import trace_cost

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = {"tracing-costs-little":
                 "test_claims_fail_trace.py::test_tracing_claim_follows_its_records"}


def _record(overhead: float) -> dict[str, Any]:
    """A :func:`mpguide.tracer.measure_overhead` record whose median pair differs by
    ``overhead``."""
    return {"label": "Pool(2, chunksize=1, fork)", "items": 200, "repeats": 7,
            "plain_median_s": 0.125, "traced_median_s": 0.125 * (1 + overhead),
            "overhead": overhead, "overhead_iqr": 0.02, "overhead_best": overhead / 2}


@pytest.mark.parametrize(("overhead", "holds", "reads"),
                         [(0.012, True, "+1.2%"), (-0.004, True, "-0.4%"),
                          (0.081, False, "+8.1%")], ids=["holds", "faster", "fails"])
def test_tracing_claim_follows_its_records(overhead: float, holds: bool, reads: str,
                                           monkeypatch: pytest.MonkeyPatch,
                                           read_verdict: Callable[..., claims.Verdict]) -> None:
    monkeypatch.setattr(trace_cost, "load_trace_cost", lambda *_: _record(overhead))
    verdict = read_verdict("tracing-costs-little", holds)
    assert f"by {reads}" in verdict.statement, verdict.statement
    assert "1 ms" in verdict.statement
