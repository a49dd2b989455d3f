"""The guide's chapters: the experiments, tables, figures and claims behind each page.

This package is the guide's content; the kit it is written with (:mod:`mpguide.timing`,
:mod:`mpguide.pools`, :mod:`mpguide.claims`, ...) never imports it. Each chapter module
declares the chapter it belongs to once, as ``CHAPTER`` (a :class:`mpguide.claims.Chapter`:
name, page, title), and registers its claims with it; a chapter measured by several modules
has one ``CHAPTER`` object, declared by its first module and imported by the others.

:data:`MODULES` is the one list of chapter modules, in reading order. Everything that lists
chapters derives from it: the claims page (:func:`evaluate_all`), the landing page's cards and
the gallery's section order (:func:`chapters`).

Importing this package imports no chapter module; :func:`load` does.

Examples
--------
>>> from mpguide import chapters
>>> [chapter.name for chapter in chapters.chapters()]
['overhead', 'transfer', 'tuning', 'advisor', 'troubleshooting', 'peers', 'scale-out',
 'versions']
>>> chapters.chapters()[0].page
'guide/01-overhead'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mpguide import claims

#: The chapter modules, in reading order (the order of the claims page).
MODULES: tuple[str, ...] = (
    "mpguide.chapters.overhead",
    "mpguide.chapters.task_duration",
    "mpguide.chapters.trace_cost",
    "mpguide.chapters.seed_timing",
    "mpguide.chapters.transfer",
    "mpguide.chapters.send_less",
    "mpguide.chapters.disk_cache",
    "mpguide.chapters.worker_memory",
    "mpguide.chapters.fork_memory",
    "mpguide.chapters.tuning",
    "mpguide.chapters.uneven_chunks",
    "mpguide.chapters.pool_size",
    "mpguide.chapters.busy_machine",
    "mpguide.chapters.choosing",
    "mpguide.chapters.waiting",
    "mpguide.chapters.advisor",
    "mpguide.chapters.advisor_measure",
    "mpguide.chapters.real_functions",
    "mpguide.chapters.advisor_real",
    "mpguide.chapters.troubleshooting",
    "mpguide.chapters.troubleshooting_runner",
    "mpguide.chapters.dying_workers_watch",
    "mpguide.chapters.dying_workers",
    "mpguide.chapters.dying_workers_page",
    "mpguide.chapters.side_by_side",
    "mpguide.chapters.side_by_side_measure",
    "mpguide.chapters.side_by_side_snippets",
    "mpguide.chapters.side_by_side_tables",
    "mpguide.chapters.side_by_side_plots",
    "mpguide.chapters.scale_out",
    "mpguide.chapters.scale_out_measure",
    "mpguide.chapters.scale_out_plots",
    "mpguide.chapters.versions",
)


def load() -> list[ModuleType]:
    """Import every chapter module (so that its claims register); returns them in order."""
    return [importlib.import_module(name) for name in MODULES]


def chapters() -> list[claims.Chapter]:
    """Each chapter once, in reading order (the ``CHAPTER`` of the modules of :data:`MODULES`)."""
    return list(dict.fromkeys(module.CHAPTER for module in load()))


def claim_ids(chapter: str | None = None, kind: str | None = claims.CLAIM) -> list[str]:
    """Ids of every chapter's claims (of one chapter if its name is given; its
    demonstrations with ``kind=claims.DEMONSTRATION``, both with ``kind=None``), in reading
    order: by chapter, then by module of :data:`MODULES`, then as each module registers
    them."""
    modules = load()
    rank = {c.name: i for i, c in enumerate(dict.fromkeys(m.CHAPTER for m in modules))}
    position = {m.__name__: i for i, m in enumerate(modules)}
    registered = claims.registered(chapter, kind)
    ours = [cid for cid, c in registered.items() if c.check.__module__ in position]
    return sorted(ours, key=lambda cid: (rank[registered[cid].chapter],
                                         position[registered[cid].check.__module__]))


def evaluate_all(chapter: str | None = None,
                 kind: str | None = claims.CLAIM) -> list[claims.Verdict]:
    """Verdicts of every claim of the guide (of one chapter if given; ``kind`` as in
    :func:`claim_ids`), in reading order."""
    return claims.evaluate_all(ids=claim_ids(chapter, kind))


def show_all(chapter: str | None = None, link_prefix: str = "",
             kind: str | None = claims.CLAIM) -> claims.VerdictTable:
    """:func:`evaluate_all` as one linked table (``link_prefix`` as in
    :class:`mpguide.claims.VerdictTable`)."""
    return claims.VerdictTable(tuple(evaluate_all(chapter, kind)), link_prefix)
