"""The claims mechanism, with fake claims: registration, verdicts, rendering, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mpguide import claims

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture
def only_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry with no chapter modules: the real claims measure, fakes do not."""
    monkeypatch.setattr(claims, "_REGISTRY", {})
    monkeypatch.setattr(claims, "CHAPTER_MODULES", ())


@pytest.fixture
def fake_claims(only_fakes: None) -> Iterator[list[str]]:
    """Register two fake claims (one holds, one fails) and remove them afterwards."""
    ids = ["fake-holds", "fake-fails"]

    @claims.claim(ids[0], chapter="tuning", page="guide/03-tuning",
                  statement="Chunks of {chunk} beat chunks of 1 by {ratio:.1f}x.")
    def _holds() -> claims.Evidence:
        return claims.Evidence(holds=True, values={"chunk": 64, "ratio": 2.54},
                               evidence="2.54x faster <measured>.")

    @claims.claim(ids[1], chapter="overhead", page="guide/01-overhead",
                  statement="Spawn starts faster than fork.")
    def _fails() -> claims.Evidence:
        return claims.Evidence(holds=False, evidence="spawn took longer & more memory.")

    yield ids
    for cid in ids:
        claims.unregister(cid)


def test_verdict_fills_statement(fake_claims: list[str]) -> None:
    verdict = claims.evaluate("fake-holds")
    assert verdict.holds is True
    assert verdict.statement == "Chunks of 64 beat chunks of 1 by 2.5x."
    assert verdict.page == "guide/03-tuning"
    assert verdict.values["chunk"] == 64


def test_failing_claim_is_shown_not_hidden(fake_claims: list[str]) -> None:
    verdict = claims.show("fake-fails")
    assert verdict.holds is False
    rendered = verdict._repr_html_()
    assert "✘ fails" in rendered
    assert "mpguide-claim-fails" in rendered
    assert 'id="claim-fake-fails"' in rendered
    assert "&amp; more memory" in rendered  # evidence is escaped, not injected
    assert verdict._repr_markdown_().startswith("**✘ fails**")


def test_evaluate_all_orders_by_chapter_and_filters(fake_claims: list[str]) -> None:
    assert [v.claim_id for v in claims.evaluate_all()] == ["fake-fails", "fake-holds"]
    assert [v.claim_id for v in claims.evaluate_all("tuning")] == ["fake-holds"]
    table = claims.show_all()
    assert [v.claim_id for v in table.verdicts] == ["fake-fails", "fake-holds"]


def test_frame_and_table(fake_claims: list[str]) -> None:
    verdicts = [claims.evaluate(cid) for cid in fake_claims]
    df = claims.frame(verdicts)
    assert list(df["holds"]) == [True, False]
    assert list(df.columns) == ["claim_id", "chapter", "page", "holds", "statement", "evidence"]
    table = claims.VerdictTable(tuple(verdicts))._repr_html_()
    assert 'href="guide/01-overhead.html#claim-fake-fails"' in table
    assert "&lt;measured&gt;" in table
    assert table.count("<tr class=") == 2


def test_evidence_coerces_truthiness() -> None:
    evidence = claims.Evidence(holds=1, values={"x": 1})
    assert evidence.holds is True
    with pytest.raises(TypeError):
        evidence.values["y"] = 2  # type: ignore[index]


@pytest.mark.parametrize("bad_id", ["", "has space", "slash/id", "under_score"])
def test_bad_ids_rejected(bad_id: str) -> None:
    with pytest.raises(claims.ClaimError, match="must be letters"):
        claims.claim(bad_id, chapter="x", page="index", statement="s")


def test_duplicate_id_from_other_function_rejected(fake_claims: list[str]) -> None:
    with pytest.raises(claims.ClaimError, match="registered twice"):
        @claims.claim("fake-holds", chapter="x", page="index", statement="s")
        def _other() -> claims.Evidence:
            return claims.Evidence(True)


@pytest.mark.usefixtures("only_fakes")
def test_unknown_claim() -> None:
    with pytest.raises(claims.ClaimError, match="unknown claim 'no-such-claim'"):
        claims.evaluate("no-such-claim")


@pytest.fixture
def broken_claims(only_fakes: None) -> Iterator[None]:
    @claims.claim("fake-raises", chapter="x", page="index", statement="s")
    def _raises() -> claims.Evidence:
        raise ZeroDivisionError("no data")

    @claims.claim("fake-wrong-type", chapter="x", page="index", statement="s")
    def _wrong() -> claims.Evidence:
        return True  # type: ignore[return-value]

    @claims.claim("fake-missing-value", chapter="x", page="index", statement="{missing} us")
    def _missing() -> claims.Evidence:
        return claims.Evidence(True, {"other": 1})

    yield
    for cid in ("fake-raises", "fake-wrong-type", "fake-missing-value"):
        claims.unregister(cid)


@pytest.mark.usefixtures("broken_claims")
@pytest.mark.parametrize(("claim_id", "message"), [
    ("fake-raises", "failed to evaluate: ZeroDivisionError: no data"),
    ("fake-wrong-type", "returned bool, expected claims.Evidence"),
    ("fake-missing-value", "cannot fill statement"),
])
def test_broken_claims_fail_with_reason(claim_id: str, message: str) -> None:
    with pytest.raises(claims.ClaimError, match=message):
        claims.evaluate(claim_id)


def test_chapter_claims_are_well_formed() -> None:
    """Every real claim points at an existing page, and each chapter states at least five.
    (Registering imports the chapter modules; nothing is measured.)"""
    real = {cid: c for cid, c in claims.registered().items() if not cid.startswith("fake-")}
    for registered in real.values():
        assert (DOCS / f"{registered.page}.md").is_file(), registered
        assert registered.chapter in claims.CHAPTER_ORDER, registered
    chapters = {c.chapter for c in real.values()}
    for chapter in chapters:
        count = sum(c.chapter == chapter for c in real.values())
        assert count >= 5, f"chapter {chapter} states {count} claims; each states at least five"
