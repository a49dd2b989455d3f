"""Chapter 3, how many workers on a busy machine (mpguide.chapters.busy_machine): the spinning
program, the measurement beside it, and its frame. Nothing here asserts a timing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd
import psutil
import pytest

from mpguide import executors, workloads
from mpguide.chapters import busy_machine


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_spinning_program_spins_and_is_gone_after_the_block() -> None:
    with busy_machine.spinning() as other:
        pid = other.pid
        assert busy_machine._cpu_s(other) >= busy_machine.SPUN_UP_CPU_S
    assert _gone(pid)


def test_the_spinning_program_is_killed_when_the_block_raises() -> None:
    pids = []

    def fail_inside() -> None:
        with busy_machine.spinning() as other:
            pids.append(other.pid)
            raise KeyError("inside")

    with pytest.raises(KeyError):
        fail_inside()
    assert _gone(pids[0])


def test_a_program_that_stops_at_once_is_an_error_not_a_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy_machine, "OTHER_PROGRAM", "pass")
    with pytest.raises(RuntimeError, match="did not start"), busy_machine.spinning(timeout=5):
        pass


def test_measure_busy(start_method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pools = [executors.Pool(w, chunksize=c, start_method=start_method)
             for c in (1, None) for w in (1, 2)]
    spun = []
    spinning = busy_machine.spinning

    @contextlib.contextmanager
    def watched(timeout: float = 10.0) -> Iterator[psutil.Process]:
        with spinning(timeout) as other:
            spun.append(other.pid)
            yield other

    monkeypatch.setattr(busy_machine, "spinning", watched)
    params = busy_machine.busy_params(params={"seconds": 2e-4, "count": 6})
    df = pd.DataFrame(busy_machine.measure_busy(**params | {
        "pools": [p.to_dict() for p in pools], "repeats": 2}))
    assert list(df.label.unique()) == ["loop", *(p.label for p in pools)]
    assert len(df) == 2 * (1 + len(pools))
    assert sorted(df.chunking.unique()) == ["chunksize 1", "default (1)", "default (2)",
                                            "loop"]
    assert df.start_method.eq(start_method).all()
    assert (df.seconds > 0).all()
    assert (df.other_share >= 0).all()
    summary = busy_machine.busy_summary(df)
    assert list(summary.workers) == [0, 1, 2, 1, 2]
    assert summary.loc[0, "speedup"] == 1
    assert len(spun) == 1
    assert _gone(spun[0])


def test_no_pools_no_rows_no_spinning() -> None:
    params = busy_machine.busy_params(workloads.square, [1, 2])
    assert busy_machine.measure_busy(**params | {"pools": []}) == []


def test_a_function_and_items_of_ones_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's function and a list of items, as the gallery script passes them."""
    monkeypatch.setattr(busy_machine.machine, "usable_cpus", lambda *_: 2)
    params = busy_machine.busy_params(workloads.square, [1, 2, 3], start_method="fork")
    assert params["func"] == "mpguide.workloads:square"
    assert params["items"] == [1, 2, 3]
    df = pd.DataFrame(busy_machine.measure_busy(**params | {"repeats": 1}))
    assert set(df.func) == {"mpguide.workloads:square"}
    assert set(df.n_items) == {3}
    assert len(df) == 5


def test_busy_params_come_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy_machine.machine, "usable_cpus", lambda *_: 6)
    params = busy_machine.busy_params(start_method="spawn")
    assert [(p["workers"], p["chunksize"]) for p in params["pools"]] == [
        (5, 1), (6, 1), (5, None), (6, None)]
    assert params["items_params"]["count"] % 6 == 0
    monkeypatch.setattr(busy_machine.machine, "usable_cpus", lambda *_: 1)
    assert busy_machine.busy_params(start_method="spawn")["pools"] == []
