"""Chapter 7, the other tools side by side (mpguide.chapters.side_by_side): every tool on every
shape, worker counts and sizes from the machine, snippets that run and are counted as shown,
memory from the tool's own processes, and claims that fail on records where they should.

Nothing here runs the chapter's measurement; the one test that starts a Dask cluster is slow.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import matplotlib
import pytest

from mpguide import claims, config, executors, machine, peers, plotting, timing, workloads
from mpguide.chapters import (
    side_by_side,
    side_by_side_measure,
    side_by_side_plots,
    side_by_side_snippets,
    side_by_side_tables,
)

matplotlib.use("Agg")

#: The shape of 1 ms tasks, by its name.
MS = side_by_side.MS_SHAPE
#: The tools every shape must show, at its default and with Pool's chunks.
TOOLS = {"pool", "processpool", "joblib", "mpire", "dask"}


def _items(shape: side_by_side.Shape) -> int:
    """Items of a shape without building them (the BLAS shape's count is measured)."""
    return int(shape.params.get("count", 4 * machine.usable_cpus()))


def test_the_lineup_has_every_tool_on_every_shape() -> None:
    for name, shape in side_by_side.shapes().items():
        specs = side_by_side.lineup(_items(shape), threads=shape.threads)
        assert {s.tool for s in specs.values()} >= TOOLS, name
        assert set(specs) <= set(side_by_side.WAYS)
        for tool in ("joblib", "mpire", "dask"):
            chunked = [s for s in specs.values() if s.tool == tool and s.chunksize is not None]
            assert len(chunked) == 1, (name, tool)
        assert ("threads" in specs) == shape.threads
        labels = [s.label for s in specs.values()]
        assert len(set(labels)) == len(labels)
    assert "ProcessPoolExecutor, Pool's chunks" not in side_by_side.lineup(8, 2)


def test_worker_counts_and_sizes_come_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda *a: 5)
    shapes = side_by_side.shapes()
    for shape in shapes.values():
        specs = side_by_side.lineup(_items(shape), threads=shape.threads)
        assert {s.parallelism for s in specs.values()} == {5}
    assert shapes["fat arguments"].params["count"] == side_by_side.TASKS_PER_WORKER * 5
    assert shapes[MS].params["count"] >= side_by_side.TASKS_PER_WORKER * 5
    assert side_by_side.side_by_side_params()["workers"] == 5
    startup = side_by_side.startup_experiment()
    assert {s.parallelism for s in startup.executors if s.tool != "loop"} == {5}
    chunk = executors.default_chunksize(shapes[MS].params["count"], 5)
    assert side_by_side.lineup(shapes[MS].params["count"])["mpire, Pool's chunks"] \
        .chunksize == chunk


def test_sizes_shrink_in_quick_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    quick = side_by_side.shapes()
    monkeypatch.setenv("MPGUIDE_QUICK", "0")
    full = side_by_side.shapes()
    for name in ("tiny", MS, "uneven", "waiting"):
        assert full[name].params["count"] > quick[name].params["count"], name
    assert full["fat results"].params["nbytes"] > quick["fat results"].params["nbytes"]
    default = config.start_method()
    assert side_by_side.startup_methods()[0] == default
    assert set(side_by_side.startup_methods()) == set(config.available_start_methods())
    monkeypatch.setenv("MPGUIDE_QUICK", "1")
    assert side_by_side.startup_methods() == [default]


def test_snippet_lines_count_the_code_the_page_shows() -> None:
    assert tuple(side_by_side_snippets.SNIPPETS) == ("loop", *side_by_side.WAYS)
    page = side_by_side_snippets.snippets_markdown(method="spawn")
    for way in ("loop", *side_by_side.WAYS):
        code = side_by_side_snippets.snippet(way, "spawn")
        assert code.rstrip() in page
        lines = [line for line in code.splitlines()
                 if line.strip() and not line.strip().startswith("#")]
        assert side_by_side_snippets.snippet_lines(way) == len(lines) > 0
        assert "{method}" not in code


