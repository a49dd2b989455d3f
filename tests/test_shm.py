"""The shared-array helper: correct under every start method, and it never leaks a segment."""

from __future__ import annotations

import itertools
import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mpguide import pools, shm

SHM_DIR = Path("/dev/shm")
needs_dev_shm = pytest.mark.skipif(not SHM_DIR.is_dir(), reason="needs /dev/shm (Linux)")


def _tasks(handle: shm.SharedArrayHandle, parts: int) -> list[tuple]:
    size = int(np.prod(handle.shape))
    edges = np.linspace(0, size, parts + 1).astype(int)
    return [(handle, int(a), int(b)) for a, b in itertools.pairwise(edges)]


def test_workers_sum_slices_by_index(start_method: str) -> None:
    data = np.random.default_rng(0).random((300, 7))
    with shm.shared_array(data) as handle:
        assert handle.exists()
        partial = pools.bounded_map(shm.sum_slice, _tasks(handle, 5), workers=2, timeout=60)
    assert sum(partial) == pytest.approx(data.sum())
    assert not handle.exists()


def test_initializer_attaches_once_per_worker(start_method: str) -> None:
    data = np.arange(10_000, dtype=np.int64)
    with shm.shared_array(data) as handle, pools.bounded_pool(
            2, start_method, 60, initializer=shm.init_worker, initargs=(handle,)) as pool:
        result = pool.map_async(shm.sum_slice, _tasks(handle, 8))
        partial = pools.wait_result(result, pool, 60)
    assert sum(partial) == data.sum()
    assert not handle.exists()


def test_workers_see_writes_made_through_a_view(start_method: str) -> None:
    with shm.shared_array(np.zeros(4)) as handle:
        with handle.attach() as view:
            view[:] = [1.0, 2.0, 3.0, 4.0]
        assert pools.bounded_map(shm.sum_slice, [(handle, 0, 4)], workers=1, timeout=60) \
            == [10.0]


def test_touch_pages_reads_one_byte_per_page(start_method: str) -> None:
    import mmap

    data = np.ones(3 * mmap.PAGESIZE, dtype=np.uint8)
    with shm.shared_array(data) as handle:
        touched = pools.bounded_map(shm.touch_pages, [handle, data], workers=1, timeout=60)
    assert touched == [3, 3]


def test_worker_calling_os_exit_leaves_nothing(start_method: str) -> None:
    with pytest.raises(pools.WorkerDiedError), shm.shared_array(np.ones(1000)) as handle, \
            pools.bounded_pool(2, start_method, 60, initializer=shm.init_worker,
                               initargs=(handle,)) as pool:
        pools.wait_result(pool.map_async(os._exit, [3, 3]), pool, 30)
    assert not handle.exists()


def test_worker_raising_leaves_nothing(start_method: str) -> None:
    with pytest.raises(pools.WorkerError, match="outside the shared array"), \
            shm.shared_array(np.ones(10)) as handle:
        pools.bounded_map(shm.sum_slice, [(handle, 0, 5), (handle, 5, 99)], workers=2,
                          timeout=60)
    assert not handle.exists()


def test_worker_exit_does_not_unlink_the_parents_segment(
        start_method: str, capfd: pytest.CaptureFixture[str]) -> None:
    # A fork worker started before the segment exists has no resource tracker of its own;
    # SharedMemory(name=...) in it would start one that unlinks the segment at worker exit.
    with pools.bounded_pool(2, start_method, 60) as pool, \
            shm.shared_array(np.arange(100.0)) as handle:
        result = pool.map_async(shm.sum_slice, _tasks(handle, 4))
        assert sum(pools.wait_result(result, pool, 60)) == sum(range(100))
        pools.close_and_join(pool, 30)
        assert handle.exists()
    assert not handle.exists()
    assert "leaked" not in capfd.readouterr().err


def test_exception_in_parent_block_unlinks() -> None:
    with pytest.raises(ZeroDivisionError), shm.shared_array(np.ones(3)) as handle:
        _ = 1 / 0
    assert not handle.exists()


def test_handle_is_small_and_roundtrips_dtypes() -> None:
    record = np.dtype([("x", "<f8"), ("n", "<i4")])
    data = np.array([(1.5, 2), (3.0, 4)], dtype=record)
    with shm.shared_array(data) as handle:
        assert len(pickle.dumps(handle)) < 400
        with handle.attach(readonly=True) as view:
            assert view.dtype == record
            assert view.tolist() == data.tolist()
            with pytest.raises(ValueError, match="read-only"):
                view["n"][0] = 9


