"""Chapter 3, "Tuning and choosing": chunksize when tasks are uneven.

:mod:`mpguide.chapters.tuning` declares the chapter and sweeps chunksize on even tasks. Here
the same ``Pool.map`` runs at several chunksizes and at its default on two shapes of work, as
many items and as much work each (:func:`uneven_params`): light tasks whose last
:data:`HEAVY_SHARE` last :data:`HEAVY_FACTOR` times longer
(:func:`~mpguide.chapters.task_duration.heavy_last_items`: sorted work, whose heavy items all
land in the last chunks of the default chunksize, so one worker finishes alone), and even
tasks as long as the uneven ones' mean. Each shape is one
:class:`~mpguide.experiment.Experiment` (fresh interpreter, checked, cached), timed on started
pools with a worker per usable core.

Examples
--------
>>> from mpguide.chapters import uneven_chunks
>>> uneven_chunks.chunk_grid(400, 2)  # the default is 50
[1, 4, 16, 200]
>>> list(uneven_chunks.uneven_experiments()) == list(uneven_chunks.SHAPES)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, timing, workloads
from mpguide.chapters.task_duration import heavy_last_items
from mpguide.chapters.tuning import CHAPTER, chunksize_frame, chunksize_grid
from mpguide.experiment import Experiment

if TYPE_CHECKING:
    import pandas as pd

#: Seconds of a light task, and the share of the items, the last, that last
#: :data:`HEAVY_FACTOR` times longer: the heavy-last shape of chapter 1's timeline.
LIGHT_TASK_S, HEAVY_SHARE, HEAVY_FACTOR = 2e-4, 0.05, 40
#: The two shapes of work (:func:`uneven_params`).
SHAPES = ("even", "uneven")


def chunk_grid(n_items: int, workers: int) -> list[int]:
    """Chunksizes to sweep beside the default: those of
    :func:`~mpguide.chapters.tuning.chunksize_grid` below it (what the claim compares it with)
    and one chunk per worker (the other end; one chunk for everything is a loop in one
    worker, no question of balance)."""
    default = executors.default_chunksize(n_items, workers)
    return [c for c in chunksize_grid(n_items, workers) if c < default] + [-(-n_items // workers)]


def uneven_params(shape: str) -> dict[str, Any]:
    """Items of one shape of :data:`SHAPES` (``heavy_last_items`` params): as many as the
    plain loop runs in about 200 ms (60 ms in quick mode), at least 40 per usable core; the
    even tasks as long as the uneven ones' mean.

    Examples
    --------
    >>> even, uneven = uneven_params("even"), uneven_params("uneven")
    >>> even["count"] == uneven["count"], even["factor"], uneven["factor"] == HEAVY_FACTOR
    (True, 1, True)
    """
    mean = LIGHT_TASK_S * (1 - HEAVY_SHARE + HEAVY_SHARE * HEAVY_FACTOR)
    count = max(40 * machine.usable_cpus(), round(config.scaled(200, 60) / 1e3 / mean))
    if shape == "even":
        return {"seconds": mean, "count": count, "heavy": HEAVY_SHARE, "factor": 1}
    return {"seconds": LIGHT_TASK_S, "count": count, "heavy": HEAVY_SHARE,
            "factor": HEAVY_FACTOR}


def uneven_experiments() -> dict[str, Experiment]:
    """One experiment per shape of :data:`SHAPES`, not run: ``spin`` over
    :func:`~mpguide.chapters.task_duration.heavy_last_items` through ``Pool`` at each
    chunksize of :func:`chunk_grid` and at its default, timed on started pools."""
    workers = machine.usable_cpus()
    out = {}
    for shape in SHAPES:
        params = uneven_params(shape)
        out[shape] = Experiment("tuning-uneven-chunks", workloads.spin, heavy_last_items, [
            *(executors.Pool(workers, chunksize=c)
              for c in chunk_grid(params["count"], workers)),
            executors.Pool(workers)], params=params, startup=False)
    return out


def load_uneven_chunks() -> pd.DataFrame:
    """Tidy rows of both shapes (:func:`~mpguide.chapters.tuning.chunksize_frame`, with
    ``shape``); measured once per machine and mode, then cached."""
    import pandas as pd

    return pd.concat([chunksize_frame(exp.run(), None, exp.params["seconds"] * 1e6)
                      .assign(shape=shape) for shape, exp in uneven_experiments().items()],
                     ignore_index=True)


def uneven_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per shape, strategy and chunksize, with ``vs_best``: the ratio to the
    shape's fastest ``Pool.map`` chunksize (its default included)."""
    out = timing.summarize(df, ["shape", "strategy", "chunksize"], value="seconds")
    pools = out[out["strategy"] != "serial"]
    serial = out[out["strategy"] == "serial"].set_index("shape")["median"]
    out["vs_best"] = out["median"] / out["shape"].map(pools.groupby("shape")["median"].min())
    out["speedup"] = out["shape"].map(serial) / out["median"]
    return out


