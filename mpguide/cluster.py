"""A Dask cluster on loopback, started as a user starts one: ``dask scheduler``, ``dask worker``.

:func:`loopback` runs the two commands a user types on the machines of a cluster, here on
this one, as two separate process groups: a scheduler on ``127.0.0.1`` (a free port, no
dashboard) that writes its address to a scheduler file, and ``workers`` worker processes of
one thread each, found through that file. Everything the cluster writes (the scheduler file,
the workers' scratch space, Dask's temporary files, both logs) goes to one temporary folder.
The workers get this process's ``sys.path`` as ``PYTHONPATH``, so they import the function a
task names from where this process imports it (a user's module beside their script). The
cluster is then a plain address, for :class:`mpguide.peers.Dask` (``address=``),
``python -m mpguide compare --tools dask --address`` or ``distributed.Client``.

Every wait is bounded by ``timeout``: the scheduler file appearing, the workers registering
(a command that exits early is reported with the end of its log at once). On the way out,
whatever happened inside, the workers and then the scheduler are stopped (SIGTERM, which
both commands answer by closing cleanly, then :func:`mpguide.runner.end_group`'s SIGKILL),
the semaphores their process pools left are removed and the folder is deleted: nothing is
left. As a last resort, should this process be killed before it can stop them, the
scheduler closes itself after :data:`IDLE_TIMEOUT_S` without work and the workers after
:data:`DEATH_TIMEOUT_S` without a scheduler.

Examples
--------
>>> from mpguide import cluster
>>> print(cluster.shell_commands(2, "/tmp/scheduler.json", "/tmp/dask-work"))
dask scheduler --host 127.0.0.1 --port 0 --scheduler-file /tmp/scheduler.json --no-dashboard
dask worker --scheduler-file /tmp/scheduler.json --nworkers 2 --nthreads 1 --no-dashboard \
--local-directory /tmp/dask-work
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from mpguide import config, leftovers, machine, runner

#: Seconds without any task after which a scheduler of ours closes itself: a safety net for
#: a parent killed before it could stop the cluster (a normal exit stops it at once).
IDLE_TIMEOUT_S = 300.0
#: Seconds a worker of ours waits for a lost scheduler before it exits (same safety net).
DEATH_TIMEOUT_S = 60.0
#: Seconds between two looks at a starting cluster.
POLL_S = 0.05
#: Lines of a command's log quoted when it fails.
LOG_TAIL_LINES = 12


class ClusterError(RuntimeError):
    """The cluster did not start within its timeout, or one of its commands failed."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A running loopback cluster, as :func:`loopback` yields it.

    Attributes
    ----------
    address
        The scheduler's address, ``tcp://127.0.0.1:PORT``: what a client connects to.
    workers
        Worker processes (one thread each), all registered with the scheduler.
    folder
        The temporary folder holding the scheduler file, scratch space and logs.
    scheduler_pid, workers_pid
        The two commands' processes, each the leader of its own process group.
    """

    address: str
    workers: int
    folder: str
    scheduler_pid: int
    workers_pid: int

    @property
    def scheduler_file(self) -> str:
        """The file where the scheduler wrote its address (``--scheduler-file``)."""
        return os.path.join(self.folder, "scheduler.json")


def scheduler_args(scheduler_file: str) -> list[str]:
    """Arguments of ``dask scheduler``: loopback, a free port, no dashboard."""
    return ["--host", "127.0.0.1", "--port", "0", "--scheduler-file", scheduler_file,
            "--no-dashboard"]


def worker_args(workers: int, scheduler_file: str, local_directory: str) -> list[str]:
    """Arguments of ``dask worker``: ``workers`` processes of one thread, no dashboard."""
    return ["--scheduler-file", scheduler_file, "--nworkers", str(workers), "--nthreads", "1",
            "--no-dashboard", "--local-directory", local_directory]


def shell_commands(workers: int, scheduler_file: str, local_directory: str) -> str:
    """The two commands as a user types them (what :func:`loopback` runs, through
    ``python -m distributed.cli.dask_*`` so that no ``dask`` script need be on ``PATH``)."""
    return "\n".join([
        shlex.join(["dask", "scheduler", *scheduler_args(scheduler_file)]),
        shlex.join(["dask", "worker", *worker_args(workers, scheduler_file, local_directory)])])


@contextlib.contextmanager
def loopback(workers: int | None = None, *, timeout: float | None = None) -> Iterator[Cluster]:
    """Start a scheduler and ``workers`` worker processes on loopback; stop them on exit.

    Parameters
    ----------
    workers
        Worker processes, one thread each (default: the usable cores,
        :func:`mpguide.machine.usable_cpus`).
    timeout
        Seconds the scheduler and then the workers each get to be up (default
        :data:`mpguide.config.DEFAULT_TIMEOUT`).

    Yields
    ------
    Cluster
        The running cluster; its :attr:`~Cluster.address` is all a client needs.

    Raises
    ------
    ClusterError
        A command failed or the cluster was not up within ``timeout``; what was started is
        stopped first.
    """
    count = machine.usable_cpus() if workers is None else int(workers)
    if count < 1:
        raise ValueError(f"a cluster needs at least one worker, got {count}")
    limit = config.DEFAULT_TIMEOUT if timeout is None else float(timeout)
    before = leftovers.snapshot()
    folder = tempfile.mkdtemp(prefix="mpguide-cluster-")
    env = _environment(folder)
    scheduler_file = os.path.join(folder, "scheduler.json")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        stack.callback(leftovers.remove_orphans, before)
        work = os.path.join(folder, "work")
        os.mkdir(work)
        # Both start at once (the workers wait for the scheduler file), so their imports
        # overlap; stopped in the reverse order: the workers first.
        scheduler = stack.enter_context(_started(
            "scheduler", [*scheduler_args(scheduler_file),
                          "--idle-timeout", f"{IDLE_TIMEOUT_S:g}s"], folder, env))
        pool = stack.enter_context(_started(
            "worker", [*worker_args(count, scheduler_file, work),
                       "--death-timeout", f"{DEATH_TIMEOUT_S:g}s"], folder, env))
        address = _wait_for_address(scheduler, folder, limit)
        _wait_for_workers(address, count, pool, folder, limit)
        yield Cluster(address, count, folder, scheduler.pid, pool.pid)


def _environment(folder: str) -> dict[str, str]:
    """The commands' environment: this process's ``sys.path`` first on ``PYTHONPATH``, Dask's
    temporary files in ``folder``."""
    path = [p for p in sys.path if p]
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*path, *([inherited] if inherited
                                                                   else [])]),
            "DASK_TEMPORARY_DIRECTORY": folder, "PYTHONUNBUFFERED": "1"}


@contextlib.contextmanager
def _started(kind: str, args: list[str], folder: str,
             env: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``dask <kind> ARGS`` in a session of its own, its output in ``folder/<kind>.log``;
    its whole group ended on the way out."""
    log: IO[bytes] = open(os.path.join(folder, f"{kind}.log"), "wb")  # noqa: SIM115 - closed below
    with log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"distributed.cli.dask_{kind}", *args], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True)
        try:
            yield process
        finally:
            runner.end_group(process.pid, grace=0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=runner.GROUP_EXIT_GRACE)


