"""Checked claims: every performance statement of the guide, tested against the build's data.

A claim is a small function over cached records that says whether a statement holds on the
machine that built the guide, and why. The decorator :func:`claim` registers it with its
statement template; :func:`evaluate` runs it and fills the template from the measured values,
so the statement shown on the page carries this machine's numbers. A claim that fails is
shown as failing, with its evidence: it is a fact about that hardware, not something to hide.
So a statement must read true to its numbers either way: a ratio placeholder written
``{factor:.1f|faster|slower}`` reads "1.3x faster" for 1.3 and "1.3x slower" for 0.77
(:func:`ratio_phrase`), where ``{factor:.1f}x faster`` would print "0.8x faster".

A chapter of the guide declares itself once, as a :class:`Chapter` (its name and the page that
states its claims), and passes that object to every claim it registers. The registry holds the
claims of the modules imported so far; the guide's own list of chapter modules, and their
order, belong to the guide, not to this module.

A result that is certain by construction or by an API's guarantee (a deadlock built to
happen, an order the API promises) is no claim: no machine can fail it. It is registered with
:func:`demonstration` instead, shown with its own badge ("▶ demonstrated", or "✘ not
reproduced" where it did not happen) and left out of the claims: :func:`registered` and
:func:`evaluate_all` select one kind or the other.

Examples
--------
>>> from mpguide import claims
>>> DEMO = claims.Chapter(name="demo", page="index", title="A demo chapter")
>>> @claims.claim("doctest-demo", chapter=DEMO,
...               statement="Two workers beat one by {speedup:.1f}x.")
... def _demo() -> claims.Evidence:
...     return claims.Evidence(holds=True, values={"speedup": 1.94},
...                            evidence="Measured 1.94x in the demo.")
>>> verdict = claims.evaluate("doctest-demo")
>>> verdict.holds, verdict.statement
(True, 'Two workers beat one by 1.9x.')
>>> print(verdict.to_markdown())
**✔ holds** · Two workers beat one by 1.9x. *Evidence:* Measured 1.94x in the demo.
>>> claims.unregister("doctest-demo")
"""

from __future__ import annotations

import html
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ClaimFunction = Callable[[], "Evidence"]

#: The two kinds of registered checks: a claim (a statement some machine can fail, counted on
#: the claims page) and a demonstration (certain by construction: shown, not counted).
CLAIM, DEMONSTRATION = "claim", "demonstration"

_BADGES = {(CLAIM, True): "✔ holds", (CLAIM, False): "✘ fails",
           (DEMONSTRATION, True): "▶ demonstrated", (DEMONSTRATION, False): "✘ not reproduced"}
_COLORS = {(CLAIM, True): "#1a7f37", (DEMONSTRATION, True): "#0969da"}
_FAILED_COLOR = "#cf222e"


class ClaimError(RuntimeError):
    """A claim is malformed, unknown, or its function failed to produce evidence."""


@dataclass(frozen=True)
class Chapter:
    """A chapter of the guide, declared once by the module that measures it.

    Parameters
    ----------
    name
        Short name, e.g. ``"overhead"``: verdicts are grouped by it.
    page
        Sphinx docname of the page that states the chapter's claims, e.g.
        ``"guide/01-overhead"``.
    title
        The chapter's title, as the landing page's cards show it.
    summary
        One sentence on what the chapter answers.
    """

    name: str
    page: str
    title: str
    summary: str = ""


@dataclass(frozen=True)
class Evidence:
    """What a claim function returns: whether the statement holds, and why.

    Parameters
    ----------
    holds
        Whether the statement is true on this machine (converted with ``bool``).
    values
        Measured numbers that fill the statement's ``{placeholders}``.
    evidence
        One or two sentences with the numbers that decided the verdict.
    """

    holds: bool
    values: Mapping[str, Any] = field(default_factory=dict)
    evidence: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "holds", bool(self.holds))
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


