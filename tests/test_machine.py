"""mpguide.machine: usable cores from the affinity mask and a cgroup CPU quota (fake cgroup
directories), and the metadata record that says where the count came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpguide import card, machine


@pytest.fixture
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(machine, "affinity_cpus", lambda: 4)
    return 4


def _write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text + "\n")
    return folder


def test_cgroup_v2_quota_rounds_up(tmp_path: Path, four_cpus: int) -> None:
    _write(tmp_path, cpu__max="150000 100000")
    assert machine.cgroup_cpu_quota(tmp_path) == 1.5
    assert machine.usable_cpus(tmp_path) == 2
    assert machine.usable_cpus_source(tmp_path) == "cgroup CPU quota 1.5"


def test_cgroup_v2_max_means_no_quota(tmp_path: Path, four_cpus: int) -> None:
    _write(tmp_path, cpu__max="max 100000")
    assert machine.cgroup_cpu_quota(tmp_path) is None
    assert machine.usable_cpus(tmp_path) == four_cpus
    assert machine.usable_cpus_source(tmp_path) == "affinity mask"


def test_quota_above_the_affinity_mask_changes_nothing(tmp_path: Path, four_cpus: int) -> None:
    _write(tmp_path, cpu__max="800000 100000")
    assert machine.usable_cpus(tmp_path) == four_cpus
    assert machine.usable_cpus_source(tmp_path) == "affinity mask"


@pytest.mark.parametrize("folder", ["cpu", "cpu,cpuacct", "."])
def test_cgroup_v1_quota(tmp_path: Path, four_cpus: int, folder: str) -> None:
    _write(tmp_path / folder, cpu__cfs_quota_us="50000", cpu__cfs_period_us="100000")
    assert machine.cgroup_cpu_quota(tmp_path) == 0.5
    assert machine.usable_cpus(tmp_path) == 1  # never 0


def test_cgroup_v1_minus_one_means_no_quota(tmp_path: Path, four_cpus: int) -> None:
    _write(tmp_path / "cpu", cpu__cfs_quota_us="-1", cpu__cfs_period_us="100000")
    assert machine.cgroup_cpu_quota(tmp_path) is None
    assert machine.usable_cpus(tmp_path) == four_cpus


@pytest.mark.parametrize("files", [{}, {"cpu__cfs_quota_us": "200000"}, {"cpu__max": "garbage"},
                                   {"cpu__max": ""}], ids=["none", "v1 without period",
                                                            "unreadable v2", "empty v2"])
def test_missing_or_odd_files_mean_no_quota(tmp_path: Path, four_cpus: int,
                                            files: dict[str, str]) -> None:
    _write(tmp_path / "cpu", **files)
    _write(tmp_path, **{k: v for k, v in files.items() if k == "cpu__max"})
    assert machine.cgroup_cpu_quota(tmp_path) is None
    assert machine.usable_cpus(tmp_path) == four_cpus


def test_a_missing_cgroup_root_is_no_quota(tmp_path: Path, four_cpus: int) -> None:
    assert machine.usable_cpus(tmp_path / "no-such-dir") == four_cpus


def test_metadata_and_card_say_where_the_count_came_from() -> None:
    meta = machine.collect_metadata()
    assert meta["usable_cpus"] == machine.usable_cpus()
    assert 1 <= meta["usable_cpus"] <= meta["cpu_count"]
    source = meta["usable_cpus_from"]
    assert source == "affinity mask" or source.startswith("cgroup CPU quota")
    assert "usable_cpus_from" in card.SHOWN_METADATA
    assert "usable_cpus_from" not in machine.FINGERPRINT_FIELDS
