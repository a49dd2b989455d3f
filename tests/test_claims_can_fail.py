"""Every claim can fail: each claim of chapters 1 to 3 fed small records of the real shape where
its statement is false, and where it holds, plus the test that no claim of any chapter goes
without a failing case. Nothing is measured: the ``load_*`` functions a claim reads are
replaced by frames built here.

How a case is declared, here or in another ``tests/test_claims*fail*.py`` module: the module
sets ``FAILING_CASES``, a dict from a claim's id to the test that feeds it records where it
fails (``"test_file.py::test_name"``, found in ``tests/``). Here every id of :data:`CASES` runs
both ways through :func:`test_claim_follows_its_records`; the two claims whose cases live in
``test_chapter_overhead.py`` (failing) and ``test_chapter_overhead_plans.py`` (holding, on a
model machine) are named, not repeated.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from mpguide import chapters, claims
from mpguide.chapters import (
    choosing,
    overhead,
    pool_size,
    send_less,
    task_duration,
    transfer,
    tuning,
    waiting,
    worker_memory,
)

TESTS = Path(__file__).resolve().parent

#: What a case patches: (module, name of its ``load_*`` function) -> the records it returns.
Patches = dict[tuple[ModuleType, str], Any]

#: claim id -> builder of the records (``holds``: where the statement holds, or fails) and a
#: piece of the filled statement that shows it reads true to its numbers.
CASES: dict[str, Callable[[bool], tuple[Patches, str]]] = {}


def case(claim_id: str) -> Callable[[Callable[[bool], tuple[Patches, str]]],
                                    Callable[[bool], tuple[Patches, str]]]:
    """Register the decorated builder as the cases of ``claim_id``."""
    def register(builder: Callable[[bool], tuple[Patches, str]]
                 ) -> Callable[[bool], tuple[Patches, str]]:
        CASES[claim_id] = builder
        return builder
    return register


def frame(records: list[dict[str, Any]], /, **columns: Any) -> pd.DataFrame:
    """Records as a DataFrame, ``columns`` added to every row."""
    return pd.DataFrame(records).assign(**columns)


def twice(value: float) -> tuple[float, float]:
    """Two samples around ``value`` (medians come out as ``value``)."""
    return value * 0.98, value * 1.02


# --- chapter 1: overhead, task_duration -------------------------------------------------------


def _startup(spawn_ms: float, heavy_ms: float, fork_ms: float = 5.0) -> Patches:
    light = {"fork": fork_ms, "spawn": spawn_ms, "forkserver": spawn_ms / 2}
    heavy = {"fork": fork_ms * 1.5, "spawn": heavy_ms, "forkserver": heavy_ms / 2}
    rows = [{"start_method": m, "main": main, "pool": pool, "value": v / 1e3}
            for main, by in (("light", light), ("numpy+pandas", heavy)) for m, ms in by.items()
            for pool in ("first", "later") for v in twice(ms)]
    return {(overhead, "load_startup"): frame(rows, workers=2)}


@case("spawn-starts-slower")
def _spawn_starts_slower(holds: bool) -> tuple[Patches, str]:
    return (_startup(spawn_ms=50 if holds else 8, heavy_ms=300),
            "(50 ms vs 5.0 ms, 10.0x)" if holds else "(8 ms vs 5.0 ms, 1.6x)")


@case("heavy-main-slows-spawn")
def _heavy_main(holds: bool) -> tuple[Patches, str]:
    return _startup(spawn_ms=50, heavy_ms=300 if holds else 60), "6.0x" if holds else "1.2x"


@case("round-trip-costs-more")
def _round_trip(holds: bool) -> tuple[Patches, str]:
    trip = 40e-6 if holds else 10e-6
    rows = [{"name": "plain call", "chunksize": 0, "value": 5e-8},
            {"name": "apply_round_trip", "chunksize": 0, "value": trip},
            *({"name": "map_item_overhead", "chunksize": c, "value": 2e-5 / c}
              for c in (1, 10, 100, 1000))]
    return {(overhead, "load_dispatch"): frame(rows)}, f"({trip * 1e6:.0f} µs)"


def _durations(overhead_s: float = 20e-6, default_share: float | None = None) -> Patches:
    """A model machine's task-duration sweep (Pool(2), 100 items): the pool adds ``overhead_s``
    per item at chunksize 1, and ``default_share`` of it (default: one per chunk) at its
    default chunksize."""
    rows = []
    for nominal in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        share = 1 / 13 if default_share is None else default_share  # 13: 100 items, Pool(2)
        for variant, value, chunksize, workers in (
                (task_duration.LOOP, nominal, 0, 1),
                (task_duration.CHUNK1, nominal / 2 + overhead_s, 1, 2),
                (task_duration.DEFAULT, nominal / 2 + overhead_s * share, 13, 2)):
            rows += [{"nominal_s": nominal, "variant": variant, "workers": workers,
                      "chunksize": chunksize, "value": v} for v in twice(value)]
    return {(task_duration, "load_task_duration"): frame(rows, items=100, load_avg_1m=0.5,
                                                         cpu_count=2)}


@case("long-tasks-win")
def _long_tasks_win(holds: bool) -> tuple[Patches, str]:
    return _durations(20e-6 if holds else 2e-3), "slowest speedup " + ("1.92" if holds else "0.40")


@case("chunking-cuts-overhead")
def _chunking_cuts(holds: bool) -> tuple[Patches, str]:
    return _durations(default_share=None if holds else 0.8), "10.1x less" if holds else "1.2x less"


@case("tiny-task-workers-idle")
def _workers_idle(holds: bool) -> tuple[Patches, str]:
    name, spec = next(iter(task_duration.decomposition_cases().items()))
    task = spec["params"]["seconds"]
    gap = task * (9 if holds else 0.1)
    rows = [{"worker": w, "start_s": 1e-4 + i * (task + gap), "end_s": 1e-4 + i * (task + gap)
             + task} for w in (0, 1) for i in range(20)]
    wall = max(r["end_s"] for r in rows) + 1e-5
    return ({(task_duration, "load_decomposition"): frame(rows, case=name, wall_s=wall,
                                                          workers=2, items=40)},
            "(10%)" if holds else "(61%)")


# --- chapter 2: transfer, send_less, worker_memory --------------------------------------------


def _pickling(nested_s: float = 10e-3, oob_s: float = 3e-5) -> Patches:
    """dumps + loads of a 1 MiB payload (seconds, half each way) per kind and serializer."""
    size = transfer.MIB
    totals = {("ndarray", "pickle protocol 4"): 1.1e-3, ("ndarray", "pickle protocol 5"): 1e-3,
              ("ndarray", "pickle 5 out-of-band"): oob_s, ("nested", "pickle protocol 5"): nested_s}
    rows = [{"name": "memcpy", "nbytes": size, "seconds": 1e-4}]
    rows += [{"name": d, "direction": d, "kind": kind, "serializer": serializer, "nbytes": size,
              "pickled_bytes": size, "seconds": total / 2}
             for (kind, serializer), total in totals.items() for d in ("dumps", "loads")]
    return {(transfer, "load_pickling"): frame(rows)}


@case("nested-pickles-slowest")
def _nested_slowest(holds: bool) -> tuple[Patches, str]:
    return _pickling(nested_s=10e-3 if holds else 3e-3), "10x more" if holds else "3x more"


@case("oob-beats-in-band")
def _oob(holds: bool) -> tuple[Patches, str]:
    return _pickling(oob_s=3e-5 if holds else 2.2e-3), "37x faster" if holds else "2x slower"


@case("seed003-threads-win")
def _seed003(holds: bool) -> tuple[Patches, str]:
    warm = {"threads": 0.014, "pool": 0.16 if holds else 0.021}
    cold = {"threads": 0.014, "pool": 0.55}
    rows = [{"tool": tool, "startup": startup, "seconds": s, "workers": 1}
            for startup, by in ((False, warm), (True, cold)) for tool, v in by.items()
            for s in twice(v)]
    rows += [{"tool": "threads", "startup": s, "seconds": 0.01, "workers": 2} for s in (0, 1)]
    return {(transfer, "load_seed003"): frame(rows)}, "took 11.4x" if holds else "took 1.5x"


@case("shm-handoff-near-memcpy")
def _shm_handoff(holds: bool) -> tuple[Patches, str]:
    reused = {"fork": 1.2, "spawn": 1.3 if holds else 3.0, "forkserver": 1.2}
    rows = [{"start_method": m, "name": name, "seconds": x * 2e-3}
            for m, r in reused.items()
            for name, x in (("memcpy", 1), (send_less.REUSED, r), ("shared_array", 12),
                            ("pickle", 50))]
    return ({(send_less, "load_shm_handoff"): frame(rows)},
            "worst: 1.30x under spawn" if holds else "worst: 3.00x under spawn")


@case("initializer-wins-big-state")
def _initializer(holds: bool) -> tuple[Patches, str]:
    every = 0.13 if holds else 0.03
    rows = [{"name": name, "seconds": s, "nbytes": n}
            for n in (1024, 2 * transfer.MIB)
            for name, s in (("state with every task", every), ("initializer + index", 0.02))]
    return ({(send_less, "load_send_less"): frame(rows, tasks=16)},
            "6.5x faster" if holds else "1.5x faster")


@case("shm-beats-pickled-slices")
def _shm_beats_pickled(holds: bool) -> tuple[Patches, str]:
    pickled = 0.046 if holds else 0.02
    rows = [{"name": "pickled slices", "seconds": s} for s in twice(pickled)]
    rows += [{"name": "shared_array + indices", "seconds": s} for s in twice(0.029)]
    return ({(send_less, "load_shared_vs_pickled"): frame(rows, nbytes=16 * transfer.MIB)},
            "1.6x faster" if holds else "1.5x slower")


@case("parquet-beats-pickle")
def _parquet(holds: bool) -> tuple[Patches, str]:
    ways = {"pickle": 0.013, "parquet file": 0.009 if holds else 0.028, ".npy file": 0.006,
            "np.memmap of .npy": 0.006}
    rows = [{"name": name, "seconds": s} for name, v in ways.items() for s in twice(v)]
    return ({(send_less, "load_files"): frame(rows, rows=500_000)},
            "0.69x the time" if holds else "2.15x the time")


@case("fork-reading-copies")
def _fork_reading(holds: bool) -> tuple[Patches, str]:
    growth = 15.0 if holds else 2.0
    rows = [{"fraction_read": f, "items_read": int(500_000 * f), "uss_mib": 8 + growth * f,
             "pss_mib": 21 + growth * f / 2, "rss_mib": 36.0} for f in (0.0, 0.5, 1.0)]
    return ({(worker_memory, "load_cow"): frame(rows)},
            "adds 15 MiB" if holds else "adds 2 MiB")


@case("spawn-workers-start-small")
def _spawn_small(holds: bool) -> tuple[Patches, str]:
    spawn_rss = 15.0 if holds else 100.0
    rows = [{"process": "parent", "start_method": m, "rss_mib": 132.0, "uss_mib": 120.0,
             "pss_mib": 125.0} for m in ("fork", "spawn")]
    rows += [{"process": "worker 0", "start_method": "fork", "rss_mib": 86.0, "uss_mib": 2.0,
              "pss_mib": 30.0},
             {"process": "worker 0", "start_method": "spawn", "rss_mib": spawn_rss,
              "uss_mib": spawn_rss / 2, "pss_mib": spawn_rss / 2}]
    return ({(worker_memory, "load_worker_memory"): frame(rows, main="light")},
            "memory (8 MiB)" if holds else "memory (50 MiB)")


# --- chapter 3: tuning, pool_size, choosing, waiting ------------------------------------------


def _chunksize(left: float = 1.7, executor: float = 30.0) -> Patches:
    """A sweep per task duration (300 items, Pool(2)): the best chunksize 16 takes 1 s; chunksize
    1 ``left`` times that, ProcessPoolExecutor ``executor`` times, one chunk 1.8 times."""
    curve = {1: left, 4: 1.2, 16: 1.0, 64: 1.05, 150: 1.3, 300: 1.8}
    rows = [{"strategy": "serial", "chunksize": 0, "x": 1.8},
            {"strategy": "default", "chunksize": 38, "x": 1.1},
            {"strategy": "executor", "chunksize": 1, "x": executor},
            *({"strategy": "pool", "chunksize": c, "x": x} for c, x in curve.items())]
    rows = [{**r, "duration_us": d, "seconds": s} for d in tuning.CHUNKSIZE_TASKS_US
            for r in rows for s in twice(r["x"] * d / 100)]
    return {(tuning, "load_chunksize"): frame(rows, n_items=300, default_chunksize=38)}


@case("chunksize-u-curve")
def _u_curve(holds: bool) -> tuple[Patches, str]:
    return (_chunksize(left=1.7 if holds else 1.1),
            "best chunksize (16), " + ("1.70x slower" if holds else "1.10x slower"))


@case("default-chunksize-vs-executor")
def _default_vs_executor(holds: bool) -> tuple[Patches, str]:
    return _chunksize(executor=30.0 if holds else 1.5), "30.0x" if holds else "1.5x"


def _map_variants(imap_first: float = 0.01, unordered: float = 0.5) -> Patches:
    rows = [{"method": "map", "first_result_s": 1.0, "seconds": 1.0, "peak_rss_mib": 19.0,
             "out_of_order": 0.0},
            {"method": "imap", "first_result_s": imap_first, "seconds": 1.0,
             "peak_rss_mib": 1.0, "out_of_order": 0.0},
            {"method": "imap_unordered", "first_result_s": 0.01, "seconds": 0.9,
             "peak_rss_mib": 1.0, "out_of_order": unordered}]
    return {(tuning, "load_map_variants"): frame(rows)}


@case("imap-streams")
def _imap_streams(holds: bool) -> tuple[Patches, str]:
    return _map_variants(imap_first=0.01 if holds else 0.5), "1.0%" if holds else "50.0%"


@case("imap-unordered-reorders")
def _imap_unordered(holds: bool) -> tuple[Patches, str]:
    return _map_variants(unordered=0.5 if holds else 0.0), "delivered " + (
        "50%" if holds else "0%")


@case("maxtasks-costs")
def _maxtasks(holds: bool) -> tuple[Patches, str]:
    replaced = 0.063 if holds else 0.03
    rows = [{"maxtasksperchild": m, "seconds": s} for m, v in ((None, 0.024), (1.0, replaced))
            for s in twice(v)]
    return ({(tuning, "load_maxtasks"): frame(rows, n_items=12, task_us=1000)},
            "2.6x slower" if holds else "1.2x slower")


@case("oversubscription-no-gain")
def _oversubscription(holds: bool) -> tuple[Patches, str]:
    over = 1.7 if holds else 3.0
    rows = [{"workers": w, "seconds": s} for w, v in ((0, 1.0), (1, 1.0), (2, 1 / 2.05),
                                                      (4, 1 / over)) for s in twice(v)]
    return ({(pool_size, "load_pool_size"): frame(rows, workload="spin", usable_cpus=2)},
            "speedup of 1.70" if holds else "speedup of 3.00")


@case("fork-threads-deadlock")
def _fork_deadlock(holds: bool) -> tuple[Patches, str]:
    fork = ("deadlocked", 2.0) if holds else ("finished", 0.01)
    rows = [{"method": m, "outcome": o, "waited_s": w, "exitcode": 0, "wait_limit_s": 2.0,
             "warning": None}
            for m, (o, w) in (("fork", fork), ("spawn", ("finished", 0.27)),
                              ("forkserver", ("finished", 0.2)))]
    return ({(choosing, "load_fork_deadlock"): frame(rows)},
            "(killed after 2.0 s)" if holds else "(killed after 0.0 s)")


@case("spawn-workers-own-memory")
def _own_memory(holds: bool) -> tuple[Patches, str]:
    uss = {("light", "fork"): 2.2, ("light", "spawn"): 7.9 if holds else 3.0,
           ("light", "forkserver"): 5.9, ("numpy+pandas", "fork"): 2.5,
           ("numpy+pandas", "spawn"): 60.0, ("numpy+pandas", "forkserver"): 59.0}
    rows = [{"main": main, "method": m, "worker_uss_mib": v} for (main, m), v in uss.items()]
    return ({(choosing, "load_start_methods"): frame(rows)},
            "held 7.9 MiB" if holds else "held 3.0 MiB")


@case("threads-need-gil-release")
def _gil(holds: bool) -> tuple[Patches, str]:
    numpy_threads = 1.54 if holds else 1.0
    speedups = {("spin", "threads"): 1.0, ("spin", "processes"): 1.63,
                ("numpy", "threads"): numpy_threads, ("numpy", "processes"): 1.06}
    rows = [{"workload": w, "executor": "serial", "seconds": s} for w in ("spin", "numpy")
            for s in twice(1.0)]
    rows += [{"workload": w, "executor": e, "seconds": s} for (w, e), x in speedups.items()
             for s in twice(1 / x)]
    return ({(choosing, "load_threads_vs_processes"): frame(rows)},
            "numpy work 1.54" if holds else "numpy work 1.00")


@case("blas-cap-fixes-oversubscription")
def _blas(holds: bool) -> tuple[Patches, str]:
    capped = 0.027 if holds else 0.095
    rows = [{"variant": v, "seconds": s, "blas_threads_per_worker": t}
            for v, x, t in (("serial", 0.03, 2), ("pool, default BLAS threads", 0.1, 2),
                            ("pool, BLAS capped at 1", capped, 1)) for s in twice(x)]
    return ({(choosing, "load_blas"): frame(rows)},
            "gave 1.11x" if holds else "gave 0.32x")


@case("process-per-task-for-long-waits")
def _process_per_task(holds: bool) -> tuple[Patches, str]:
    io_process = 0.115 if holds else 0.18  # as spawn can: starting ate most of the saving
    ways = {("few long I/O waits", 4, 0.1): {"Pool": 0.22, "Process per task": io_process},
            ("many CPU tasks", 20, 0.002): {"Pool": 0.047, "Process per task": 0.082}}
    rows = [{"scenario": sc, "n_tasks": n, "task_s": t, "way": way, "seconds": s}
            for (sc, n, t), by in ways.items() for way, v in by.items() for s in twice(v)]
    return ({(waiting, "load_pool_vs_process"): frame(rows, workers=2)},
            "waits 2 times in turn: it kept at least half of the 0.10 s that waiting all at "
            "once saves " + ("(105%)" if holds else "(40%)"))


@case("threads-feed-processes")
def _threads_feed(holds: bool) -> tuple[Patches, str]:
    ways = {"threads feed processes": 0.15 if holds else 0.61, "threads only": 0.2,
            "processes only": 0.28, "serial": 0.54}
    rows = [{"way": way, "seconds": s} for way, v in ways.items() for s in twice(v)]
    return ({(waiting, "load_io_cpu"): frame(rows, n_items=8, delay_ms=50, cpu_ms=10)},
            "took 0.15 s" if holds else "took 0.61 s")


# --- the cases, both ways ---------------------------------------------------------------------



@pytest.mark.parametrize("holds", [True, False], ids=["holds", "fails"])
@pytest.mark.parametrize("claim_id", list(CASES))
def test_claim_follows_its_records(claim_id: str, holds: bool,
                                   feed_records: Callable[..., claims.Verdict]) -> None:
    patches, reads = CASES[claim_id](holds)
    verdict = feed_records(patches, claim_id, holds)
    assert reads in verdict.statement, verdict.statement
    assert verdict.evidence


#: Claim id -> the test that feeds it records where it fails.
FAILING_CASES: dict[str, str] = {
    **dict.fromkeys(CASES, "test_claims_can_fail.py::test_claim_follows_its_records"),
    "tiny-tasks-lose":
        "test_chapter_overhead.py::test_claim_fails_visibly_when_the_pool_never_wins",
    "seed-tiny-tasks-lose":
        "test_chapter_overhead.py::test_seed_claim_fails_when_the_pool_keeps_up",
}


# --- coverage: every claim of every chapter has a failing case --------------------------------

#: Claims with no failing case declared yet. Empty: every claim has one; a new claim is
#: declared in a ``FAILING_CASES`` with its cases, not listed here.
NOT_YET_COVERED: frozenset[str] = frozenset()


def _module_at(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_claim_cases_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared_failing_cases() -> dict[str, list[str]]:
    """Claim id -> the tests declared (``FAILING_CASES``) by every ``test_claims*fail*.py``."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.glob("test_claims*fail*.py")):
        module = (None if path.resolve() == Path(__file__).resolve() else _module_at(path))
        cases = getattr(module, "FAILING_CASES", None) if module else FAILING_CASES
        assert isinstance(cases, dict), (
            f"{path.name} declares no FAILING_CASES (claim id -> 'test_file.py::test_name')")
        for claim_id, test in cases.items():
            found.setdefault(claim_id, []).append(test)
    return found