@dataclass(frozen=True)
class Claim:
    """A registered claim (or demonstration, ``kind``): its identity, where the guide states
    it, and its check."""

    claim_id: str
    chapter: str
    page: str
    statement: str
    check: ClaimFunction
    kind: str = CLAIM


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim on this machine, ready to render.

    ``statement`` is the claim's template filled with ``values``. Jupyter and myst-nb render a
    verdict as HTML (badge, statement, evidence); :meth:`to_markdown` gives the same in Markdown.
    ``kind`` is :data:`CLAIM` or :data:`DEMONSTRATION`.
    """

    claim_id: str
    chapter: str
    page: str
    statement: str
    holds: bool
    evidence: str
    values: Mapping[str, Any]
    kind: str = CLAIM

    @property
    def badge(self) -> str:
        """``"✔ holds"`` or ``"✘ fails"``; a demonstration's ``"▶ demonstrated"`` or
        ``"✘ not reproduced"``."""
        return _BADGES[self.kind, self.holds]

    @property
    def color(self) -> str:
        """The badge's color: green (holds), blue (demonstrated), red (fails, not
        reproduced)."""
        return _COLORS.get((self.kind, self.holds), _FAILED_COLOR)

    @property
    def css_class(self) -> str:
        """``mpguide-claim-holds``, ``mpguide-claim-fails``, ``mpguide-demonstration-holds``,
        ..."""
        return f"mpguide-{self.kind}-{'holds' if self.holds else 'fails'}"

    @property
    def anchor(self) -> str:
        """HTML id of the verdict on its page (``claim-<claim_id>``)."""
        return f"claim-{self.claim_id}"

    def to_markdown(self) -> str:
        """The verdict as one Markdown paragraph."""
        return f"**{self.badge}** · {self.statement} *Evidence:* {self.evidence}".rstrip()

    def to_html(self) -> str:
        """The verdict as a self-styled HTML block (inline styles, so notebooks render it too)."""
        color = self.color
        return (
            f'<div class="mpguide-claim {self.css_class}" id="{html.escape(self.anchor)}" '
            f'style="border-left: 4px solid {color}; padding: 0.4em 0.8em; margin: 0.6em 0;">'
            f'<span class="mpguide-claim-badge" style="background: {color}; color: #fff; '
            f'border-radius: 0.8em; padding: 0.1em 0.6em; font-weight: 600; '
            f'white-space: nowrap;">{self.badge}</span> '
            f'<span class="mpguide-claim-statement">{html.escape(self.statement)}</span>'
            f'<div class="mpguide-claim-evidence" style="font-size: 0.9em; margin-top: 0.3em;">'
            f"<em>Evidence:</em> {html.escape(self.evidence)} "
            f'<code class="mpguide-claim-id">{html.escape(self.claim_id)}</code></div></div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return f"[{self.badge}] {self.statement} Evidence: {self.evidence}"


@dataclass(frozen=True)
class VerdictTable:
    """Several verdicts rendered as one HTML table with links to the pages that state them.

    ``link_prefix`` is prepended to each page's path (``""`` from the site root).
    """

    verdicts: tuple[Verdict, ...]
    link_prefix: str = ""

    def to_html(self) -> str:
        """An HTML table: verdict, chapter, statement with evidence, link to its page."""
        rows = []
        for v in self.verdicts:
            href = html.escape(f"{self.link_prefix}{v.page}.html#{v.anchor}")
            rows.append(
                f'<tr class="{v.css_class}">'
                f'<td style="color: {v.color}; font-weight: 600; white-space: nowrap;">{v.badge}'
                f"</td><td>{html.escape(v.chapter)}</td>"
                f"<td>{html.escape(v.statement)}<br><small><em>Evidence:</em> "
                f"{html.escape(v.evidence)}</small></td>"
                f'<td><a href="{href}"><code>{html.escape(v.claim_id)}</code></a></td></tr>'
            )
        head = ("<thead><tr><th>verdict</th><th>chapter</th><th>statement and evidence</th>"
                "<th>claim</th></tr></thead>")
        return (f'<table class="mpguide-claims table">{head}<tbody>{"".join(rows)}'
                "</tbody></table>")

    def to_markdown(self) -> str:
        """One Markdown bullet per verdict."""
        return "\n".join(f"- {v.to_markdown()} (`{v.claim_id}`, {v.page})"
                         for v in self.verdicts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


_REGISTRY: dict[str, Claim] = {}

_FIXED = re.compile(r"^(?P<head>.*\.)(?P<digits>\d+)f$")


def ratio_phrase(ratio: float, spec: str = ".1f", more: str = "faster",
                 less: str = "slower") -> str:
    """A ratio in words that stay true on both sides of 1: ``"1.3x faster"``, ``"1.3x slower"``.

    ``ratio`` is the factor in the direction of ``more`` (for ``"faster"``: the other way's
    seconds over this way's). At or above 1 it reads ``"<ratio>x <more>"``, below 1
    ``"<1 / ratio>x <less>"``. A ratio that would print as 1 at the precision of ``spec`` gets
    up to two more digits, so that 0.98 does not read "1.0x slower". Statement templates write it ``{name:.1f|faster|slower}``.

    Examples
    --------
    >>> ratio_phrase(1.25), ratio_phrase(0.8), ratio_phrase(0.8, ".0f", "more", "less")
    ('1.2x faster', '1.2x slower', '1.2x less')
    >>> ratio_phrase(0.98), ratio_phrase(4.0, ".0f")
    ('1.02x slower', '4x faster')
    """
    if not (math.isfinite(ratio) and ratio > 0):
        return f"{ratio}x {more}"
    word, value = (more, ratio) if ratio >= 1 else (less, 1 / ratio)
    text = format(value, spec)
    match = _FIXED.match(spec)
    if match:
        digits = int(match["digits"])
        for extra in (1, 2):
            if text != format(1.0, f"{match['head']}{digits + extra - 1}f"):
                break
            text = format(value, f"{match['head']}{digits + extra}f")
    return f"{text}x {word}"


class _StatementFormatter(string.Formatter):
    """:meth:`str.format` plus the ratio spec ``{name:<spec>|<more>|<less>}``."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" not in format_spec:
            return str(super().format_field(value, format_spec))
        spec, more, less = [*format_spec.split("|"), "", ""][:3]
        return ratio_phrase(float(value), spec or ".1f", more or "faster", less or "slower")


_STATEMENT = _StatementFormatter()


def claim(claim_id: str, *, chapter: Chapter,
          statement: str) -> Callable[[ClaimFunction], ClaimFunction]:
    """Register the decorated function as the check of a claim.

    Parameters
    ----------
    claim_id
        Unique, URL-safe name (letters, digits, ``-``), e.g. ``"tiny-tasks-lose"``.
    chapter
        The :class:`Chapter` that states the claim (its name and page).
    statement
        The sentence the guide states, with ``{name}`` / ``{name:.1f}`` placeholders filled
        from :attr:`Evidence.values`. A ratio that can land on either side of 1 takes the
        words for both sides, ``{name:.1f|faster|slower}`` (:func:`ratio_phrase`), so that
        a failing statement still reads true to its numbers.

    Returns
    -------
    callable
        A decorator that registers the function and returns it unchanged.

    Examples
    --------
    >>> DEMO = Chapter(name="demo", page="index", title="A demo chapter")
    >>> @claim("doctest-decorator", chapter=DEMO, statement="Always true.")
    ... def _always() -> Evidence:
    ...     return Evidence(True, {}, "Nothing to measure.")
    >>> "doctest-decorator" in registered()
    True
    >>> unregister("doctest-decorator")
    """
    return _registrar(claim_id, chapter, statement, CLAIM)


def demonstration(claim_id: str, *, chapter: Chapter,
                  statement: str) -> Callable[[ClaimFunction], ClaimFunction]:
    """Register the decorated function as the check of a demonstration: like :func:`claim`,
    for a result certain by construction or by an API's guarantee. Its verdict says whether
    it was reproduced; it is not counted among the claims.

    Examples
    --------
    >>> DEMO = Chapter(name="demo", page="index", title="A demo chapter")
    >>> @demonstration("doctest-demonstration", chapter=DEMO,
    ...                statement="sorted() returned {out}.")
    ... def _sorted() -> Evidence:
    ...     out = sorted([3, 1, 2])
    ...     return Evidence(out == [1, 2, 3], {"out": out}, "The API promises it.")
    >>> print(show("doctest-demonstration"))
    [▶ demonstrated] sorted() returned [1, 2, 3]. Evidence: The API promises it.
    >>> "doctest-demonstration" in registered(kind=DEMONSTRATION)
    True
    >>> "doctest-demonstration" in registered(kind=CLAIM)
    False
    >>> unregister("doctest-demonstration")
    """
    return _registrar(claim_id, chapter, statement, DEMONSTRATION)


def _registrar(claim_id: str, chapter: Chapter, statement: str,
               kind: str) -> Callable[[ClaimFunction], ClaimFunction]:
    if not claim_id or not all(c.isalnum() or c == "-" for c in claim_id):
        raise ClaimError(f"claim id {claim_id!r} must be letters, digits and '-' only")
    if not isinstance(chapter, Chapter):
        raise ClaimError(f"claim {claim_id!r}: chapter must be a claims.Chapter, got "
                         f"{type(chapter).__name__}")

    def register(func: ClaimFunction) -> ClaimFunction:
        previous = _REGISTRY.get(claim_id)
        if previous is not None and _origin(previous.check) != _origin(func):
            raise ClaimError(f"claim id {claim_id!r} is registered twice: by "
                             f"{_origin(previous.check)} and by {_origin(func)}")
        _REGISTRY[claim_id] = Claim(claim_id, chapter.name, chapter.page, statement, func,
                                    kind)
        return func

    return register


def unregister(claim_id: str) -> None:
    """Forget a registered claim (tests and doctests use this to clean up)."""
    _REGISTRY.pop(claim_id, None)


def registered(chapter: str | None = None, kind: str | None = None) -> dict[str, Claim]:
    """Claims and demonstrations registered so far (by the modules imported so far), by id in
    registration order: of one chapter if given (its name), of one ``kind`` if given
    (:data:`CLAIM` or :data:`DEMONSTRATION`)."""
    return {cid: c for cid, c in _REGISTRY.items()
            if (chapter is None or c.chapter == chapter) and (kind is None or c.kind == kind)}


def evaluate(claim_id: str) -> Verdict:
    """Run one claim's check and return its :class:`Verdict`.

    Raises
    ------
    ClaimError
        Unknown id (the module that registers it is not imported), a check that raised or
        returned something else than :class:`Evidence`, or a statement placeholder missing
        from the values.
    """
    try:
        registered_claim = _REGISTRY[claim_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ClaimError(f"unknown claim {claim_id!r} (import the module that states it); "
                         f"registered: {known}") from None
    try:
        evidence = registered_claim.check()
    except Exception as exc:
        raise ClaimError(f"claim {claim_id!r} ({_origin(registered_claim.check)}) failed to "
                         f"evaluate: {type(exc).__name__}: {exc}") from exc
    if not isinstance(evidence, Evidence):
        raise ClaimError(f"claim {claim_id!r} returned {type(evidence).__name__}, "
                         "expected claims.Evidence")
    try:
        statement = _STATEMENT.format(registered_claim.statement, **evidence.values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ClaimError(f"claim {claim_id!r}: cannot fill statement "
                         f"{registered_claim.statement!r} from values "
                         f"{dict(evidence.values)!r} ({type(exc).__name__}: {exc})") from exc
    return Verdict(claim_id=claim_id, chapter=registered_claim.chapter,
                   page=registered_claim.page, statement=statement, holds=evidence.holds,
                   evidence=evidence.evidence, values=evidence.values,
                   kind=registered_claim.kind)


def evaluate_all(chapter: str | None = None, ids: Iterable[str] | None = None,
                 kind: str | None = CLAIM) -> list[Verdict]:
    """Verdicts of the claims ``ids`` (default: every registered one of ``kind``, of
    ``chapter`` if given, in registration order; ``kind=None``: demonstrations too)."""
    return [evaluate(cid) for cid in (registered(chapter, kind) if ids is None else ids)]


def show(claim_id: str) -> Verdict:
    """Evaluate a claim for display: the last expression of a notebook cell renders its badge.

    Examples
    --------
    >>> DEMO = Chapter(name="demo", page="index", title="A demo chapter")
    >>> @claim("doctest-show", chapter=DEMO, statement="{n} is odd.")
    ... def _odd() -> Evidence:
    ...     return Evidence(holds=4 % 2 == 1, values={"n": 4}, evidence="4 % 2 == 0.")
    >>> print(show("doctest-show"))
    [✘ fails] 4 is odd. Evidence: 4 % 2 == 0.
    >>> unregister("doctest-show")
    """
    return evaluate(claim_id)


def show_all(chapter: str | None = None, link_prefix: str = "",
             kind: str | None = CLAIM) -> VerdictTable:
    """Evaluate every registered claim (of one chapter if given; demonstrations with
    ``kind=DEMONSTRATION``) and render them as one linked table."""
    return VerdictTable(tuple(evaluate_all(chapter, kind=kind)), link_prefix)


def frame(verdicts: Iterable[Verdict]) -> pd.DataFrame:
    """Verdicts as a DataFrame: one row per claim.

    Columns: ``claim_id``, ``chapter``, ``page``, ``holds``, ``statement``, ``evidence``.

    Examples
    --------
    >>> v = Verdict("a", "demo", "index", "A holds.", True, "Checked.", {})
    >>> frame([v])[["claim_id", "holds"]].to_dict("records")
    [{'claim_id': 'a', 'holds': True}]
    """
    import pandas as pd

    columns = ["claim_id", "chapter", "page", "holds", "statement", "evidence"]
    table: pd.DataFrame = pd.DataFrame([{c: getattr(v, c) for c in columns} for v in verdicts],
                                       columns=columns)
    return table


def _origin(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"
