"""Chapter 7's tables for the page, read off :meth:`SideBySide.table
<mpguide.chapters.side_by_side.SideBySide.table>`: the rows of one shape with the lines of
code each needs (:func:`shape_table`), a sentence on its fastest row (:func:`shape_summary`),
the fastest row of every shape (:func:`best_ways`), and the peers' published figures beside
this machine's (:func:`published_table`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mpguide.chapters import side_by_side
from mpguide.chapters.side_by_side_snippets import snippet_lines

if TYPE_CHECKING:
    import pandas as pd

CHAPTER = side_by_side.CHAPTER

#: Columns of :func:`shape_table` and their headings on the page.
SHAPE_COLUMNS = {"median_s": "ms per map", "speedup": "speedup", "per_task_us": "µs per no-op item",
                 "peak_uss_mib": "workers' USS MiB", "peak_rss_mib": "workers' RSS MiB",
                 "processes": "processes", "shm_mib": "/dev/shm MiB",
                 "snippet_lines": "lines to write"}


def shape_table(table: pd.DataFrame, shape: str) -> pd.DataFrame:
    """The rows of one shape of :meth:`SideBySide.table
    <mpguide.chapters.side_by_side.SideBySide.table>`, for the page: indexed by ``way``,
    milliseconds per map, speedup over the loop, per-task overhead (µs per item on the no-op
    shape), the peak memory of the tool's processes (MiB), their number, the growth of
    ``/dev/shm`` and the lines of the snippet (:data:`SHAPE_COLUMNS`)."""
    rows = table[table["shape"] == shape].set_index("way")
    rows = rows.assign(snippet_lines=rows.index.map(snippet_lines))
    out = rows[list(SHAPE_COLUMNS)].rename(columns=SHAPE_COLUMNS)
    out["ms per map"] = out["ms per map"] * 1e3
    return out.rename_axis(f"{shape} ({int(rows['items'].iloc[0]):,} items)" if len(rows)
                           else shape)


def shape_summary(table: pd.DataFrame, shape: str) -> str:
    """One sentence, from the records, on the fastest row of ``shape`` and Pool's default.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"shape": "s", "way": ["loop", "Pool", "joblib"],
    ...                      "median_s": [1.0, 0.6, 0.4], "speedup": [1.0, 1.67, 2.5]})
    >>> print(shape_summary(rows, "s"))
    Fastest: **joblib**, 2.50x the loop's speed (Pool.map at its default: 1.67x).
    """
    rows = table[(table["shape"] == shape) & (table["way"] != "loop")].set_index("way")
    best = str(rows["median_s"].idxmin())
    line = f"Fastest: **{best}**, {rows.loc[best, 'speedup']:.2f}x the loop's speed"
    if best != "Pool" and "Pool" in rows.index:
        line += f" (Pool.map at its default: {rows.loc['Pool', 'speedup']:.2f}x)"
    return line + "."


def best_ways(table: pd.DataFrame) -> pd.DataFrame:
    """One row per shape: the fastest row (``way``), its ``speedup``, the speedup of Pool's
    default and the loop's milliseconds, for the summary table."""
    import pandas as pd

    rows = []
    for shape, group in table.groupby("shape", sort=False):
        runs = group[group["way"] != "loop"].set_index("way")
        best = runs["median_s"].idxmin()
        rows.append({"shape": shape, "fastest": best, "speedup": runs.loc[best, "speedup"],
                     "Pool speedup": runs.loc["Pool", "speedup"],
                     "loop ms": float(group.loc[group["way"] == "loop", "median_s"].iloc[0])
                     * 1e3})
    return pd.DataFrame(rows).set_index("shape")


_MPIRE, _RAY = side_by_side.MPIRE_CHART, side_by_side.RAY_EXAMPLE
#: What the peers publish (tool, figure, source), from their docs and READMEs.
PUBLISHED = (
    ("Pool", "map's default chunksize: about 4 chunks per worker",
     "CPython Lib/multiprocessing/pool.py"),
    ("ProcessPoolExecutor", ('map\'s chunksize is 1 unless given; "a large value can '
                             'significantly improve performance"'),
     "CPython docs, concurrent.futures"),
    ("joblib", ('batch_size="auto" doubles batches while one lasts under 0.2 s, shrinks them '
                "above 2 s; loky workers get cpu_count // n_jobs BLAS threads"),
     "joblib _parallel_backends.py, parallel.py"),
    ("mpire", (f"README chart (20 cores, 3 benchmarks): mpire ~{_MPIRE['mpire']}, "
               f"multiprocessing ~{_MPIRE['multiprocessing']} (normalised time)"),
     "sybrenjansen/mpire README"),
    ("Dask", '"every task comes with some overhead ... somewhere between 200us and 1ms"',
     "docs.dask.org, best practices"),
    ("Ray", ('"unlikely to see speedups if your tasks take less than ten milliseconds"; '
             f"{_RAY['tasks']:,} tasks of ~10 µs: {_RAY['serial_s']} s serial, "
             f"{_RAY['per_task_s']} s one task each, {_RAY['batched_s']} s batched"),
     "docs.ray.io, optimize performance; anti_pattern_too_fine_grained_tasks.py"),
)


def published_table(table: pd.DataFrame) -> pd.DataFrame:
    """:data:`PUBLISHED` beside this machine's counterpart (``here``), read from
    :meth:`SideBySide.table <mpguide.chapters.side_by_side.SideBySide.table>`."""
    import pandas as pd

    def cell(shape: str, way: str, column: str) -> float:
        try:
            return side_by_side.cell(table, shape, way, column)
        except KeyError:
            return math.nan

    def speedup(shape: str, way: str) -> str:
        return f"{cell(shape, way, 'speedup'):.2f}x"

    def per_item(way: str) -> str:
        return f"{cell('no-op', way, 'per_task_us'):.1f} µs"

    ms = side_by_side.MS_SHAPE
    here = {
        "Pool": f"{per_item('Pool')} per no-op item at its default",
        "ProcessPoolExecutor": f"{per_item('ProcessPoolExecutor')} per no-op item at 1, "
                               f"{per_item(side_by_side.PPE_CHUNKS)}"
                               " in Pool's chunks",
        "joblib": f"tiny tasks: auto {speedup('tiny', 'joblib')} the loop, fixed batch "
                  f"{speedup('tiny', side_by_side.JOBLIB_CHUNKS)}; matmul: "
                  f"{speedup('BLAS', 'joblib')} (Pool {speedup('BLAS', 'Pool')})",
        "mpire": f"plain map on {ms} tasks: mpire {speedup(ms, 'mpire')} the loop, Pool "
                 f"{speedup(ms, 'Pool')}",
        "Dask": f"{per_item('Dask')} per no-op task",
        "Ray": f"not measured; Dask, one task per item on {ms} tasks: {speedup(ms, 'Dask')}"
               " the loop",
    }
    return pd.DataFrame([{"tool": tool, "published": figure, "source": source,
                          "here": here[tool]} for tool, figure, source in PUBLISHED]
                        ).set_index("tool")
