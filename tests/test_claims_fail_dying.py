"""The claims of chapter 6's dying-workers table (mpguide.chapters.dying_workers_page) hold on
records where they should and fail on records where they should not: each is fed a table of
the real shape, as this machine measured it, then with one case changed the way a slower
machine or a future version of a tool could change it. :data:`FAILING_CASES` declares them
to the coverage test of ``test_claims_can_fail.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mpguide import claims
from mpguide.chapters import dying_workers as dying
from mpguide.chapters import dying_workers_page as page

N_ITEMS = 8
DEATHS = page.DEATHS

#: (tool, failure) -> (outcome, error, seconds, left processes) where it differs from
#: "raises" after 0.1 s, leaving nothing: the shape of the table measured here.
MEASURED: dict[tuple[str, str], tuple[str, str, float, list[str]]] = {
    **{("pool-map", f): ("hangs", "", 5.0, []) for f in DEATHS},
    ("pool-map", "stuck"): ("hangs", "", 5.0, ["forked worker"]),
    **{("map-async", f): ("raises", "TimeoutError", 1.7, []) for f in (*DEATHS, "stuck")},
    **{("executor", f): ("raises", "BrokenProcessPool", 0.1, []) for f in DEATHS},
    ("executor", "stuck"): ("hangs", "", 5.0, ["forked worker", "forked worker"]),
    **{("joblib", f): ("raises", "TerminatedWorkerError", 0.4, []) for f in DEATHS},
    ("joblib", "stuck"): ("hangs", "", 5.0, ["loky worker", "resource tracker"]),
    **{("mpire", f): ("raises", "RuntimeError", 1.7, []) for f in DEATHS},
    ("mpire", "stuck"): ("hangs", "", 5.0, ["forked worker"]),
    **{("dask", f): ("hangs", "", 5.1, ["spawned worker"]) for f in DEATHS},
    ("dask", "stuck"): ("hangs", "", 5.1, []),
    ("dask", "ctrl-c"): ("raises", "KeyboardInterrupt", 4.7, []),
    ("dask", "rlimit"): ("raises", "MemoryError", 2.3, []),
    **{("bounded-map", f): ("raises", "WorkerDiedError", 0.1, []) for f in DEATHS},
    ("bounded-map", "rlimit"): ("raises", "WorkerError", 0.1, []),
    ("bounded-map", "stuck"): ("raises", "PoolTimeoutError", 1.7, []),
}
#: The error of a failure where :data:`MEASURED` does not say.
ERRORS = {"rlimit": "MemoryError", "ctrl-c": "KeyboardInterrupt"}


def run(tool: str, failure: str,
        case: tuple[str, str, float, list[str]]) -> dict[str, Any]:
    """A case of :func:`mpguide.chapters.dying_workers.run_case`, as recorded: ``case`` is
    its outcome, error, seconds and the processes it left behind."""
    outcome, error, seconds, left = case
    return {"tool": tool, "label": dying.TOOLS[tool].label, "failure": failure,
            "title": dying.FAILURES[failure].title, "outcome": outcome, "error": error,
            "message": f"{error}: it failed" if error else "", "seconds": seconds,
            "received": 0, "n_items": N_ITEMS, "left_processes": list(left or []),
            "left_shm": [], "swept": [], "remaining": [], "hang_s": 5.0, "wait_s": 2.0}


def record(**changes: tuple[str, str, float, list[str]]) -> dict[str, Any]:
    """The measured table; ``changes`` replace cases, keyed ``"<tool>__<failure>"``."""
    runs = []
    for tool in dying.TOOLS:
        for failure in dying.FAILURES:
            key = f"{tool}__{failure}".replace("-", "_")
            runs.append(run(tool, failure, changes.get(key) or MEASURED.get(
                (tool, failure), ("raises", ERRORS.get(failure, ""), 0.1, []))))
    return {"method": "fork", "hang_s": 5.0, "wait_s": 2.0, "n_items": N_ITEMS, "runs": runs,
            "meta": {}}


#: claim id -> the case that makes it fail (as a slower machine or a new version could).
FAILING: dict[str, dict[str, tuple[str, str, float, list[str]]]] = {
    "dying-pool-map-hangs": {"executor__sigkill": ("raises", "BrokenProcessPool", 1.5, [])},
    "dying-peers-raise": {"mpire__segfault": ("raises", "RuntimeError", 3.4, [])},
    "dying-rlimit-memoryerror": {
        "joblib__rlimit": ("raises", "TerminatedWorkerError", 0.4, [])},
    "dying-ctrl-c-stops": {"mpire__ctrl_c": ("hangs", "", 5.0, ["forked worker"])},
    "dying-stuck-needs-timeout": {"joblib__stuck": ("raises", "TimeoutError", 3.0, [])},
    "dying-orphans-after-stop": {"executor__stuck": ("hangs", "", 5.0, [])},
    "dying-bounded-map-bounds": {
        "bounded_map__sigkill": ("raises", "WorkerDiedError", 0.1, ["forked worker"])},
}

#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = dict.fromkeys(
    FAILING, "test_claims_fail_dying.py::test_claim_verdict_follows_the_records")


def _serve(monkeypatch: pytest.MonkeyPatch, data: dict[str, Any]) -> None:
    monkeypatch.setattr(dying, "load_dying", lambda: data)


@pytest.mark.parametrize("claim_id", sorted(FAILING))
@pytest.mark.parametrize("holds", [True, False], ids=["holds", "fails"])
def test_claim_verdict_follows_the_records(claim_id: str, holds: bool,
                                           monkeypatch: pytest.MonkeyPatch,
                                           read_verdict: Callable[..., claims.Verdict]) -> None:
    _serve(monkeypatch, record() if holds else record(**FAILING[claim_id]))
    verdict = read_verdict(claim_id, holds)
    assert verdict.evidence


def test_every_claim_of_the_table_has_cases() -> None:
    ours = {cid for cid, c in claims.registered().items() if c.check.__module__ == page.__name__}
    assert ours == set(FAILING)


def test_a_stuck_task_is_a_demonstration_not_a_claim() -> None:
    assert claims.registered()["dying-stuck-needs-timeout"].kind == claims.DEMONSTRATION


def test_statements_read_true_to_their_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, record(pool_map__sigkill=("raises", "WorkerLost", 0.2, [])))
    verdict = claims.evaluate("dying-pool-map-hangs")
    assert not verdict.holds
    assert "raises in some of them" in verdict.statement
    _serve(monkeypatch, record())
    assert "gives no error in 5 s" in claims.evaluate("dying-pool-map-hangs").statement
    assert "left nothing behind" in claims.evaluate("dying-bounded-map-bounds").statement


def test_a_claim_without_its_cases_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, {**record(), "runs": []})
    with pytest.raises(claims.ClaimError, match="was run"):
        claims.evaluate("dying-pool-map-hangs")