def _run_snippet(way: str, method: str | None) -> list[Any]:
    items = list(range(20))
    namespace: dict[str, Any] = {"func": workloads.square, "items": items, "workers": 2}
    exec(side_by_side_snippets.snippet(way, method), namespace)  # noqa: S102  (the page's own code)
    return list(namespace["results"])


def _ways(names: list[str]) -> list[Any]:
    """``names`` as parameters, slow where the tool takes seconds to start its workers (mpire
    imports itself in each spawned worker, loky workers import joblib)."""
    return [pytest.param(w, marks=pytest.mark.slow) if w.startswith(("mpire", "joblib"))
            else w for w in names]


#: Snippets whose code names a start method, and the others (Dask's are tested apart).
SNIPPETS = side_by_side_snippets.SNIPPETS
WITH_METHOD = _ways([w for w in side_by_side.WAYS if "{method}" in SNIPPETS[w]])
WITHOUT_METHOD = _ways([w for w in ("loop", *side_by_side.WAYS)
                        if "{method}" not in SNIPPETS[w]
                        and not w.startswith("Dask")])


@pytest.mark.parametrize("way", WITH_METHOD)
def test_each_snippet_runs_under_each_start_method(way: str, start_method: str) -> None:
    assert _run_snippet(way, start_method) == [x * x for x in range(20)]


@pytest.mark.parametrize("way", WITHOUT_METHOD)
def test_the_other_snippets_run(way: str) -> None:
    try:
        assert _run_snippet(way, None) == [x * x for x in range(20)]
    finally:
        if way.startswith("joblib"):  # joblib keeps its workers for later calls: not ours
            peers._stop_loky(config.DEFAULT_TIMEOUT)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
@pytest.mark.parametrize("way", ["Dask", "Dask, Pool's chunks"])
def test_the_dask_snippets_run_and_match_the_loop(way: str) -> None:
    assert _run_snippet(way, config.start_method()) == [x * x for x in range(20)]


def test_memory_counts_the_workers_of_the_executor(start_method: str) -> None:
    job = side_by_side_measure._Job("squares", workloads.square, list(range(40)),
                            [x * x for x in range(40)], {})
    spec = executors.Pool(2, start_method=start_method)
    [(times, row)] = side_by_side_measure._measure_executor(spec, [job], None, repeats=2,
                                                            timeout=config.DEFAULT_TIMEOUT)
    assert len(times) == 2
    assert min(times) > 0
    assert row["processes"] == 2  # the workers; not the fork server or resource tracker
    assert row["peak_uss_mib"] > 0
    if not math.isnan(row["peak_rss_mib"]):  # NaN where the kernel keeps no VmHWM
        assert row["peak_rss_mib"] >= row["peak_uss_mib"]
    [(_, loop)] = side_by_side_measure._measure_executor(executors.Loop(), [job], None,
                                                         repeats=1,
                                                         timeout=config.DEFAULT_TIMEOUT)
    assert loop["processes"] == 0
    assert math.isnan(loop["peak_uss_mib"])  # the loop runs in the script's own process


def test_the_measurement_is_found_by_the_name_the_cache_runs() -> None:
    measure = executors.resolve_target(side_by_side.MEASURE)
    assert measure is side_by_side_measure.measure_side_by_side


def test_a_wrong_result_is_refused() -> None:
    job = side_by_side_measure._Job("wrong", workloads.square, list(range(8)), [0] * 8, {})
    with pytest.raises(timing.TimingError):
        side_by_side_measure._measure_executor(executors.Pool(2), [job], None, repeats=1,
                                               timeout=config.DEFAULT_TIMEOUT)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
