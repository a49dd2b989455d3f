"""Chapter 1's experiment plans, without running them: worker counts from the machine card, the
gallery scripts declaring exactly what the chapter loads, and every claim evaluated from the
records (a model machine's records, served by a fake cache)."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from mpguide import cache, chapters, claims, config, executors, experiment, machine, timing
from mpguide.chapters import overhead, seed_timing, task_duration, trace_cost

matplotlib.use("Agg")

import matplotlib.pyplot as plt

GALLERY = Path(__file__).resolve().parents[1] / "gallery" / "overhead"
DOCS = Path(__file__).resolve().parents[1] / "docs"
OVERHEAD_CLAIMS = ("spawn-starts-slower", "heavy-main-slows-spawn", "round-trip-costs-more",
                   "tiny-tasks-lose", "long-tasks-win", "chunking-cuts-overhead",
                   "seed-tiny-tasks-lose", "tiny-task-workers-idle", "tracing-costs-little",
                   "seed001-timing-work-dominates")


@pytest.fixture
def eight_cores(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 8)
    return 8


def test_plans_use_the_usable_cores(eight_cores: int) -> None:
    assert {p["workers"] for p in overhead.plan_startup()} == {eight_cores}
    assert overhead.dispatch_params()["workers"] == eight_cores
    tiny = overhead.tiny_tasks_experiment()
    assert [s.parallelism for s in tiny.executors] == [1, eight_cores, eight_cores, eight_cores]
    durations = task_duration.task_duration_experiments()
    assert list(durations) == list(task_duration.task_durations())
    for plan in durations.values():
        assert [s.parallelism for s in plan.executors] == [1, eight_cores, eight_cores]
        assert [getattr(s, "chunksize", 0) for s in plan.executors] == [0, 1, None]
    assert {p["workers"] for p in task_duration.plan_decomposition().values()} == {eight_cores}
    assert len(task_duration.spin_items(1e-2)) == 8 * eight_cores  # at least 8 per core


def test_the_seed_setup_stays_the_articles(eight_cores: int) -> None:
    seed = overhead.seed_tiny_tasks_experiment()
    assert [s.parallelism for s in seed.executors] == [1, overhead.SEED_WORKERS,
                                                       overhead.SEED_WORKERS]
    assert [getattr(s, "chunksize", 0) for s in seed.executors] == [0, 1, None]
    assert len(seed.declaration()["items"]) == 2  # a list (hashed), not a factory
    assert "the article's" in claims.registered("overhead")["seed-tiny-tasks-lose"].statement


# --- a fake cache that serves a model machine's records ---------------------------------------


def _meta() -> dict[str, Any]:
    return {**machine.collect_metadata(), "load_avg_1m": 0.5}


def _experiment_record(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """An :class:`Experiment` record: the loop takes the task time, a pool adds 20 µs per
    message (one message per chunk) and splits the work, a pool start costs 10 ms."""
    params = declaration["params"]
    items = declaration["items"].get("count", params.get("count", 100))
    task = params.get("seconds", 2e-8)
    out = []
    for data in declaration["executors"]:
        spec = executors.from_dict(data)
        workers = spec.parallelism
        chunk = getattr(spec, "chunksize", 1)
        chunk = executors.default_chunksize(items, workers) if chunk is None else chunk
        seconds = items * task if spec.tool == "loop" else (
            items * task / workers + 20e-6 * items / chunk
            + (0.01 if declaration["startup"] else 0.0))
        out.append(timing.Measurement(
            spec.label, (seconds, seconds * 1.05, seconds * 0.98),
            params={**spec.record(), "items": items, "startup": declaration["startup"],
                    "experiment": declaration["name"]},
            metadata={**_meta(), "start_method": getattr(spec, "start_method", None)
                      or config.start_method()}).to_dict())
    return {"name": declaration["name"], "measurements": out}


def _startup_record(start_method: str, main: str, workers: int, **_: Any) -> list[Any]:
    base = {"fork": 5, "spawn": 50, "forkserver": 30}[start_method] / 1e3
    factor = 1.5 if start_method == "fork" or main == "light" else 6
    meta = {**_meta(), "start_method": start_method, "measured_in": f"plain script, {main}"}
    return [timing.Measurement("pool start+stop", (base * factor, base * factor * 1.1),
                               params={"start_method": start_method, "main": main,
                                       "workers": workers, "pool": pool},
                               metadata=meta).to_dict() for pool in ("first", "later")]


def _dispatch_record(start_method: str, workers: int) -> list[Any]:
    meta = {**_meta(), "start_method": start_method}
    rows = [("plain call", {"chunksize": 0}, 2e-8), ("apply_round_trip", {}, 4e-5),
            *(("map_item_overhead", {"chunksize": c}, 2e-5 / c) for c in (1, 10, 100, 1000))]
    return [timing.Measurement(name, (v, v * 1.1), params={"workers": workers, **extra},
                               metadata=meta).to_dict() for name, extra, v in rows]


def _decomposition_record(start_method: str, workers: int, params: Mapping[str, Any],
                          chunksize: int | None, **_: Any) -> dict[str, Any]:
    count, task = params["count"], params["seconds"]
    tasks = [[0.05 + i * 3 * task, 0.05 + i * 3 * task + task, 100 + i % workers]
             for i in range(count)]
    wall = tasks[-1][1] + 0.01
    return {"start_method": start_method, "workers": workers, "items": count,
            "chunksize": chunksize or executors.default_chunksize(count, workers),
            "task_s": task, "map_start_s": 0.04, "map_end_s": wall - 0.005, "wall_s": wall,
            "tasks": tasks, "metadata": {**_meta(), "start_method": start_method}}


#: Experiments of a gallery script alone (no page reads them): the timeline of one real run.
GALLERY_ONLY = {"overhead-timeline"}

def _trace_cost_record(**key: Any) -> dict[str, Any]:
    """What tracing costs on the model machine: 1% of the wall time, pair by pair."""
    items = int(key["params"]["count"])
    return {"label": "Pool(model)", "items": items, "repeats": key["repeats"],
            "plain_median_s": 0.2, "traced_median_s": 0.202, "overhead": 0.01,
            "overhead_iqr": 0.005, "overhead_best": 0.01}


def _seed_timing_record(**key: Any) -> list[dict[str, Any]]:
    """The seed's timed map on the model machine: the workers busy 80% of the block."""
    work = 0.006 * key["items"]
    runs = [{"way": "loop", "workers": 0, "wall_s": work, "work_s": work},
            {"way": "pool", "workers": key["workers"], "wall_s": work / key["workers"] / 0.8,
             "work_s": work}]
    return [{**_meta(), "start_method": key["start_method"], "items": key["items"],
             "chunksize": key["chunksize"], "repeat": repeat, **run}
            for repeat in range(key["repeats"]) for run in runs]


