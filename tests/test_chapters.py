"""The chapters package: the one list of chapter modules, each chapter declared once, claims in
reading order, and the kit never importing the guide's content. Nothing is measured."""

from __future__ import annotations

import ast
from pathlib import Path

from mpguide import chapters, claims

PACKAGE = Path(chapters.__file__).resolve().parents[1]
DOCS = PACKAGE.parent / "docs"
#: Chapters of demonstrations only (nothing measured that a machine could fail): no claims.
#: The troubleshooting chapter states the claims of its dying-workers table.
DEMONSTRATIONS: set[str] = set()


def test_every_chapter_module_is_listed_once() -> None:
    on_disk = {f"mpguide.chapters.{p.stem}" for p in Path(chapters.__file__).parent.glob("*.py")
               if p.stem != "__init__"}
    assert set(chapters.MODULES) == on_disk
    assert len(set(chapters.MODULES)) == len(chapters.MODULES)


def test_each_chapter_is_declared_once_and_shared() -> None:
    modules = chapters.load()
    found = chapters.chapters()
    assert [c.name for c in found] == ["overhead", "transfer", "tuning", "advisor",
                                       "troubleshooting", "peers", "scale-out",
                                       "versions"]
    for module in modules:
        assert isinstance(module.CHAPTER, claims.Chapter), module.__name__
    # A chapter measured by several modules has one object, not equal copies.
    declared = [m for m in modules if "CHAPTER = claims.Chapter(" in Path(m.__file__).read_text()]
    assert len(declared) == len(found)
    pages = [c.page for c in found]
    assert pages == sorted(pages)  # reading order is the order of the pages


def test_claims_are_well_formed_and_in_reading_order() -> None:
    """Every real claim points at an existing page, each chapter states at least five (a
    chapter of demonstrations none), and the claims come chapter by chapter in the order of
    the chapters."""
    ids = chapters.claim_ids()
    registered = claims.registered()
    order = [c.name for c in chapters.chapters()]
    seen = [registered[cid].chapter for cid in ids]
    assert seen == sorted(seen, key=order.index)
    for cid in ids:
        assert (DOCS / f"{registered[cid].page}.md").is_file(), registered[cid]
    for name in order:
        count = seen.count(name)
        if name in DEMONSTRATIONS:
            assert count == 0, f"chapter {name} demonstrates; it states no claims"
            continue
        assert count >= 5, f"chapter {name} states {count} claims; each states at least five"
    assert chapters.claim_ids("advisor") == [c for c in ids if registered[c].chapter == "advisor"]


def test_the_kit_never_imports_the_chapters() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.startswith("mpguide.chapters") for n in names), (path, names)
