"""The claims of the experiments issue 13 asked for (mpguide.chapters.fork_memory,
.uneven_chunks and .disk_cache) hold on records where they should and fail on records where
they should not: each is fed records of the real shape, with the numbers this machine measured
or with the ones a machine that misses the claim would. Nothing is measured.
:data:`FAILING_CASES` declares them to the coverage test of ``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from mpguide import claims
from mpguide.chapters import disk_cache, fork_memory, uneven_chunks

#: What a case patches: (module, name of its ``load_*`` function) -> the frame it returns.
Patches = dict[tuple[ModuleType, str], pd.DataFrame]


def _fork_memory(holds: bool) -> tuple[Patches, str]:
    """Two fork workers; where it fails, summing the array copied most of it (as a machine
    whose numpy wrote to the buffer, or a kernel that copies big pages whole, would)."""
    array_growth = 0.1 if holds else 29.0
    rows = [{"kind": kind, "worker": w, "data_mib": size, "uss_before_mib": 2.5,
             "uss_after_mib": 2.5 + growth, "rss_before_mib": 131.0, "rss_after_mib": 131.5}
            for kind, size, growth in (("numpy array", 32.0, array_growth),
                                       ("list of floats", 32.9, 25.7))
            for w in range(2)]
    return ({(fork_memory, "load_fork_memory"): pd.DataFrame(rows)},
            "0.31% of the array" if holds else "90.62% of the array")


def _uneven(holds: bool) -> tuple[Patches, str]:
    """Where it fails, the default keeps up with small chunks on uneven tasks (a machine with
    many cores, where the heavy items spread over several default chunks, could do that)."""
    uneven = {1: 0.050, 4: 0.047, 16: 0.052, 51: 0.075, "default": 0.080 if holds else 0.051}
    even = {1: 0.056, 4: 0.016, 16: 0.015, 51: 0.016, "default": 0.014}
    rows = []
    for shape, times in (("even", even), ("uneven", uneven)):
        rows += [{"shape": shape, "strategy": "serial", "chunksize": 0, "seconds": s}
                 for s in (0.03, 0.031)]
        for chunks, seconds in times.items():
            default = chunks == "default"
            rows += [{"shape": shape, "strategy": "default" if default else "pool",
                      "chunksize": 13 if default else chunks, "seconds": s}
                     for s in (seconds * 0.99, seconds * 1.01)]
    frame = pd.DataFrame(rows).assign(n_items=102, default_chunksize=13, workers=2)
    return ({(uneven_chunks, "load_uneven_chunks"): frame},
            "chunksize 4 was 1.70x faster" if holds else "chunksize 4 was 1.09x faster")


def _disk(holds: bool) -> tuple[Patches, str]:
    """Where it fails, the cold read is nearly as fast as the warm one (a fast local disk, or
    a file system that keeps the file in memory)."""
    cold = 0.242 if holds else 0.097
    rows = [{"state": state, "repeat": r, "seconds": seconds * (0.98 + 0.02 * r),
             "cached_share": 0.0 if state == "cold" else 1.0}
            for r in range(3) for state, seconds in (("cold", cold), ("warm", 0.079))]
    frame = pd.DataFrame(rows).assign(nbytes=256 << 20, workers=2, file_system="ext4")
    return ({(disk_cache, "load_disk_cache"): frame},
            "was 3.1x slower" if holds else "was 1.2x slower")


#: claim id -> builder of the records (``holds``: where the statement holds, or fails) and a
#: piece of the filled statement that shows it reads true to its numbers.
CASES: dict[str, Callable[[bool], tuple[Patches, str]]] = {
    "fork-numpy-stays-shared": _fork_memory,
    "uneven-tasks-want-small-chunks": _uneven,
    "page-cache-hides-the-disk": _disk,
}

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = dict.fromkeys(CASES, "test_claims_fail_issue13.py::test_claim_follows_its_records")



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


def test_the_list_half_can_fail_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork claim also fails where reading the list copied little of it (an interpreter
    whose reads left reference counts alone would)."""
    patches, _ = _fork_memory(True)
    frame = patches[(fork_memory, "load_fork_memory")]
    floats = frame["kind"] == "list of floats"
    frame.loc[floats, "uss_after_mib"] = frame.loc[floats, "uss_before_mib"] + 3.0
    monkeypatch.setattr(fork_memory, "load_fork_memory", _returning(frame))
    verdict = claims.evaluate("fork-numpy-stays-shared")
    assert not verdict.holds
    assert "copied 3 MiB" in verdict.statement


def test_the_even_half_can_fail_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunksize claim also fails where the default lags on even tasks."""
    patches, _ = _uneven(True)
    frame = patches[(uneven_chunks, "load_uneven_chunks")]
    slow = (frame["shape"] == "even") & (frame["strategy"] == "default")
    frame.loc[slow, "seconds"] = 0.03
    monkeypatch.setattr(uneven_chunks, "load_uneven_chunks", _returning(frame))
    verdict = claims.evaluate("uneven-tasks-want-small-chunks")
    assert not verdict.holds
    assert "took 2.00x the best" in verdict.statement
