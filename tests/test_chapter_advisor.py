"""Chapter 4, validating the advisor (mpguide.chapters.advisor): the summary ratios, and the
experiment that measures what it predicts."""

from __future__ import annotations

import pytest

from mpguide import machine, workloads
from mpguide.chapters import advisor


def test_plans_use_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a card with 8 usable cores the validation and the advice plan pools of 8."""
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    plans = advisor.plan_validation(start_method="spawn")
    assert [p["name"] for p in plans] == list(advisor.WORKLOADS)
    assert {p["workers"] for p in plans} == {8}
    assert advisor.advice_params(workloads.spin, advisor.compute_items)["workers"] == 8


def test_validation_params_name_the_function() -> None:
    ours = advisor.validation_params(workloads.spin, advisor.compute_items, repeats=1)
    assert (ours["name"], ours["shape"]) == ("compute", "compute-bound")
    assert advisor.plan_validation(["compute"], repeats=1) == [ours]
    theirs = advisor.validation_params("mpguide.workloads:spin",
                                       "mpguide.chapters.advisor:tiny_items",
                                       {"unused": 1}, start_method="fork")
    assert theirs["name"] == "spin"
    assert theirs["shape"] == "your function"
    assert theirs["params"] == {"unused": 1}
    assert theirs["func_hash"] == ours["func_hash"]


def test_validation_summary_ratios() -> None:
    import pandas as pd

    rows = [("serial", 1.0, 1.0), ("sweep", 0.5, 0.55), ("sweep", 0.8, 0.6),
            ("pool-default", 0.6, None), ("joblib-auto", 2.0, None),
            ("joblib-auto-warm", 0.7, None), ("recommended", 0.52, 0.55)]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "measured_s": m,
                        "predicted_s": p, "recommended_tool": "pool", "advise_s": 1.0}
                       for k, m, p in rows])
    df["error"] = (df["predicted_s"] - df["measured_s"]) / df["measured_s"]
    row = advisor.summary(df).iloc[0]
    assert row["median_abs_error"] == pytest.approx((0.1 + 0.25) / 2)
    assert row["vs_best"] == pytest.approx(0.52 / 0.5)
    assert row["vs_pool_default"] == pytest.approx(0.52 / 0.6)
    assert row["vs_joblib_auto"] == pytest.approx(0.26)
    assert advisor.overall_error(df) == pytest.approx(0.175)


@pytest.mark.slow
def test_validation_measures_what_it_predicts(start_method: str) -> None:
    from mpguide import runner

    # In a fresh interpreter, as load_validation runs it: joblib's workers and temporary
    # folders go with it.
    declared = advisor.validation_params(workloads.square, advisor.tiny_items,
                                         start_method=start_method, repeats=1)
    result = runner.run_fresh(f"{advisor.__name__}:measure_workload", declared, timeout=300)
    kinds = {r["kind"] for r in result["records"]}
    assert kinds == {"serial", "sweep", "pool-default", "joblib-auto", "joblib-auto-warm",
                     "recommended"}
    sweep = [r for r in result["records"] if r["kind"] == "sweep"]
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in sweep)
    assert {r["workers"] for r in sweep} >= {1}
    assert result["advice"]["recommendation"]["tool"] == "serial"
    df = advisor.validation_frame(result)
    assert set(df["workload"]) == {"tiny"}
    assert df["error"].notna().any()
