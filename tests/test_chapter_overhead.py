"""Chapter 1 (mpguide.chapters.overhead and .task_duration): well-formed frames under every
start method, pure helpers on synthetic data, claims that evaluate to verdicts, figures that
carry the machine caption."""

from __future__ import annotations

import math
import multiprocessing

import matplotlib
import pandas as pd
import pytest

from mpguide import chapters, claims, executors, machine, plotting
from mpguide.chapters import overhead, task_duration

matplotlib.use("Agg")

import matplotlib.pyplot as plt

OVERHEAD_CLAIMS = ("spawn-starts-slower", "heavy-main-slows-spawn", "round-trip-costs-more",
                   "tiny-tasks-lose", "long-tasks-win", "chunking-cuts-overhead",
                   "seed-tiny-tasks-lose", "tiny-task-workers-idle")


# --- experiments, measured in quick mode under each start method ------------------------------


def test_startup_light_main(start_method: str) -> None:
    df = overhead.load_startup([start_method], mains=("light",))
    assert set(df["pool"]) == {"first", "later"}
    assert (df["start_method"] == start_method).all()
    assert (df["value"] > 0).all()
    assert df["measured_in"].iloc[0] == "plain script, light __main__"
    summary = overhead.startup_summary(df)
    assert list(summary.columns[:3]) == ["start_method", "main", "pool"]
    assert (summary["median_ms"] > 0).all()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="compares spawn with fork")
def test_startup_heavy_main_reimports_under_spawn() -> None:
    df = overhead.load_startup(["fork", "spawn"], mains=tuple(overhead.MAINS))
    summary = overhead.startup_summary(df)
    assert len(summary) == 2 * len(overhead.MAINS) * 2
    spawn = summary[(summary["start_method"] == "spawn") & (summary["pool"] == "first")]
    heavy = spawn.set_index("main").loc["numpy+pandas", "median_ms"]
    light = spawn.set_index("main").loc["light", "median_ms"]
    # Each spawn worker imports numpy and pandas again: far more than the margin of noise.
    assert heavy > 1.5 * light


def test_run_script_rejects_unknown_main() -> None:
    with pytest.raises(ValueError, match="unknown main"):
        overhead.run_script("numpy+scipy", {}, timeout=10)


def test_dispatch(start_method: str) -> None:
    df = overhead.load_dispatch()
    assert {"plain call", "apply_round_trip", "map_item_overhead"} <= set(df["name"])
    assert (df["start_method"] == start_method).all()
    summary = overhead.dispatch_summary(df).set_index(["name", "chunksize"])["median_us"]
    assert summary["apply_round_trip", 0] > summary["plain call", 0]


def test_task_duration(start_method: str) -> None:
    df = task_duration.load_task_duration()
    assert set(df["variant"]) == set(task_duration.VARIANTS)
    assert set(df["nominal_s"]) == set(task_duration.task_durations())
    assert (df["value"] > 0).all()
    summary = task_duration.task_duration_summary(df)
    assert len(summary) == len(task_duration.VARIANTS) * len(task_duration.task_durations())
    loop = summary[summary["variant"] == task_duration.LOOP]
    assert (loop["speedup"] == 1).all()
    # The calibrated tasks get longer along the sweep (1 µs to 10 ms: 10 000x apart).
    assert loop.sort_values("nominal_s")["task_s"].iloc[-1] > 100 * loop["task_s"].min()
    evens = task_duration.break_evens(summary)
    assert set(evens) == {task_duration.CHUNK1, task_duration.DEFAULT}


def test_tiny_tasks(start_method: str) -> None:
    df = task_duration.load_tiny_tasks()
    assert len(set(df["variant"])) == 3
    assert (df["items"] == 5000).all()
    medians = df.groupby("variant")["value"].median()
    # 5000 no-op calls through Pool(4) at chunksize 1, start-up included, against the loop.
    assert medians[f"Pool({task_duration.SEED_WORKERS}), chunksize 1"] > 5 * medians["loop"]


def test_decomposition(start_method: str) -> None:
    tasks = task_duration.load_decomposition()
    cases = task_duration.decomposition_cases()
    assert list(dict.fromkeys(tasks["case"])) == list(cases)
    for case, spec in cases.items():
        run = tasks[tasks["case"] == case]
        assert len(run) == spec["items"]
        assert (run["start_s"] <= run["end_s"]).all()
        assert (run["end_s"] <= run["wall_s"]).all()
        assert run["worker"].max() < run["workers"].iloc[0]
    phases = task_duration.decompose(tasks)
    totals = phases.groupby("case")["share"].sum()
    assert totals.to_numpy() == pytest.approx(1.0)
    assert (phases["seconds"] >= -1e-6).all()


