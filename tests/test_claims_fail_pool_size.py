"""The claims of how many workers to give a Pool on a busy or a capped machine
(mpguide.chapters.pool_size, .busy_machine) hold on records where they should and fail on
records where they should not: each is fed records of the real shape, with numbers like this
machine's or like those of a machine that misses the claim. Nothing is measured.
:data:`FAILING_CASES` declares them to the coverage test of ``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from mpguide import claims
from mpguide.chapters import busy_machine, pool_size

#: What a case patches: (module, name of its ``load_*`` function) -> the frame it returns.
Patches = dict[tuple[ModuleType, str], pd.DataFrame]


def _sweep(speedups: dict[int, float], usable: int, reported: int,
           source: str = "affinity mask") -> pd.DataFrame:
    """Rows of the pool-size sweep's pure-Python workload: two runs per worker count (0 is
    the loop, 1 s) at the given speedups."""
    rows = [{"workers": w, "seconds": s / speedup, "repeat": r}
            for w, speedup in {0: 1.0, **speedups}.items() for r, s in enumerate((0.99, 1.01))]
    return pd.DataFrame(rows).assign(workload="spin", usable_cpus=usable, cpu_count=reported,
                                     usable_cpus_from=source)


def _cores_minus_one(holds: bool) -> tuple[Patches, str]:
    """Two cores; where it fails, the second core added little (a busy or throttled one)."""
    both = 1.9 if holds else 1.1
    frame = _sweep({1: 1.0, 2: both, 3: both, 4: both}, usable=2, reported=2)
    return ({(pool_size, "load_pool_size"): frame}, "kept 53%" if holds else "kept 91%")


def _cap(holds: bool) -> tuple[Patches, str]:
    """A container: 16 CPUs reported, a quota of 8; where it fails, the 75% cap (6) beats all
    8 (as hyperthreads sharing cores can make it)."""
    top = 7.2 if holds else 5.2
    frame = _sweep({1: 1.0, 2: 1.9, 4: 3.7, 6: 5.5, 8: top, 12: top, 16: top}, usable=8,
                   reported=16, source="cgroup CPU quota 8")
    return ({(pool_size, "load_pool_size"): frame},
            "ran 1.31x faster than Pool(6)" if holds else "ran 1.06x slower than Pool(6)")


def _busy(holds: bool, default_slower: bool = False) -> pd.DataFrame:
    """One core kept busy on two: where it fails, Pool(2) was slower than Pool(1) (the extra
    worker's turns on the shared cores cost more than the core it got)."""
    times = {("loop", 0): 1.0, ("chunksize 1", 1): 1.0, ("default (4)", 1): 1.0,
             ("chunksize 1", 2): 0.75 if holds else 1.2,
             ("default (2)", 2): 1.2 if default_slower else 0.76}
    shares = {0: 0.97, 1: 0.98, 2: 0.67}
    rows = [{"label": f"{chunking} {workers}", "workers": workers, "chunking": chunking,
             "repeat": r, "seconds": seconds * s, "other_share": shares[workers]}
            for (chunking, workers), seconds in times.items()
            for r, s in enumerate((0.99, 1.01))]
    return pd.DataFrame(rows).assign(usable_cpus=2)


def _busy_core(holds: bool) -> tuple[Patches, str]:
    return ({(busy_machine, "load_busy"): _busy(holds)},
            "ran pure-Python tasks 1.33x faster" if holds
            else "ran pure-Python tasks 1.20x slower")


#: claim id -> builder of the records (``holds``: where the statement holds, or fails) and a
#: piece of the filled statement that shows it reads true to its numbers.
CASES: dict[str, Callable[[bool], tuple[Patches, str]]] = {
    "cores-minus-one-costs": _cores_minus_one,
    "all-usable-cores-beat-a-cap": _cap,
    "busy-core-still-wants-all-workers": _busy_core,
}

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = dict.fromkeys(CASES,
                              "test_claims_fail_pool_size.py::test_claim_follows_its_records")


def _returning(value: pd.DataFrame) -> Callable[..., Any]:
    return lambda *_, **__: value.copy()


@pytest.mark.parametrize("holds", [True, False], ids=["holds", "fails"])
@pytest.mark.parametrize("claim_id", list(CASES))
def test_claim_follows_its_records(claim_id: str, holds: bool,
                                   feed_records: Callable[..., claims.Verdict]) -> None:
    patches, reads = CASES[claim_id](holds)
    verdict = feed_records(patches, claim_id, holds)
    assert reads in verdict.statement, verdict.statement
    assert verdict.evidence


def test_the_default_chunksize_half_can_fail_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The busy-core claim also fails where only Pool's default chunksize lost with all
    workers (a chunk stuck on a worker that gets fewer turns)."""
    monkeypatch.setattr(busy_machine, "load_busy",
                        _returning(_busy(True, default_slower=True)))
    verdict = claims.evaluate("busy-core-still-wants-all-workers")
    assert not verdict.holds
    assert "1.33x faster than Pool(1) at chunksize 1 and 1.20x slower" in verdict.statement


def test_the_capped_container_reads_its_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    patches, _ = _cap(True)
    monkeypatch.setattr(pool_size, "load_pool_size", _returning(patches[
        (pool_size, "load_pool_size")]))
    statement = claims.evaluate("all-usable-cores-beat-a-cap").statement
    assert statement.startswith("16 CPUs reported, 8 usable (cgroup CPU quota 8)")
    assert "(4 and 6 workers)" in statement


def test_one_core_is_not_measured_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a one-core machine there is no core to leave free: the busy experiment has no rows
    and every claim of this file fails with a statement that says it was not measured."""
    monkeypatch.setattr(pool_size, "load_pool_size",
                        _returning(_sweep({1: 1.0, 2: 0.98}, usable=1, reported=1)))
    monkeypatch.setattr(busy_machine, "load_busy", _returning(
        _busy(True).iloc[:0].drop(columns="usable_cpus")))
    monkeypatch.setattr(busy_machine.machine, "usable_cpus", lambda *_: 1)
    for claim_id in CASES:
        verdict = claims.evaluate(claim_id)
        assert not verdict.holds, claim_id
        assert pool_size.NOT_MEASURED in verdict.statement, verdict.statement
