"""The experiment verb: declared, checked, timed side by side, cached, and viewable."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from mpguide import executors, experiment, pools, timing, workloads
from mpguide.experiment import Experiment, Result


@pytest.fixture
def reader_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A module the reader wrote, beside their script (on sys.path, not installed)."""
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "mywork.py").write_text(textwrap.dedent("""
        import os

        def triple(x):
            return 3 * x

        def which_process(x):
            return os.getpid()

        def numbers(n):
            return list(range(n))
    """))
    monkeypatch.syspath_prepend(str(folder))
    import importlib

    return SimpleNamespace(module=importlib.import_module("mywork"))


def test_fresh_run_measures_a_readers_function(reader_module: SimpleNamespace,
                                                start_method: str) -> None:
    mywork = reader_module.module
    result = Experiment("t-reader", mywork.triple, mywork.numbers, params={"n": 40},
                        executors=[executors.Pool(2, chunksize=5),
                                   executors.ProcessPool(2, chunksize=5)], repeats=2).run()
    table = result.table()
    assert list(table["label"]) == ["loop", f"Pool(2, chunksize=5, {start_method})",
                                    f"ProcessPoolExecutor(2, chunksize=5, {start_method})"]
    assert table.loc[0, "speedup"] == pytest.approx(1.0)
    frame = result.frame()
    assert len(frame) == 3 * 2
    assert set(frame["measured_in"]) == {"fresh interpreter"}
    assert {"cpu_model", "usable_cpus", "python", "mode"} <= set(frame.columns)


def test_items_as_a_list_travel_to_the_fresh_interpreter(start_method: str) -> None:
    result = Experiment("t-list", workloads.square, [1.5] * 30,
                        [executors.Pool(2, start_method=start_method)], repeats=1).run()
    assert result.frame()["items"].unique().tolist() == [30]


def test_a_wrong_parallel_result_stops_before_timing(reader_module: SimpleNamespace,
                                                     start_method: str) -> None:
    exp = Experiment("t-wrong", reader_module.module.which_process, list(range(8)),
                     [executors.Pool(2)], repeats=1, fresh=False, cache=False)
    with pytest.raises(timing.TimingError):
        exp.run()


def test_the_cache_answers_the_second_run(start_method: str) -> None:
    exp = Experiment("t-cached", workloads.square, list(range(50)), [executors.Threads(2)],
                     repeats=2)
    first, second = exp.run(), exp.run()
    assert first == second
    changed = Experiment("t-cached", workloads.square, list(range(51)), [executors.Threads(2)],
                         repeats=2).run()
    assert changed.frame()["items"].iloc[0] == 51


def test_in_process_run_reports_progress() -> None:
    seen: list[str] = []
    Experiment("t-progress", workloads.square, [1, 2], [executors.Threads(2)], repeats=2,
               fresh=False, cache=False).run(progress=seen.append)
    assert seen == ["loop", "Threads(2)"] * 2


@pytest.mark.parametrize("startup", [True, False], ids=["with-startup", "started"])
def test_a_long_warm_up_cuts_the_repeats_to_the_budget(startup: bool) -> None:
    """The loop sleeps 0.1 s per run and the thread pool 0.05 s against a 0.1 s budget: two
    repeats each (the floor, MIN_REPEATS), not six; items that take microseconds keep all six."""
    from mpguide.experiment import MIN_REPEATS

    items = [0.05, 0.05]
    frame = Experiment("t-budget", workloads.sleep_task, items, [executors.Threads(2)],
                       repeats=6, time_budget=0.1, startup=startup, fresh=False,
                       cache=False).run().frame()
    assert MIN_REPEATS == 2
    assert frame.groupby("label").size().to_dict() == {"loop": 2, "Threads(2)": 2}
    quick = Experiment("t-budget", workloads.square, list(range(10)), [executors.Threads(2)],
                       repeats=6, time_budget=0.1, startup=startup, fresh=False,
                       cache=False).run().frame()
    assert quick.groupby("label").size().to_dict() == {"loop": 6, "Threads(2)": 6}


@pytest.mark.parametrize("func", [lambda x: x, pytest.param(None, id="closure")])
def test_functions_a_fresh_interpreter_cannot_import_are_refused(func) -> None:
    if func is None:
        def local(x):
            return x
        func = local
    with pytest.raises(pools.UnpicklableError, match=r"lambda|closure"):
        Experiment("t-bad", func, [1], [executors.Loop()])


def test_a_function_of_the_running_script_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def cube(x: int) -> int:
        return x**3

    cube.__qualname__ = "cube"
    cube.__module__ = "__main__"
    monkeypatch.setattr(sys.modules["__main__"], "cube", cube, raising=False)
    with pytest.raises(pools.UnpicklableError, match="from mywork import cube"):
        Experiment("t-main", cube, [1], [executors.Loop()])


def test_repeated_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="repeat a configuration"):
        Experiment("t-twice", workloads.square, [1], [executors.Threads(2)] * 2)


#: A script that records, on every run of its top level, whether it is a re-import.
REIMPORTING_SCRIPT = """
import multiprocessing, os, sys
from mpguide import experiment

with open(sys.argv[1] if len(sys.argv) > 1 else os.environ["SEEN"], "a") as out:
    out.write(f"{experiment.reimported_main()}\\n")

if __name__ == "__main__":
    os.environ["SEEN"] = sys.argv[1]
    ctx = multiprocessing.get_context(sys.argv[2])
    with ctx.Pool(2) as pool:
        pool.map_async(abs, range(4)).get(timeout=60)
"""


@pytest.mark.parametrize("method", [m for m in ("spawn", "forkserver")
                                    if m in multiprocessing.get_all_start_methods()])
def test_reimported_main_tells_a_script_rerun_by_its_workers(tmp_path: Path, method: str) -> None:
    """A spawn/forkserver child re-runs the script's top level: there, and only there, the
    guard says so (the script itself and fork children never re-run it)."""
    script, seen = tmp_path / "script.py", tmp_path / "seen.txt"
    script.write_text(REIMPORTING_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(experiment.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(script), str(seen), method], env=env, check=True,
                   timeout=120, cwd=tmp_path)
    runs = seen.read_text().split()
    assert runs[0] == "False"
    assert len(runs) > 1
    assert set(runs[1:]) == {"True"}


def test_a_worker_reimporting_its_script_only_reads_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawn worker re-running a gallery script's cells must not measure again."""
    rerun = SimpleNamespace(__name__="__mp_main__")
    monkeypatch.setitem(sys.modules, "__mp_main__", rerun)
    assert experiment.reimported_main()
    result = Experiment("t-guard", workloads.square, [1, 2], [executors.Threads(2)]).run()
    assert result == Result("t-guard", ())
    assert result.table().empty
    import matplotlib.pyplot as plt

    plt.close(result.plot())
    assert experiment.run_cached("t-guard-2", "mpguide.workloads:spin", {"iterations": 2}) \
        is None


def test_result_round_trips_and_plots() -> None:
    result = Experiment("t-plot", workloads.square, list(range(20)),
                        [executors.Threads(2)], repeats=2, fresh=False, cache=False).run()
    assert Result.from_dict(result.to_dict()) == result
    assert result.best() in {"loop", "Threads(2)"}
    from mpguide.plotting import caption_of

    fig = result.plot()
    assert "usable cores" in (caption_of(fig) or "")
    import matplotlib.pyplot as plt

    plt.close(fig)
