"""The claims mechanism, with fake claims: registration, verdicts, rendering, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpguide import claims

TUNING = claims.Chapter(name="tuning", page="guide/03-tuning", title="Tuning")
OVERHEAD = claims.Chapter(name="overhead", page="guide/01-overhead", title="Overhead")
ELSEWHERE = claims.Chapter(name="x", page="index", title="Elsewhere")


@pytest.fixture
def only_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry: the real claims measure, fakes do not."""
    monkeypatch.setattr(claims, "_REGISTRY", {})


@pytest.fixture
def fake_claims(only_fakes: None) -> Iterator[list[str]]:
    """Register two fake claims (one holds, one fails) and remove them afterwards."""
    ids = ["fake-holds", "fake-fails"]

    @claims.claim(ids[0], chapter=TUNING,
                  statement="Chunks of {chunk} beat chunks of 1 by {ratio:.1f}x.")
    def _holds() -> claims.Evidence:
        return claims.Evidence(holds=True, values={"chunk": 64, "ratio": 2.54},
                               evidence="2.54x faster <measured>.")

    @claims.claim(ids[1], chapter=OVERHEAD,
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


def test_evaluate_all_keeps_order_and_filters(fake_claims: list[str]) -> None:
    assert [v.claim_id for v in claims.evaluate_all()] == ["fake-holds", "fake-fails"]
    assert [v.claim_id for v in claims.evaluate_all("tuning")] == ["fake-holds"]
    assert [v.claim_id for v in claims.evaluate_all(ids=["fake-fails", "fake-holds"])] == [
        "fake-fails", "fake-holds"]
    table = claims.show_all()
    assert [v.claim_id for v in table.verdicts] == ["fake-holds", "fake-fails"]
    assert claims.registered("overhead")["fake-fails"].page == OVERHEAD.page


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
        claims.claim(bad_id, chapter=ELSEWHERE, statement="s")


def test_chapter_must_be_a_chapter() -> None:
    with pytest.raises(claims.ClaimError, match=r"must be a claims\.Chapter"):
        claims.claim("fake-str-chapter", chapter="x", statement="s")  # type: ignore[arg-type]


def test_duplicate_id_from_other_function_rejected(fake_claims: list[str]) -> None:
    with pytest.raises(claims.ClaimError, match="registered twice"):
        @claims.claim("fake-holds", chapter=ELSEWHERE, statement="s")
        def _other() -> claims.Evidence:
            return claims.Evidence(True)


@pytest.mark.usefixtures("only_fakes")
def test_unknown_claim() -> None:
    with pytest.raises(claims.ClaimError, match="unknown claim 'no-such-claim'"):
        claims.evaluate("no-such-claim")


@pytest.fixture
def broken_claims(only_fakes: None) -> Iterator[None]:
    @claims.claim("fake-raises", chapter=ELSEWHERE, statement="s")
    def _raises() -> claims.Evidence:
        raise ZeroDivisionError("no data")

    @claims.claim("fake-wrong-type", chapter=ELSEWHERE, statement="s")
    def _wrong() -> claims.Evidence:
        return True  # type: ignore[return-value]

    @claims.claim("fake-missing-value", chapter=ELSEWHERE, statement="{missing} us")
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


@pytest.mark.parametrize(("ratio", "spec", "expected"), [
    (1.25, ".2f|faster|slower", "1.25x faster"),
    (0.8, ".2f|faster|slower", "1.25x slower"),
    (0.99, ".1f|faster|slower", "1.01x slower"),  # never "1.0x slower"
    (3.2, ".0f|more|less", "3x more"),
    (0.25, ".0f|more|less", "4x less"),
    (2.0, "", None),  # no ratio spec: plain str.format
])
def test_ratio_placeholders_read_true_either_way(only_fakes: None, ratio: float, spec: str,
                                                 expected: str | None) -> None:
    @claims.claim("fake-ratio", chapter=ELSEWHERE, statement=f"A is {{r:{spec}}} than B.")
    def _ratio() -> claims.Evidence:
        return claims.Evidence(holds=ratio > 1, values={"r": ratio})

    statement = claims.evaluate("fake-ratio").statement
    assert statement == f"A is {expected or format(ratio, spec)} than B."
    assert "0." not in statement.split("x ")[0]  # a ratio below 1 is never shown with a word


def test_no_claim_of_these_chapters_puts_a_direction_word_after_a_raw_ratio() -> None:
    """'0.8x faster' is nonsense: a ratio followed by faster/slower/more/less is written with
    the ratio spec ({x:.1f|faster|slower}), which turns the word when the ratio is below 1."""
    import re

    from mpguide import chapters

    chapters.load()
    raw = re.compile(r"\{[^}|]*\}x (faster|slower|more|less)\b")
    mine = {"overhead", "transfer", "advisor"}  # chapters 1, 2 and 4
    offending = {cid: c.statement for cid, c in claims.registered().items()
                 if c.chapter in mine and raw.search(c.statement)}
    assert not offending


@pytest.mark.parametrize(("reproduced", "badge", "css"), [
    (True, "▶ demonstrated", "mpguide-demonstration-holds"),
    (False, "✘ not reproduced", "mpguide-demonstration-fails"),
])
def test_a_demonstration_has_its_own_badge_and_is_not_counted(
        fake_claims: list[str], reproduced: bool, badge: str, css: str) -> None:
    @claims.demonstration("fake-demo", chapter=TUNING, statement="The order came back {order}.")
    def _demo() -> claims.Evidence:
        return claims.Evidence(holds=reproduced, values={"order": "shuffled"})

    verdict = claims.evaluate("fake-demo")
    assert (verdict.kind, verdict.badge) == (claims.DEMONSTRATION, badge)
    assert css in verdict.to_html()
    assert css in claims.VerdictTable((verdict,)).to_html()
    assert [v.claim_id for v in claims.evaluate_all()] == fake_claims
    assert [v.claim_id for v in claims.evaluate_all(kind=claims.DEMONSTRATION)] == ["fake-demo"]
    assert set(claims.registered("tuning", kind=None)) == {"fake-holds", "fake-demo"}
