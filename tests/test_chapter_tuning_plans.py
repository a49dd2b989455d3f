"""Chapter 3's experiment plans take their worker counts from the machine card: built (not
run) for a card with 8 usable cores, every plan uses 8 workers, and the pool-size sweep runs
to twice that. No worker count is typed in the chapter's modules or gallery scripts."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mpguide import machine
from mpguide.chapters import choosing, overhead, pool_size, tuning, waiting, worker_memory
from mpguide.experiment import Experiment

USABLE = 8
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def eight_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "usable_cpus", lambda: USABLE)


def _workers(experiment: Experiment) -> set[int]:
    return {s.parallelism for s in experiment.executors if s.tool != "loop"}


def _experiments() -> dict[str, Experiment]:
    plans = {f"chunksize {k}": e for k, e in tuning.chunksize_experiments().items()}
    plans |= {f"batched {k}": e for k, e in tuning.batched_experiments().items()}
    plans |= {f"threads {k}": e for k, e in choosing.threads_experiments().items()}
    plans |= {"maxtasks": tuning.maxtasks_experiment(), "blas": choosing.blas_experiment()}
    return plans


@pytest.mark.usefixtures("eight_cores")
def test_every_experiment_uses_the_usable_cores() -> None:
    used = {name: _workers(exp) for name, exp in _experiments().items()}
    assert used == {name: {USABLE} for name in used}


@pytest.mark.usefixtures("eight_cores")
def test_item_counts_grow_with_the_cores() -> None:
    assert all(e.params["count"] >= 4 * USABLE for e in tuning.chunksize_experiments().values())
    assert choosing.threads_params()["count"] % USABLE == 0
    assert pool_size.pool_size_params()["count"] % USABLE == 0
    assert choosing.blas_experiment().declaration()["items"]["count"] % USABLE == 0


@pytest.mark.usefixtures("eight_cores")
def test_the_pool_size_sweep_reaches_twice_the_cores() -> None:
    for experiment in pool_size.pool_size_experiments().values():
        sizes = _workers(experiment)
        assert USABLE in sizes
        assert max(sizes) == 2 * USABLE


@pytest.mark.usefixtures("eight_cores")
def test_run_cached_plans_use_the_usable_cores() -> None:
    assert tuning.map_variants_params()["pool"]["workers"] == USABLE
    assert waiting.pool_vs_process_params()["pool"]["workers"] == USABLE
    io = waiting.io_cpu_params()
    assert io["workers"] == USABLE
    assert io["threads"] == waiting.IO_THREADS_PER_WORKER * USABLE
    assert {p["workers"] for p in overhead.plan_startup()} == {USABLE}
    assert {worker_memory.worker_memory_params(m)["workers"] for m in overhead.MAINS} == {USABLE}
    pvp = waiting.pool_vs_process_params()["scenarios"]
    assert all(s["n"] % USABLE == 0 for s in pvp.values())


#: A worker count typed where it should come from the machine.
TYPED = re.compile(r"(Pool|Threads|ProcessPool|ThreadPool|ProcessPoolExecutor)\(\s*\d+\s*[,)]"
                   r"|[\"']workers[\"']\s*:\s*\d+\s*[,}]|\bworkers\s*=\s*\d+\s*[,)]")


@pytest.mark.parametrize("path", [
    *(ROOT / "mpguide" / "chapters" / f"{m}.py"
      for m in ("tuning", "pool_size", "choosing", "waiting")),
    *sorted((ROOT / "gallery" / "tuning").glob("plot_*.py")),
    ROOT / "docs" / "guide" / "03-tuning.md",
], ids=lambda p: p.name)
def test_no_worker_count_is_typed(path: Path) -> None:
    typed = [line for line in path.read_text(encoding="utf-8").splitlines()
             if TYPED.search(line)]
    assert not typed, f"{path.name} types a worker count: {typed}"


def _first_cell(script: str) -> dict[str, Any]:
    """FUNC, ITEMS and PARAMS as the first code cell of a gallery script sets them."""
    cells = (ROOT / "gallery" / "tuning" / script).read_text(encoding="utf-8").split("# %%")
    namespace: dict[str, Any] = {}
    exec(cells[1], namespace)  # noqa: S102 - our own gallery script: imports and assignments
    return namespace


@pytest.mark.usefixtures("eight_cores")
@pytest.mark.parametrize(("script", "experiment"), [
    ("plot_chunksize.py", lambda: tuning.chunksize_experiments()[100]),
    ("plot_pool_size.py", lambda: pool_size.pool_size_experiments()["spin"]),
    ("plot_threads_blas.py", lambda: choosing.threads_experiments()["spin"]),
])
@pytest.mark.parametrize("quick", ["1", "0"], ids=["quick", "full"])
def test_gallery_defaults_are_the_chapters_experiment(
        script: str, experiment: Callable[[], Experiment], quick: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Unchanged, a script's first experiment is the chapter's, in either mode: one
    measurement, two views."""
    monkeypatch.setenv("MPGUIDE_QUICK", quick)
    cell = _first_cell(script)
    declared = experiment()
    assert (cell["FUNC"], cell["ITEMS"], cell["PARAMS"]) == (
        declared.func, declared.items, declared.params)


@pytest.mark.usefixtures("eight_cores")
def test_map_variants_defaults_are_the_chapters() -> None:
    cell = _first_cell("plot_map_variants.py")
    assert tuning.map_variants_params(cell["FUNC"], cell["ITEMS"], cell["PARAMS"]) == \
        tuning.map_variants_params()
