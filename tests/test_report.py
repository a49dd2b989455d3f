"""mpguide.report.show: a gallery script run on its own prints its tables and saves its
figures; inside a docs build it only hands the object back for sphinx-gallery to render."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import matplotlib
import pandas as pd
import pytest

from mpguide.report import show

matplotlib.use("Agg")


def test_a_script_run_alone_saves_its_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["plot_example.py"])
    monkeypatch.delitem(sys.modules, "sphinx_gallery", raising=False)
    fig, _ = plt.subplots()
    try:
        assert show(fig) is fig
    finally:
        plt.close(fig)
    saved = sorted(tmp_path.glob("plot_example-*.png"))
    assert len(saved) == 1
    assert saved[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(saved[0].resolve()) in capsys.readouterr().out


def test_a_docs_build_only_gets_the_object_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "sphinx_gallery", ModuleType("sphinx_gallery"))
    table = pd.DataFrame({"label": ["loop"], "median_s": [0.5]})
    assert show(table) is table
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []
