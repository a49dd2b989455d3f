"""Chapter 2's fork-memory experiment (mpguide.chapters.fork_memory): one fork pool per kind
of data on a few MiB, each worker's memory before and after it read the inherited data, and
the size bounded by the machine's memory. The claim's cases are in
``test_claims_fail_issue13.py``."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from mpguide import machine
from mpguide.chapters import fork_memory
from mpguide.chapters.transfer import MIB


def test_reading_an_array_stays_shared_reading_a_list_copies() -> None:
    df = pd.DataFrame(fork_memory.measure_fork_memory(4 * MIB, 2))
    assert list(df["kind"].unique()) == list(fork_memory.KINDS)
    assert df.groupby("kind")["worker"].nunique().tolist() == [2, 2]
    table = fork_memory.fork_memory_table(df)
    assert table.loc["numpy array", "data_mib"] == 4
    assert table.loc["list of floats", "data_mib"] > 2  # the list's measured memory
    # Memory, not time: the list's reference counts are written, the array's buffer is not.
    assert (table.loc["list of floats", "uss_growth_mib"]
            > table.loc["numpy array", "uss_growth_mib"] + 1)
    assert set(df["start_method"]) == {"fork"}
    assert not fork_memory.WORKER_STATE  # the parent's data and barrier are gone


def test_params_follow_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    monkeypatch.setattr(machine, "usable_cpus", lambda: 6)
    assert fork_memory.fork_memory_params() == {"nbytes": 32 * MIB, "workers": 6}
    tight = SimpleNamespace(available=384 * MIB)  # 8 copies of 32 MiB: more than half of it
    monkeypatch.setattr(psutil, "virtual_memory", lambda: tight)
    assert fork_memory.fork_memory_params()["nbytes"] == 16 * MIB


def test_a_worker_without_the_data_sums_nothing() -> None:
    assert fork_memory.total("list of floats") == 0.0
    assert fork_memory.read_inherited("numpy array") == 0.0