def test_one_shape_end_to_end_shares_one_dask_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    full_lineup = side_by_side.lineup

    def small_lineup(n_items: int, workers: int | None = None,
                     threads: bool = False) -> dict[str, executors.Executor]:
        full = full_lineup(n_items, workers, threads)
        return {way: full[way] for way in ("Pool", "Dask", "Dask, Pool's chunks")}

    monkeypatch.setattr(side_by_side, "lineup", small_lineup)
    shape = {"name": "no-op", "func": "mpguide.workloads:noop",
             "items": "mpguide.chapters.side_by_side:noop_items", "params": {"count": 40},
             "threads": False}
    data = side_by_side_measure.measure_side_by_side(shapes=[shape], workers=2, repeats=1,
                                                     timeout=config.DEFAULT_TIMEOUT)
    side = side_by_side.SideBySide.from_dict(data)
    table = side.table().set_index("way")
    assert list(table.index) == ["loop", "Pool", "Dask", "Dask, Pool's chunks"]
    assert table.loc["Dask", "processes"] == table.loc["Dask, Pool's chunks", "processes"] == 2
    assert side.dask_start_s is not None
    assert side.dask_start_s > 0
    assert table.loc["Pool", "per_task_us"] > 0


# --- records made up for the views and the claims ------------------------------------------

#: Seconds per map of the made-up records: every claim holds on them.
GOOD = {("*", "loop"): 1.0, ("*", "*"): 0.5,
        ("no-op", "Dask"): 0.05,  # 500 µs per item over 100 items
        (MS, "Dask"): 1.0, ("tiny", "Dask"): 2.0, ("tiny", "Dask, Pool's chunks"): 0.1,
        ("BLAS", "joblib"): 0.2, (MS, "mpire"): 0.2, ("fat arguments", "mpire"): 0.2}
ITEMS = 100


def _seconds(times: dict[tuple[str, str], float], shape: str, way: str) -> float:
    for key in ((shape, way), ("*", way), ("*", "*")):
        if key in times:
            return times[key]
    raise KeyError((shape, way))


def made_up(changes: tuple[tuple[tuple[str, str], float], ...] = ()) -> side_by_side.SideBySide:
    """A SideBySide of every shape and row, each map taking ``times[shape, way]`` seconds
    (:data:`GOOD` with ``changes``)."""
    times = {**GOOD, **dict(changes)}
    meta = machine.collect_metadata()
    shapes = []
    for name, shape in side_by_side.shapes().items():
        specs = {"loop": executors.Loop(), **side_by_side.lineup(ITEMS, 2,
                                                                 threads=shape.threads)}
        measurements = [timing.Measurement(
            spec.label, (_seconds(times, name, way),) * 3,
            params={**spec.record(), "items": ITEMS, "startup": False, "shape": name,
                    "way": way, "experiment": side_by_side.SIDE_BY_SIDE},
            metadata={**meta, "start_method": spec.record()["start_method"] or "fork"}
        ).to_dict() for way, spec in specs.items()]
        memory = [{"shape": name, "way": way, "label": spec.label, "processes": 2,
                   "shm_mib": 0.0, "peak_uss_mib": 10.0, "peak_rss_mib": 20.0,
                   "measure_s": 0.1} for way, spec in specs.items()]
        shapes.append({"name": name, "memory": memory,
                       "result": {"name": name, "measurements": measurements}})
    return side_by_side.SideBySide.from_dict({"shapes": shapes, "dask_start_s": 3.0,
                                              "executors": [{"label": "loop", "shapes": 8,
                                                             "seconds": 1.0}]})


@functools.cache
def made_up_table(changes: tuple[tuple[tuple[str, str], float], ...] = ()) -> Any:
    """:meth:`SideBySide.table` of :func:`made_up` (built once per set of changes)."""
    return made_up(changes).table()


