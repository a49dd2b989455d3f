"""Chapter 4, validating the advisor (mpguide.chapters.advisor): the summary ratios, and the
experiment that measures what it predicts."""

from __future__ import annotations

import math

import pytest

from mpguide import machine, workloads
from mpguide.chapters import advisor, advisor_measure


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
    assert set(ours["peers"]) <= set(advisor.VALIDATED_PEERS)


def test_validation_summary_ratios() -> None:
    import pandas as pd

    rows = [("serial", 1.0, 1.0), ("sweep", 0.5, 0.55), ("sweep", 0.8, 0.6),
            ("pool-default", 0.6, None), ("threads", 0.9, None), ("joblib-auto", 2.0, None),
            ("joblib-auto-warm", 0.7, None), ("recommended", 0.52, 0.55)]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "measured_s": m,
                        "predicted_s": p, "recommended_tool": "pool", "advise_s": 1.0}
                       for k, m, p in rows])
    df["error"] = (df["predicted_s"] - df["measured_s"]) / df["measured_s"]
    row = advisor.summary(df).iloc[0]
    assert row["median_abs_error"] == pytest.approx((0.1 + 0.25) / 2)
    assert row["vs_best"] == pytest.approx(0.52 / 0.5)
    assert row["vs_pool_default"] == pytest.approx(0.52 / 0.6)
    assert row["vs_threads"] == pytest.approx(0.52 / 0.9)
    assert row["vs_joblib_auto"] == pytest.approx(0.26)
    assert row["vs_simple"] == pytest.approx(0.52 / 0.6)  # the fastest simple choice
    assert advisor.overall_error(df) == pytest.approx(0.175)
    assert math.isnan(row["vs_mpire_default"])  # not measured: no ratio, no error
    assert math.isnan(row["vs_dask_batched"])


def test_spread_stands_beside_the_error() -> None:
    """The summary reads each configuration's repeated samples: a sweep whose timings lie
    within 10% and 30% of their median has a median spread of 20%; without samples, NaN."""
    import pandas as pd

    rows = [("sweep", [0.9, 1.0, 1.1], 1.0), ("sweep", [0.7, 1.0, 1.3], 1.0),
            ("serial", [1.0, 5.0, 9.0], 5.0), ("recommended", [1.0], 1.0)]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "samples": samples,
                        "measured_s": m, "predicted_s": m, "recommended_tool": "pool",
                        "advise_s": 1.0} for k, samples, m in rows])
    df["error"] = 0.0
    assert advisor.summary(df).iloc[0]["spread"] == pytest.approx(0.2)
    assert advisor.overall_spread(df) == pytest.approx(0.2)  # the serial row is not swept
    assert math.isnan(advisor.relative_spread(1.0))
    assert math.isnan(advisor.summary(df.drop(columns="samples")).iloc[0]["spread"])


@pytest.mark.parametrize(("rounds", "runoff", "vs_best"), [
    ((0.60, 0.50), (0.52, 0.50), 1.04),   # the sweep's 0.50 was luck: the runoff clears it
    ((0.51, 0.50), (0.65, 0.50), 1.30),   # the rounds flattered it: the runoff finds it slow
    ((0.60, 0.50), None, 1.20)])          # no runoff (an older record): the rounds' ratio
def test_near_best_reads_the_runoff(rounds: tuple[float, float],
                                    runoff: tuple[float, float] | None,
                                    vs_best: float) -> None:
    import pandas as pd

    rows = [("serial", 1.0), ("sweep", rounds[1]), ("recommended", rounds[0])]
    if runoff:
        rows += [("runoff-recommended", runoff[0]), ("runoff-best", runoff[1])]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "measured_s": m,
                        "predicted_s": m, "recommended_tool": "pool", "advise_s": 1.0}
                       for k, m in rows])
    df["error"] = 0.0
    row = advisor.summary(df).iloc[0]
    assert row["vs_best"] == pytest.approx(vs_best)
    assert row["recommended_s"] == rounds[0]  # the other ratios keep the rounds' samples


