"""Chapter 8's figures: the speedup of the started ``Pool`` and of the cluster against task
duration, scattering against sending the argument with every task, and the cost model's
projection to more machines. Each carries the machine caption of its record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mpguide.chapters import scale_out

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = scale_out.CHAPTER


def plot_payoff(record: Mapping[str, Any],
                title: str = "Speedup over the loop against task duration") -> Figure:
    """Speedup of the started ``Pool`` and of the loopback cluster against task duration
    (log), with the ideal (the workers) and the pay-off line dashed."""
    import matplotlib.pyplot as plt

    from mpguide.plotting import add_caption

    frame = scale_out.payoff_frame(record)
    workers = int(record["cluster"]["workers"])
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for label, rows in frame[frame["tool"] != "loop"].groupby("label", sort=False):
        ax.plot(rows["task_ms"], rows["speedup"], marker="o", label=str(label))
    ax.axhline(workers, color="0.5", ls="--", lw=1, label=f"ideal ({workers} workers)")
    ax.axhline(scale_out.PAYOFF_FRACTION * workers, color="0.7", ls=":", lw=1,
               label=f"pays off ({scale_out.PAYOFF_FRACTION:g} of ideal)")
    ax.set_xscale("log")
    ax.set_xlabel("task duration (ms, log)")
    ax.set_ylabel("speedup over the loop (median)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return add_caption(fig, record["metadata"])


def plot_scatter(record: Mapping[str, Any],
                 title: str = "Sending the argument with every task, or scattering it once"
                 ) -> Figure:
    """Median seconds per map for each argument size and way (grouped bars)."""
    from mpguide.chapters.tuning import bar_figure

    table = scale_out.scatter_table(record).assign(
        size=lambda t: t["kib"].map(scale_out.size_label))
    return bar_figure(table, x="size", y="median_s", hue="how", err="iqr_s",
                      caption=record["metadata"], title=title,
                      ylabel=f"seconds per map of {int(table['tasks'].iloc[0])} tasks")


def plot_projection(frame: pd.DataFrame, meta: Mapping[str, Any],
                    title: str = "Projection (cost model, not measured): speedup on N machines"
                    ) -> Figure:
    """Projected speedup against the number of machines, one line per task duration, the
    ideal (all cores busy) dashed."""
    import matplotlib.pyplot as plt

    from mpguide.plotting import add_caption

    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for task_ms, rows in frame.groupby("task_ms"):
        ax.plot(rows["machines"], rows["speedup"], marker="o", label=f"{task_ms:g} ms tasks")
    ideal = frame.drop_duplicates("machines")
    ax.plot(ideal["machines"], ideal["cores"], color="0.5", ls="--", lw=1, label="all cores")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("machines (log)")
    ax.set_ylabel("projected speedup over one core (log)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return add_caption(fig, meta)
