"""Chapter 1 (mpguide.chapters.overhead and .task_duration): well-formed frames under every
start method, pure helpers on synthetic data, claims that evaluate to verdicts, figures that
carry the machine caption."""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import re
from typing import Any

import matplotlib
import pandas as pd
import pytest

from mpguide import claims, executors, experiment, machine, plotting, timing
from mpguide.chapters import overhead, task_duration
from mpguide.experiment import Result

matplotlib.use("Agg")

import matplotlib.pyplot as plt

# --- experiments, measured in quick mode under each start method ------------------------------


def test_startup_light_main(start_method: str) -> None:
    df = overhead.load_startup([start_method], mains=("light",))
    assert set(df["pool"]) == {"first", "later"}
    assert (df["start_method"] == start_method).all()
    assert (df["value"] > 0).all()
    assert df["seconds"].equals(df["value"])
    assert (df["workers"] == machine.usable_cpus()).all()
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
    pools = df[df["variant"] != task_duration.LOOP]
    assert (pools["workers"] == machine.usable_cpus()).all()
    default = pools[pools["variant"] == task_duration.DEFAULT]
    assert (default["chunksize"] == [executors.default_chunksize(n, w) for n, w in
                                     zip(default["items"], default["workers"], strict=True)]).all()
    summary = task_duration.task_duration_summary(df)
    assert len(summary) == len(task_duration.VARIANTS) * len(task_duration.task_durations())
    loop = summary[summary["variant"] == task_duration.LOOP]
    assert (loop["speedup"] == 1).all()
    # The calibrated tasks get longer along the sweep (1 µs to 10 ms: 10 000x apart).
    assert loop.sort_values("nominal_s")["task_s"].iloc[-1] > 100 * loop["task_s"].min()
    evens = task_duration.break_evens(summary)
    assert set(evens) == {task_duration.CHUNK1, task_duration.DEFAULT}


def test_tiny_tasks(start_method: str) -> None:
    seed = overhead.load_seed_tiny_tasks()
    table = seed.table()
    assert list(table["tool"]) == ["loop", "pool", "pool"]
    # The article's setup, whatever the cores of this machine.
    assert set(table.loc[table["tool"] == "pool", "workers"]) == {overhead.SEED_WORKERS}
    assert (table["start_method"].iloc[1:] == start_method).all()
    assert (seed.frame()["items"] == 5000).all()
    # 5000 no-op calls through Pool(4) at chunksize 1, start-up included, against the loop.
    loop = float(table.loc[table["tool"] == "loop", "median_s"].iloc[0])
    assert float(table.loc[table["chunksize"] == 1, "median_s"].iloc[0]) > 5 * loop
    own = overhead.tiny_tasks_table(overhead.load_tiny_tasks())
    assert list(own["tool"]) == ["loop", "pool", "pool", "processpool"]
    assert set(own["workers"].iloc[1:]) == {machine.usable_cpus()}
    assert (own["per_item_us"] > 0).all()
    assert own["x_loop"].iloc[0] == pytest.approx(1.0)


def test_decomposition(start_method: str) -> None:
    tasks = task_duration.load_decomposition()
    cases = task_duration.decomposition_cases()
    assert list(dict.fromkeys(tasks["case"])) == list(cases)
    for case, spec in cases.items():
        run = tasks[tasks["case"] == case]
        assert len(run) == spec["params"]["count"]
        assert (run["start_s"] <= run["end_s"]).all()
        assert (run["end_s"] <= run["wall_s"]).all()
        assert run["worker"].max() < run["workers"].iloc[0]
        assert (run["start_method"] == start_method).all()
    phases = task_duration.decompose(tasks)
    totals = phases.groupby("case")["share"].sum()
    assert totals.to_numpy() == pytest.approx(1.0)
    assert (phases["seconds"] >= -1e-6).all()


def test_decomposition_of_a_readers_list_of_items() -> None:
    """A reader's items may be a JSON-ready list instead of a factory."""
    run = task_duration.measure_decomposition(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn",
        func="mpguide.workloads:square", items=[1, 2, 3, 4], params={}, workers=2,
        chunksize=None)
    assert run["items"] == 4
    assert run["chunksize"] == 1
    assert len(run["tasks"]) == 4


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


