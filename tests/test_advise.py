"""The advisor: profile bounds, the JSON contract, recommendations, and every kind of bad input
as one clear paragraph within a bounded time, from Python and from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psutil
import pytest

from mpguide import advise, model, pools, workloads
from mpguide.machine import usable_cpus
from mpguide.model import Profile

#: A user's module, as the advisor meets it: importable by name from every start method.
USER_MODULE = textwrap.dedent('''
    import os
    import threading
    import time

    def square(x):
        return x * x

    def boom(x):
        raise ValueError(f"cannot handle item {x}")

    def forever(x):
        while True:
            time.sleep(0.05)

    def crash(x):
        os._exit(3)

    as_lambda = lambda x: x

    def _make():
        def inner(x):
            return x
        return inner

    closure = _make()

    def items():
        return list(range(200))

    def empty():
        return []

    def with_lock():
        return [1, 2, threading.Lock()]

    def broken_factory():
        raise RuntimeError("the database is down")
''')


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "usermod.py").write_text(USER_MODULE, encoding="utf-8")
    card = {"probes": model.EXAMPLE_PROBES}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.fixture
def usermod(user_dir: Path) -> Iterator[ModuleType]:
    import importlib

    sys.modules.pop("usermod", None)
    module = importlib.import_module("usermod")
    yield module
    sys.modules.pop("usermod", None)


def _advise(func, items, method, **kwargs) -> advise.Advice:
    kwargs.setdefault("time_budget", 0.5)
    return advise.advise(func, items, start_methods=[method], probes=model.EXAMPLE_PROBES,
                         **kwargs)


# --- the Python API ------------------------------------------------------------------------


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


def test_pool_now_measures_free_cores_and_start_up(start_method: str) -> None:
    cores = max(2, usable_cpus())
    now = advise.pool_now(cores, start_method, timeout=60, seconds=0.05)
    assert 1.0 <= now.free_cores <= cores
    assert now.start_stop_s > 0
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=cores).updated(now)
    assert costs.startup_s(start_method, cores) == pytest.approx(now.start_stop_s)


def test_busy_machine_lowers_the_prediction() -> None:
    prof = Profile(n_items=400, per_item_s=2e-3)
    idle = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    busy = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2, free_cores=1.0)
    kw = {"workers": 2, "chunksize": 20, "start_method": "fork"}
    assert model.predict(prof, busy, **kw).predicted_s > 1.8 * model.predict(
        prof, idle, **kw).compute_s
    assert model.predict(prof, busy, **kw).oversubscription_s > 0


def test_profile_runs_a_sample_not_the_whole_input(start_method: str) -> None:
    items = [workloads.iterations_for(2e-3)] * 2000
    prof = advise.profile(workloads.spin, items, start_method=start_method, time_budget=0.3)
    assert prof.n_items == 2000
    assert 1 <= len(prof.sample_costs_s) <= 2000 // 4
    assert prof.gil_fraction > 0.5  # pure Python holds the GIL
    assert prof.arg_bytes > 0
    assert prof.result_bytes > 0


def test_sample_is_spread_over_the_input() -> None:
    indices = advise.sample_indices(1000, 8)
    assert indices[:2] == [0, 999]
    assert len(set(indices)) == 8
    assert advise.sample_indices(2) == [0]


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
    assert advise.recommend(prof, predictions, "forkserver").start_method == "forkserver"
    assert advise.recommend(prof, predictions, "spawn").start_method == "fork"


def test_recommend_threads_when_the_work_releases_the_gil() -> None:
    prof = Profile(n_items=100, per_item_s=5e-3, arg_bytes=8e6, gil_fraction=0.0)
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=2)
    predictions = [model.predict(prof, costs, workers=2, chunksize=c, start_method="fork")
                   for c in (1, 10, 50)]
    predictions.append(model.predict_threads(prof, costs, workers=2))
    rec = advise.recommend(prof, predictions, "fork")
    assert rec.tool == "threads"
    assert rec.predicted_speedup > 1.5


# --- bad input, Python API -----------------------------------------------------------------


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
    with pytest.raises(advise.AdviceError, match="empty"):
        _advise(usermod.square, [], start_method)


def test_raising_function_is_one_clear_error(usermod: ModuleType, start_method: str) -> None:
    with pytest.raises(advise.AdviceError,
                       match=r"boom raised ValueError: cannot handle item 0 .*fix the function"):
        _advise(usermod.boom, usermod.items(), start_method)


def test_function_that_never_returns_times_out(usermod: ModuleType, start_method: str) -> None:
    start = time.monotonic()
    with pytest.raises(advise.AdviceError, match=r"did not finish profiling within 2 s"):
        _advise(usermod.forever, usermod.items(), start_method, timeout=2)
    assert time.monotonic() - start < 60


def test_crashing_function_is_one_clear_error(usermod: ModuleType, start_method: str) -> None:
    with pytest.raises(advise.AdviceError, match="died"):
        _advise(usermod.crash, usermod.items(), start_method, timeout=30)


# --- the command line ----------------------------------------------------------------------


def _cli(user_dir: Path, *args: str, method: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m mpguide advise`` in its own session; fail if it leaves a process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(advise.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    extra = ["--start-method", method] if method else []
    with subprocess.Popen(
        [sys.executable, "-m", "mpguide", "advise", *args, "--card", "card.json",
         "--time-budget", "0.5", "--timeout", "3", *extra],
        cwd=user_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    ) as proc:
        stdout, stderr = proc.communicate(timeout=120)
    # The resource tracker and fork server exit on their own once the CLI has gone; give
    # them a moment. Zombies are dead (their new parent reaps them when it gets to it).
    session = [p for p in psutil.process_iter() if _session(p.pid) == proc.pid]
    _, alive = psutil.wait_procs(session, timeout=10)
    left = [p for p in alive if _status(p) != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left running: {left}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _status(process: psutil.Process) -> str:
    try:
        return process.status()
    except psutil.Error:
        return psutil.STATUS_ZOMBIE


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _assert_one_paragraph(result: subprocess.CompletedProcess, pattern: str) -> None:
    import re

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mpguide advise: ")
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert re.search(pattern, result.stderr), result.stderr


def test_cli_json(user_dir: Path, start_method: str) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items", "--json",
                  method=start_method)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["tool"] == "serial"
    assert {p["start_method"] for p in data["predictions"]} == {start_method}


def test_cli_text(user_dir: Path) -> None:
    result = _cli(user_dir, "usermod:square", "--items", "usermod:items")
    assert result.returncode == 0, result.stderr
    assert "Recommendation: keep the plain loop" in result.stdout


@pytest.mark.parametrize(("target", "factory", "pattern"), [
    ("usermod:as_lambda", "usermod:items", "is a lambda"),
    ("usermod:closure", "usermod:items", "closure"),
    ("usermod:square", "usermod:with_lock", r"item 2 \(a lock\) cannot be pickled"),
    ("nosuchmodule:square", "usermod:items", "cannot import module 'nosuchmodule'"),
    ("usermod:cube", "usermod:items", "'cube' is not defined in module usermod.*square"),
    ("usermod:square", "usermod:empty", "the item list is empty"),
    ("usermod:square", "usermod:broken_factory", "raised RuntimeError: the database is down"),
    ("usermod", "usermod:items", "must be written MODULE:NAME"),
])
def test_cli_bad_input_before_any_process(user_dir: Path, target: str, factory: str,
                                          pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, target, "--items", factory), pattern)


@pytest.mark.parametrize(("target", "pattern"), [
    ("usermod:boom", "raised ValueError: cannot handle item 0"),
    ("usermod:forever", "did not finish profiling within 3 s"),
    ("usermod:crash", "died"),
])
def test_cli_failing_function(user_dir: Path, start_method: str, target: str,
                              pattern: str) -> None:
    _assert_one_paragraph(_cli(user_dir, target, "--items", "usermod:items",
                               method=start_method), pattern)


# --- the validation experiment -------------------------------------------------------------


def test_validation_summary_ratios() -> None:
    import pandas as pd

    from mpguide import validate

    rows = [("serial", 1.0, 1.0), ("sweep", 0.5, 0.55), ("sweep", 0.8, 0.6),
            ("pool-default", 0.6, None), ("joblib-auto", 2.0, None),
            ("joblib-auto-warm", 0.7, None), ("recommended", 0.52, 0.55)]
    df = pd.DataFrame([{"workload": "w", "shape": "s", "kind": k, "measured_s": m,
                        "predicted_s": p, "recommended_tool": "pool", "advise_s": 1.0}
                       for k, m, p in rows])
    df["error"] = (df["predicted_s"] - df["measured_s"]) / df["measured_s"]
    row = validate.summary(df).iloc[0]
    assert row["median_abs_error"] == pytest.approx((0.1 + 0.25) / 2)
    assert row["vs_best"] == pytest.approx(0.52 / 0.5)
    assert row["vs_pool_default"] == pytest.approx(0.52 / 0.6)
    assert row["vs_joblib_auto"] == pytest.approx(0.26)
    assert validate.overall_error(df) == pytest.approx(0.175)


@pytest.mark.slow
def test_validation_measures_what_it_predicts(start_method: str) -> None:
    from mpguide import runner

    # In a fresh interpreter, as load_validation runs it: joblib's workers and temporary
    # folders go with it.
    result = runner.run_fresh("mpguide.validate:measure_workload",
                              {"name": "tiny", "start_method": start_method, "repeats": 1},
                              timeout=300)
    kinds = {r["kind"] for r in result["records"]}
    assert kinds == {"serial", "sweep", "pool-default", "joblib-auto", "joblib-auto-warm",
                     "recommended"}
    sweep = [r for r in result["records"] if r["kind"] == "sweep"]
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in sweep)
    assert {r["workers"] for r in sweep} >= {1}
    assert result["advice"]["recommendation"]["tool"] == "serial"