def test_runoff_times_the_two_in_turn() -> None:
    """The runoff takes the fastest contender by its rounds' median (not a joblib warm row or
    the recommendation itself), alternates which of the two runs first, and is skipped where
    the recommendation was the fastest."""
    calls: list[str] = []

    def run(name: str, seconds: float):
        return lambda: calls.append(name) or seconds
    configs = [({"kind": "serial"}, (("serial",), run("serial", 1.0))),
               ({"kind": "sweep", "chunksize": 1}, (("pool", 1), run("c1", 0.3))),
               ({"kind": "joblib-auto-warm"}, (("joblib", "warm"), run("warm", 0.1))),
               ({"kind": "recommended", "chunksize": 5}, (("pool", 5), run("c5", 0.4)))]
    samples = {("serial",): [1.0], ("pool", 1): [0.25, 0.3], ("joblib", "warm"): [0.1],
               ("pool", 5): [0.4]}
    rows = advisor_measure.runoff_rows(configs, samples, rounds=3)
    assert calls == ["c5", "c1", "c1", "c5", "c5", "c1"]
    assert [(r["kind"], r["chunksize"], r["measured_s"]) for r in rows] == [
        ("runoff-recommended", 5, 0.4), ("runoff-best", 1, 0.3)]
    samples[("pool", 5)] = [0.2]
    assert advisor_measure.runoff_rows(configs, samples, rounds=3) == []


def test_peers_are_compared_as_a_scripts_only_call() -> None:
    """Dask's row is predicted against maps on a warm cluster; the recommendation is compared
    with its first call, start and stop included, as the recommendation's own time is, and
    with mpire's cold calls; the best configuration measured may be a peer's."""
    import pandas as pd

    rows = [("serial", 1.0, 1.0, None), ("sweep", 0.5, 0.55, None),
            ("pool-default", 0.6, None, None), ("joblib-auto", 2.0, 1.8, None),
            ("joblib-auto-warm", 0.7, 0.6, None), ("mpire-default", 0.4, 0.5, None),
            ("dask-batched", 0.45, 0.4, 5.2), ("recommended", 0.52, 0.55, None)]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "measured_s": m,
                        "predicted_s": p, "cold_s": c, "recommended_tool": "pool",
                        "advise_s": 1.0} for k, m, p, c in rows])
    df["error"] = (df["predicted_s"] - df["measured_s"]) / df["measured_s"]
    row = advisor.summary(df).iloc[0]
    assert row["vs_mpire_default"] == pytest.approx(0.52 / 0.4)
    assert row["vs_dask_batched"] == pytest.approx(0.52 / 5.2)
    assert row["vs_best"] == pytest.approx(0.52 / 0.4)  # mpire's, not the sweep's 0.5 s
    peers = advisor.peer_rows(df)
    assert list(peers["kind"]) == list(advisor.PEER_KINDS)
    assert peers.loc[peers["kind"] == "mpire-default", "error"].iloc[0] == pytest.approx(0.25)


@pytest.mark.slow
def test_validation_measures_what_it_predicts(start_method: str) -> None:
    from mpguide import runner

    # In a fresh interpreter, as load_validation runs it: joblib's workers and temporary
    # folders go with it.
    declared = advisor.validation_params(workloads.square, advisor.tiny_items,
                                         start_method=start_method, repeats=1)
    result = runner.run_fresh(advisor.MEASURE, declared, timeout=300)
    kinds = {r["kind"] for r in result["records"]}
    peer_kinds = {f"{tool}-{'default' if tool == 'mpire' else 'batched'}"
                  for tool in declared["peers"]}
    base = {"serial", "sweep", "pool-default", "threads", "joblib-auto", "joblib-auto-warm",
            "recommended"}
    assert base <= kinds <= base | peer_kinds
    # A peer predicted past MAX_CONFIG_S is left out, as a sweep configuration is (mpire's
    # start and stop alone took seconds under forkserver here).
    mpire = [r["predicted_s"] for r in result["advice"]["predictions"]
             if r.get("tool") == "mpire" and r["chunksize"] is None
             and r["workers"] == declared["workers"]]
    assert ("mpire-default" in kinds) == bool(mpire and mpire[0] <= advisor_measure.MAX_CONFIG_S)
    sweep = [r for r in result["records"] if r["kind"] == "sweep"]
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in sweep)
    peers = [r for r in result["records"] if r["kind"] in advisor.PEER_KINDS]
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in peers)
    assert all(r["cold_s"] > r["measured_s"] for r in peers if r["kind"] == "dask-batched")
    assert {r["workers"] for r in sweep} >= {1}
    assert result["advice"]["recommendation"]["tool"] == "serial"
    # A configuration two rows name is timed once: Pool's default is a point of the sweep,
    # and the recommended loop is the loop.
    row = {r["kind"]: r for r in result["records"] if r["kind"] != "sweep"}
    default = [r for r in sweep if (r["workers"], r["chunksize"], r.get("blas_threads"))
               == (row["pool-default"]["workers"], row["pool-default"]["chunksize"], None)]
    assert [r["samples"] for r in default] == [row["pool-default"]["samples"]]
    assert row["recommended"]["samples"] == row["serial"]["samples"]
    df = advisor.validation_frame(result)
    assert set(df["workload"]) == {"tiny"}
    assert df["error"].notna().any()
