"""Show a table or a figure both where a gallery script is rendered and where it is run.

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
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_saved: list[Path] = []


def show(obj: T) -> T:
    """Return ``obj``; outside a docs build, also print it (a table) or save it (a figure).

    A ``spawn``/``forkserver`` worker re-running the script's cells shows nothing.
    """
    from mpguide.experiment import reimported_main

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


__all__ = ["show"]