FAKES: dict[str, Callable[..., Any]] = {
    overhead.STARTUP: _startup_record, overhead.DISPATCH: _dispatch_record,
    task_duration.DECOMPOSITION: _decomposition_record,
    trace_cost.TRACE_COST: _trace_cost_record, seed_timing.SEED_TIMING: _seed_timing_record,
    # No record: the script shows an empty timeline, as a re-importing worker's cache miss.
    **dict.fromkeys(GALLERY_ONLY, lambda **_: None),
}


@pytest.fixture(autouse=True)
def _figures_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script run outside sphinx-gallery saves its figures where it runs: not in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Serve a model machine's records instead of measuring; collect every (name, key) asked."""
    asked: list[tuple[str, str]] = []

    def get_or_measure(self: cache.ResultCache, name: str, params: Mapping[str, Any],
                       measure: Callable[..., Any], **_: Any) -> Any:
        key = json.loads(json.dumps(dict(params), sort_keys=True, default=str))
        asked.append((name, json.dumps(key, sort_keys=True)))
        if name in FAKES:
            return FAKES[name](**key)
        return _experiment_record(key)

    monkeypatch.setattr(cache.ResultCache, "get_or_measure", get_or_measure)
    yield asked
    plt.close("all")


def _load_everything() -> None:
    overhead.load_startup()
    overhead.load_dispatch()
    overhead.load_seed_tiny_tasks()
    overhead.load_tiny_tasks()
    task_duration.load_task_duration()
    task_duration.load_decomposition()


