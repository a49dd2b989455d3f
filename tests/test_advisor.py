"""The advisor (mpguide.advisor): the JSON contract, recommendations, notes and views, and
every kind of bad input as one clear error within a bounded time."""

from __future__ import annotations

import dataclasses
import json
import time
from types import ModuleType

import pytest

import mpguide
from mpguide import advisor, model, peer_probes, peers, pools, workloads
from mpguide.machine import usable_cpus
from mpguide.model import Profile


def _advise(func, items, method, **kwargs) -> advisor.Advice:
    kwargs.setdefault("time_budget", 0.5)
    return mpguide.advise(func, items, start_methods=[method], probes=model.EXAMPLE_PROBES,
                         **kwargs)


def test_json_has_exactly_the_contract_keys(start_method: str) -> None:
    advice = _advise(workloads.spin, [2000] * 200, start_method)
    data = json.loads(json.dumps(advice.to_json()))
    assert set(data) == {"serial_s", "per_item_s", "arg_bytes", "result_bytes", "predictions",
                         "recommendation", "notes"}
    assert data["predictions"]
    assert all(set(p) == {"workers", "chunksize", "start_method", "predicted_s"}
               for p in data["predictions"])
    assert {p["start_method"] for p in data["predictions"]} == {start_method}
    assert set(data["recommendation"]) == {"tool", "workers", "chunksize", "start_method",
                                           "blas_threads", "predicted_s", "predicted_speedup"}
    assert data["serial_s"] == pytest.approx(200 * data["per_item_s"])
    assert data["notes"]


def test_json_names_the_peer_rows_and_the_notes_the_best_peer(start_method: str) -> None:
    advice = _advise(workloads.spin, [2000] * 200, start_method,
                     peer_costs=model.EXAMPLE_PEER_COSTS)
    rows = advice.to_json()["predictions"]
    peers = [r for r in rows if "tool" in r]
    assert {r["tool"] for r in peers} == {"joblib", "mpire", "dask"}
    assert all(set(r) == {"workers", "chunksize", "start_method", "predicted_s"}
               for r in rows if "tool" not in r)
    assert {r["start_method"] for r in peers if r["tool"] == "joblib"} == {"loky"}
    assert any(r["chunksize"] is None for r in peers)
    assert any(note.startswith("Best other tool: ") for note in advice.notes)
    assert not any("tool" in r for r in _advise(workloads.spin, [2000] * 200,
                                                start_method).to_json()["predictions"])


