"""Chapter 2's cold and warm reads (mpguide.chapters.disk_cache): a small file written, synced,
dropped from the page cache and read back by a pool's workers under each start method, with
nothing left in the temporary folder. The claim's cases are in
``test_claims_fail_issue13.py``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from mpguide import machine
from mpguide.chapters import disk_cache
from mpguide.chapters.transfer import MIB


def _ours() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mpguide-disk-*")}


def test_workers_read_the_file_cold_then_warm(start_method: str) -> None:
    before = _ours()
    df = pd.DataFrame(disk_cache.measure_disk_cache(2 * MIB, 2, 2, start_method))
    assert list(df["state"]) == ["cold", "warm"] * 2
    assert (df["seconds"] > 0).all()
    assert set(df["start_method"]) == {start_method}
    table = disk_cache.disk_cache_table(df)
    assert list(table.index) == list(disk_cache.STATES)
    if sys.platform.startswith("linux"):
        assert table.loc["warm", "cached before"] == 1.0  # the cold read brought it all in
    assert _ours() == before  # the file and its folder are gone


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_dropping_empties_the_cache_of_a_synced_file(tmp_path: Path) -> None:
    if disk_cache.file_system(str(tmp_path)) == "tmpfs":
        pytest.skip("a tmpfs file is its pages: nothing to drop")
    path = disk_cache.write_synced(str(tmp_path / "data.bin"), MIB)
    assert disk_cache.read_slice((path, 0, MIB)) == MIB
    assert disk_cache.cached_share(path) == 1.0
    disk_cache.drop_cached(path)
    assert disk_cache.cached_share(path) == 0.0
    assert disk_cache.read_slice((path, MIB // 2, MIB)) == MIB // 2  # stops at the end


def test_params_follow_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: 6)
    params = disk_cache.disk_cache_params("spawn")
    assert params == {"nbytes": 64 * MIB, "workers": 6, "repeats": 3, "start_method": "spawn"}
    full = os.statvfs(tempfile.gettempdir())
    small = os.statvfs_result((*full[:4], 32 * MIB // full.f_frsize, *full[5:]))
    monkeypatch.setattr(os, "statvfs", lambda _: small)
    assert disk_cache.disk_cache_params("spawn")["nbytes"] == 8 * MIB
