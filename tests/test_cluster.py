"""mpguide.cluster: ``dask scheduler`` and ``dask worker`` started as separate processes, used
through ``peers.Dask(address=...)`` and ``python -m mpguide compare --address``, then stopped
with nothing left (processes, their folder); a cluster that cannot start is a clear error
within its timeout.

Each test starts its own cluster: the autouse ``_no_leaks`` fixture (conftest) fails a test
that leaves a child process behind, so a cluster cannot outlive one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import psutil
import pytest

from mpguide import cluster, peers

pytest.importorskip("distributed")

#: Seconds a test cluster gets to start (a loaded 2-core machine imports Dask slowly).
START_S = 120.0


def _running(sessions: Iterable[int]) -> list[psutil.Process]:
    """Processes of the given sessions still running (zombies are dead: see conftest)."""
    wanted, found = set(sessions), []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) in wanted and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


def _sessions(running: cluster.Cluster) -> tuple[int, int]:
    return running.scheduler_pid, running.workers_pid


def _cluster_folders(root: Path) -> list[Path]:
    return sorted(root.glob("mpguide-cluster-*"))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own, where the cluster makes its folder."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_compare_and_a_map_on_the_cluster_leave_it_running_until_it_stops(
        user_dir: Path, usermod: ModuleType,
        run_alone: Callable[..., subprocess.CompletedProcess[str]], private_tmp: Path) -> None:
    """One cluster for the whole story (each start costs seconds): the command line and the
    executor use it without owning it, and it stops with nothing left even when the code
    inside fails."""
    from distributed import Client

    items = list(range(20))
    seen: list[cluster.Cluster] = []

    def use_then_fail() -> None:
        with cluster.loopback(2, timeout=START_S) as running:
            seen.append(running)
            assert running.address.startswith("tcp://127.0.0.1:")
            assert Path(running.scheduler_file).is_file()
            result = run_alone([sys.executable, "-m", "mpguide", "compare", "usermod:square",
                                "--items", "usermod:few_items", "--tools", "dask",
                                "--address", running.address, "--repeats", "1", "--json"],
                               user_dir, timeout=240)  # fails if the command left a process
            assert result.returncode == 0, result.stderr
            records = json.loads(result.stdout)
            assert {r["tool"] for r in records} == {"loop", "dask"}
            dask = [r for r in records if r["tool"] == "dask"]
            assert all(running.address in r["label"] and r["median_s"] > 0 for r in dask)
            assert peers.Dask(address=running.address).map(usermod.square, items,
                                                           timeout=120) == [x * x for x in items]
            # Neither was the scheduler's owner: it still runs, with its workers, and answers.
            with Client(running.address, timeout=30) as client:
                assert len(client.nthreads()) == 2
                assert client.submit(abs, -3, pure=False).result(timeout=30) == 3
            assert len(_running(_sessions(running))) >= 4  # two commands, two workers
            raise RuntimeError("the code inside failed")

    with pytest.raises(RuntimeError, match="the code inside failed"):
        use_then_fail()
    sessions, folder = _sessions(seen[0]), Path(seen[0].folder)
    assert not _running(sessions)
    assert not folder.exists()
    assert not _cluster_folders(private_tmp)


@pytest.mark.parametrize(("broken", "bad"), [
    ("scheduler", ["--no-such-option"]),
    ("worker", ["--nthreads", "none"]),  # dask worker passes unknown options to preloads
])
def test_a_command_that_fails_is_a_clear_error(broken: str, bad: list[str],
                                               monkeypatch: pytest.MonkeyPatch,
                                               private_tmp: Path) -> None:
    name = f"{broken}_args"
    real = getattr(cluster, name)
    monkeypatch.setattr(cluster, name, lambda *a: [*real(*a), *bad])
    with pytest.raises(cluster.ClusterError, match=rf"dask {broken} exited with status [1-9]"), \
            cluster.loopback(1, timeout=START_S):
        pytest.fail("the cluster started with a broken command")
    assert not _cluster_folders(private_tmp)


def test_a_cluster_not_up_in_time_is_a_timeout_error(private_tmp: Path) -> None:
    with pytest.raises(cluster.ClusterError, match=r"did not write its address .* within 0.2 s"), \
            cluster.loopback(1, timeout=0.2):
        pytest.fail("the cluster started within 0.2 s")
    assert not _cluster_folders(private_tmp)


def test_a_cluster_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"), cluster.loopback(0):
        pytest.fail("a cluster of no worker started")
