"""Show a table or a figure both where a gallery script is rendered and where it is run, and
say where a table came from.

Sphinx-gallery renders the value of a block's last expression (a table as HTML, a figure as an
image); ``python plot_x.py`` discards it. :func:`show` returns its argument, so the docs build
renders it as before, and when the script runs on its own it also prints the table or saves
the figure as a PNG beside the current directory, so a reader who swapped in their own
function sees their numbers.

Examples
--------
>>> import pandas as pd
>>> table = show(pd.DataFrame({"label": ["loop"], "median_s": [0.25]}))
  label  median_s
0  loop      0.25
>>> list(table.columns)
['label', 'median_s']

A measured table carries its provenance as a figure does: :func:`captioned` adds the machine
caption of the records it was computed from (a tidy frame, a metadata dict or a string).

>>> print(captioned(pd.DataFrame({"median_s": [0.25]}), "my laptop").to_string())
   median_s
0      0.25
Measured on: my laptop.
"""

from __future__ import annotations

import dataclasses
import html
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import machine

if TYPE_CHECKING:
    import pandas as pd

_saved: list[Path] = []


def show(obj: Any, source: Any = None) -> Any:
    """Return ``obj``; outside a docs build, also print it (a table) or save it (a figure).

    With ``source`` (the records a table was computed from, a metadata dict or a caption
    string) the table comes back :func:`captioned` with where it was measured. A
    ``spawn``/``forkserver`` worker re-running the script's cells shows nothing.
    """
    from mpguide.experiment import reimported_main

    if source is not None:
        obj = captioned(obj, source)

    if "sphinx_gallery" in sys.modules or reimported_main():
        return obj
    savefig = getattr(obj, "savefig", None)
    if callable(savefig):
        stem = Path(sys.argv[0]).stem or "figure"
        path = Path(f"{stem}-{len(_saved) + 1}.png")
        savefig(path, dpi=100)
        _saved.append(path)
        print(f"figure saved to {path.resolve()}")
    else:
        to_string = getattr(obj, "to_string", None)
        print(to_string() if callable(to_string) else obj)
    return obj


@dataclasses.dataclass(frozen=True)
class CaptionedTable:
    """A table and the line saying where its numbers came from; rendered as the DataFrame is
    (HTML in the docs, text in a terminal) with that line as its caption."""

    frame: pd.DataFrame
    caption: str
    prefix: str = "Measured on"

    def _repr_html_(self) -> str:
        frame: Any = self.frame  # pandas' notebook hook, which the stubs do not declare
        table_html = frame._repr_html_() or ""
        caption = f'<caption class="mpguide-provenance">{html.escape(self.line)}</caption>'
        return re.sub(r"(<table[^>]*>)", lambda m: m.group(1) + caption, table_html, count=1)

    @property
    def line(self) -> str:
        """The caption as one sentence."""
        return f"{self.prefix}: {self.caption}."

    def to_string(self) -> str:
        """The table as text, its caption below."""
        return f"{self.frame.to_string()}\n{self.line}"

    def __repr__(self) -> str:
        return self.to_string()


def captioned(frame: pd.DataFrame, source: Any, start_method: str | None = None, *,
              prefix: str = "Measured on") -> CaptionedTable:
    """``frame`` captioned with where ``source`` was measured (machine, Python, start method,
    date, mode: :func:`mpguide.machine.caption_for`); ``start_method`` overrides the records'.
    ``prefix`` says how the numbers relate to that machine (a projection from it, say)."""
    return CaptionedTable(frame, machine.caption_for(source, start_method), prefix)


__all__ = ["CaptionedTable", "captioned", "show"]