# --- pure helpers on synthetic data -----------------------------------------------------------


@pytest.mark.parametrize(("task_s", "speedup", "expected"), [
    ([1e-6, 1e-4], [0.5, 2.0], 1e-5),
    ([1e-4, 1e-6], [2.0, 0.5], 1e-5),  # order of the points does not matter
    ([1e-6, 1e-5, 1e-4], [0.1, 1.0, 3.0], 1e-5),  # exactly 1 counts as winning
    ([1e-6, 1e-5], [1.2, 3.0], 1e-6),  # wins everywhere: the shortest duration
    ([1e-6, 1e-5, 1e-4, 1e-3], [0.2, 0.8, 0.5, 2.0], None),  # first crossing: see below
])
def test_break_even(task_s: list[float], speedup: list[float], expected: float | None) -> None:
    result = task_duration.break_even(task_s, speedup)
    if expected is None:
        # No crossing before 1e-4 (0.5 there); crossing between 1e-4 and 1e-3.
        assert 1e-4 < result < 1e-3
    else:
        assert result == pytest.approx(expected)


def test_break_even_never_wins_and_bad_input() -> None:
    assert math.isnan(task_duration.break_even([1e-6, 1e-3], [0.1, 0.99]))
    with pytest.raises(ValueError, match="at least one point"):
        task_duration.break_even([], [])
    with pytest.raises(ValueError, match="shorter than"):
        task_duration.break_even([1e-6, 1e-5], [0.5])


def _synthetic_durations(overhead_s: float = 20e-6, workers: int = 2) -> pd.DataFrame:
    """Seconds per item of a model machine: the pool adds ``overhead_s`` per message."""
    rows = []
    for nominal in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        items = 100
        chunk = executors.default_chunksize(items, workers)
        per_item = {task_duration.LOOP: (nominal, 0),
                    task_duration.CHUNK1: (nominal / workers + overhead_s, 1),
                    task_duration.DEFAULT: (nominal / workers + overhead_s / chunk, chunk)}
        for variant, (value, chunksize) in per_item.items():
            rows += [{"nominal_s": nominal, "variant": variant, "workers": workers,
                      "items": items, "chunksize": chunksize, "value": value * f,
                      "load_avg_1m": 0.5, "cpu_count": workers}
                     for f in (0.99, 1.0, 1.01)]
    return pd.DataFrame(rows)


def test_task_duration_summary_and_break_even_on_a_model() -> None:
    summary = task_duration.task_duration_summary(_synthetic_durations())
    evens = task_duration.break_evens(summary)
    # Pool(2) with 20 µs per message wins once t / 2 + 20 µs < t, i.e. above 40 µs.
    assert 1e-5 < evens[task_duration.CHUNK1] < 1e-4
    assert evens[task_duration.DEFAULT] < evens[task_duration.CHUNK1]
    chunk1 = summary[summary["variant"] == task_duration.CHUNK1]
    assert chunk1["overhead_s"].to_numpy() == pytest.approx(20e-6)


def test_decompose_worker_without_tasks() -> None:
    tasks = pd.DataFrame({"case": "c", "worker": [0, 0], "start_s": [1.0, 2.0],
                          "end_s": [2.0, 3.0], "wall_s": 4.0, "workers": 2})
    phases = task_duration.decompose(tasks).set_index("phase")
    assert phases.loc["start-up", "seconds"] == 1.0 + 4.0  # worker 1 never got a task
    assert phases.loc["compute", "seconds"] == 2.0
    assert phases["share"].sum() == pytest.approx(1.0)