@pytest.mark.parametrize("quick", ["1", "0"], ids=["quick", "full"])
@pytest.mark.parametrize("cores", [None, 8], ids=["this machine", "8 cores"])
def test_gallery_scripts_declare_what_the_chapter_loads(
        fake_cache: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
        cores: int | None, quick: str) -> None:
    """The guide page, the claims and the gallery read the same records, in either mode: the
    scripts' visible declarations (run with their default FUNC/ITEMS, outside the main guard)
    ask the cache for exactly the keys the chapter's load functions ask for."""
    monkeypatch.setenv("MPGUIDE_QUICK", quick)
    if cores is not None:
        monkeypatch.setattr(machine, "usable_cpus", lambda: cores)
    _load_everything()
    chapter = set(fake_cache)
    fake_cache.clear()
    for script in sorted(GALLERY.glob("plot_*.py")):
        runpy.run_path(str(script), run_name="gallery")
    assert {(name, key) for name, key in fake_cache if name not in GALLERY_ONLY} == chapter
    workers = {json.loads(key).get("workers") for _, key in chapter} - {None}
    assert workers == {cores or machine.usable_cpus()}


def test_claims_evaluate_from_the_records(fake_cache: list[tuple[str, str]]) -> None:
    verdicts = {v.claim_id: v for v in chapters.evaluate_all("overhead")}
    assert set(OVERHEAD_CLAIMS) <= set(verdicts)
    for claim_id in OVERHEAD_CLAIMS:
        verdict = verdicts[claim_id]
        assert isinstance(verdict, claims.Verdict)
        assert verdict.page == overhead.CHAPTER.page
        assert "{" not in verdict.statement
        assert verdict.evidence
    # The model machine is built so that every statement holds.
    assert all(verdicts[c].holds for c in OVERHEAD_CLAIMS), [
        str(verdicts[c]) for c in OVERHEAD_CLAIMS if not verdicts[c].holds]
    asked = {name for name, _ in fake_cache}
    assert asked == {overhead.STARTUP, overhead.DISPATCH, overhead.SEED_TINY_TASKS,
                     task_duration.TASK_DURATION, task_duration.DECOMPOSITION,
                     trace_cost.TRACE_COST, seed_timing.SEED_TIMING}


@pytest.mark.parametrize("script", sorted(GALLERY.glob("plot_*.py")), ids=lambda p: p.name)
def test_gallery_cells_survive_a_reimporting_workers_cache_miss(
        script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawn worker re-running a script's cells reads the cache only; when an entry is
    missing (mpguide's source changed meanwhile) it gets no records, and every cell must still
    run: a worker that dies while importing the script makes the pool replace it forever."""
    monkeypatch.setattr(experiment, "reimported_main", lambda: True)
    runpy.run_path(str(script), run_name="gallery")
    plt.close("all")


def test_short_answer_reads_the_chapters_records(fake_cache: list[tuple[str, str]]) -> None:
    """The landing page and the chapter open with the answer: glued from the very records the
    chapter's sections show (pool start+stop, the task-duration sweep), nothing measured twice."""
    _load_everything()
    chapter = set(fake_cache)
    fake_cache.clear()
    text = overhead.short_answer_markdown(overhead.load_short_answer(), guide="guide/")
    assert set(fake_cache) <= chapter
    assert {name for name, _ in fake_cache} == {overhead.STARTUP, task_duration.TASK_DURATION}
    assert "Pool(" in text
    assert "per task the plain loop beats" in text


@pytest.mark.parametrize(("page", "guide"), [("index.md", "guide/"),
                                             ("guide/01-overhead.md", "")])
def test_pages_open_with_the_short_answer(page: str, guide: str) -> None:
    source = (DOCS / page).read_text(encoding="utf-8")
    first_section = source.split("\n## ", 1)[0]
    call = "overhead.short_answer_markdown(overhead.load_short_answer()"
    assert call + (f', guide="{guide}"))' if guide else "))") in first_section
    after_title = first_section.split("\n# ", 1)[1].split("\n", 1)[1]
    cell = after_title.partition(call)[0]
    assert cell.lstrip().startswith("```{code-cell}")  # the first thing under the title
    assert "markdown_format: myst" in cell  # so that its links resolve
    assert "```\n" not in cell  # one cell: no other cell or prose before the answer
