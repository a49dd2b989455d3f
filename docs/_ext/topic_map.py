"""The ``topic-map`` directive: sphinx-design cards for the pages of the guide that exist.

In a MyST page::

    ```{topic-map}
    mpguide.chapters
    guide/05-checklist | 5. Checklist | What to check before you reach for a Pool.
    claims | Checked claims | Every statement of the guide, tested on this machine.
    ```

Each line is ``docname | title | one sentence``; cards whose title starts with a number
(``5. Checklist``) come first, in the order of their numbers, then the others as written. The line ``mpguide.chapters`` stands for one
card per chapter of :func:`mpguide.chapters.chapters`, in reading order and numbered (by its
page's number, ``guide/06-...`` is 6, else by its place): its
page, title and summary as the chapter declares them, so they are never typed twice. A line
whose page is not part of the build (a chapter not written yet) draws no card, so the landing
page never links to nothing.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

#: The line that stands for every chapter of the guide (:func:`mpguide.chapters.chapters`).
CHAPTERS_LINE = "mpguide.chapters"


class TopicMap(SphinxDirective):
    """Draw a responsive grid of linked cards, one per existing page."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        numbered: list[tuple[int, list[str]]] = []  # cards titled "N. ...", drawn in N order
        others: list[list[str]] = []  # then the rest, in the order written
        for number, line in enumerate(self.content):
            if not line.strip():
                continue
            if line.strip() == CHAPTERS_LINE:
                for index, chapter in enumerate(_chapters(), start=1):
                    n = _number(chapter.page, index)
                    numbered.append((n, _card(self.env, chapter.page, f"{n}. {chapter.title}",
                                              chapter.summary)))
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) != 3 or not all(parts):
                logger.warning("topic-map line %r must be 'docname | title | sentence'", line,
                               location=(self.env.docname, self.lineno + number + 1))
                continue
            head = parts[1].split(".", 1)[0]
            if head.isdigit():
                numbered.append((int(head), _card(self.env, *parts)))
            else:
                others.append(_card(self.env, *parts))
        cards = [line for _, card in sorted(numbered, key=lambda pair: pair[0]) for line in card]
        cards += [line for card in others for line in card]
        if not cards:
            return []
        text = ["::::{grid} 1 1 2 2", ":gutter: 3", "", *cards, "::::"]
        container = nodes.container(classes=["mpguide-topic-map"])
        self.state.nested_parse(StringList(text, source=self.env.docname), self.content_offset,
                                container)
        return [container]


def _chapters() -> list[Any]:
    from mpguide import chapters

    return chapters.chapters()


def _number(docname: str, index: int) -> int:
    """A chapter's number: its page's own (``guide/06-troubleshooting`` is 6, so a page typed
    in between, such as the checklist, keeps its place), else its place in reading order."""
    prefix = docname.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(prefix) if prefix.isdigit() else index


def _card(env: Any, docname: str, title: str, blurb: str) -> list[str]:
    """The MyST lines of one card, or none when ``docname`` is not part of the build."""
    if docname not in env.found_docs:
        return []
    return [f":::{{grid-item-card}} {title}", f":link: {docname}", ":link-type: doc",
            ":class-card: mpguide-topic-card", "", blurb, ":::", ""]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("topic-map", TopicMap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