# --- claims and figures on synthetic records (no timing) -------------------------------------


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch) -> dict[str, pd.DataFrame]:
    """Replace every load function with a frame shaped like the real records."""
    meta = machine.collect_metadata()
    startup = pd.DataFrame([
        {**meta, "start_method": m, "main": main, "pool": pool, "workers": 2, "value": v / 1e3}
        for m, base in (("fork", 5), ("spawn", 50), ("forkserver", 30))
        for main, factor in (("light", 1), ("numpy+pandas", 6 if m != "fork" else 1.5))
        for pool in ("first", "later") for v in (base * factor, base * factor * 1.1)])
    dispatch = pd.DataFrame([
        {**meta, "name": n, "chunksize": c, "value": v}
        for n, c, v in (("plain call", 0, 2e-8), ("apply_round_trip", 0, 4e-5),
                        ("map_item_overhead", 1, 2e-5), ("map_item_overhead", 10, 3e-6),
                        ("map_item_overhead", 100, 6e-7), ("map_item_overhead", 1000, 2e-7))])
    durations = _synthetic_durations().assign(**{k: v for k, v in meta.items()
                                                 if k not in {"load_avg_1m", "cpu_count"}})
    tiny = pd.DataFrame([
        {**meta, "variant": v, "items": 5000, "value": s}
        for v, s in (("loop", 2e-4), ("Pool(4), chunksize 1", 0.2),
                     ("Pool(4), default chunksize", 0.03))])
    tasks = pd.DataFrame([
        {**meta, "case": case, "task": i, "worker": i % 2, "start_s": 0.05 + i * 1e-4,
         "end_s": 0.05 + i * 1e-4 + 1e-5, "map_start_s": 0.01, "map_end_s": 0.09,
         "wall_s": 0.1, "workers": 2, "items": 40, "task_s": 1e-5}
        for case in task_duration.decomposition_cases() for i in range(40)])
    frames = {"load_startup": startup, "load_dispatch": dispatch,
              "load_task_duration": durations, "load_tiny_tasks": tiny,
              "load_decomposition": tasks}
    for name, frame in frames.items():
        module = overhead if hasattr(overhead, name) else task_duration
        monkeypatch.setattr(module, name, lambda *a, frame=frame, **k: frame.copy())
    return frames


def test_claims_evaluate_to_verdicts(synthetic: dict[str, pd.DataFrame]) -> None:
    verdicts = {v.claim_id: v for v in chapters.evaluate_all("overhead")}
    assert set(OVERHEAD_CLAIMS) <= set(verdicts)
    for claim_id in OVERHEAD_CLAIMS:
        verdict = verdicts[claim_id]
        assert isinstance(verdict, claims.Verdict)
        assert verdict.page == overhead.CHAPTER.page
        assert "{" not in verdict.statement
        assert verdict.evidence
    # The synthetic machine is built so that every statement holds.
    assert all(verdicts[c].holds for c in OVERHEAD_CLAIMS), [
        str(verdicts[c]) for c in OVERHEAD_CLAIMS if not verdicts[c].holds]


def test_claim_fails_visibly_when_the_pool_never_wins(
        synthetic: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    slow = _synthetic_durations(overhead_s=1.0)
    monkeypatch.setattr(task_duration, "load_task_duration", lambda *a, **k: slow.copy())
    verdict = claims.evaluate("tiny-tasks-lose")
    assert not verdict.holds
    assert "no measured duration" in verdict.statement
    assert "never won" in verdict.evidence


@pytest.mark.parametrize("plot", ["startup", "task_duration", "tiny_tasks", "decomposition"])
def test_figures_carry_the_machine_caption(synthetic: dict[str, pd.DataFrame],
                                           plot: str) -> None:
    source = {"startup": "load_startup", "task_duration": "load_task_duration",
              "tiny_tasks": "load_tiny_tasks", "decomposition": "load_decomposition"}[plot]
    module = overhead if plot == "startup" else task_duration
    fig = getattr(module, f"plot_{plot}")(synthetic[source])
    try:
        caption = plotting.caption_of(fig)
        assert caption is not None
        assert machine.collect_metadata()["cpu_model"] in caption
    finally:
        plt.close(fig)


def test_pool_worker_reads_the_parents_cache_even_when_fresh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawn worker re-running a gallery script's cells must not measure again."""
    calls: list[int] = []

    def measure(a: int) -> dict[str, int]:
        calls.append(a)
        return {"a": a}

    assert overhead._cached("overhead-test", {"a": 1}, measure) == {"a": 1}
    monkeypatch.setenv("MPGUIDE_FRESH", "1")
    monkeypatch.setattr(multiprocessing, "parent_process", object)
    assert overhead._cached("overhead-test", {"a": 1}, measure) == {"a": 1}
    assert calls == [1]
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: None)
    overhead._cached("overhead-test", {"a": 1}, measure)
    assert calls == [1, 1]  # the parent itself honours MPGUIDE_FRESH=1