def _test_exists(where: str) -> bool:
    file, _, name = where.partition("::")
    path = TESTS / file
    return path.is_file() and any(
        isinstance(node, ast.FunctionDef) and node.name == name
        for node in ast.parse(path.read_text(encoding="utf-8")).body)


def coverage_problems(registered: set[str], declared: dict[str, list[str]],
                      not_yet: frozenset[str]) -> list[str]:
    """What keeps the claims ``registered`` from each having a declared failing case, given
    the cases ``declared`` and the ids ``not_yet`` covered."""
    covered = set(declared)
    return [
        *(f"{w}: no such test" for tests in declared.values() for w in tests
          if not _test_exists(w)),
        *(f"{c}: declared, but no chapter registers it" for c in sorted(covered - registered)),
        *(f"{c}: in NOT_YET_COVERED, but no chapter registers it"
          for c in sorted(not_yet - registered)),
        *(f"{c}: covered now, remove it from NOT_YET_COVERED" for c in sorted(not_yet & covered)),
        *(f"{c}: no failing case" for c in sorted(registered - covered - not_yet)),
    ]


def test_every_claim_has_a_failing_case() -> None:
    assert coverage_problems(set(chapters.claim_ids(kind=None)), declared_failing_cases(),
                             NOT_YET_COVERED) == []


