"""Timing: warm-up, calibrated loops, repeats, robust statistics, immutable records.

The shape follows pyperf: a *sample* is the mean time of one call over ``loops`` calls in a
tight loop; the loop count doubles until one sample lasts at least ``min_time`` (so clock
resolution and loop overhead vanish); warm-up samples are taken and dropped; the record keeps
every sample and reports the median with IQR and MAD, and the minimum.

Examples
--------
>>> from mpguide.timing import measure
>>> m = measure(sum, [1, 2, 3], repeats=3, min_time=1e-4, name="sum3")
>>> m.name, len(m.samples), m.loops >= 1
('sum3', 3, True)
>>> m.min <= m.median <= max(m.samples)
True
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Calibration stops doubling when one sample lasts this long; pyperf uses 100 ms by default,
#: 20 ms keeps quick docs builds fast while staying far above perf_counter's resolution.
DEFAULT_MIN_TIME = 0.02
#: The loop count never exceeds this, whatever the function costs.
MAX_LOOPS = 2**24
#: :func:`seconds_per_call` repeats a run for at least this long (clock resolution, noise).
MIN_TIMED_S = 0.02


class TimingError(RuntimeError):
    """A measurement could not be taken (zero duration, mismatching results, ...)."""


@dataclasses.dataclass(frozen=True)
class Stats:
    """Robust summary of a list of samples (seconds).

    Examples
    --------
    >>> s = Stats.of([1.0, 2.0, 3.0, 4.0, 100.0])
    >>> s.median, s.min, s.n
    (3.0, 1.0, 5)
    >>> s.mad
    1.0
    """

    median: float
    q1: float
    q3: float
    mad: float
    min: float
    max: float
    mean: float
    n: int

    @property
    def iqr(self) -> float:
        """Interquartile range ``q3 - q1``."""
        return self.q3 - self.q1

    @property
    def relative_spread(self) -> float:
        """IQR divided by the median: 0.05 means the middle half lies within 5%."""
        return self.iqr / self.median if self.median else float("nan")

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        """Summarize ``samples``; raises :class:`TimingError` when there are none."""
        values = sorted(float(s) for s in samples)
        if not values:
            raise TimingError("no samples to summarize")
        median = statistics.median(values)
        if len(values) >= 2:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        else:
            q1 = q3 = values[0]
        mad = statistics.median(abs(v - median) for v in values)
        return cls(median, q1, q3, mad, values[0], values[-1], statistics.fmean(values),
                   len(values))


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One measured quantity: its samples, the parameters it was taken with, and metadata.

    ``samples`` are seconds per call (or per unit, as ``unit`` says). ``params`` are the
    experiment's parameters (start method, workers, chunksize, ...); ``metadata`` is the flat
    machine record of :func:`mpguide.machine.collect_metadata`. Both become columns in
    :meth:`to_frame`, one row per sample.
    """

    name: str
    samples: tuple[float, ...]
    loops: int = 1
    unit: str = "s"
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", tuple(float(s) for s in self.samples))
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "metadata", dict(self.metadata))
        if not self.samples:
            raise TimingError(f"measurement {self.name!r} has no samples")

    @property
    def stats(self) -> Stats:
        """Median, quartiles, MAD, min and max of the samples."""
        return Stats.of(self.samples)

    @property
    def median(self) -> float:
        """Median sample."""
        return self.stats.median

    @property
    def min(self) -> float:
        """Smallest sample."""
        return self.stats.min

    @property
    def iqr(self) -> float:
        """Interquartile range of the samples."""
        return self.stats.iqr

    @property
    def mad(self) -> float:
        """Median absolute deviation of the samples."""
        return self.stats.mad

    def with_metadata(self, metadata: Mapping[str, Any]) -> Measurement:
        """A copy carrying ``metadata`` (merged over what it had)."""
        return dataclasses.replace(self, metadata={**self.metadata, **metadata})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; :meth:`from_dict` reverses it."""
        return dataclasses.asdict(self) | {"samples": list(self.samples)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Rebuild a measurement from :meth:`to_dict` output."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows: one per sample, with ``name``, ``repeat``, ``value``, ``unit``, ``loops``,
        every parameter and every metadata field as columns.

        Examples
        --------
        >>> m = Measurement("x", (1.0, 2.0), params={"workers": 2}, metadata={"python": "3"})
        >>> m.to_frame()[["name", "repeat", "value", "workers", "python"]].to_dict("records")[1]
        {'name': 'x', 'repeat': 1, 'value': 2.0, 'workers': 2, 'python': '3'}
        """
        import pandas as pd

        rows = [
            {"name": self.name, "repeat": i, "value": v, "unit": self.unit, "loops": self.loops,
             **self.params, **self.metadata}
            for i, v in enumerate(self.samples)
        ]
        table: pd.DataFrame = pd.DataFrame(rows)
        return table


