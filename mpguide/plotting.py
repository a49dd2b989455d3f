"""Plot helpers for the chapters: speedup, chunksize and throughput figures from tidy frames.

Every helper takes a tidy DataFrame (one row per parameter set and repeat, as
:meth:`mpguide.timing.Measurement.to_frame` makes), draws the median of each group with IQR
error bars, and returns the :class:`matplotlib.figure.Figure`. Every figure carries the
machine caption (:func:`add_caption`, text of :func:`mpguide.machine.caption`); pass the
metadata (a dict, or a frame with the metadata columns) or a ready caption string.

Figures are made with :mod:`matplotlib.pyplot`, so sphinx-gallery and Jupyter pick them up,
and this module never selects a backend: scripts without a display fall back to Agg on their
own, notebooks keep their inline backend. Close figures you no longer need
(``plt.close(fig)``).

Examples
--------
>>> import pandas as pd
>>> from mpguide import plotting
>>> df = pd.DataFrame({"workers": [1, 1, 2, 2], "speedup": [0.9, 1.0, 1.7, 1.8]})
>>> fig = plotting.speedup_plot(df, caption="Xeon, 2 usable cores")
>>> plotting.caption_of(fig)
'Xeon, 2 usable cores'
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mpguide import machine

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

# A figure, or a subfigure (what ``ax.figure`` is for an axes drawn in one).
_FigureT = TypeVar("_FigureT", bound="Figure | SubFigure")

#: ``gid`` of the caption text artist, so tests and callers can find it again.
CAPTION_GID = "mpguide-caption"
#: Caption font size (points) and the share of the figure height kept free for it.
CAPTION_FONTSIZE = 7
CAPTION_HEIGHT = 0.06


def add_caption(fig: _FigureT, meta_or_caption: Any, start_method: str | None = None) -> _FigureT:
    """Write the machine caption under ``fig`` (replacing an earlier one) and return ``fig``.

    ``meta_or_caption`` is a caption string, a metadata dict
    (:func:`mpguide.machine.collect_metadata`) or a tidy frame whose first row carries the
    metadata columns; ``start_method`` overrides the one in the metadata.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure()
    >>> meta = {"cpu_model": "Xeon", "usable_cpus": 2, "python": "3.11.7", "mode": "quick",
    ...         "date": "2026-11-23T10:00:00+00:00", "mpguide_version": "0.1.0"}
    >>> caption_of(add_caption(fig, meta, start_method="spawn"))
    'Xeon, 2 usable cores, Python 3.11.7, start method spawn, 2026-11-23, mpguide 0.1.0, quick mode'
    >>> plt.close(fig)
    """
    text = machine.caption_for(meta_or_caption, start_method)
    for artist in [t for t in fig.texts if t.get_gid() == CAPTION_GID]:
        artist.remove()
    fig.text(0.01, 0.01, text, gid=CAPTION_GID, fontsize=CAPTION_FONTSIZE, color="0.35",
             ha="left", va="bottom", wrap=True)
    from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine

    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine | TightLayoutEngine):
        engine.set(rect=(0, CAPTION_HEIGHT, 1, 1 - CAPTION_HEIGHT))
    else:  # no engine, or the placeholder a one-off fig.tight_layout() leaves behind
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, CAPTION_HEIGHT + 0.08))
    return fig


def caption_of(fig: Figure | SubFigure) -> str | None:
    """The caption text :func:`add_caption` wrote on ``fig``, or ``None``."""
    texts = [t.get_text() for t in fig.texts if t.get_gid() == CAPTION_GID]
    return texts[0] if texts else None


def _new_figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _medians(df: pd.DataFrame, x: str, y: str, hue: str | None) -> pd.DataFrame:
    """Median, first and third quartile of ``y`` per ``hue`` and ``x`` (sorted by ``x``)."""
    missing = [c for c in (x, y, hue) if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"the frame has no column {', '.join(map(repr, missing))}; its columns "
                         f"are {', '.join(map(str, df.columns))}")
    if df.empty:
        raise ValueError("nothing to plot: the frame is empty")
    by = [hue, x] if hue is not None else [x]
    grouped = df.groupby(by, sort=True)[y]
    out = grouped.median().rename("median").to_frame()
    out["q1"] = grouped.quantile(0.25)
    out["q3"] = grouped.quantile(0.75)
    summary: pd.DataFrame = out.reset_index()
    return summary


def _draw(ax: Axes, summary: pd.DataFrame, x: str, hue: str | None, **style: Any) -> None:
    groups: Iterable[tuple[Any, pd.DataFrame]] = (
        summary.groupby(hue, sort=False) if hue is not None else [(None, summary)])
    for key, group in groups:
        label = None if hue is None else f"{hue}={key}"
        ax.errorbar(group[x], group["median"],
                    yerr=[group["median"] - group["q1"], group["q3"] - group["median"]],
                    marker="o", capsize=3, label=label, **style)


def finish(fig: Figure, ax: Axes, *, caption: Any, title: str | None, xlabel: str,
           ylabel: str, legend: bool, grid: Literal["both", "x", "y"] = "both") -> Figure:
    """Label ``ax`` (title, axes, legend, a light ``grid`` on ``"both"`` axes or one of
    ``"x"``/``"y"``) and caption ``fig`` with the machine (:func:`add_caption`): how every
    mpguide figure ends."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if legend:
        ax.legend(fontsize="small")
    ax.grid(True, which="major", axis=grid, alpha=0.3)
    return add_caption(fig, caption)