def _tiny_result() -> Result:
    meta = machine.collect_metadata()
    specs = [executors.Loop(), executors.Pool(4, chunksize=1), executors.Pool(4)]
    return Result("overhead-seed-tiny-tasks", tuple(
        timing.Measurement(spec.label, (s, s * 1.1), params={**spec.record(), "items": 5000},
                           metadata=meta)
        for spec, s in zip(specs, (2e-4, 0.2, 0.03), strict=True)))


def test_claim_fails_visibly_when_the_pool_never_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = _synthetic_durations(overhead_s=1.0)
    monkeypatch.setattr(task_duration, "load_task_duration", lambda *a, **k: slow.copy())
    verdict = claims.evaluate("tiny-tasks-lose")
    assert not verdict.holds
    assert "no measured duration" in verdict.statement
    assert "never won" in verdict.evidence


def test_seed_claim_fails_when_the_pool_keeps_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Pool as fast as the loop is not the overhead that a pool start plus one dispatch per
    item (5 ms and 20 µs here) add up to."""
    result = _tiny_result()
    fast = Result(result.name, tuple(
        dataclasses.replace(m, samples=(2e-4, 2.1e-4)) for m in result.measurements))
    dispatch = pd.DataFrame({"name": "map_item_overhead", "chunksize": 1, "value": [2e-5]})
    monkeypatch.setattr(overhead, "load_seed_tiny_tasks", lambda *a, **k: fast)
    monkeypatch.setattr(overhead, "load_startup", _startup_frame)
    monkeypatch.setattr(overhead, "load_dispatch", lambda *a, **k: dispatch)
    verdict = claims.evaluate("seed-tiny-tasks-lose")
    assert not verdict.holds
    assert "the article's Pool(4)" in verdict.statement
    assert "0.0019x what a Pool start (5 ms) and 5,000 dispatches (20 µs each)" in (
        verdict.statement)


def _startup_frame() -> pd.DataFrame:
    meta = machine.collect_metadata()
    return pd.DataFrame([
        {**meta, "start_method": m, "main": main, "pool": pool, "workers": 2, "value": v / 1e3}
        for m, base in (("fork", 5), ("spawn", 50), ("forkserver", 30))
        for main in overhead.MAINS for pool in ("first", "later") for v in (base, base * 1.1)])


@pytest.mark.parametrize("plot", ["startup", "task_duration", "tiny_tasks", "decomposition"])
def test_figures_carry_the_machine_caption(plot: str) -> None:
    meta = machine.collect_metadata()
    if plot == "startup":
        fig = overhead.plot_startup(_startup_frame())
    elif plot == "task_duration":
        frame = _synthetic_durations().assign(**meta)
        fig = task_duration.plot_task_duration(frame, yours=frame[frame["nominal_s"] == 1e-4],
                                               label="parse")
    elif plot == "tiny_tasks":
        fig = overhead.plot_tiny_tasks(_tiny_result().frame())
    else:
        tasks = pd.DataFrame([
            {**meta, "case": "c", "task": i, "worker": i % 2, "start_s": 0.05 + i * 1e-4,
             "end_s": 0.05 + i * 1e-4 + 1e-5, "map_start_s": 0.01, "map_end_s": 0.09,
             "wall_s": 0.1, "workers": 2, "items": 40, "task_s": 1e-5} for i in range(40)])
        fig = task_duration.plot_decomposition(tasks)
    try:
        caption = plotting.caption_of(fig)
        assert caption is not None
        assert meta["cpu_model"] in caption
    finally:
        plt.close(fig)


def test_empty_records_give_empty_views() -> None:
    """A worker re-importing a gallery script on a cache miss gets no records: the cells run."""
    startup = overhead.startup_frame([])
    assert startup.empty
    assert {"start_method", "main", "pool", "seconds"} <= set(startup)
    assert overhead.startup_summary(startup).empty
    assert task_duration.duration_frame([(1e-3, Result("x", ()))]).empty
    assert task_duration.decomposition_frame({"c": None}).empty
    for fig in (overhead.plot_startup(startup), overhead.plot_tiny_tasks(Result("x", ()).frame()),
                task_duration.plot_task_duration(task_duration.duration_frame([])),
                task_duration.plot_decomposition(task_duration.decomposition_frame({}))):
        plt.close(fig)


def test_startup_is_measured_once_and_reimporting_workers_only_read_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """load_startup goes through run_cached: cached, and a spawn worker re-running a gallery
    script's cells reads the parent's record even under MPGUIDE_FRESH=1."""
    calls: list[str] = []
    real = overhead.measure_startup

    def counting(start_method: str, **params: Any) -> list[dict[str, Any]]:
        calls.append(start_method)
        return real(start_method, **{**params, "runs": 1})

    monkeypatch.setattr(overhead, "measure_startup", counting)
    method = multiprocessing.get_all_start_methods()[0]
    def seconds() -> list[float]:
        return list(overhead.load_startup([method], mains=("light",))["seconds"])

    first = seconds()
    assert seconds() == first
    monkeypatch.setenv("MPGUIDE_FRESH", "1")
    monkeypatch.setattr(experiment, "reimported_main", lambda: True)
    assert seconds() == first
    assert calls == [method]
    monkeypatch.setattr(experiment, "reimported_main", lambda: False)
    seconds()
    assert calls == [method, method]  # the parent itself honours MPGUIDE_FRESH=1


# --- the short answer (landing page and chapter head) ----------------------------------------


def test_short_answer_numbers_come_from_the_records() -> None:
    startup, durations = _startup_frame(), _synthetic_durations()
    answer = overhead.short_answer(startup, durations)
    summary = task_duration.task_duration_summary(durations)
    evens = task_duration.break_evens(summary)
    assert answer["workers"] == 2
    assert answer["start_ms"] == pytest.approx({"fork": 5.25, "spawn": 52.5, "forkserver": 31.5})
    assert answer["break_even_s"] == {"default": evens[task_duration.DEFAULT],
                                      "chunksize 1": evens[task_duration.CHUNK1]}
    # The model pool adds 20 µs per message: per item at chunksize 1, per chunk at the default.
    assert answer["item_s"]["chunksize 1"] == pytest.approx(20e-6)
    assert answer["item_s"]["default"] == pytest.approx(20e-6 / answer["chunksize"])
    assert answer["chunksize"] == executors.default_chunksize(answer["items"], 2)
    text = overhead.short_answer_markdown(answer, guide="guide/")
    for method, ms in answer["start_ms"].items():
        assert f"{overhead.format_duration(ms / 1e3)} under {method}" in text
    assert "20 µs at chunksize 1" in text
    assert f"Below {overhead.format_duration(evens[task_duration.DEFAULT])} per task" in text
    assert "(guide/01-overhead.md#how-long-must-a-task-run-before-the-pool-wins)" in text
    assert "(guide/03-tuning.md#chunksize)" in text
    shown = re.sub(r"\]\([^)]*\)", "]", text).replace("*", "")  # as rendered, roughly
    assert len(shown) < 1000  # it fits the landing page's first screen with the title


@pytest.mark.parametrize(("message_s", "expected"), [
    (1.0, "never beat the plain loop"),
    (1e-9, "from the shortest task measured"),
])
def test_short_answer_says_when_the_pool_never_or_always_wins(message_s: float,
                                                               expected: str) -> None:
    answer = overhead.short_answer(_startup_frame(), _synthetic_durations(overhead_s=message_s))
    assert expected in overhead.short_answer_markdown(answer)


def test_short_answer_survives_a_variant_without_records() -> None:
    durations = _synthetic_durations()
    durations = durations[durations["variant"] != task_duration.CHUNK1]
    answer = overhead.short_answer(_startup_frame(), durations)
    assert math.isnan(answer["item_s"]["chunksize 1"])
    assert "(not measured) at chunksize 1" in overhead.short_answer_markdown(answer)


@pytest.mark.parametrize("quick", ["1", "0"], ids=["quick", "full"])
def test_tiny_tasks_script_declares_the_pages_items(monkeypatch: pytest.MonkeyPatch, quick: str,
                                                    script_declares: Any) -> None:
    """The tiny-task script's ``ITEMS`` line are the chapter's items in both modes, so the docs
    build measures the experiment once, not once per declaration."""
    from mpguide import config, workloads

    monkeypatch.setenv("MPGUIDE_QUICK", quick)
    items = script_declares("overhead/plot_tiny_tasks.py", "ITEMS",
                            {"config": config, "workloads": workloads})
    assert items == overhead.own_tiny_items()