def test_the_table_has_every_view_column() -> None:
    table = made_up_table()
    assert set(table["shape"]) == set(side_by_side.shapes())
    for shape in side_by_side.shapes():
        rows = side_by_side_tables.shape_table(table, shape)
        assert {"Pool", "ProcessPoolExecutor", "joblib", "mpire", "Dask"} <= set(rows.index)
        assert rows.loc["Pool", "speedup"] == pytest.approx(1.0 / _seconds(GOOD, shape, "Pool"))
        assert rows.loc["Pool", "lines to write"] == side_by_side_snippets.snippet_lines("Pool")
    pool = table[(table["shape"] == "tiny") & (table["way"] == "Pool")]
    assert pool["per_task_us"].iloc[0] == pytest.approx(0.5 / ITEMS * 1e6)
    assert "**" in side_by_side_tables.shape_summary(table, "BLAS")
    assert list(side_by_side_tables.best_ways(table).index) == list(side_by_side.shapes())
    assert set(side_by_side_tables.published_table(table).index) >= {"Pool", "joblib", "mpire",
                                                                     "Dask", "Ray"}


@pytest.mark.parametrize("plot", [side_by_side_plots.plot_speedups,
                                  side_by_side_plots.plot_memory,
                                  side_by_side_plots.plot_overhead])
def test_every_figure_is_captioned_with_the_machine(plot: Callable[..., Any]) -> None:
    import matplotlib.pyplot as plt

    fig = plot(made_up())
    caption = plotting.caption_of(fig)
    assert "usable cores" in (caption or "")
    plt.close(fig)


def test_the_startup_table_reads_start_and_stop_off_the_steady_map() -> None:
    import matplotlib.pyplot as plt

    from mpguide.experiment import Result

    meta = {**machine.collect_metadata(), "start_method": "fork"}
    specs = [executors.Loop(), executors.Pool(2, start_method="fork"), peers.Joblib(2),
             peers.Dask(2)]
    startup = Result("startup", tuple(timing.Measurement(
        spec.label, (seconds,) * 3, params={**spec.record(), "items": ITEMS},
        metadata=meta) for spec, seconds in zip(specs, (1.0, 0.6, 2.0, 5.5), strict=True)))
    starts = side_by_side.startup_table(startup, made_up_table()).set_index("tool")
    assert starts.loc["joblib", "start_method"] == "loky"
    assert starts.loc["Dask", "start_method"] == "spawn"
    assert starts.loc["Dask", "start_stop_s"] == pytest.approx(5.5 - 1.0)  # 1 ms Dask: 1.0
    assert starts.loc["Pool", "start_stop_s"] == pytest.approx(0.6 - 0.5)
    fig = side_by_side_plots.plot_startup(starts.reset_index(), meta)
    assert "usable cores" in (plotting.caption_of(fig) or "")
    plt.close(fig)


#: Per claim, records on which it must fail (changes to GOOD).
FAILING = {
    "dask-per-task-overhead": {("no-op", "Dask"): 0.5},  # 5 ms per item
    "ray-10ms-rule-dask": {(MS, "Dask"): 0.5},  # Dask speeds 1 ms tasks up 2x
    "ray-10ms-rule-pools": {(MS, "ProcessPoolExecutor"): 1.0},  # no speedup
    "ray-batching-example": {("tiny", "Dask, Pool's chunks"): 0.5},  # batching gains 4x
    "joblib-auto-batching-tiny": {("tiny", "joblib"): 1.0},  # auto 2x slower than fixed
    "joblib-caps-blas": {("BLAS", "joblib"): 0.5},  # no gain over Pool
    "mpire-chart-plain-map": {("fat arguments", "mpire"): 0.5},  # no lead on fat arguments
}


def test_every_claim_of_the_chapter_has_failing_records() -> None:
    assert set(claims.registered("peers")) == set(FAILING)
    assert len(FAILING) >= 5


@pytest.mark.parametrize("claim_id", sorted(FAILING))
def test_a_claim_holds_and_fails_where_it_should(claim_id: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    good = made_up_table()
    monkeypatch.setattr(side_by_side, "load_table", lambda: good)
    verdict = claims.evaluate(claim_id)
    assert verdict.holds, verdict
    bad = made_up_table(tuple(FAILING[claim_id].items()))
    monkeypatch.setattr(side_by_side, "load_table", lambda: bad)
    verdict = claims.evaluate(claim_id)
    assert not verdict.holds, verdict
    assert "{" not in verdict.statement
