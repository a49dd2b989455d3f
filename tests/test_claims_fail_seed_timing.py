"""The claim on the seed article's per-task timing (mpguide.chapters.seed_timing) holds on
records where the workers' time dominates and fails where the block is mostly start-up or a
task runs much slower in a worker. Nothing is measured: ``load_seed_timing`` is replaced by
records of the real shape."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from mpguide import claims
from mpguide.chapters import seed_timing

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = {"seed001-timing-work-dominates":
                 "test_claims_fail_seed_timing.py::test_seed_timing_claim_follows_its_records"}


def _records(pool_wall_s: float, pool_work_s: float, workers: int = 2) -> pd.DataFrame:
    """Three interleaved runs: the loop took 0.60 s of work, the pool ``pool_wall_s`` wall
    time for ``pool_work_s`` of its workers' seconds."""
    rows = []
    for repeat in range(3):
        rows.append({"way": "loop", "repeat": repeat, "workers": 0, "wall_s": 0.61,
                     "work_s": 0.60})
        rows.append({"way": "pool", "repeat": repeat, "workers": workers,
                     "wall_s": pool_wall_s, "work_s": pool_work_s})
    return pd.DataFrame(rows).assign(items=100, chunksize=5, start_method="spawn")


@pytest.mark.parametrize(("pool", "holds", "reads"), [
    ((0.36, 0.62), True, "computed for 86%"),
    ((1.50, 0.62), False, "computed for 21%"),  # the block is mostly starting the pool
    ((0.70, 1.20), False, "2.00x"),  # a task twice as slow in a worker (a shared core)
], ids=["holds", "start-up dominates", "slower in a worker"])
def test_seed_timing_claim_follows_its_records(pool: tuple[float, float], holds: bool,
                                              reads: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              read_verdict: Callable[..., claims.Verdict]
                                              ) -> None:
    records = _records(*pool)  # the pool's wall time and its workers' seconds
    monkeypatch.setattr(seed_timing, "load_seed_timing", lambda *_: records.copy())
    verdict = read_verdict("seed001-timing-work-dominates", holds)
    assert reads in verdict.statement, verdict.statement
    assert "Pool(2)" in verdict.statement
