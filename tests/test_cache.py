"""Result cache: hits, corrupt and foreign entries, atomic writes, JSON only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