def uneven_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per chunksize (the default last), one column per shape: each time over the
    shape's best (1.0 is the best)."""
    pools = summary[summary["strategy"] != "serial"].copy()
    pools["chunksize"] = [f"default ({c})" if s == "default" else str(c)
                          for s, c in zip(pools["strategy"], pools["chunksize"], strict=True)]
    table = pools.pivot(index="chunksize", columns="shape", values="vs_best")
    order = sorted(table.index, key=lambda c: (c.startswith("default"), int(c.split("(")[-1]
                                                                             .rstrip(")"))))
    return table.loc[order, list(SHAPES)].rename(columns=lambda s: f"{s}: time / best")


# --- claims -----------------------------------------------------------------------------------


#: How much faster than the default the best smaller chunksize must be on uneven tasks: a
#: quarter, beyond a shared machine's run-to-run spread (the default leaves the heavy chunks
#: to the last workers, about half the run alone on two cores).
UNEVEN_GAIN_ABOVE = 1.25
#: How close to the best the default must be on even tasks: within a quarter.
EVEN_WITHIN = 1.25


@claims.claim("uneven-tasks-want-small-chunks", chapter=CHAPTER,
              statement="On {count} tasks whose last {heavy:.0%} last {factor}x longer, "
                        "chunksize {best} was {gain:.2f|faster|slower} than Pool.map's default "
                        "chunksize ({default}) (claimed: more than {gain_above} times as "
                        "fast); on as many even tasks of the same total work the default took "
                        "{even:.2f}x the best chunksize's time (claimed: under {even_within} "
                        "times).")
def _uneven_tasks_want_small_chunks() -> claims.Evidence:
    df = load_uneven_chunks()
    summary = uneven_summary(df)
    uneven = summary[summary["shape"] == "uneven"].set_index(["strategy", "chunksize"])
    default_chunks = int(df["default_chunksize"].iloc[0])
    default_s = float(uneven.loc["default", "median"].iloc[0])
    smaller = uneven.loc["pool", "median"]
    smaller = smaller[smaller.index < default_chunks]
    best = int(smaller.idxmin())
    even = summary[(summary["shape"] == "even") & (summary["strategy"] == "default")]
    values = {"count": int(df["n_items"].iloc[0]), "heavy": HEAVY_SHARE,
              "factor": HEAVY_FACTOR, "best": best, "gain": default_s / float(smaller.min()),
              "default": default_chunks, "even": float(even["vs_best"].iloc[0]),
              "gain_above": UNEVEN_GAIN_ABOVE, "even_within": EVEN_WITHIN}
    return claims.Evidence(
        holds=bool(values["gain"] > UNEVEN_GAIN_ABOVE and values["even"] < EVEN_WITHIN),
        values=values,
        evidence=f"Median Pool.map times on the uneven tasks: default {default_s:.3f} s, "
                 f"chunksize {best} {float(smaller.min()):.3f} s, chunksize 1 "
                 f"{float(smaller.loc[1]):.3f} s; {int(df['workers'].max())} workers, "
                 f"{LIGHT_TASK_S * 1e6:.0f} µs light tasks.")
