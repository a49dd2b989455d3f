"""Chapter 3's chunksize sweep on uneven tasks (mpguide.chapters.uneven_chunks): both shapes
through the experiment verb on a few tiny tasks, the summary and table they make, and plans
sized by the usable cores. The claim's cases are in ``test_claims_fail_issue13.py``."""

from __future__ import annotations

from typing import Any

import pytest

from mpguide import claims, machine
from mpguide.chapters import uneven_chunks


def _tiny(shape: str) -> dict[str, Any]:
    return {"seconds": 1e-5, "count": 16, "heavy": 0.25, "factor": 1 if shape == "even" else 4}


def test_both_shapes_run_and_tabulate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 2)
    monkeypatch.setattr(uneven_chunks, "uneven_params", _tiny)
    df = uneven_chunks.load_uneven_chunks()
    assert set(df["shape"]) == set(uneven_chunks.SHAPES)
    assert set(df["strategy"]) == {"serial", "pool", "default"}
    assert set(df["measured_in"]) == {"fresh interpreter"}
    summary = uneven_chunks.uneven_summary(df)
    pools = summary[summary["strategy"] != "serial"]
    assert (pools.groupby("shape")["vs_best"].min() == 1.0).all()
    table = uneven_chunks.uneven_table(summary)
    assert list(table.index) == ["1", "8", "default (2)"]
    assert list(table.columns) == ["even: time / best", "uneven: time / best"]
    verdict = claims.evaluate("uneven-tasks-want-small-chunks")
    assert "{" not in verdict.statement
    assert verdict.statement.startswith("On 16 tasks")


def test_plans_follow_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    plans = uneven_chunks.uneven_experiments()
    counts = {p["count"] for p in (e.params for e in plans.values())}
    assert counts == {320}  # 40 per usable core: more than the quick loop's budget
    for shape, experiment in plans.items():
        assert experiment.params["factor"] == (1 if shape == "even" else 40)
        assert {s.workers for s in experiment.executors if s.tool == "pool"} == {8}
        chunks = [s.chunksize for s in experiment.executors if s.tool == "pool"]
        assert chunks == [*uneven_chunks.chunk_grid(320, 8), None]
