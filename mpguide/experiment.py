"""The experiment verb: a function, its items and a list of executors, measured side by side.

Declare what to measure; :meth:`Experiment.run` does the rest once, for every chapter, gallery
script and ``python -m mpguide compare``:

1. in a fresh interpreter (pyperf's manager/worker idea), unless ``fresh=False``: a spawn
   worker then re-imports a clean ``__main__``, not the page or script that asked;
2. the function is checked on every executor before timing (parallel result == the loop's);
3. one warm-up run, then ``repeats`` timed runs, the executors interleaved so drift on a
   shared machine hits them all alike; an executor whose warm-up ran long gets only as many
   repeats as fit in ``time_budget`` seconds, never fewer than :data:`MIN_REPEATS` (perfplot's
   ``max_time``, pyperf's calibration: a 15 s run needs no five repeats, a 15 ms one does);
   every wait is bounded by ``timeout``; with
   ``startup=False`` each executor is started once, its runs timed back to back, then
   stopped (one executor alive at a time: a fork never copies another pool's threads);
4. the records are cached (:class:`mpguide.cache.ResultCache`) under what was declared, the
   machine, mpguide's version and source, the mode and the start method;
5. a :class:`Result` owns its views: :meth:`~Result.frame` (tidy rows, machine metadata on
   every row), :meth:`~Result.table`, :meth:`~Result.speedup`, :meth:`~Result.plot`.

:func:`run_cached` is the same lifecycle (fresh interpreter, cache, re-import guard) for a
chapter experiment that is not a map over items (pool start-up, hand-offs, deadlocks).

Examples
--------
>>> from mpguide import executors, workloads
>>> from mpguide.experiment import Experiment
>>> exp = Experiment("doc-squares", workloads.square, list(range(100)),
...                  [executors.Loop(), executors.Threads(2)], repeats=2, fresh=False,
...                  cache=False)
>>> result = exp.run()
>>> list(result.table()["label"])
['loop', 'Threads(2)']
>>> result.frame()[["label", "repeat"]].shape
(4, 2)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import config, executors, machine, runner, timing
from mpguide.cache import ResultCache

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: The fewest timed runs an executor gets when :attr:`Experiment.time_budget` cuts its repeats:
#: only a run that alone lasts half the budget or more gets so few, and its own length makes
#: it the steadiest (a spread still needs two).
MIN_REPEATS = 2
#: Timed runs per executor after the warm-up, in both modes (:attr:`Experiment.repeats`): a
#: median and a spread for every row, and a fresh full docs build within ten minutes on two
#: cores (full mode differs from quick mode by its sizes, not by its repeats).
REPEATS = 3
#: Seconds of timed runs per executor (:attr:`Experiment.time_budget`), in both modes: a short
#: run gets every repeat, a run of seconds only :data:`MIN_REPEATS`; what keeps a fresh full
#: docs build within its ten minutes on two cores.
TIME_BUDGET_S = 2.0

#: Items are a list, or an importable factory called with ``params`` (``"module:function"``
#: or the function itself).
Items = Sequence[Any] | Callable[..., Sequence[Any]] | str


def reimported_main() -> bool:
    """Whether this process is a ``spawn``/``forkserver`` child re-running its parent's script.

    Such a child imports the parent's ``__main__`` as ``__mp_main__`` and so re-runs every
    unguarded cell of a gallery script: an experiment there reads what the parent measured
    instead of measuring again in every worker. The re-run happens while the child prepares,
    before it knows its parent process and before ``sys.modules["__main__"]`` is replaced, so
    the sign is the module under ``__mp_main__``: everywhere else an alias of ``__main__``
    (multiprocessing makes it one), in such a child the script re-run under that name.

    Examples
    --------
    >>> reimported_main()
    False
    """
    return getattr(sys.modules.get("__mp_main__"), "__name__", None) == "__mp_main__"


def run_cached(name: str, target: str, params: Mapping[str, Any] | None = None, *,
               fresh: bool = True, preamble: str | None = None,
               timeout: float | None = None) -> Any:
    """JSON result of ``target(**params)``, measured once and cached.

    ``fresh=True`` runs it in a new interpreter (:func:`mpguide.runner.run_fresh`, with
    ``preamble`` at the top of its ``__main__`` and this process's ``sys.path``, so that it
    finds a reader's module beside their script, as :class:`Experiment` does);
    ``fresh=False`` in this process, for an experiment that starts its own fresh interpreters.
    A worker that re-imports its parent's script (:func:`reimported_main`) only reads the
    cache, and gets ``None`` on a miss.

    Examples
    --------
    >>> run_cached("doc-spin", "mpguide.workloads:spin", {"iterations": 3}, fresh=False)
    8
    """
    cache, key = ResultCache(), dict(params or {})

    def measure(**kwargs: Any) -> Any:
        if fresh:
            return runner.run_fresh(target, kwargs, timeout=timeout, preamble=preamble,
                                    env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        return executors.resolve_target(target)(**kwargs)

    if reimported_main():
        return cache.load(name, key)
    return cache.get_or_measure(name, key, measure)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What to measure: ``func`` over ``items`` through each of ``executors``.

    Parameters
    ----------
    name
        Names the cache folder and the records (a plain file-name part).
    func
        An importable function of one argument (defined with ``def`` at the top level of a
        module: a spawn or forkserver worker finds it by name).
    items
        The items, or a factory (a function or ``"module:function"``) called with ``params``
        where the experiment runs, so a fresh interpreter builds them itself.
    executors
        Specs of :mod:`mpguide.executors`; a :class:`~mpguide.executors.Loop` is added first
        when missing, as the reference for correctness and speedup.
    params
        Keyword arguments of the items factory.
    repeats
        Timed runs per executor after one warm-up (default :data:`REPEATS`): the most it
        gets.
    time_budget
        Seconds of timed runs an executor should take: one whose warm-up took ``w`` seconds
        gets ``time_budget / w`` repeats, between :data:`MIN_REPEATS` and ``repeats``
        (default :data:`TIME_BUDGET_S`).
    startup
        Time the whole ``with Pool(...) as p: p.map(...)`` (start and stop included, what a
        script pays) when true; the map on a started pool when false.
    fresh
        Run in a fresh interpreter (default) rather than in this process.
    timeout
        Bound on each map, in seconds (default :data:`mpguide.config.DEFAULT_TIMEOUT`).
    cache
        Read and write the result cache.
    """

    name: str
    func: Callable[[Any], Any]
    items: Items
    executors: Sequence[executors.Executor]
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    repeats: int | None = None
    time_budget: float | None = None
    startup: bool = True
    fresh: bool = True
    timeout: float | None = None
    cache: bool = True

    def __post_init__(self) -> None:
        specs = list(self.executors)
        if not any(isinstance(s, executors.Loop) for s in specs):
            specs.insert(0, executors.Loop())
        labels = [s.label for s in specs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"executors repeat a configuration: {labels}")
        object.__setattr__(self, "executors", tuple(specs))
        object.__setattr__(self, "params", dict(self.params))
        if self.repeats is None:
            object.__setattr__(self, "repeats", REPEATS)
        if self.time_budget is None:
            object.__setattr__(self, "time_budget", TIME_BUDGET_S)
        _check_importable(self.func, "func")
        if not isinstance(self.items, str) and callable(self.items):
            _check_importable(self.items, "items")

    @property
    def target(self) -> str:
        """``"module:function"`` of :attr:`func`."""
        return executors.target_of(self.func)

    def declaration(self) -> dict[str, Any]:
        """JSON-ready description of what is measured: the cache key and the child's request."""
        return {"name": self.name, "func": self.target, "func_hash": code_hash(self.func),
                "items": _items_key(self.items), "params": dict(self.params),
                "executors": [s.to_dict() for s in self.executors], "repeats": self.repeats,
                "time_budget": self.time_budget, "startup": self.startup, "timeout": self.timeout}

    def run(self, progress: Callable[[str], None] | None = None) -> Result:
        """Measure (or read the cache) and return the :class:`Result`.

        ``progress(label)`` is called after each timed run (only where the experiment runs in
        this process, ``fresh=False``).
        """
        declaration = self.declaration()
        if self.cache and reimported_main():
            cached = ResultCache().load(self.name, declaration)
            return Result.from_dict(cached) if cached else Result(self.name, ())
        if not self.cache:
            return Result.from_dict(self._measure(declaration, progress))
        record = ResultCache().get_or_measure(
            self.name, declaration, lambda **_: self._measure(declaration, progress))
        return Result.from_dict(record)

    def _measure(self, declaration: dict[str, Any],
                 progress: Callable[[str], None] | None) -> dict[str, Any]:
        items = self.items
        if not self.fresh:
            return measure_declared(declaration, _materialize(items, self.params), progress)
        runs = len(self.executors) * ((self.repeats or 0) + 1) + 2
        with tempfile.TemporaryDirectory(prefix="mpguide-items-") as folder:
            items_file = None
            if not isinstance(items, str) and not callable(items):
                items_file = os.path.join(folder, "items.pickle")
                with open(items_file, "wb") as handle:
                    pickle.dump(list(items), handle, protocol=pickle.HIGHEST_PROTOCOL)
            return runner.run_fresh(  # type: ignore[no-any-return]
                "mpguide.experiment:measure_in_child",
                {"declaration": declaration, "items_file": items_file},
                timeout=runs * (self.timeout or config.DEFAULT_TIMEOUT),
                env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})