def test_empty_array_can_be_shared() -> None:
    with shm.shared_array(np.empty((0, 3))) as handle, handle.attach() as view:
        assert view.shape == (0, 3)


def test_object_arrays_are_refused() -> None:
    with pytest.raises(shm.SharedArrayError, match="dtype object"), \
            shm.shared_array(np.array(["a", None], dtype=object)):
        pass


def test_worker_view_without_initializer_says_what_to_do() -> None:
    with shm.shared_array(np.ones(2)) as handle, \
            pytest.raises(shm.SharedArrayError, match=r"initializer=mpguide\.shm\.init_worker"):
        shm.worker_view(handle)


def test_sigterm_handler_is_installed_and_restored() -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with shm.shared_array(np.ones(2)):
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_own_sigterm_handler_is_left_alone() -> None:
    def mine(signum: int, frame: object) -> None:
        raise RuntimeError("mine")

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with shm.shared_array(np.ones(2)):
            assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


PARENT = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    from mpguide import pools, shm

    # Ctrl-C as a program started from a terminal gets it, even where the suite runs with
    # SIGINT ignored (a background job of a non-interactive shell inherits SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    # The pool's bound (POOL_TIMEOUT) is well inside the test's wait for the exit, so a
    # Pool.terminate() that stalls (once in CI under forkserver, the parent had not exited
    # 60 s after SIGTERM, when this bound was 60 s too) is killed by bounded_pool in time.
    with shm.shared_array(np.ones(1 << 18)) as handle:
        with pools.bounded_pool(2, sys.argv[1], POOL_TIMEOUT, initializer=shm.init_worker,
                                initargs=(handle,)) as pool:
            pools.wait_result(pool.map_async(shm.sum_slice, [(handle, 0, 8)] * 2), pool,
                              POOL_TIMEOUT)
            print(handle.name, flush=True)
            time.sleep(60)
""").replace("POOL_TIMEOUT", "15")


def _start_parent(script: str, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready:
        proc.kill()
        proc.communicate()
        pytest.fail("the parent script did not report its segment within 60 s")
    name = proc.stdout.readline().strip()
    assert name, proc.communicate()[1]
    return proc, name


@needs_dev_shm
@pytest.mark.parametrize(("signum", "returncode"), [(signal.SIGINT, -signal.SIGINT),
                                                    (signal.SIGTERM, shm.SIGTERM_EXIT_CODE)])
def test_interrupted_parent_unlinks(start_method: str, signum: int, returncode: int) -> None:
    proc, name = _start_parent(PARENT, start_method)
    assert (SHM_DIR / name).exists()
    os.kill(proc.pid, signum)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
    assert proc.returncode == returncode, stderr
    assert not (SHM_DIR / name).exists()
    assert "leaked" not in stderr
    assert "Warning" not in stderr


@needs_dev_shm
def test_killed_parent_is_cleaned_up_by_the_resource_tracker() -> None:
    # SIGKILL runs no Python code at all: the tracker, which sees its parent go, is the net.
    script = textwrap.dedent("""
        import time
        import numpy as np
        from mpguide import shm

        with shm.shared_array(np.ones(1024)) as handle:
            print(handle.name, flush=True)
            time.sleep(60)
    """)
    proc, name = _start_parent(script)
    os.kill(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    deadline = time.monotonic() + 20
    while (SHM_DIR / name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (SHM_DIR / name).exists(), stderr


def test_arena_reuses_segments_and_unlinks_all(start_method: str) -> None:
    with shm.shared_arena() as arena:
        for size in (1000, 800, 1000):
            data = np.arange(size, dtype=np.float64)
            with arena.share(data) as handle:
                total = pools.bounded_map(shm.sum_slice, [(handle, 0, size)], workers=1,
                                          timeout=60)
            assert total == [data.sum()]
        assert len(arena.names) == 1
        with arena.share(np.ones(5000)) as bigger:
            assert bigger.name not in arena.names[:1]
        names = arena.names
        assert len(names) == 2
        assert all((SHM_DIR / n).exists() for n in names if SHM_DIR.is_dir())
    assert not any(shm.SharedArrayHandle(n, (1,), "<f8", 8).exists() for n in names)


def test_arena_survives_a_crashing_worker(start_method: str) -> None:
    with pytest.raises(pools.WorkerDiedError), shm.shared_arena() as arena, \
            arena.share(np.ones(100)) as handle, \
            pools.bounded_pool(1, start_method, 60, initializer=shm.init_worker,
                               initargs=(handle,)) as pool:
        pools.wait_result(pool.map_async(os._exit, [3]), pool, 30)
    assert not handle.exists()
