"""Timing: calibration, statistics and records, checked with injected clocks (no wall time)."""

from __future__ import annotations

import itertools

import pytest

from mpguide import timing


def fake_clock(step: float):
    """A clock that advances ``step`` seconds per reading."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def test_calibration_grows_loops_until_min_time() -> None:
    calls = []
    loops = timing.calibrate_loops(lambda: calls.append(1), min_time=1.0,
                                   clock=fake_clock(0.001))
    # with this clock every sample lasts 1 ms whatever the loop count, so it doubles to the cap
    assert loops == timing.MAX_LOOPS


def test_measure_reports_seconds_per_call() -> None:
    m = timing.measure(lambda: None, loops=4, repeats=3, warmups=0, clock=fake_clock(2.0))
    assert m.samples == (0.5, 0.5, 0.5)
    assert m.loops == 4


def test_zero_duration_is_refused() -> None:
    with pytest.raises(timing.TimingError, match="0 s per call"):
        timing.measure(lambda: None, loops=1, repeats=2, clock=lambda: 0.0)


def test_stats_are_robust_to_an_outlier() -> None:
    stats = timing.Stats.of([1.0, 1.1, 0.9, 1.0, 50.0])
    assert stats.median == 1.0
    assert stats.mad == pytest.approx(0.1)
    assert stats.min == 0.9


def test_record_round_trips_and_is_frozen() -> None:
    m = timing.Measurement("x", (1.0, 2.0), params={"w": 2}, metadata={"cpu_model": "c"})
    assert timing.Measurement.from_dict(m.to_dict()) == m
    with pytest.raises(AttributeError):
        m.name = "y"


def test_to_frame_is_tidy() -> None:
    m = timing.Measurement("x", (1.0, 2.0, 3.0), params={"workers": 2},
                           metadata={"cpu_model": "c"})
    df = m.to_frame()
    assert list(df["repeat"]) == [0, 1, 2]
    assert set(df["workers"]) == {2}
    assert set(df["cpu_model"]) == {"c"}


def test_check_same_accepts_numpy_equal_results() -> None:
    import numpy as np

    timing.check_same([np.arange(3)], [np.arange(3)])
    with pytest.raises(timing.TimingError):
        timing.check_same([np.arange(3)], [np.arange(4)])
