"""Bad input and faults: each a clear error within its timeout, nothing left behind."""

from __future__ import annotations

import functools
import os
import threading
import time

import pytest

from mpguide import pools, workloads


def test_map_matches_serial(start_method: str) -> None:
    items = list(range(20))
    assert pools.bounded_map(workloads.square, items, workers=2, chunksize=3) == [
        workloads.square(x) for x in items
    ]


def test_lambda_is_refused_before_any_process_starts(start_method: str) -> None:
    with pytest.raises(pools.UnpicklableError, match=r"lambda.*importable module"):
        pools.bounded_map(lambda x: x, [1])


def test_closure_is_refused(start_method: str) -> None:
    def local_square(x: int) -> int:
        return x * x

    with pytest.raises(pools.UnpicklableError, match="closure"):
        pools.bounded_map(local_square, [1])


def test_function_from_notebook_main_is_refused_under_spawn(
        start_method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    fake_main = types.ModuleType("__main__")  # like a notebook or sphinx-gallery: no __file__
    monkeypatch.setitem(sys.modules, "__main__", fake_main)

    def cube(x: int) -> int:
        return x**3

    cube.__module__, cube.__qualname__ = "__main__", "cube"
    fake_main.cube = cube
    if start_method == "fork":
        pools.check_callable(cube, start_method)  # fork children inherit __main__: fine
    else:
        with pytest.raises(pools.UnpicklableError, match=r"notebook.*Can't get attribute 'cube'"):
            pools.check_callable(cube, start_method)


def test_unpicklable_item_is_named(start_method: str) -> None:
    with pytest.raises(pools.UnpicklableError, match=r"item 1 \(a lock\)"):
        pools.bounded_map(workloads.noop, [1, threading.Lock(), 3])


def test_raising_worker_gives_worker_error(start_method: str) -> None:
    with pytest.raises(pools.WorkerError, match="ValueError: unknown payload kind") as info:
        pools.bounded_map(functools.partial(workloads.make_payload, nbytes=1), ["sets"])
    assert isinstance(info.value.__cause__, ValueError)


def test_worker_calling_os_exit_fails_fast(start_method: str) -> None:
    started = time.monotonic()
    with pytest.raises(pools.WorkerDiedError, match="exited while tasks were pending"):
        pools.bounded_map(os._exit, [3, 3, 3, 3], workers=2, timeout=30)
    assert time.monotonic() - started < 20, "a dead worker must be noticed long before timeout"


def test_worker_that_never_returns_times_out(start_method: str) -> None:
    started = time.monotonic()
    with pytest.raises(pools.PoolTimeoutError, match="did not finish within 1 s"):
        pools.bounded_map(workloads.sleep_task, [3600], workers=1, timeout=1)
    assert time.monotonic() - started < 15


def test_bounded_pool_terminates_on_error(start_method: str) -> None:
    processes = []

    def fail_inside_pool() -> None:
        with pools.bounded_pool(2) as pool:
            processes.extend(pool._pool)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside_pool()
    assert processes
    assert not any(p.is_alive() for p in processes)


def test_bad_start_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        pools.bounded_map(workloads.noop, [1], start_method="threads")


def test_zero_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"), pools.bounded_pool(0):
        pass


def test_workers_retired_by_maxtasksperchild_are_not_deaths(start_method: str) -> None:
    items = list(range(12))
    assert pools.bounded_map(workloads.square, items, workers=2, chunksize=1,
                             maxtasksperchild=2, timeout=60) == [x * x for x in items]