def measure_in_child(declaration: dict[str, Any], items_file: str | None) -> dict[str, Any]:
    """Child side of :meth:`Experiment.run`: rebuild the items, then :func:`measure_declared`."""
    if items_file is not None:
        with open(items_file, "rb") as handle:
            items = pickle.load(handle)
    else:
        items = _materialize(declaration["items"]["factory"], declaration["params"])
    return measure_declared(declaration, items)


def measure_declared(declaration: Mapping[str, Any], items: Sequence[Any],
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Check, warm up and time every executor of ``declaration`` on ``items`` (interleaved
    runs when each includes the start-up; on one started executor each otherwise).

    Returns ``{"name": ..., "measurements": [...]}`` (:meth:`Measurement.to_dict` each).
    """
    func = executors.resolve_target(declaration["func"])
    specs = [executors.from_dict(d) for d in declaration["executors"]]
    timeout = declaration.get("timeout") or config.DEFAULT_TIMEOUT
    items = list(items)
    for spec in specs:
        spec.check(func, items)
    expected = [func(item) for item in items]
    samples: dict[str, list[float]] = {s.label: [] for s in specs}
    startup = bool(declaration["startup"])
    most = int(declaration["repeats"])
    budget = declaration.get("time_budget")
    repeats: dict[str, int] = {}

    def record(spec: executors.Executor, run: int, elapsed: float, out: list[Any]) -> None:
        if run == 0:
            timing.check_same(expected, out, what=f"the result of {spec.label}")
            repeats[spec.label] = repeats_within(budget, elapsed, most)
            return
        samples[spec.label].append(elapsed)
        if progress is not None:
            progress(spec.label)

    if startup:
        for run in range(most + 1):
            for spec in specs:
                if run <= repeats.get(spec.label, most):
                    record(spec, run, *_timed_with_startup(spec, func, items, timeout))
    else:
        for spec in specs:
            with spec.started(timeout) as started:
                started(func, items[: max(1, spec.parallelism)])  # every worker busy once
                record(spec, 0, *_timed(started, func, items))
                for run in range(1, repeats[spec.label] + 1):
                    record(spec, run, *_timed(started, func, items))
    meta = {**machine.collect_metadata(), "measured_in": _where()}
    measurements = [
        timing.Measurement(
            spec.label, tuple(samples[spec.label]),
            params={**spec.record(), "items": len(items), "startup": startup,
                    "experiment": declaration["name"]},
            metadata={**meta, "start_method": spec.record().get("start_method")
                      or config.start_method()}).to_dict()
        for spec in specs]
    return {"name": declaration["name"], "measurements": measurements}


def repeats_within(budget: float | None, warmup_s: float, most: int) -> int:
    """How many timed runs follow a warm-up of ``warmup_s`` seconds: as many as fit in
    ``budget`` seconds, between :data:`MIN_REPEATS` and ``most`` (``most`` without a budget).

    Examples
    --------
    >>> repeats_within(10.0, 0.01, 5), repeats_within(10.0, 2.5, 5), repeats_within(10.0, 15.0, 5)
    (5, 4, 2)
    >>> repeats_within(10.0, 15.0, 1), repeats_within(None, 15.0, 5)
    (1, 5)
    """
    if budget is None or warmup_s <= 0:
        return most
    return min(most, max(MIN_REPEATS, int(budget / warmup_s)))


def _timed_with_startup(spec: executors.Executor, func: Callable[[Any], Any], items: list[Any],
                        timeout: float) -> tuple[float, list[Any]]:
    """A whole ``with Pool(...) as p: p.map(...)``, start and stop included: seconds, results."""
    start = time.perf_counter()
    with spec.started(timeout) as run:
        out = run(func, items)
    return time.perf_counter() - start, out


def _timed(run: executors.Mapper, func: Callable[[Any], Any],
           items: list[Any]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    out = run(func, items)
    return time.perf_counter() - start, out


def _where() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return "fresh interpreter" if getattr(spec, "name", "") == "mpguide._child" \
        else "this process"


#: The executor columns of every result row (:meth:`Executor.record`).
_COLUMNS = ("label", "tool", "workers", "chunksize", "start_method")


@dataclasses.dataclass(frozen=True)
class Result:
    """The measurements of one experiment, one :class:`~mpguide.timing.Measurement` per
    executor (seconds per whole map), and the views of them.

    A worker that re-imports its parent's script gets an empty result on a cache miss; its
    views are then empty (a frame without rows, a blank figure), so the script's cells run.
    """

    name: str
    measurements: tuple[timing.Measurement, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Rebuild a result from its JSON form (the cache entry)."""
        return cls(str(data["name"]),
                   tuple(timing.Measurement.from_dict(m) for m in data["measurements"]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` reverses it."""
        return {"name": self.name, "measurements": [m.to_dict() for m in self.measurements]}

    def frame(self) -> pd.DataFrame:
        """Tidy rows: one per executor and timed run, ``seconds`` plus the executor's columns
        (label, tool, workers, chunksize, start method) and the machine metadata (a copy:
        the caller may change it)."""
        tidy: pd.DataFrame = self._tidy.copy()
        return tidy

    @functools.cached_property
    def _tidy(self) -> pd.DataFrame:
        # Built once per result: a page's tables and claims read the same result many times.
        import pandas as pd

        rows = [{"repeat": i, "seconds": seconds, **m.params, **_meta(m)}
                for m in self.measurements for i, seconds in enumerate(m.samples)]
        tidy: pd.DataFrame = pd.DataFrame(
            rows, columns=None if rows else ["repeat", "seconds", *_COLUMNS])
        return tidy

    def table(self) -> pd.DataFrame:
        """One row per executor, in declaration order: median and IQR seconds, speedup over
        the loop (above 1 is faster) and time relative to the fastest executor."""
        columns = list(_COLUMNS)
        df = self.frame()
        if df.empty:
            empty: pd.DataFrame = df.reindex(
                columns=[*columns, "median_s", "iqr_s", "speedup", "vs_best"])
            return empty
        summary = timing.summarize(df, ["label"], value="seconds")
        first = df.drop_duplicates("label").set_index("label")
        out: pd.DataFrame = first.loc[summary["label"], columns[1:]].reset_index()
        out["median_s"] = summary["median"].to_numpy()
        out["iqr_s"] = summary["iqr"].to_numpy()
        loop = out.loc[out["tool"] == "loop", "median_s"]
        out["speedup"] = float(loop.iloc[0]) / out["median_s"] if len(loop) else float("nan")
        out["vs_best"] = out["median_s"] / out["median_s"].min()
        out["chunksize"] = out["chunksize"].astype("object").where(out["chunksize"].notna(),
                                                                   None)
        return out

    def speedup(self) -> pd.Series:
        """Speedup over the loop per executor label."""
        speedups: pd.Series = self.table().set_index("label")["speedup"]
        return speedups

    def best(self) -> str:
        """Label of the fastest executor (smallest median)."""
        # Labels are unique (one row each), so the index label of the minimum is the answer.
        return str(self.table().set_index("label")["median_s"].idxmin())

    def plot(self, title: str | None = None) -> Figure:
        """Horizontal bars of the median seconds (IQR as error bars), the loop dashed, with
        the machine caption."""
        import matplotlib.pyplot as plt

        from mpguide.plotting import add_caption

        table = self.table()
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.6), layout="constrained")
        if table.empty:  # a worker re-importing its parent's script: nothing to draw
            return fig
        positions = range(len(table))[::-1]
        ax.barh(list(positions), table["median_s"], xerr=table["iqr_s"], color="tab:blue",
                alpha=0.8)
        ax.set_yticks(list(positions), table["label"], fontsize=8)
        loop = table.loc[table["tool"] == "loop", "median_s"]
        if len(loop):
            ax.axvline(float(loop.iloc[0]), color="0.3", ls="--", lw=1, label="loop")
            ax.legend(fontsize=8)
        ax.set_xlabel("seconds per map (median, IQR)")
        ax.set_title(title or self.name)
        meta = self.frame().iloc[0].to_dict()
        return add_caption(fig, meta)


def measure(func: Callable[[Any], Any], items: Items,
            executor_specs: Sequence[executors.Executor], **options: Any) -> Result:
    """``Experiment(name, func, items, executor_specs, **options).run()``, named after
    ``func`` unless ``name=`` is given."""
    name = options.pop("name", None) or f"measure-{func.__name__}"
    return Experiment(name, func, items, executor_specs, **options).run()


def _meta(m: timing.Measurement) -> dict[str, Any]:
    """The machine metadata of ``m`` without the fields its parameters set (they win)."""
    return {k: v for k, v in m.metadata.items() if k not in m.params or k == "start_method"}


def _check_importable(func: Any, what: str) -> None:
    """Refuse a lambda, closure or notebook function: a fresh interpreter cannot import it."""
    from mpguide.pools import UnpicklableError, check_callable

    module = getattr(func, "__module__", None)
    if module == "__main__":
        raise UnpicklableError(
            f"{what}={func.__qualname__} is defined in the script or notebook that runs the "
            f"experiment; an experiment runs in a fresh interpreter, which can only import "
            f"it from a module: put it in a file such as mywork.py beside the script and "
            f"write `from mywork import {func.__name__}`.", failure="main-attribute")
    check_callable(func, "spawn")


def code_hash(func: Callable[..., Any]) -> str:
    """Hash of the function's source, so editing a reader's function re-measures it.

    Examples
    --------
    >>> from mpguide import workloads
    >>> len(code_hash(workloads.square)), code_hash(workloads.square) == code_hash(workloads.noop)
    (16, False)
    """
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        source = executors.target_of(func)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _items_key(items: Items) -> dict[str, Any]:
    if isinstance(items, str):
        return {"factory": items}
    if callable(items):
        return {"factory": executors.target_of(items), "hash": code_hash(items)}
    data = pickle.dumps(list(items), protocol=pickle.HIGHEST_PROTOCOL)
    return {"count": len(items), "sha256": hashlib.sha256(data).hexdigest()[:16]}


def _materialize(items: Items | str, params: Mapping[str, Any]) -> list[Any]:
    if isinstance(items, str):
        return list(executors.resolve_target(items)(**params))
    if callable(items):
        return list(items(**params))
    return list(items)


__all__ = ["Experiment", "Result", "code_hash", "measure", "measure_declared", "measure_in_child",
           "reimported_main", "run_cached"]
