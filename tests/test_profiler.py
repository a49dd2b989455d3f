"""Profiling (mpguide.profiler): the sample and its bounds, and the pool started now."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpguide import model, profiler, workloads
from mpguide.machine import usable_cpus


def test_pool_now_measures_free_cores_and_start_up(start_method: str) -> None:
    cores = max(2, usable_cpus())
    now = profiler.pool_now(cores, start_method, timeout=60, seconds=0.05)
    assert 1.0 <= now.free_cores <= cores
    assert now.start_stop_s > 0
    costs = model.MachineCosts.from_probes(model.EXAMPLE_PROBES, cores=cores).updated(now)
    assert costs.startup_s(start_method, cores) == pytest.approx(now.start_stop_s)


def test_profile_runs_a_sample_not_the_whole_input(start_method: str) -> None:
    items = [workloads.iterations_for(2e-3)] * 2000
    prof = profiler.profile(workloads.spin, items, start_method=start_method, time_budget=0.3)
    assert prof.n_items == 2000
    assert 1 <= len(prof.sample_costs_s) <= 2000 // 4
    assert prof.gil_fraction > 0.5  # pure Python holds the GIL
    assert prof.arg_bytes > 0
    assert prof.result_bytes > 0


def test_sample_is_spread_over_the_input() -> None:
    indices = profiler.sample_indices(1000, 8)
    assert indices[:2] == [0, 999]
    assert len(set(indices)) == 8
    assert profiler.sample_indices(2) == [0]


def test_profile_counts_the_tracked_objects_a_result_keeps(start_method: str) -> None:
    """A parsed document of 200 dicts with a list each keeps 401 tracked objects (the list of
    them too); an int keeps none. The heap and the cost of a full pass are this process's."""
    import json

    from mpguide.chapters.real_functions import parse_json

    document = json.dumps([{"id": i, "tags": [str(i)]} for i in range(200)])
    objects = profiler.profile(parse_json, [document] * 40, start_method=start_method,
                               time_budget=0.3)
    numbers = profiler.profile(workloads.square, list(range(40)), start_method=start_method,
                               time_budget=0.3)
    assert objects.result_objects == pytest.approx(401)
    assert objects.allocated_objects >= 0
    assert numbers.result_objects == 0
    # Only results made of objects have their receipt timed on a pool of usable-cores workers.
    assert objects.pool_map_items >= 2
    assert objects.pool_map_s > 0
    assert objects.pool_map_workers == usable_cpus()
    assert numbers.pool_map_items == 0
    assert numbers.collection_s() == 0.0
    assert objects.heap_objects > 0
    assert objects.gc_object_s > 0


def test_a_block_of_heavy_items_is_priced_over_the_input(start_method: str) -> None:
    """Ten heavy items (20x) at the end of 80: the profile sees them as a block where they
    are, and its mean is the one over every item, not over the evenly spaced sample (which
    hits the block 3 times in 20, where the input holds it 10 times in 80)."""
    light, heavy = workloads.iterations_for(2e-4), workloads.iterations_for(4e-3)
    items = [light] * 70 + [heavy] * 10
    prof = profiler.profile(workloads.spin, items, start_method=start_method, time_budget=1.0)
    assert len(prof.sample_costs_s) == 20
    assert prof.follows_input()
    assert prof.per_item_s == pytest.approx(float(prof.item_costs().mean()))
    sample_mean = sum(prof.sample_costs_s) / len(prof.sample_costs_s)
    assert prof.per_item_s < sample_mean



ONCE_SLOW = '''
import time

_seen = set()


def once_slow(x):
    """About 1 ms; 50 ms more the first time this process is given item 39 (a lost core)."""
    if x == 39 and x not in _seen:
        _seen.add(x)
        time.sleep(0.05)
    time.sleep(0.001)
    return x
'''


def test_one_slow_call_does_not_price_its_item(start_method: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The last item's first timed call loses 50 ms, as to a preempted core; it is priced by
    the median of its passes over the sample, not by that one call."""
    (tmp_path / "once_slow.py").write_text(ONCE_SLOW, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    from once_slow import once_slow  # type: ignore[import-not-found]

    prof = profiler.profile(once_slow, list(range(40)), start_method=start_method,
                            time_budget=2.0)
    assert prof.sample_positions[1] == 1.0  # item 39 is in the sample
    assert max(prof.sample_costs_s) < 0.02