def test_the_coverage_check_sees_every_gap() -> None:
    here = "test_claims_can_fail.py::test_claim_follows_its_records"
    assert coverage_problems({"a", "b"}, {"a": [here]}, frozenset({"b"})) == []
    assert coverage_problems({"a", "b"}, {"a": [here]}, frozenset()) == ["b: no failing case"]
    assert coverage_problems({"a"}, {"a": [here]}, frozenset({"a"})) == [
        "a: covered now, remove it from NOT_YET_COVERED"]
    assert coverage_problems({"a"}, {"a": ["test_claims_can_fail.py::test_gone"], "z": [here]},
                             frozenset({"y"})) == [
        "test_claims_can_fail.py::test_gone: no such test",
        "z: declared, but no chapter registers it",
        "y: in NOT_YET_COVERED, but no chapter registers it"]


def test_demonstrations_are_shown_not_counted() -> None:
    """Results certain by construction (chapters 2 and 3) are demonstrations, not claims."""
    ours = {"oob-beats-in-band", "imap-unordered-reorders", "fork-threads-deadlock"}
    assert ours <= set(chapters.claim_ids(kind=claims.DEMONSTRATION))
    assert not ours & set(chapters.claim_ids())
    assert all(claims.registered()[d].kind == claims.DEMONSTRATION for d in ours)
