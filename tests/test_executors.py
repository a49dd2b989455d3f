"""Executors: every spec maps like the loop, keeps the bounded-pool guarantees, and round-trips
through JSON; the BLAS cap reaches the worker under every start method."""

from __future__ import annotations

import json
import os
import time

import pytest

from mpguide import blas, executors, pools, workloads

PROCESS_SPECS = (
    lambda m: executors.Pool(2, chunksize=2, start_method=m),
    lambda m: executors.Pool(2, start_method=m, maxtasksperchild=1),
    lambda m: executors.ProcessPool(2, chunksize=3, start_method=m),
)


def _all_specs(method: str) -> list[executors.Executor]:
    return [executors.Loop(), executors.Threads(2), *(make(method) for make in PROCESS_SPECS)]


def test_every_executor_maps_like_the_loop(start_method: str) -> None:
    items = list(range(25))
    for spec in _all_specs(start_method):
        assert spec.map(workloads.square, items, timeout=60) == [x * x for x in items], spec


def test_specs_round_trip_through_json(start_method: str) -> None:
    for spec in [*_all_specs(start_method),
                 executors.Pool(3, blas_threads=1, start_method=start_method),
                 executors.Pool(2, initializer="mpguide.blas:limit_blas_threads",
                                initargs=(1,), start_method=start_method)]:
        again = executors.from_dict(json.loads(json.dumps(spec.to_dict())))
        assert again == spec
        assert again.label == spec.label


def test_defaults_come_from_the_machine(start_method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors.machine, "usable_cpus", lambda: 8)
    spec = executors.Pool()
    assert spec.workers == 8
    assert spec.start_method == start_method
    assert spec.label == f"Pool(8, default chunksize, {start_method})"
    assert executors.ProcessPool().label == f"ProcessPoolExecutor(8, chunksize=1, {start_method})"


@pytest.mark.parametrize("bad", [{"workers": 0}, {"chunksize": 0}, {"start_method": "vfork"}])
def test_bad_parameters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=str(next(iter(bad.values())))):
        executors.Pool(**bad)  # type: ignore[arg-type]


def test_unknown_tool_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: dask, joblib, loop, mpire, pool, processpool, threads"):
        executors.from_dict({"tool": "ray"})


@pytest.mark.parametrize("make", PROCESS_SPECS, ids=["pool", "pool-maxtasks", "processpool"])
def test_a_lambda_is_refused_before_any_process_starts(make, start_method: str) -> None:
    with pytest.raises(pools.UnpicklableError, match="lambda"):
        make(start_method).map(lambda x: x, [1, 2])


@pytest.mark.parametrize("make", PROCESS_SPECS, ids=["pool", "pool-maxtasks", "processpool"])
def test_a_dying_worker_is_an_exception_not_a_hang(make, start_method: str) -> None:
    start = time.monotonic()
    with pytest.raises(pools.WorkerDiedError, match=r"died|exited"):
        make(start_method).map(os._exit, [3, 3, 3, 3], timeout=30)
    assert time.monotonic() - start < 25


@pytest.mark.parametrize("make", PROCESS_SPECS, ids=["pool", "pool-maxtasks", "processpool"])
def test_a_task_that_never_returns_times_out(make, start_method: str) -> None:
    with pytest.raises(pools.PoolTimeoutError, match="within 1 s"):
        make(start_method).map(workloads.sleep_task, [30, 30], timeout=1)


def test_thread_pool_wait_is_bounded() -> None:
    with pytest.raises(pools.PoolTimeoutError, match=r"within 0\.5 s"):
        executors.Threads(2).map(workloads.sleep_task, [2, 2], timeout=0.5)


def test_a_raising_function_keeps_its_exception(start_method: str) -> None:
    with pytest.raises(pools.WorkerError):
        executors.Pool(2, start_method=start_method).map(workloads.square, ["x"], timeout=30)
    with pytest.raises(TypeError):
        executors.ProcessPool(2, start_method=start_method).map(workloads.square, ["x"],
                                                                 timeout=30)


def test_blas_cap_reaches_every_worker(start_method: str) -> None:
    """A worker's BLAS pool has the capped thread count after the initializer, under every
    start method (threadpoolctl only limits libraries already loaded: numpy comes first)."""
    uncapped = executors.Pool(2, start_method=start_method).map(blas.blas_threads, range(4),
                                                                timeout=60)
    if max(uncapped) <= 1:
        pytest.skip("BLAS runs one thread here already: a cap to 1 would prove nothing")
    capped = executors.Pool(2, blas_threads=1, start_method=start_method).map(
        blas.blas_threads, range(4), timeout=60)
    assert capped == [1, 1, 1, 1]
    by_initializer = executors.Pool(2, initializer="mpguide.blas:limit_blas_threads",
                                    initargs=(1,), start_method=start_method).map(
        blas.blas_threads, range(4), timeout=60)
    assert by_initializer == [1, 1, 1, 1]


def test_grid_crosses_the_axes() -> None:
    specs = executors.grid(executors.ProcessPool, workers=[1, 2], chunksize=[1, 8],
                           start_method="spawn")
    assert [(s.workers, s.chunksize) for s in specs] == [(1, 1), (1, 8), (2, 1), (2, 8)]
