"""The seed article's per-task timing (mpguide.chapters.seed_timing): its declaration follows
this machine, and a small run gives the loop's and the pool's rows, the workers' seconds
summed, under every start method."""

from __future__ import annotations

import pandas as pd
import pytest

from mpguide import machine
from mpguide.chapters import seed_timing


def test_the_declaration_is_the_articles_with_this_machines_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda *_: 8)
    params = seed_timing.seed_timing_params("spawn")
    assert (params["items"], params["chunksize"], params["workers"]) == (100, 5, 8)


def test_a_small_run_measures_the_loop_and_the_pool(start_method: str) -> None:
    df = pd.DataFrame(seed_timing.measure_seed_timing(
        start_method=start_method, workers=2, items=6, chunksize=2, repeats=2))
    assert df.groupby("way").size().to_dict() == {"loop": 2, "pool": 2}
    assert (df["work_s"] > 0).all()
    assert df["start_method"].eq(start_method).all()
    table = seed_timing.seed_timing_table(df)
    assert list(table.index) == ["loop", "pool"]
    assert 0 < table.loc["pool", "busy"] <= 1  # the workers' seconds over workers x wall
