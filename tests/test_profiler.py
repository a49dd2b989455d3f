"""Profiling (mpguide.profiler): the sample and its bounds, and the pool started now."""

from __future__ import annotations

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
