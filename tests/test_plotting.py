"""Plot helpers: figures from tidy frames, medians with IQR bars, the machine caption on each."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mpguide import machine, plotting

META = {"cpu_model": "Test CPU", "usable_cpus": 2, "python": "3.11.7", "start_method": "fork",
        "date": "2026-11-23T10:00:00+00:00", "mpguide_version": "0.1.0", "mode": "quick"}


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def speedup_frame() -> pd.DataFrame:
    rows = [{"workers": w, "repeat": r, "value": 2.0 / w + 0.01 * r, **META}
            for w in (1, 2, 4) for r in range(5)]
    return pd.DataFrame(rows)


def chunksize_frame() -> pd.DataFrame:
    rows = [{"chunksize": c, "repeat": r, "value": 1.0 / c + 0.001 * r, **META}
            for c in (1, 10, 100, 1000) for r in range(4)]
    return pd.DataFrame(rows)


def throughput_frame() -> pd.DataFrame:
    rows = [{"nbytes": n, "kind": k, "repeat": r, "value": 1e-6 + n / 1e9 * (1 + 0.1 * r), **META}
            for n in (0, 2**10, 2**20) for k in ("bytes", "nested") for r in range(3)]
    return pd.DataFrame(rows)


PLOTS = {
    "speedup": lambda df, **kw: plotting.speedup_plot(df, y="value", baseline=2.0, **kw),
    "chunksize": lambda df, **kw: plotting.chunksize_plot(df, reference=0.5, **kw),
    "throughput": lambda df, **kw: plotting.throughput_plot(df, hue="kind", **kw),
}
FRAMES = {"speedup": speedup_frame, "chunksize": chunksize_frame,
          "throughput": throughput_frame}


@pytest.mark.parametrize("kind", PLOTS)
def test_every_figure_carries_the_machine_caption(kind: str) -> None:
    fig = PLOTS[kind](FRAMES[kind]())
    assert isinstance(fig, Figure)
    assert plotting.caption_of(fig) == machine.caption(META)
    fig.canvas.draw()  # lays out and renders without error


@pytest.mark.parametrize("kind", PLOTS)
def test_caption_can_be_given(kind: str) -> None:
    fig = PLOTS[kind](FRAMES[kind](), caption=META | {"start_method": "spawn"})
    assert "start method spawn" in plotting.caption_of(fig)


@pytest.mark.parametrize("kind", PLOTS)
def test_frame_without_metadata_needs_a_caption(kind: str) -> None:
    bare = FRAMES[kind]().drop(columns=list(META))
    with pytest.raises(ValueError, match="no machine metadata columns"):
        PLOTS[kind](bare)
    assert plotting.caption_of(PLOTS[kind](bare, caption="my laptop")) == "my laptop"


def test_speedup_plot_shows_medians_and_the_ideal_line() -> None:
    fig = plotting.speedup_plot(speedup_frame(), y="value", baseline=2.0)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["ideal"].get_ydata()) == [1, 4]
    data = [line for line in ax.get_lines() if line.get_label().startswith("_")]
    medians = next(line for line in data if len(line.get_xdata()) == 3)
    expected = [2.0 / (2.0 / w + 0.02) for w in (1, 2, 4)]
    assert list(medians.get_ydata()) == pytest.approx(expected)


def test_chunksize_plot_is_log_x() -> None:
    ax = plotting.chunksize_plot(chunksize_frame(), logy=True).axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")


def test_throughput_plot_leaves_out_zero_bytes() -> None:
    ax = plotting.throughput_plot(throughput_frame(), hue="kind").axes[0]
    xs = {x for line in ax.get_lines() for x in line.get_xdata()}
    assert 0 not in xs
    assert {2**10, 2**20} <= xs
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kind=bytes", "kind=nested"]


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="no column 'workers'"):
        plotting.speedup_plot(chunksize_frame(), caption="x")


def test_add_caption_replaces_the_previous_one() -> None:
    fig = plt.figure()
    plotting.add_caption(fig, "first")
    plotting.add_caption(fig, META, start_method="forkserver")
    captions = [t for t in fig.texts if t.get_gid() == plotting.CAPTION_GID]
    assert len(captions) == 1
    assert "start method forkserver" in captions[0].get_text()


def test_add_caption_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="a caption comes from a string"):
        plotting.add_caption(plt.figure(), 42)


def test_caption_fits_a_figure_laid_out_once_with_tight_layout() -> None:
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    fig.tight_layout()
    assert plotting.caption_of(plotting.add_caption(fig, "a caption")) == "a caption"
    plt.close(fig)


def test_a_captioned_table_says_where_it_was_measured() -> None:
    import pandas as pd

    from mpguide import report

    records = pd.DataFrame([{**META, "seconds": 0.5}])
    table = report.captioned(records[["seconds"]], records, start_method="spawn")
    html = table._repr_html_()
    assert html.count("<caption") == 1
    assert "start method spawn" in html
    assert html.index("<caption") > html.index("<table")
    assert table.to_string().endswith(f"Measured on: {machine.caption(META, 'spawn')}.")
    with pytest.raises(ValueError, match="no machine metadata"):
        report.captioned(records[["seconds"]], records[["seconds"]])