def frame(measurements: Sequence[Measurement]) -> pd.DataFrame:
    """Concatenate the tidy rows of several measurements into one DataFrame."""
    import pandas as pd

    return pd.concat([m.to_frame() for m in measurements], ignore_index=True)


def summarize(df: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Median, IQR, MAD, min and count of ``value`` per group of ``by`` (a tidy frame).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"k": ["a", "a", "b"], "value": [1.0, 3.0, 5.0]})
    >>> summarize(df, ["k"])[["k", "median", "n"]].to_dict("records")
    [{'k': 'a', 'median': 2.0, 'n': 2}, {'k': 'b', 'median': 5.0, 'n': 1}]
    """
    keys = [df[k] for k in by]
    values = df[value].astype("float64")  # an empty record's column has no numeric dtype
    grouped = values.groupby(keys, sort=False)
    # pandas' own group-wise kernels throughout: a Python function per group would cost a
    # page of tables seconds (pages and gallery scripts summarize hundreds of groups).
    out = grouped.agg(["median", "min", "count"]).rename(columns={"count": "n"})
    out["iqr"] = grouped.quantile(0.75) - grouped.quantile(0.25)
    deviation = (values - grouped.transform("median")).abs()
    out["mad"] = deviation.groupby(keys, sort=False).median()
    out = out.reset_index()
    summary: pd.DataFrame = out[[*by, "median", "iqr", "mad", "min", "n"]]
    return summary


def time_loops(func: Callable[..., Any], args: Sequence[Any], loops: int,
               clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds for ``loops`` calls of ``func(*args)`` in a tight loop (timeit's loop shape)."""
    iterator = itertools.repeat(None, loops)
    # Unpacking ``*args`` costs about as much as calling a no-op; the common arities get
    # their own loop so the harness adds no more than timeit's own loop does.
    if not args:
        start = clock()
        for _ in iterator:
            func()
        return clock() - start
    if len(args) == 1:
        (arg,) = args
        start = clock()
        for _ in iterator:
            func(arg)
        return clock() - start
    start = clock()
    for _ in iterator:
        func(*args)
    return clock() - start


def calibrate_loops(func: Callable[..., Any], args: Sequence[Any] = (), *,
                    min_time: float = DEFAULT_MIN_TIME,
                    clock: Callable[[], float] = time.perf_counter) -> int:
    """Smallest power-of-two loop count whose sample lasts at least ``min_time`` seconds.

    Examples
    --------
    >>> ticks = iter(range(0, 10_000, 1))
    >>> calibrate_loops(lambda: None, min_time=0, clock=lambda: next(ticks))
    1
    """
    loops = 1
    while True:
        elapsed = time_loops(func, args, loops, clock)
        if elapsed >= min_time or loops >= MAX_LOOPS:
            return loops
        if elapsed > 0:
            # Jump close to the target instead of doubling from 1 every time (pyperf does the
            # same); the factor 1.5 keeps us above it despite noise.
            loops = max(loops * 2, 2 ** math_ceil_log2(loops * min_time * 1.5 / elapsed))
        else:
            loops *= 2
        loops = min(loops, MAX_LOOPS)


def seconds_per_call(run: Callable[[], Any], budget: float,
                     min_time: float = MIN_TIMED_S) -> float:
    """Mean seconds per call of ``run``, called until ``min_time`` has passed (or ``budget``,
    if smaller): a single, cheap reading, where :func:`measure` takes calibrated repeats.

    >>> seconds_per_call(lambda: sum(range(100)), budget=1.0, min_time=1e-3) > 0
    True
    """
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min(min_time, budget):
            return elapsed / calls


