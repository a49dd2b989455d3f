"""joblib, mpire and Dask as executors: right results, bounded waits, dead workers, nothing left.

The autouse ``_no_leaks`` fixture (conftest) fails any test here that leaves a child process
or a shared-memory segment behind; ``_no_scratch_left`` one that leaves a Dask scratch folder.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from mpguide import executors, peers, pools

ITEMS = list(range(40))


def _scratch() -> set[Path]:
    tmp = Path(tempfile.gettempdir())
    return {*tmp.glob("mpguide-dask-*"), *tmp.glob("dask-scratch-space/*")}


@pytest.fixture(autouse=True)
def _no_scratch_left() -> Iterator[None]:
    """A local Dask cluster's folders (its workers' and its scheduler's) go with it."""
    before = _scratch()
    yield
    left = sorted(str(p) for p in _scratch() - before)
    assert not left, f"a Dask cluster left its scratch space in the temp folder: {left}"


def _specs(start_method: str) -> list[peers.PeerExecutor]:
    return [peers.Joblib(2), peers.Joblib(2, chunksize=7),
            peers.Mpire(2, start_method=start_method),
            peers.Mpire(2, chunksize=7, start_method=start_method),
            peers.Dask(2), peers.Dask(2, chunksize=7)]


def test_every_peer_is_registered_and_round_trips() -> None:
    for spec in _specs("spawn"):
        assert executors.registered()[spec.tool] is type(spec)
        assert executors.from_dict(spec.to_dict()) == spec


def test_the_record_says_how_workers_start() -> None:
    assert peers.Joblib(2).record()["start_method"] == "loky"
    assert peers.Mpire(2, start_method="forkserver").record()["start_method"] == "forkserver"
    assert peers.Dask(2).record()["start_method"] == "spawn"
    assert peers.Dask(address="tcp://127.0.0.1:1").record()["start_method"] is None


def test_the_address_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(peers.DASK_ADDRESS_ENV, "tcp://10.0.0.5:8786")
    spec = peers.Dask()
    assert spec.address == "tcp://10.0.0.5:8786"
    assert spec.workers is None
    assert spec.label == "Dask(per item, tcp://10.0.0.5:8786)"


@pytest.mark.parametrize("kind", [peers.Joblib, peers.Mpire, peers.Dask])
def test_bad_chunksize_is_refused(kind: type[peers.PeerExecutor]) -> None:
    with pytest.raises(ValueError, match="chunksize must be >= 1"):
        kind(2, chunksize=0)


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers.Mpire, "requires", "no_such_package_here")
    with pytest.raises(peers.MissingToolError, match=r"pip install mpguide\[peers\]"):
        peers.Mpire(2).map(abs, [1, 2])


def test_joblib_on_one_core_runs_without_a_warning() -> None:
    # One worker is what a 1-core machine's usable cores give: joblib then runs the items
    # in this process, and a timeout passed to it would warn (an error under this suite).
    assert peers.Joblib(1).map(abs, [-1, 2], timeout=60) == [1, 2]


def test_results_match_the_loop(usermod: ModuleType, start_method: str) -> None:
    for spec in _specs(start_method):
        assert spec.map(usermod.square, ITEMS, timeout=120) == [x * x for x in ITEMS], spec.label


@pytest.mark.parametrize("spec", [peers.Joblib(2), peers.Mpire(2, start_method="spawn"),
                                  peers.Dask(2)], ids=lambda s: s.tool)
def test_a_function_that_raises_raises_its_error(usermod: ModuleType,
                                                 spec: peers.PeerExecutor) -> None:
    with pytest.raises(ValueError, match="cannot handle item"):
        spec.map(usermod.boom, ITEMS, timeout=120)


@pytest.mark.parametrize("spec", [peers.Joblib(2), peers.Mpire(2, start_method="spawn"),
                                  peers.Dask(2)], ids=lambda s: s.tool)
def test_a_dead_worker_is_an_exception(usermod: ModuleType, spec: peers.PeerExecutor) -> None:
    with pytest.raises(pools.WorkerDiedError, match="died"):
        spec.map(usermod.crash, ITEMS[:4], timeout=120)


@pytest.mark.parametrize("spec", [peers.Joblib(2), peers.Mpire(2, start_method="spawn"),
                                  peers.Dask(2)], ids=lambda s: s.tool)
def test_a_task_that_never_returns_is_bounded(usermod: ModuleType,
                                             spec: peers.PeerExecutor) -> None:
    start = time.monotonic()
    with pytest.raises(pools.PoolTimeoutError, match="did not finish within 3 s"):
        spec.map(usermod.forever, ITEMS[:4], timeout=3)
    # Generous: the bound is per task for joblib and mpire, and starting workers is not free.
    assert time.monotonic() - start < 90
