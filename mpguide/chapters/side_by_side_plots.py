"""Chapter 7's figures: speedups and worker memory as heatmaps (one row per way of the line-up,
one column per shape), the per-task overhead on the no-op shape, and what a whole run costs
start and stop included. Each takes the records :mod:`mpguide.chapters.side_by_side` loads and
carries the machine caption.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide.chapters import side_by_side

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = side_by_side.CHAPTER


def _grid(table: pd.DataFrame, value: str,
          shapes_shown: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``value`` with one row per way (in the order of
    :data:`~mpguide.chapters.side_by_side.WAYS`) and one column per shape, and which cells have
    a row at all (a value may be missing from a row that exists)."""
    runs = table[table["way"] != "loop"].assign(_present=True)
    grid = runs.pivot_table(index="way", columns="shape", values=value, aggfunc="first",
                            dropna=False)
    present = runs.pivot_table(index="way", columns="shape", values="_present",
                               aggfunc="any", fill_value=False)
    ways = [w for w in side_by_side.WAYS if w in present.index]
    columns = [s for s in shapes_shown if s in present.columns]
    return (grid.reindex(index=ways, columns=columns),
            present.reindex(index=ways, columns=columns, fill_value=False))


def _heatmap(ax: Any, grid: pd.DataFrame, present: pd.DataFrame, *, colours: Any, norm: Any,
             fmt: Callable[[float], str], missing: str) -> Any:
    """Coloured cells with their values written in; a row without a value says ``missing``,
    a cell without a row stays blank."""
    import numpy as np

    values = grid.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, norm=norm, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    for (i, j), value in np.ndenumerate(values):
        if not math.isfinite(value):
            text, colour = (missing if present.iloc[i, j] else ""), "0.3"
        else:
            shade = colours(norm(value))
            text = fmt(value)
            colour = "white" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5 \
                else "black"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    return image


def plot_speedups(side: side_by_side.SideBySide, title: str | None = None) -> Figure:
    """Heatmap of the speedup over the loop of every row (y) on every shape (x, the no-op
    shape left out: it has no work to speed up); blue is faster than the loop, red slower,
    on a log scale. A blank cell is a row that coincides with another (Pool's chunksize of
    1 is ProcessPoolExecutor's default)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from mpguide import plotting

    table = side.table()
    grid, present = _grid(table, "speedup", [s for s in side.results if s != "no-op"])
    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    image = _heatmap(ax, grid, present, colours=plt.get_cmap("RdBu"), norm=LogNorm(1 / 16, 16),
                     fmt=lambda v: f"{v:.2f}" if v < 10 else f"{v:.0f}", missing="")
    fig.colorbar(image, ax=ax, label="speedup over the loop (log scale)")
    ax.set_title(title or "Speedup over the plain loop, map on a started executor")
    return plotting.add_caption(fig, side.metadata())


def plot_memory(side: side_by_side.SideBySide, title: str | None = None) -> Figure:
    """Heatmap of the peak memory of each row's worker processes (MiB, sum of their USS)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from mpguide import plotting

    table = side.table()
    grid, present = _grid(table, "peak_uss_mib", list(side.results))
    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    top = max([2.0, *(v for v in grid.to_numpy(dtype=float).ravel() if math.isfinite(v))])
    image = _heatmap(ax, grid, present, colours=plt.get_cmap("Purples"), norm=LogNorm(1, top * 2),
                     fmt=lambda v: f"{v:.0f}", missing="in the script")
    fig.colorbar(image, ax=ax, label="MiB (USS summed over the tool's processes)")
    ax.set_title(title or "Peak private memory of the workers")
    return plotting.add_caption(fig, side.metadata())


def plot_overhead(side: side_by_side.SideBySide, title: str | None = None) -> Figure:
    """Wall time per item of the no-op shape for each row (µs, log scale), with Dask's
    documented per-task overhead
    (:data:`~mpguide.chapters.side_by_side.DASK_TASK_OVERHEAD_S`) shaded."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    table = side.table()
    rows = table[(table["shape"] == "no-op") & (table["way"] != "loop")].set_index("way")
    rows = rows.reindex([w for w in side_by_side.WAYS if w in rows.index])
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.8), layout="constrained")
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, rows["per_task_us"], color="tab:blue", alpha=0.8)
    ax.set_yticks(positions, rows.index, fontsize=8)
    ax.set_xscale("log")
    low, high = (s * 1e6 for s in side_by_side.DASK_TASK_OVERHEAD_S)
    ax.axvspan(low, high, color="tab:orange", alpha=0.2,
               label=f"Dask's documented per-task overhead ({low:.0f} to {high:.0f} µs)")
    ax.set_xlabel(f"µs of wall time per item ({side.items().get('no-op', 0):,} no-op items)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "Per-task overhead: a function that returns its argument")
    return plotting.add_caption(fig, side.metadata())


def plot_startup(table: pd.DataFrame, meta: Mapping[str, Any],
                 title: str | None = None) -> Figure:
    """Seconds of a whole run (start, map of the
    :data:`~mpguide.chapters.side_by_side.MS_SHAPE` shape, stop) per tool and start method
    (:func:`~mpguide.chapters.side_by_side.startup_table` rows), log scale."""
    import matplotlib.pyplot as plt

    from mpguide import plotting

    rows = table[table["tool"] != "loop"]
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.8), layout="constrained")
    methods = list(dict.fromkeys(str(m) for m in rows["start_method"]))
    palette = plt.get_cmap("tab10")
    colours = {method: palette(i) for i, method in enumerate(methods)}
    positions = list(range(len(rows)))[::-1]
    ax.barh(positions, rows["median_s"], xerr=rows["iqr_s"],
            color=[colours[str(m)] for m in rows["start_method"]], alpha=0.85)
    ax.set_yticks(positions, [f"{t} ({m})" for t, m in zip(rows["tool"], rows["start_method"],
                                                           strict=True)], fontsize=8)
    loop = table.loc[table["tool"] == "loop", "median_s"]
    if len(loop):
        ax.axvline(float(loop.iloc[0]), color="0.3", ls="--", lw=1, label="loop")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds: start, map, stop (median, IQR)")
    ax.set_title(title or f"What a script pays: the {side_by_side.MS_SHAPE} shape, start and "
                          "stop included")
    return plotting.add_caption(fig, dict(meta), "each tool's own, as labelled")