def _wait_for_address(scheduler: subprocess.Popen[bytes], folder: str, limit: float) -> str:
    """The address the scheduler writes to its scheduler file, within ``limit`` seconds."""
    scheduler_file = os.path.join(folder, "scheduler.json")
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        address = _read_address(scheduler_file)
        if address:
            return address
        if scheduler.poll() is not None:
            raise ClusterError(f"dask scheduler exited with status {scheduler.returncode} "
                               f"before writing its address.{_log_tail(folder, 'scheduler')}")
        time.sleep(POLL_S)
    raise ClusterError(f"dask scheduler did not write its address to {scheduler_file} within "
                       f"{limit:g} s.{_log_tail(folder, 'scheduler')}")


def _read_address(scheduler_file: str) -> str | None:
    try:
        data: dict[str, Any] = json.loads(Path(scheduler_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not there yet, or half written
        return None
    address = data.get("address")
    return str(address) if address else None


def _wait_for_workers(address: str, count: int, pool: subprocess.Popen[bytes], folder: str,
                      limit: float) -> None:
    """Return once ``count`` workers have registered at ``address``, within ``limit``."""
    from distributed import Client

    deadline = time.monotonic() + limit
    with Client(address, timeout=limit) as client:  # type: ignore[no-untyped-call]
        while True:
            left = deadline - time.monotonic()
            if pool.poll() is not None:
                raise ClusterError(f"dask worker exited with status {pool.returncode} before "
                                   f"its workers registered.{_log_tail(folder, 'worker')}")
            if left <= 0:
                raise ClusterError(
                    f"{len(client.nthreads())} of {count} Dask workers had registered after "
                    f"{limit:g} s.{_log_tail(folder, 'worker')}")
            try:
                client.wait_for_workers(count, timeout=min(1.0, left))
                return
            except TimeoutError:
                continue


def _log_tail(folder: str, kind: str) -> str:
    log = Path(folder, f"{kind}.log")
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    if not lines:
        return ""
    return "\nLast lines of its log:\n    " + "\n    ".join(lines[-LOG_TAIL_LINES:])


__all__ = ["DEATH_TIMEOUT_S", "IDLE_TIMEOUT_S", "Cluster", "ClusterError", "loopback",
           "scheduler_args", "shell_commands", "worker_args"]
