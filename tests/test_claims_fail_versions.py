"""The claims of chapter 9 (mpguide.chapters.versions) hold on records where they should and
fail on records where they should not: each is fed probe records of made-up interpreters.
:data:`FAILING_CASES` declares them to the coverage test of ``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mpguide import claims
from mpguide.chapters import versions


def record(python: str = "3.12.1", *, fork: float = 0.005, spawn: float = 0.05,
           forkserver: float = 0.02, item: float = 20e-6, shm: float = 0.002,
           pickled: float = 0.004, protocol5: float = 1.0, threads: float = 1.0,
           gil: bool = True) -> dict[str, Any]:
    """A probe record (the shape of mpguide._stdlib_probes.measure) with these medians;
    ``protocol5`` is the cost of pickling at protocol 5 over the default protocol's."""
    major, minor, micro = (int(part) for part in python.split("."))
    default = 5 if (major, minor) >= (3, 14) else 4

    def cost(seconds: float) -> dict[str, Any]:
        return {"pickled_bytes": 1 << 20, "dumps_s": [seconds / 2] * 3,
                "loads_s": [seconds / 2] * 3}

    pickle = {kind: {str(default): cost(0.01), "5": cost(0.01 * (protocol5 if default != 5
                                                                  else 1.0))}
              for kind in ("floats", "bytes")}
    return {
        "python": python, "version": [major, minor, micro], "free_threaded": not gil,
        "gil_enabled": gil, "default_start_method": "forkserver" if default == 5 else "fork",
        "pickle_default_protocol": default, "cpu_count": 2, "process_cpu_count": 2,
        "params": {"workers": 2, "start_method": "fork", "repeats": 3},
        "pool_start_stop_s": {"fork": [fork] * 3, "spawn": [spawn] * 3,
                              "forkserver": [forkserver] * 3},
        "map_item_overhead_s": [item] * 3, "shm_round_trip_s": [shm] * 3,
        "pickled_round_trip_s": [pickled] * 3, "shm_bytes": 4 << 20, "pickle": pickle,
        "threads": {"loop_s": [0.1] * 3, "threads_s": [0.1 / threads] * 3},
        "interpreter_pool": None,
        "metadata": {"cpu_model": "Xeon", "usable_cpus": 2, "python": python,
                     "start_method": "fork", "date": "2026-12-01", "mpguide_version": "0",
                     "mode": "quick"},
    }


def by_label(*records: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {".".join(r["python"].split(".")[:2]) + ("" if r["gil_enabled"] else "t"): r
            for r in records}


TWO = ("3.10.13", "3.13.0")

#: claim id -> (records where it holds, records where it fails).
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "forkserver-beats-spawn-every-python": (
        by_label(*(record(p) for p in TWO)),
        by_label(record(TWO[0]), record(TWO[1], spawn=0.02, forkserver=0.03))),
    "fork-beats-forkserver-every-python": (
        by_label(*(record(p) for p in TWO)),
        by_label(record(TWO[0]), record(TWO[1], fork=0.015, forkserver=0.02))),
    "item-overhead-no-dearer-on-newer": (
        by_label(record(TWO[0], item=40e-6), record(TWO[1], item=21e-6)),
        by_label(record(TWO[0], item=20e-6), record(TWO[1], item=30e-6))),
    "spawn-start-no-slower-on-newer": (
        by_label(record(TWO[0], spawn=0.06), record(TWO[1], spawn=0.05)),
        by_label(record(TWO[0], spawn=0.04), record(TWO[1], spawn=0.06))),
    "shm-beats-pickle-every-python": (
        by_label(*(record(p) for p in TWO)),
        by_label(record(TWO[0]), record(TWO[1], shm=0.005, pickled=0.004))),
    "protocol-5-costs-nothing": (
        by_label(record(TWO[0], protocol5=1.1), record(TWO[1], protocol5=0.95)),
        by_label(record(TWO[0]), record(TWO[1], protocol5=1.5))),
    "gil-threads-no-speedup": (
        by_label(record(TWO[0], threads=0.9), record("3.13.0", threads=1.9, gil=False)),
        by_label(record(TWO[0], threads=1.8))),
}


#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = dict.fromkeys(
    CASES, "test_claims_fail_versions.py::test_claim_verdict_follows_the_records")


@pytest.mark.parametrize("claim_id", sorted(CASES))
@pytest.mark.parametrize("holds", [True, False], ids=["holds", "fails"])
def test_claim_verdict_follows_the_records(claim_id: str, holds: bool,
                                           monkeypatch: pytest.MonkeyPatch,
                                           read_verdict: Callable[..., claims.Verdict]) -> None:
    holding, failing = CASES[claim_id]
    records = holding if holds else failing
    monkeypatch.setattr(versions, "load_versions", lambda params=None: records)
    verdict = read_verdict(claim_id, holds)
    assert verdict.evidence


def test_every_claim_of_the_chapter_has_cases() -> None:
    assert set(CASES) == set(claims.registered(versions.CHAPTER.name))


def test_a_claim_without_any_measured_interpreter_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "load_versions",
                        lambda params=None: {"3.12": {"python": "3.12.1", "error": "timed out"}})
    with pytest.raises(claims.ClaimError, match="no interpreter was measured"):
        claims.evaluate("forkserver-beats-spawn-every-python")


def test_protocol_claim_on_interpreters_that_all_default_to_5(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "load_versions",
                        lambda params=None: by_label(record("3.14.0")))
    verdict = claims.evaluate("protocol-5-costs-nothing")
    assert verdict.holds
    assert "already defaults to protocol 5" in verdict.evidence
