"""The machine card: every contract key, cached, readable, and the CLI around it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpguide import __main__ as cli
from mpguide import card, config, probes
from mpguide.cache import ResultCache
from mpguide.timing import Measurement

CONTRACT_METADATA = ("cpu_model", "cpu_count", "usable_cpus", "python", "platform",
                     "start_methods", "default_start_method", "mpguide_version")
SCALAR_PROBES = [k for k in card.PROBE_KEYS
                 if k not in {"pool_start_stop_s", "pool_workers",
                              "map_item_overhead_by_chunksize_s"}]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpguide", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})},
                          check=False)


def test_cli_json_card_has_every_contract_key(start_method: str) -> None:
    done = run_cli("machine", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(CONTRACT_METADATA) <= set(result)
    assert set(result["probes"]) == set(card.PROBE_KEYS)
    figures = result["probes"]
    assert set(figures["pool_start_stop_s"]) == set(config.available_start_methods())
    assert set(figures["map_item_overhead_by_chunksize_s"]) == {"1", "10", "100", "1000"}
    assert figures["pool_workers"] == result["usable_cpus"]
    assert figures["map_item_overhead_s"] == figures["map_item_overhead_by_chunksize_s"]["1"]
    for key in SCALAR_PROBES:
        assert figures[key] > 0, key
        assert key in result["probe_spread"]
    assert all(v > 0 for v in figures["pool_start_stop_s"].values())
    assert result["probe_main"] == probes.FRESH_MAIN
    assert result["probe_start_method"] == start_method
    assert result["mode"] == "quick"
    assert "probing [1/" in done.stderr


def test_cli_bad_start_method_is_one_clear_line() -> None:
    done = run_cli("machine", "--json", env={"MPGUIDE_START_METHOD": "fork-please"})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mpguide: error: start method 'fork-please' is not available")


def test_cli_unwritable_cache_is_one_clear_line_before_probing() -> None:
    done = run_cli("machine", "--json", env={"MPGUIDE_CACHE_DIR": "/sys/mpguide-cache"})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "probing" not in done.stderr  # refused before a minute of measuring
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mpguide: error: mpguide cannot write its result cache in "
                               "/sys/mpguide-cache")


def test_cli_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_main_reports_probe_failures_without_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def failing_card(**_: object) -> dict:
        raise probes.pools.PoolTimeoutError("the probe pool did not finish within 1 s")

    monkeypatch.setattr(card, "machine_card", failing_card)
    assert cli.main(["machine"]) == 2
    err = capsys.readouterr().err
    assert err == "mpguide: error: the probe pool did not finish within 1 s\n"


def _fake_card(mode: str, start_methods: list[str], progress: object = None) -> dict:
    _fake_card.calls += 1
    return {"mode": mode, "start_methods": ",".join(start_methods), "probes": {},
            "probe_spread": {}}


def test_machine_card_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_card.calls = 0
    monkeypatch.setattr(card, "measure_card", _fake_card)
    cache = ResultCache(tmp_path)
    first = card.machine_card(cache=cache)
    assert card.machine_card(cache=cache) == first
    assert _fake_card.calls == 1
    card.machine_card(fresh=True, cache=cache)
    assert _fake_card.calls == 2
    assert first["mode"] == "quick"


def test_measure_card_refuses_an_unknown_mode() -> None:
    with pytest.raises(config.ConfigError, match="mode must be 'quick' or 'full'"):
        card.measure_card("turbo", ["fork"])


def _records() -> list[Measurement]:
    pools = [Measurement("pool_start_stop", (0.01, 0.02, 0.03), params={"start_method": m})
             for m in ("fork", "spawn")]
    maps = [Measurement("map_item_overhead", (1e-5 / c, 2e-5 / c), params={"chunksize": c})
            for c in probes.CHUNKSIZES]
    sized = [Measurement(name, (0.5, 0.5), params={"nbytes": 100})
             for name in ("pickle_dumps", "pickle_loads", "memcpy", "pipe_throughput")]
    single = [Measurement(name, (1e-5, 3e-5))
              for name in ("apply_round_trip", "pipe_round_trip", "shm_create_attach")]
    paths = [Measurement("pool_transfer", (0.25, 0.25), params={"direction": d, "nbytes": 100})
             for d in ("argument", "result")]
    return [*pools, *maps, *sized, *single, *paths]


def test_figures_follow_the_contract() -> None:
    figures, spread = card._figures(_records(), workers=2)
    assert tuple(figures) == card.PROBE_KEYS
    assert figures["pool_start_stop_s"] == {"fork": 0.02, "spawn": 0.02}
    assert figures["pickle_dumps_bytes_per_s"] == 200.0
    assert figures["pool_result_bytes_per_s"] == figures["pool_argument_bytes_per_s"] == 400.0
    assert figures["map_item_overhead_by_chunksize_s"]["1000"] == pytest.approx(1.5e-8)
    assert spread["pool_start_stop_s.spawn"] == pytest.approx(0.5)
    assert set(SCALAR_PROBES) <= set(spread)
    assert all(isinstance(v, float) for v in spread.values())


def test_card_frame_and_table() -> None:
    figures, spread = card._figures(_records(), workers=2)
    result = {"python": "3.11", "probes": figures, "probe_spread": spread,
              "probe_main": probes.FRESH_MAIN, "probe_start_method": "fork"}
    df = card.card_frame(result)
    assert list(df.columns) == ["probe", "value", "unit", "spread"]
    assert "map_item_overhead_by_chunksize_s.100" in set(df["probe"])
    units = dict(zip(df["probe"], df["unit"], strict=True))
    assert units["memcpy_bytes_per_s"] == "bytes/s"
    assert units["pool_workers"] == "workers"
    assert math.isnan(df.set_index("probe").loc["pool_workers", "spread"])
    text = card.format_card(result)
    assert all(probe in text for probe in df["probe"])
    assert probes.FRESH_MAIN in text


def test_cli_prints_a_table(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    figures, spread = card._figures(_records(), workers=2)

    def synthetic_card(**_: object) -> dict:
        return {"cpu_model": "Test CPU", "probes": figures, "probe_spread": spread,
                "probe_main": probes.FRESH_MAIN, "probe_start_method": "fork"}

    monkeypatch.setattr(card, "machine_card", synthetic_card)
    assert cli.main(["machine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cpu_model              Test CPU\n")
    assert "pool_start_stop_s.spawn" in out
    assert "200 B/s" in out  # 100 bytes in 0.5 s
