"""The ``topic-map`` directive: sphinx-design cards for the pages of the guide that exist.

In a MyST page::

    ```{topic-map}
    guide/01-overhead | Where a Pool's time goes | Pool start-up, dispatch cost, break-even.
    claims | Checked claims | Every statement of the guide, tested on this machine.
    ```

Each line is ``docname | title | one sentence``. A line whose page is not part of the build
(a chapter not written yet) draws no card, so the landing page never links to nothing.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class TopicMap(SphinxDirective):
    """Draw a responsive grid of linked cards, one per existing page."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        cards = []
        for number, line in enumerate(self.content):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|")]
            if len(parts) != 3 or not all(parts):
                logger.warning("topic-map line %r must be 'docname | title | sentence'", line,
                               location=(self.env.docname, self.lineno + number + 1))
                continue
            docname, title, blurb = parts
            if docname in self.env.found_docs:
                cards += [f":::{{grid-item-card}} {title}", f":link: {docname}",
                          ":link-type: doc", ":class-card: mpguide-topic-card", "", blurb,
                          ":::", ""]
        if not cards:
            return []
        text = ["::::{grid} 1 1 2 2", ":gutter: 3", "", *cards, "::::"]
        container = nodes.container(classes=["mpguide-topic-map"])
        self.state.nested_parse(StringList(text, source=self.env.docname), self.content_offset,
                                container)
        return [container]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("topic-map", TopicMap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
