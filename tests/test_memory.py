"""The memory of a program's processes (mpguide.memory): a child is found and sampled while it
lives, its high-water mark read where the kernel keeps one, and /dev/shm growth seen."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from mpguide import memory

#: Bytes the child writes and holds: its private memory.
HELD = 32 << 20


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A child interpreter that holds :data:`HELD` bytes of its own until it is stopped."""
    code = f"import time; block = b'x' * {HELD}; print(flush=True); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the child did not start within 60 s"
        process.stdout.readline()  # the block is written
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_sampler_sees_a_child_and_its_private_memory(child: subprocess.Popen[bytes]) -> None:
    assert child.pid in memory.descendants()
    with memory.MemorySampler(interval=0.005) as sampler:
        pass
    assert child.pid in sampler.seen()
    assert sampler.peak_uss({child.pid}) >= HELD
    assert sampler.peak_uss(set()) == 0


def test_the_high_water_mark_counts_what_the_child_touched(
        child: subprocess.Popen[bytes]) -> None:
    peak = memory.high_water_bytes(child.pid)
    if peak is None:
        pytest.skip("no /proc/<pid>/status VmHWM here")
    assert peak >= HELD
    if memory.reset_high_water(child.pid):  # down to what it holds now, the block included
        assert (memory.high_water_bytes(child.pid) or 0) >= HELD
    assert memory.high_water_bytes(-1) is None


@pytest.mark.skipif(not memory.SHM.is_dir(), reason="no /dev/shm")
def test_the_sampler_sees_dev_shm_grow() -> None:
    path = memory.SHM / f"mpguide-test-{uuid.uuid4().hex}"
    try:
        with memory.MemorySampler(interval=0.005) as sampler, open(path, "wb") as out:
            out.write(b"x" * (1 << 20))
        assert sampler.shm_peak >= 1 << 20
        assert sampler.samples
        assert memory.shm_usage().get(path.name) == 1 << 20
    finally:
        os.unlink(path)
