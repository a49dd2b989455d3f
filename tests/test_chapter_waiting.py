"""Chapter 3, work that waits (mpguide.chapters.waiting): a Pool or one Process per task, threads
feeding processes, and the local server they wait on."""

from __future__ import annotations

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


def test_measure_io_cpu(start_method: str) -> None:
    df = pd.DataFrame(waiting.measure_io_cpu(
        start_method=start_method, workers=2, threads=4, n_items=4, delay_ms=5, cpu_ms=1,
        nbytes=64, repeats=1))
    assert set(df.way) == {"serial", "threads only", "processes only", "threads feed processes"}


def test_local_server_is_gone_after_the_block() -> None:
    with waiting.local_server(delay_s=0.0, nbytes=16) as base:
        assert len(waiting.fetch(f"{base}/item/1")) == 16
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/item/1", timeout=2)