def speedup_plot(df: pd.DataFrame, *, x: str = "workers", y: str = "speedup",
                 hue: str | None = None,
                 baseline: float | None = None, caption: Any = None, title: str | None = None,
                 figsize: tuple[float, float] = (6.0, 4.0), usable: int | None = None) -> Figure:
    """Speedup against worker count, with the ideal line ``speedup = min(workers, usable)``.

    ``y`` holds speedups, or times in seconds when ``baseline`` (the serial time) is given:
    then each row's speedup is ``baseline / y``. ``usable`` (the usable cores) is where the
    ideal line stops rising: more workers than cores only take turns (``None``: it never
    stops). A dotted line marks speedup 1 (break-even with the plain loop). ``caption``
    defaults to the frame's own metadata columns.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"workers": [1, 2, 1, 2], "value": [2.0, 1.1, 2.1, 1.2],
    ...                    "start_method": ["fork", "fork", "spawn", "spawn"]})
    >>> fig = speedup_plot(df, y="value", baseline=2.0, hue="start_method", caption="here")
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['ideal', 'break-even']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    data = df.copy()
    if baseline is not None:
        data[y] = baseline / data[y]
    summary = _medians(data, x, y, hue)
    fig, ax = _new_figure(figsize)
    low, high = summary[x].min(), summary[x].max()
    ideal = sorted({low, high, *([usable] if usable is not None and low < usable < high
                                 else [])})
    ax.plot(ideal, [w if usable is None else min(w, usable) for w in ideal], linestyle="--",
            color="0.5", label="ideal")
    ax.axhline(1.0, linestyle=":", color="0.5", label="break-even")
    _draw(ax, summary, x, hue)
    ax.set_xticks(sorted(summary[x].unique()))
    return finish(fig, ax, caption=df if caption is None else caption, title=title,
                   xlabel=x, ylabel="speedup over the plain loop (median, IQR)", legend=True)


def chunksize_plot(df: pd.DataFrame, *, x: str = "chunksize", y: str = "value",
                   hue: str | None = None,
                   reference: float | None = None, reference_label: str = "plain loop",
                   logy: bool = False, caption: Any = None, title: str | None = None,
                   ylabel: str = "wall time (s, median, IQR)",
                   figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
    """Time against chunksize on a log x axis, optionally with a horizontal ``reference``
    (e.g. the plain loop's time).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"chunksize": [1, 1, 10, 10, 100, 100],
    ...                    "value": [3.0, 3.2, 1.0, 1.1, 0.8, 0.9]})
    >>> fig = chunksize_plot(df, reference=1.5, caption="here")
    >>> fig.axes[0].get_xscale()
    'log'
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    summary = _medians(df, x, y, hue)
    fig, ax = _new_figure(figsize)
    if reference is not None:
        ax.axhline(reference, linestyle="--", color="0.5", label=reference_label)
    _draw(ax, summary, x, hue)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    return finish(fig, ax, caption=df if caption is None else caption, title=title,
                   xlabel=x, ylabel=ylabel, legend=hue is not None or reference is not None)


def throughput_plot(df: pd.DataFrame, *, x: str = "nbytes", y: str = "value",
                    hue: str | None = None,
                    y_is_time: bool = True, caption: Any = None, title: str | None = None,
                    figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
    """Throughput (bytes/s) against payload size (bytes), log-log.

    With ``y_is_time`` (the default) ``y`` holds seconds and each row's throughput is
    ``x / y``; otherwise ``y`` already holds bytes per second. Rows of 0 bytes are left out
    (a log axis has no 0).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"nbytes": [0, 1024, 1024, 2**20, 2**20],
    ...                    "value": [1e-6, 1e-6, 2e-6, 1e-3, 1.1e-3], "kind": ["bytes"] * 5})
    >>> fig = throughput_plot(df, hue="kind", caption="here")
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
    ('log', 'log')
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    data = df[df[x] > 0].copy()
    if y_is_time:
        data[y] = data[x] / data[y]
    summary = _medians(data, x, y, hue)
    fig, ax = _new_figure(figsize)
    _draw(ax, summary, x, hue)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return finish(fig, ax, caption=df if caption is None else caption, title=title,
                   xlabel=f"{x} (bytes)", ylabel="throughput (bytes/s, median, IQR)",
                   legend=hue is not None)


__all__ = ["CAPTION_GID", "add_caption", "caption_of", "chunksize_plot", "finish", "speedup_plot",
           "throughput_plot"]
