"""Result cache: hits, corrupt and foreign entries, atomic writes, JSON only."""

from __future__ import annotations

import json
import os
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
