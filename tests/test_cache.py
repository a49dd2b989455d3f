"""Result cache: hits, corrupt and foreign entries, atomic writes, JSON only."""

from __future__ import annotations

import ast
import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpguide import cache as cache_module
from mpguide.cache import CacheWarning, ResultCache


def counting(results: list[int]):
    def measure(n: int) -> dict[str, int]:
        results.append(n)
        return {"n": n}

    return measure


def test_hit_does_not_remeasure(tmp_path: Path) -> None:
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    assert cache.get_or_measure("e", {"n": 1}, counting(calls)) == {"n": 1}
    assert cache.get_or_measure("e", {"n": 1}, counting(calls)) == {"n": 1}
    assert calls == [1]


def test_corrupt_entry_is_remeasured_with_warning(tmp_path: Path) -> None:
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.path("e", {"n": 1}).parent.mkdir(parents=True)
    cache.path("e", {"n": 1}).write_text("{not json")
    with pytest.warns(CacheWarning, match="corrupt"):
        assert cache.get_or_measure("e", {"n": 1}, counting(calls)) == {"n": 1}
    assert calls == [1]
    json.loads(cache.path("e", {"n": 1}).read_text())  # rewritten whole


def test_foreign_machine_entry_is_remeasured_with_warning(tmp_path: Path) -> None:
    calls: list[int] = []
    ResultCache(tmp_path, fingerprint="other").store("e", {"n": 1}, {"n": -1})
    with pytest.warns(CacheWarning, match="belongs elsewhere.*fingerprint"):
        result = ResultCache(tmp_path, fingerprint="m1").get_or_measure("e", {"n": 1},
                                                                        counting(calls))
    assert result == {"n": 1}


def test_fresh_ignores_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    monkeypatch.setenv("MPGUIDE_FRESH", "1")
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    assert calls == [1, 1]


def test_failed_measurement_leaves_no_file(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, fingerprint="m1")

    def broken(n: int) -> None:
        raise RuntimeError("probe failed")

    with pytest.raises(RuntimeError):
        cache.get_or_measure("e", {"n": 1}, broken)
    assert not list(tmp_path.rglob("*.json"))


def test_unserializable_result_leaves_no_partial_file(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, fingerprint="m1")
    with pytest.raises(TypeError):
        cache.store("e", {"n": 1}, {"obj": object()})
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_fresh_since_remeasures_older_entries_once(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    old = cache.path("e", {"n": 1}).stat().st_mtime
    monkeypatch.setenv("MPGUIDE_FRESH_SINCE", str(old + 1))
    os.utime(cache.path("e", {"n": 1}), (old, old))
    cache.get_or_measure("e", {"n": 1}, counting(calls))  # older than the mark: re-measured
    os.utime(cache.path("e", {"n": 1}), (old + 2, old + 2))
    cache.get_or_measure("e", {"n": 1}, counting(calls))  # written after it: read back
    assert calls == [1, 1]


@pytest.mark.parametrize(("variable", "value"), [("MPGUIDE_QUICK", "0"),
                                                 ("MPGUIDE_START_METHOD", "spawn")])
def test_mode_and_start_method_key_separate_entries(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    variable: str, value: str) -> None:
    monkeypatch.setenv("MPGUIDE_START_METHOD", "fork")
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    monkeypatch.setenv(variable, value)
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    assert calls == [1, 1]
    assert len(list(tmp_path.rglob("*.json"))) == 2  # both kept, neither overwritten


def test_source_change_is_a_different_entry(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.get_or_measure("e", {"n": 1}, counting(calls))
    monkeypatch.setattr(cache_module, "source_hash", lambda: "edited-source")
    cache.get_or_measure("e", {"n": 1}, counting(calls))  # silently re-measured, no warning
    assert calls == [1, 1]


def test_an_unwritable_folder_is_named_before_anything_is_measured() -> None:
    calls: list[int] = []
    cache = ResultCache("/sys/mpguide-cache", fingerprint="m1")  # not writable, even by root
    with pytest.raises(cache_module.CacheError, match=r"/sys/mpguide-cache.*MPGUIDE_CACHE_DIR"):
        cache.get_or_measure("e", {"n": 1}, counting(calls))
    assert calls == []


def test_a_full_disk_keeps_the_old_entry_and_says_so(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.store("e", {"n": 1}, {"n": "old"})

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", no_space)
    with pytest.raises(cache_module.CacheError, match=r"No space left on device.*free"):
        cache.store("e", {"n": 1}, {"n": "new"})
    assert cache.load("e", {"n": 1}) == {"n": "old"}
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_dead_writers_temporary_file_is_removed(tmp_path: Path) -> None:
    import psutil

    cache = ResultCache(tmp_path, fingerprint="m1")
    folder = cache.path("e", {"n": 1}).parent
    folder.mkdir(parents=True)
    dead = max(psutil.pids()) + 100_000
    abandoned, ours = folder / f".tmp-{dead}-x.json", folder / f".tmp-{os.getpid()}-y.json"
    abandoned.write_text('{"half')
    ours.write_text('{"in progress')
    cache.store("e", {"n": 1}, {"n": 1})
    assert not abandoned.exists()
    assert ours.exists()  # a live writer's file is its own business


def test_a_held_lock_bounds_the_wait(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.check_writable("e")
    with cache.locked("e", {"n": 1}):
        start = time.monotonic()
        with pytest.raises(cache_module.CacheError, match="another process has held"), \
                cache.locked("e", {"n": 1}, wait_s=0.3):
            pass
        assert time.monotonic() - start < 30
    with cache.locked("e", {"n": 1}, wait_s=0.3):  # released: free again
        pass


_SHARED = '''
import sys, time
from mpguide.cache import ResultCache

def measure(n):
    with open(sys.argv[2], "a") as log:
        log.write("measured\\n")
    time.sleep(1.0)
    return {"n": n, "by": sys.argv[3]}

print(ResultCache(sys.argv[1], fingerprint="m1").get_or_measure("e", {"n": 1}, measure))
'''


def test_two_processes_sharing_a_cache_measure_once(tmp_path: Path) -> None:
    """Two builds at once: the second waits for the first's entry and reads it."""
    log = tmp_path / "log"
    script = tmp_path / "shared.py"
    script.write_text(_SHARED)
    runs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(log),
                              name], stdout=subprocess.PIPE, text=True) for name in "ab"]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert ast.literal_eval(outputs[0]) == ast.literal_eval(outputs[1])  # the one entry
    assert log.read_text().splitlines() == ["measured"]


_HOLDER = '''
import sys, time
from mpguide.cache import ResultCache

with ResultCache(sys.argv[1], fingerprint="m1").locked("e", {"n": 1}):
    print("held", flush=True)
    time.sleep(120)
'''


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, fingerprint="m1")
    cache.check_writable("e")
    with subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)],
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(cache_module.CacheError), cache.locked("e", {"n": 1}, wait_s=0.3):
            pass
        holder.kill()
        holder.wait(30)
    with cache.locked("e", {"n": 1}, wait_s=10):
        pass
