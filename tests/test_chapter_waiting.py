"""Chapter 3, work that waits (mpguide.chapters.waiting): a Pool or one Process per task, threads
or asyncio feeding processes, and the local server they wait on."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from mpguide import executors
from mpguide.chapters import waiting


def test_measure_pool_vs_process(start_method: str) -> None:
    scenarios = {"cpu": {"kind": "cpu", "n": 3, "task_s": 0.001},
                 "io": {"kind": "io", "n": 3, "task_s": 0.01}}
    pool = executors.Pool(2, chunksize=1, start_method=start_method)
    df = pd.DataFrame(waiting.measure_pool_vs_process(pool=pool.to_dict(), scenarios=scenarios,
                                                      repeats=1))
    assert set(df.way) == {"serial", "Pool", "Process per task"}
    assert len(df) == 6
    assert set(df.label) == {pool.label}
    assert df.start_method.eq(start_method).all()


IO_CPU_WAYS = {"serial", "threads only", "processes only", "threads feed processes",
               "asyncio feeds processes"}


def test_measure_io_cpu(start_method: str) -> None:
    threads_before = set(threading.enumerate())
    df = pd.DataFrame(waiting.measure_io_cpu(
        start_method=start_method, workers=2, threads=4, n_items=4, delay_ms=5, cpu_ms=1,
        nbytes=64, repeats=2))
    assert set(df.way) == IO_CPU_WAYS
    assert df.groupby("way").size().eq(2).all()
    assert df.start_method.eq(start_method).all()
    deadline = time.monotonic() + 5  # the server's request threads end just after answering
    while (left := set(threading.enumerate()) - threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"threads left running: {left}"


def test_fetch_async_returns_the_servers_body() -> None:
    with waiting.local_server(delay_s=0.0, nbytes=16) as base:
        body = asyncio.run(waiting.fetch_async(f"{base}/item/7"))
        assert body == waiting.fetch(f"{base}/item/7")
        assert len(body) == 16


def test_fetch_async_raises_on_a_bad_status() -> None:
    with (waiting.local_server(delay_s=0.0, nbytes=16) as base,
          pytest.raises(OSError, match="404")):
        asyncio.run(waiting.fetch_async(f"{base}/no-such-item"))


def test_fetch_async_is_bounded() -> None:
    with (waiting.local_server(delay_s=0.5, nbytes=16) as base,
          pytest.raises(asyncio.TimeoutError)):
        asyncio.run(waiting.fetch_async(f"{base}/item/1", timeout=0.05))


def test_local_server_is_gone_after_the_block() -> None:
    with waiting.local_server(delay_s=0.0, nbytes=16) as base:
        assert len(waiting.fetch(f"{base}/item/1")) == 16
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/item/1", timeout=2)


def test_measure_io_cpu_names_an_unknown_design() -> None:
    with pytest.raises(ValueError, match="no such design"):
        waiting.measure_io_cpu(start_method="spawn", workers=1, threads=1, n_items=1,
                               delay_ms=0, cpu_ms=0, nbytes=8, repeats=1, ways=["carrier pigeon"])