def _peer_beating_pool(ratio: float) -> tuple[Profile, list[model.Prediction]]:
    """Pool predictions, and a joblib record fabricated so that its best configuration is
    predicted ``ratio`` times faster than the best Pool."""
    prof = Profile(n_items=1000, per_item_s=1e-3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    pools_ = [model.predict(prof, costs, workers=2, chunksize=c, start_method="fork")
              for c in (10, 50, 125)]
    best_pool = min(p.predicted_s for p in pools_)
    record = {**model.EXAMPLE_PEER_COSTS["joblib"], "start_s": 0.0, "stop_s": 0.0}
    started = advisor.peer_predictions(prof, costs, {"joblib": record}, max_workers=2)
    record["start_s"] = best_pool / ratio - min(p.predicted_s for p in started)
    return prof, pools_ + advisor.peer_predictions(prof, costs, {"joblib": record},
                                                   max_workers=2)


def test_a_peer_predicted_clearly_better_is_recommended() -> None:
    prof, predictions = _peer_beating_pool(1.5)
    rec = advisor.recommend(prof, predictions, "fork")
    assert rec.tool == "joblib"
    assert (rec.start_method, rec.blas_threads) == (None, None)
    best_pool = min(p.predicted_s for p in predictions if p.tool == "pool")
    assert rec.predicted_s == pytest.approx(best_pool / 1.5)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    notes = advisor.explain(prof, costs, predictions, rec)
    assert any("recommended, being over 1.1x faster" in note for note in notes)
    snippet = advisor.Advice("mymodule.work", prof, costs, tuple(predictions), rec,
                             tuple(notes)).snippet()
    assert "Parallel(n_jobs=2" in snippet
    compile(snippet, "<snippet>", "exec")


def test_a_peer_within_the_margin_is_not_recommended() -> None:
    prof, predictions = _peer_beating_pool(1.05)
    rec = advisor.recommend(prof, predictions, "fork")
    assert rec.tool == "pool"
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    notes = advisor.explain(prof, costs, predictions, rec)
    assert any(note.startswith("Best other tool: joblib(") and "only where" in note
               for note in notes)


@pytest.mark.parametrize("tool", ["mpire", "dask"])
@pytest.mark.parametrize("chunksize", [None, 20])
def test_peer_snippets_are_python(tool: str, chunksize: int | None) -> None:
    prof = Profile(n_items=100, per_item_s=1e-3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    rec = advisor.Recommendation(tool, 2, chunksize, "spawn" if tool == "mpire" else None,
                                 None, 0.1, 1.0)
    snippet = advisor.Advice("mymodule.work", prof, costs, (), rec, ()).snippet()
    assert ("WorkerPool" if tool == "mpire" else "client.map") in snippet
    compile(snippet, "<snippet>", "exec")


def test_tiny_tasks_are_not_parallelized(start_method: str) -> None:
    advice = _advise(workloads.square, range(20_000), start_method)
    assert advice.recommendation.tool == "serial"
    assert advice.recommendation.predicted_speedup == 1.0
    assert any("Don't parallelize" in note for note in advice.notes)
    assert "results = [square(item) for item in items]" in advice.snippet()


def test_compute_bound_work_gets_a_pool(start_method: str) -> None:
    if usable_cpus() < 2:
        pytest.skip("needs two usable cores")
    items = [workloads.iterations_for(5e-3)] * 100
    # Every usable core assumed free: other jobs on a shared machine must not decide the test.
    advice = _advise(workloads.spin, items, start_method, measure_free_cores=False)
    rec = advice.recommendation
    assert rec.tool == "pool"
    assert rec.workers >= 2
    assert rec.start_method == start_method
    assert rec.predicted_speedup > 1.3
    assert f"get_context({start_method!r})" in advice.snippet()


def test_busy_machine_lowers_the_prediction() -> None:
    prof = Profile(n_items=400, per_item_s=2e-3)
    idle = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    busy = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2, free_cores=1.0)
    kw = {"workers": 2, "chunksize": 20, "start_method": "fork"}
    assert model.predict(prof, busy, **kw).predicted_s > 1.8 * model.predict(
        prof, idle, **kw).compute_s
    assert model.predict(prof, busy, **kw).oversubscription_s > 0


def test_frame_plot_and_projection(start_method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    advice = _advise(workloads.spin, [3000] * 300, start_method)
    frame = advice.to_frame()
    assert {"startup_s", "dispatch_s", "serialization_s", "compute_s", "imbalance_s",
            "oversubscription_s", "predicted_s"} <= set(frame.columns)
    assert len(frame) == len(advice.predictions)
    fig = advice.plot()
    assert any("usable cores" in text.get_text() for text in fig.texts)
    plt.close(fig)
    projection = advice.project([2, 8, 32])
    assert list(projection["kind"].unique()) == ["projection"]
    assert list(projection["workers"]) == [2, 8, 32]


def test_recommend_prefers_the_default_start_method_within_tolerance() -> None:
    prof = Profile(n_items=1000, per_item_s=1e-3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    predictions = [model.predict(prof, costs, workers=2, chunksize=50, start_method=m)
                   for m in ("fork", "forkserver", "spawn")]
    assert advisor.recommend(prof, predictions, "forkserver").start_method == "forkserver"
    assert advisor.recommend(prof, predictions, "spawn").start_method == "fork"


def test_recommend_the_largest_chunksize_predicted_within_tolerance() -> None:
    """Chunksizes of one pool predicted within CHUNKSIZE_TOLERANCE of its fastest are a tie,
    won by the largest (fewer messages through the parent); a clearly faster one still wins."""
    prof = Profile(n_items=1000, per_item_s=1e-3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    fast, slower = (dataclasses.replace(
        model.predict(prof, costs, workers=2, chunksize=c, start_method="fork"), predicted_s=s)
        for c, s in ((1, 0.50), (50, 0.51)))
    assert advisor.recommend(prof, [fast, slower], "fork").chunksize == 50
    clearly = dataclasses.replace(slower,
                                  predicted_s=0.50 * advisor.CHUNKSIZE_TOLERANCE * 1.01)
    assert advisor.recommend(prof, [fast, clearly], "fork").chunksize == 1
    other_pool = dataclasses.replace(slower, workers=1)
    assert advisor.recommend(prof, [fast, other_pool], "fork").chunksize == 1


def test_recommend_threads_when_the_work_releases_the_gil() -> None:
    prof = Profile(n_items=100, per_item_s=5e-3, arg_bytes=8e6, gil_fraction=0.0)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    predictions = [model.predict(prof, costs, workers=2, chunksize=c, start_method="fork")
                   for c in (1, 10, 50)]
    predictions.append(model.predict_threads(prof, costs, workers=2))
    rec = advisor.recommend(prof, predictions, "fork")
    assert rec.tool == "threads"
    assert rec.predicted_speedup > 1.5


def test_heavy_items_last_get_small_chunks_and_a_note() -> None:
    """The heavy block at the end of the input (the sample's costs, in input order) makes
    the advisor pick chunks small enough to share it, and say why."""
    positions = tuple(i / 19 for i in range(20))
    prof = Profile(n_items=200, per_item_s=1.4e-3, sample_positions=positions,
                   sample_costs_s=(0.5e-3,) * 17 + (10e-3,) * 3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    predictions = [model.predict(prof, costs, workers=2, chunksize=c, start_method="fork")
                   for c in advisor.chunk_candidates(prof.n_items, 2)]
    rec = advisor.recommend(prof, predictions, "fork")
    assert rec.tool == "pool"
    assert rec.chunksize < model.default_chunksize(prof.n_items, 2)
    notes = advisor.explain(prof, costs, predictions, rec)
    assert any("follow their place in the input" in note and "100% of the way in" in note
               for note in notes)


def test_blas_advice_points_to_the_one_cap() -> None:
    """Notes and snippet name mpguide.blas.limit_blas_threads (it imports numpy first, so the
    cap works under spawn and forkserver too), and the snippet is valid Python."""
    prof = Profile(n_items=400, per_item_s=5e-3, blas_threads=2, per_item_single_blas_s=8e-3)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    predictions = [model.predict(prof, costs, workers=2, chunksize=c, start_method="fork")
                   for c in (1, 10, 50)]
    rec = advisor.recommend(prof, predictions, "fork")
    assert rec.tool == "pool"
    assert rec.blas_threads == 1
    notes = advisor.explain(prof, costs, predictions, rec)
    assert any("from mpguide.blas import limit_blas_threads" in note for note in notes)
    advice = advisor.Advice("mymodule.work", prof, costs, tuple(predictions), rec, tuple(notes))
    snippet = advice.snippet()
    assert "from mpguide.blas import limit_blas_threads" in snippet
    assert "initializer=limit_blas_threads" in snippet
    compile(snippet, "<snippet>", "exec")


def test_lambda_and_closure_are_refused_before_any_process(usermod: ModuleType,
                                                           start_method: str) -> None:
    with pytest.raises(pools.UnpicklableError, match="lambda"):
        _advise(usermod.as_lambda, [1, 2], start_method)
    with pytest.raises(pools.UnpicklableError, match="closure"):
        _advise(usermod.closure, [1, 2], start_method)


def test_unpicklable_item_and_empty_input_are_refused(usermod: ModuleType,
                                                      start_method: str) -> None:
    with pytest.raises(pools.UnpicklableError, match=r"item 2 \(a lock\)"):
        _advise(usermod.square, usermod.with_lock(), start_method)
    with pytest.raises(advisor.AdviceError, match="empty"):
        _advise(usermod.square, [], start_method)


def test_raising_function_is_one_clear_error(usermod: ModuleType, start_method: str) -> None:
    with pytest.raises(advisor.AdviceError,
                       match=r"boom raised ValueError: cannot handle item 0 .*fix it there"):
        _advise(usermod.boom, usermod.items(), start_method)


def test_function_that_never_returns_times_out(usermod: ModuleType, start_method: str) -> None:
    start = time.monotonic()
    with pytest.raises(advisor.AdviceError, match=r"did not finish profiling within 2 s"):
        _advise(usermod.forever, usermod.items(), start_method, timeout=2)
    assert time.monotonic() - start < 60


def test_crashing_function_is_one_clear_error(usermod: ModuleType, start_method: str) -> None:
    with pytest.raises(advisor.AdviceError, match="died"):
        _advise(usermod.crash, usermod.items(), start_method, timeout=30)


# --- the peers' measured costs (mpguide.peer_probes) --------------------------------------


@pytest.mark.parametrize("tool", ["mpire", "joblib"])
def test_peer_costs_are_measured_and_leave_nothing(tool: str) -> None:
    """The record the cost model reads (PeerCosts.from_record); the autouse _no_leaks fixture
    fails the test if a worker or a shared-memory segment is left behind."""
    if tool not in peer_probes.installed():
        pytest.skip(f"{tool} is not installed")
    # Two workers: joblib runs one job in the parent itself.
    record = peer_probes.measure_peer(tool, 2, chunksizes=[1, 100], n_items=20, timeout=60)
    assert set(record["overhead_by_chunksize_s"]) == {"1", "100"}
    assert len(record["start_samples"]) == 2  # one executor per chunksize
    assert record["start_s"] > 0
    assert record["stop_s"] > 0
    assert record["arg_s_per_byte"] >= 0
    assert record["result_s_per_byte"] >= 0
    peer = model.PeerCosts.from_record(record)
    assert (peer.tool, peer.probe_workers) == (tool, 2)


def test_peer_card_bounds_each_peer_and_skips_absent_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each installed peer is measured once, in a fresh interpreter with a timeout, then read
    from the cache; a peer whose package is missing is simply absent."""
    calls: list[tuple[str, float | None]] = []

    def fake_run_fresh(target: str, kwargs: dict, *, env: dict, timeout: float | None) -> dict:
        calls.append((kwargs["tool"], timeout))
        return {**model.EXAMPLE_PEER_COSTS[kwargs["tool"]], "workers": kwargs["workers"]}

    monkeypatch.setattr(peer_probes.runner, "run_fresh", fake_run_fresh)
    monkeypatch.setattr(peers.Dask, "requires", "no_such_package_here")
    card = peer_probes.peer_card()
    assert "dask" not in card
    assert set(card) == {tool for tool in ("joblib", "mpire") if tool in peer_probes.installed()}
    assert all(timeout is not None and timeout > 0 for _, timeout in calls)
    assert peer_probes.peer_card() == card
    assert len(calls) == len(card)  # the second call read the cache