def math_ceil_log2(x: float) -> int:
    """Smallest integer ``k`` with ``2**k >= x`` (``x >= 1``)."""
    k = 0
    while 2**k < x:
        k += 1
    return k


def measure(func: Callable[..., Any], *args: Any, name: str | None = None,
            repeats: int = 7, warmups: int = 1, min_time: float = DEFAULT_MIN_TIME,
            loops: int | None = None, params: Mapping[str, Any] | None = None,
            metadata: Mapping[str, Any] | None = None,
            clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Time ``func(*args)``: calibrate the loop count, run warm-ups, then ``repeats`` samples.

    Each sample is seconds per call. Refuses a zero-duration measurement, like perfplot.

    Parameters
    ----------
    func, args
        The callable and its positional arguments.
    repeats, warmups
        Kept samples, and samples taken first and dropped.
    min_time
        Calibration target for one sample (seconds); ignored when ``loops`` is given.
    params, metadata
        Stored on the record (become columns of :meth:`Measurement.to_frame`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if loops is None:
        loops = calibrate_loops(func, args, min_time=min_time, clock=clock)
    for _ in range(warmups):
        time_loops(func, args, loops, clock)
    samples = [time_loops(func, args, loops, clock) / loops for _ in range(repeats)]
    if max(samples) <= 0:
        raise TimingError(f"{name or func!r} measured 0 s per call; the clock is too coarse")
    if not name:
        name = str(getattr(func, "__qualname__", repr(func)))
    return Measurement(name, tuple(samples), loops,
                       params=params or {}, metadata=metadata or {})


def measure_once(func: Callable[..., Any], *args: Any, name: str, repeats: int = 5,
                 warmups: int = 1, params: Mapping[str, Any] | None = None,
                 metadata: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Time ``repeats`` single calls of an expensive ``func(*args)`` (no inner loop).

    For operations that last milliseconds or more (starting a pool, a whole ``map``), where
    looping would only multiply the cost.
    """
    return measure(func, *args, name=name, repeats=repeats, warmups=warmups, loops=1,
                   params=params, metadata=metadata, clock=clock)


def check_same(expected: Any, actual: Any, what: str = "parallel result") -> None:
    """Raise :class:`TimingError` unless ``actual == expected`` (numpy-aware).

    Called before timing so a fast wrong answer is never reported.

    Examples
    --------
    >>> check_same([1, 4, 9], [1, 4, 9])
    >>> check_same([1, 4, 9], [1, 4, 8])
    Traceback (most recent call last):
    ...
    mpguide.timing.TimingError: parallel result differs from the serial one ...
    >>> import numpy as np
    >>> check_same([np.arange(3)], [np.zeros(3)])
    Traceback (most recent call last):
    ...
    mpguide.timing.TimingError: parallel result, item 0, differs from the serial one ...
    """
    import numpy as np

    if _arrays(expected) and _arrays(actual) and len(expected) == len(actual):
        # Item by item: one object array of big arrays costs seconds to build and compare.
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            if not np.array_equal(want, got):
                raise TimingError(
                    f"{what}, item {index}, differs from the serial one ({_head(want)} vs "
                    f"{_head(got)}); fix the function before timing it.")
        return
    try:
        same = bool(np.array_equal(np.asarray(expected, dtype=object),
                                   np.asarray(actual, dtype=object)))
    except (ValueError, TypeError):
        same = expected == actual
    if not same:
        raise TimingError(
            f"{what} differs from the serial one (first items: {_head(expected)} vs "
            f"{_head(actual)}); fix the function before timing it."
        )


def _arrays(values: Any) -> bool:
    """Whether ``values`` is a non-empty list or tuple of numpy arrays."""
    import numpy as np

    return isinstance(values, (list, tuple)) and bool(values) \
        and all(isinstance(v, np.ndarray) for v in values)


def _head(values: Any) -> str:
    text = repr(values)
    return text if len(text) <= 60 else text[:57] + "..."
