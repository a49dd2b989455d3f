"""Chapter 4, the advisor: predicted against measured wall times on workloads of every shape.

The advisor itself is part of the kit (:mod:`mpguide.advisor`); this chapter validates it.
Each workload is a function of :mod:`mpguide.workloads` and an item factory defined here (so
the CLI can name it: ``python -m mpguide advise mpguide.workloads:spin --items
mpguide.chapters.advisor:compute_items``).
:func:`~mpguide.chapters.advisor_measure.measure_workload` runs in a fresh
interpreter (:func:`mpguide.experiment.run_cached`): it asks the advisor for its prediction
grid and recommendation, then measures the real
``with ctx.Pool(w) as p: p.map(func, items, chunksize=c)`` over a sweep of chunksizes
(:class:`mpguide.executors.Pool`; smaller pools at their best predicted chunksize,
:func:`~mpguide.chapters.advisor_measure.sweep_predictions`), Pool's default chunksize, joblib's
``batch_size="auto"``, mpire's default chunking, Dask batched, the plain loop, and the
recommended configuration (:mod:`mpguide.chapters.advisor_measure`).
:func:`validation_params` declares it for any importable function and item factory, so the
same validation runs on a reader's function (:func:`validate`); :func:`load_validation`
returns the tidy records of every workload, :func:`summary` the headline figures, and the
claims below check them. :func:`load_advice` is the advice itself, computed in a fresh
interpreter and cached.

The model is not fitted to any of these workloads: its constants are the machine card's probes
(measured with ``noop`` tasks, pickle and pipe benchmarks) and the profile of each function.

Examples
--------
>>> from mpguide.chapters import advisor
>>> sorted(advisor.WORKLOADS)[:3]
['argument', 'blas', 'compute']
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, peer_probes, timing, workloads
from mpguide.experiment import code_hash, run_cached

if TYPE_CHECKING:
    import pandas as pd

    from mpguide.advisor import Advice

CHAPTER = claims.Chapter(
    name="advisor", page="guide/04-advisor",
    title="Will multiprocessing speed up my function?",
    summary="A cost model fitted to this machine predicts a Pool's wall time for your "
            "function, and the advisor recommends what to use.")
#: Cache experiment names of the validation records and of the advice.
EXPERIMENT, ADVICE = "advisor-validation", "advisor-advice"
#: What measures one workload of the validation (run in a fresh interpreter).
MEASURE = "mpguide.chapters.advisor_measure:measure_workload"
#: Peers measured beside Pool: joblib's auto batching from cold and from warm workers, mpire
#: from cold workers every round, as Pool is; Dask on one cluster per workload (it takes
#: seconds to start).
VALIDATED_PEERS = ("joblib", "mpire", "dask")
#: Targets of issue 6: median absolute error, and the recommended configuration's time
#: against the best of the sweep.
TARGET_ERROR = 0.15
TARGET_NEAR_BEST = 1.1
#: Timings closer than this ratio count as equal: the noise between repeats seen on the
#: shared 2-core VM the benchmark was written on.
NOISE = 1.05


def tiny_items() -> list[int]:
    """Overhead-bound: ``square`` of small ints, well under a microsecond each."""
    return list(range(config.scaled(10_000, 5_000)))


def compute_items() -> list[int]:
    """Compute-bound: :func:`workloads.spin` iterations lasting about 2 ms each."""
    return [workloads.iterations_for(2e-3)] * config.scaled(100, 60)


def argument_items() -> list[bytes]:
    """Argument-bound: distinct 1 MiB ``bytes`` objects for :func:`workloads.payload_length`."""
    return [bytes(1 << 20) for _ in range(config.scaled(60, 40))]


def result_items() -> list[tuple[str, int]]:
    """Result-bound: :func:`workloads.payload_task` returning a 512 KiB float64 array each."""
    return [("ndarray", 1 << 19)] * config.scaled(80, 60)


def uneven_items() -> list[int]:
    """Uneven: :func:`workloads.spin` whose cost grows linearly from 0 to 8 ms along the list
    (sorted work, the worst case for large chunks)."""
    n = config.scaled(80, 60)
    return [workloads.iterations_for(8e-3 * i / (n - 1)) for i in range(n)]


def numpy_items() -> list[int]:
    """GIL-releasing: :func:`workloads.numpy_sum_task` over 300 000 float64 values each."""
    return [300_000] * config.scaled(60, 40)


def blas_items() -> list[int]:
    """BLAS: :func:`workloads.matmul_task` on 200 x 200 matrices."""
    return [200] * config.scaled(50, 30)


@dataclasses.dataclass(frozen=True)
class Workload:
    """A validation workload: the function, its item factory, and what it stresses."""

    name: str
    func: Callable[[Any], Any]
    items: Callable[[], list[Any]]
    shape: str


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("tiny", workloads.square, tiny_items, "overhead-bound"),
    Workload("compute", workloads.spin, compute_items, "compute-bound"),
    Workload("argument", workloads.payload_length, argument_items, "argument-bound"),
    Workload("result", workloads.payload_task, result_items, "result-bound"),
    Workload("uneven", workloads.spin, uneven_items, "uneven"),
    Workload("numpy", workloads.numpy_sum_task, numpy_items, "GIL-releasing"),
    Workload("blas", workloads.matmul_task, blas_items, "BLAS"),
)}


def _declared(func: Callable[[Any], Any] | str, items: Callable[..., Any] | str,
              params: dict[str, Any] | None) -> dict[str, Any]:
    """``func`` and ``items`` by name, with hashes of their source (editing them re-measures)."""
    resolved = [executors.resolve_target(x) if isinstance(x, str) else x for x in (func, items)]
    return {"func": executors.target_of(resolved[0]), "func_hash": code_hash(resolved[0]),
            "items": executors.target_of(resolved[1]), "items_hash": code_hash(resolved[1]),
            "params": dict(params or {})}


def workload_of(func: Callable[[Any], Any] | str,
                items: Callable[..., Any] | str) -> Workload | None:
    """The validation workload with this function and item factory, if any.

    Examples
    --------
    >>> workload_of(workloads.spin, compute_items).name
    'compute'
    >>> workload_of("mpguide.workloads:spin", "mpguide.chapters.advisor:tiny_items") is None
    True
    """
    from mpguide.chapters.real_functions import REAL_WORKLOADS

    names = [x if isinstance(x, str) else executors.target_of(x) for x in (func, items)]
    for workload in (*WORKLOADS.values(), *REAL_WORKLOADS.values()):
        if [executors.target_of(workload.func), executors.target_of(workload.items)] == names:
            return workload
    return None


def validation_params(func: Callable[[Any], Any] | str, items: Callable[..., Any] | str,
                      params: dict[str, Any] | None = None, *, start_method: str | None = None,
                      repeats: int | None = None,
                      peers: Sequence[str] = VALIDATED_PEERS) -> dict[str, Any]:
    """What :func:`validate` measures for ``func`` over ``items(**params)``
    (``run_cached`` params of :func:`~mpguide.chapters.advisor_measure.measure_workload`):
    pools up to the usable cores, and those of ``peers`` (mpire, Dask) that are installed.

    A validation workload (:data:`WORKLOADS`) keeps its name and shape, so a gallery script
    whose ``FUNC``/``ITEMS`` are one reads the record the guide page measured.

    Examples
    --------
    >>> p = validation_params(workloads.spin, compute_items, start_method="spawn")
    >>> p["name"], p["shape"], p["func"]
    ('compute', 'compute-bound', 'mpguide.workloads:spin')
    """
    workload = workload_of(func, items)
    declared = _declared(func, items, params)
    return {**declared,
            "name": workload.name if workload else declared["func"].rpartition(":")[2],
            "shape": workload.shape if workload else "your function",
            "start_method": config.validate_start_method(start_method or config.start_method()),
            "repeats": 3 if repeats is None else repeats,
            "workers": machine.usable_cpus(),
            "peers": [tool for tool in peer_probes.installed() if tool in peers]}


def plan_validation(names: Sequence[str] | None = None, start_method: str | None = None,
                    repeats: int | None = None) -> list[dict[str, Any]]:
    """:func:`validation_params` of each validation workload (default: all of
    :data:`WORKLOADS`; a name of :data:`~mpguide.chapters.real_functions.REAL_WORKLOADS` is
    validated without the peers), not run."""
    from mpguide.chapters.real_functions import REAL_WORKLOADS

    def declared(name: str) -> dict[str, Any]:
        workload, real_ = WORKLOADS.get(name), REAL_WORKLOADS.get(name)
        chosen = workload or real_
        if chosen is None:
            raise KeyError(f"no validation workload {name!r}; choose one of "
                           f"{', '.join([*WORKLOADS, *REAL_WORKLOADS])}")
        return validation_params(chosen.func, chosen.items, start_method=start_method,
                                 repeats=repeats, peers=VALIDATED_PEERS if workload else ())
    return [declared(n) for n in names or list(WORKLOADS)]


def advice_params(func: Callable[[Any], Any] | str, items: Callable[..., Any] | str,
                  params: dict[str, Any] | None = None,
                  start_methods: str = "all") -> dict[str, Any]:
    """What :func:`load_advice` asks (``run_cached`` params of :func:`advice_record`):
    ``start_methods="all"`` predicts every start method of the platform, otherwise one.

    Examples
    --------
    >>> sorted(advice_params(workloads.spin, compute_items))
    ['func', 'func_hash', 'items', 'items_hash', 'params', 'start_method', 'workers']
    """
    return {**_declared(func, items, params), "start_method": start_methods,
            "workers": machine.usable_cpus()}


def advice_record(*, func: str, items: str, params: dict[str, Any], start_method: str,
                  workers: int, **hashes: str) -> dict[str, Any]:
    """:meth:`Advice.to_dict` of the advisor on ``func`` over ``items(**params)`` (run in a
    fresh interpreter by :func:`load_advice`; ``hashes`` only key the cache)."""
    from mpguide.advisor import advise

    del hashes
    methods = None if start_method == "all" else [start_method]
    return advise(executors.resolve_target(func),
                  executors.resolve_target(items)(**params), start_methods=methods,
                  max_workers=workers).to_dict()


def load_advice(func: Callable[[Any], Any] | str, items: Callable[..., Any] | str | None = None,
                params: dict[str, Any] | None = None, start_methods: str = "all") -> Advice:
    """The advisor's :class:`~mpguide.advisor.Advice` on ``func`` over ``items(**params)``
    (or on the validation workload named ``func``), computed in a fresh interpreter (so a
    script or notebook never starts processes itself) and cached."""
    from mpguide.advisor import Advice

    if items is None:
        workload = WORKLOADS[str(func)]
        func, items = workload.func, workload.items
    return Advice.from_dict(run_cached(ADVICE, f"{__name__}:advice_record",
                                       advice_params(func, items, params, start_methods),
                                       timeout=300))


def validation_frame(result: dict[str, Any]) -> pd.DataFrame:
    """Tidy rows of one :func:`~mpguide.chapters.advisor_measure.measure_workload` result:
    one per measured configuration.

    Columns: ``workload``, ``shape``, ``kind`` (``serial``, ``sweep``, ``pool-default``,
    ``joblib-auto`` (cold workers), ``joblib-auto-warm``, ``mpire-default`` (cold workers),
    ``dask-batched`` (a warm cluster), ``recommended``), ``tool``, ``workers``,
    ``chunksize``, ``measured_s`` (median), ``predicted_s``, ``error`` (relative, signed),
    ``cold_s`` and ``predicted_cold_s`` (Dask's first call, cluster start and stop included),
    ``advise_s``, ``recommended_tool`` and the machine metadata (``meta_*``).
    """
    import pandas as pd

    df = pd.DataFrame([{**r, "advise_s": result["advise_s"],
                        "recommended_tool": result["advice"]["recommendation"]["tool"],
                        **{f"meta_{k}": v for k, v in result["metadata"].items()}}
                       for r in result["records"]])
    df["error"] = (df["predicted_s"] - df["measured_s"]) / df["measured_s"]
    return df


def validate(func: Callable[[Any], Any] | str, items: Callable[..., Any] | str,
             params: dict[str, Any] | None = None, *, start_method: str | None = None,
             repeats: int | None = None) -> pd.DataFrame:
    """Predicted against measured for ``func`` over ``items(**params)``: the validation of
    :func:`~mpguide.chapters.advisor_measure.measure_workload`, in a fresh interpreter,
    cached (:func:`validation_frame`)."""
    return _validated(validation_params(func, items, params, start_method=start_method,
                                        repeats=repeats))


def _validated(declared: dict[str, Any]) -> pd.DataFrame:
    return validation_frame(run_cached(EXPERIMENT, MEASURE, declared, timeout=600))


def load_validation(names: Sequence[str] | None = None, start_method: str | None = None,
                    repeats: int | None = None) -> pd.DataFrame:
    """:func:`validate` on every validation workload (or those named), concatenated."""
    import pandas as pd

    return pd.concat([_validated(declared)
                      for declared in plan_validation(names, start_method, repeats)],
                     ignore_index=True)


#: What a reader would try without an advisor: Pool's default chunksize, a thread pool of
#: usable-cores threads and joblib's auto batching from cold workers (validation kinds).
SIMPLE_CHOICES = ("pool-default", "threads", "joblib-auto")


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per workload: median ``|error|`` over the sweep, and the recommended
    configuration's measured time against the best of everything measured (``vs_best``: the
    loop, the sweep, the simple choices, mpire's default chunking and Dask's first call,
    ``cold_s``, start and stop included as the recommendation's are), the best of the simple
    choices (``vs_simple``: :data:`SIMPLE_CHOICES`) and each one alone; NaN where a peer was
    not measured. Ratios below 1 mean the recommendation was faster. Where a runoff re-timed
    the recommendation and the fastest configuration
    (:func:`~mpguide.chapters.advisor_measure.runoff_rows`), ``vs_best`` is theirs: the
    fastest of several medians owes some of its lead to luck. ``spread`` is the noise
    the error stands beside: the median over the sweep of each configuration's
    :func:`relative_spread` (NaN without repeated samples)."""
    import pandas as pd

    rows = []
    for name, rows_of in df.groupby("workload", sort=False):
        def measured(kind: str, rows_of: pd.DataFrame = rows_of,
                     column: str = "measured_s") -> float:
            if column not in rows_of:
                return math.nan
            return float(rows_of.loc[rows_of["kind"] == kind, column].min())

        sweep = rows_of[rows_of["kind"] == "sweep"]
        recommended = measured("recommended")
        simple = [measured(kind) for kind in SIMPLE_CHOICES]
        dask = measured("dask-batched", column="cold_s")
        best = _fastest(float(sweep["measured_s"].min()), measured("serial"), *simple,
                        measured("mpire-default"), dask)
        runoff = measured("runoff-best")
        vs_best = (recommended / best if math.isnan(runoff)
                   else measured("runoff-recommended") / _fastest(runoff, dask))
        rows.append({
            "workload": name, "shape": rows_of["shape"].iloc[0],
            "recommended": rows_of["recommended_tool"].iloc[0],
            "median_abs_error": float(sweep["error"].abs().median()),
            "spread": _median_spread(sweep),
            "configs": len(sweep),
            "vs_best": vs_best,
            "vs_simple": recommended / _fastest(*simple),
            "vs_pool_default": recommended / measured("pool-default"),
            "vs_threads": recommended / measured("threads"),
            "vs_joblib_auto": recommended / measured("joblib-auto"),
            "vs_joblib_auto_warm": recommended / measured("joblib-auto-warm"),
            "vs_mpire_default": recommended / measured("mpire-default"),
            "vs_dask_batched": recommended / dask,
            "serial_s": measured("serial"), "recommended_s": recommended,
            "advise_s": float(rows_of["advise_s"].iloc[0]),
        })
    return pd.DataFrame(rows)


def relative_spread(samples: Sequence[float] | float) -> float:
    """Spread of one configuration's repeated timings: their interquartile range over their
    median (:attr:`mpguide.timing.Stats.relative_spread`); NaN for fewer than two.

    >>> round(relative_spread([1.0, 1.1, 1.2]), 3), math.isnan(relative_spread([1.0]))
    (0.091, True)
    """
    if not isinstance(samples, Sequence) or len(samples) < 2:
        return math.nan
    return timing.Stats.of(samples).relative_spread


def _median_spread(rows: pd.DataFrame) -> float:
    """Median :func:`relative_spread` over ``rows`` (NaN where none has repeated samples)."""
    if "samples" not in rows:
        return math.nan
    spreads = [s for s in map(relative_spread, rows["samples"]) if not math.isnan(s)]
    return float(statistics.median(spreads)) if spreads else math.nan


def overall_spread(df: pd.DataFrame) -> float:
    """Median :func:`relative_spread` over every swept configuration: how far apart the
    repeated timings of one configuration lay, the noise an error is to be read against."""
    return _median_spread(df[df["kind"] == "sweep"])


def _fastest(*seconds: float) -> float:
    """The least of ``seconds`` that were measured (NaN: not measured; NaN if none was).

    >>> _fastest(0.5, math.nan, 0.3), math.isnan(_fastest(math.nan))
    (0.3, True)
    """
    measured = [s for s in seconds if not math.isnan(s)]
    return min(measured) if measured else math.nan


#: Kinds of the peers' rows in the validation records.
PEER_KINDS = ("joblib-auto", "joblib-auto-warm", "mpire-default", "dask-batched")


def peer_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The peers' rows of the validation: predicted against measured, per workload (Dask's
    ``measured_s`` is a map on a warm cluster, ``cold_s`` its first call with start and
    stop)."""
    rows = df[df["kind"].isin(PEER_KINDS)]
    columns = [c for c in ("workload", "kind", "chunksize", "predicted_s", "measured_s",
                           "error", "predicted_cold_s", "cold_s") if c in rows]
    return rows[columns].reset_index(drop=True)


def overall_error(df: pd.DataFrame) -> float:
    """Median absolute relative error of the predictions over every swept configuration."""
    return float(df.loc[df["kind"] == "sweep", "error"].abs().median())


def plot_validation(df: pd.DataFrame, ax=None):
    """Predicted against measured wall time, one colour per workload, the diagonal and the
    ±15% band; returns the figure (with the machine caption)."""
    import matplotlib.pyplot as plt

    from mpguide.plotting import add_caption

    sweep = df[df["kind"] == "sweep"]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
    for name, rows in sweep.groupby("workload", sort=False):
        ax.scatter(rows["measured_s"], rows["predicted_s"], s=18, label=name)
    low = float(min(sweep["measured_s"].min(), sweep["predicted_s"].min())) * 0.8
    high = float(max(sweep["measured_s"].max(), sweep["predicted_s"].max())) * 1.25
    ax.plot([low, high], [low, high], color="black", lw=1)
    ax.fill_between([low, high], [low * (1 - TARGET_ERROR), high * (1 - TARGET_ERROR)],
                    [low * (1 + TARGET_ERROR), high * (1 + TARGET_ERROR)], color="0.85",
                    label="±15%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured wall time (s), Pool start and stop included")
    ax.set_ylabel("predicted wall time (s)")
    ax.set_title(f"Advisor predictions: median |error| {overall_error(df) * 100:.0f}%",
                 fontsize=10)
    ax.legend(fontsize=8)
    return add_caption(ax.figure, validation_metadata(df))


def validation_metadata(df: pd.DataFrame) -> dict[str, Any]:
    """The machine record of :func:`validation_frame` rows (their ``meta_*`` columns), with
    the start method they ran under: what a figure or a table of them is captioned with."""
    meta = {str(k).removeprefix("meta_"): v for k, v in df.iloc[0].items()
            if str(k).startswith("meta_")}
    return {**meta, "start_method": str(df["start_method"].iloc[0])}


# --- claims ------------------------------------------------------------------------------


@claims.claim("advisor-median-error", chapter=CHAPTER,
              statement="The cost model's median absolute error on the validation workloads "
                        "was {error_pct:.0f}% over {configs} measured configurations, against "
                        "a target of under {target_pct:.0f}%.")
def _median_error() -> claims.Evidence:
    df = load_validation()
    error = overall_error(df)
    worst = summary(df).sort_values("median_abs_error").iloc[-1]
    return claims.Evidence(
        holds=error <= TARGET_ERROR,
        values={"error_pct": error * 100, "configs": int((df["kind"] == "sweep").sum()),
                "target_pct": TARGET_ERROR * 100},
        evidence=f"Median |predicted - measured| / measured over every swept Pool "
                 f"configuration: {error * 100:.1f}%; the worst workload, {worst['workload']}, "
                 f"has {worst['median_abs_error'] * 100:.0f}%. The repeated timings of one "
                 f"configuration spread {overall_spread(df) * 100:.1f}% (median IQR / median): "
                 f"an error below that is noise, not the model's.")


@claims.claim("advisor-near-best", chapter=CHAPTER,
              statement="Following the advisor's recommendation runs within {target:.2g}x of "
                        "the best configuration measured (an exhaustive Pool sweep, the loop, "
                        "a thread pool and the peers installed) on {ok} of {n} workloads.")
def _near_best() -> claims.Evidence:
    table = summary(load_validation())
    ok = table["vs_best"] <= TARGET_NEAR_BEST
    worst = table.sort_values("vs_best").iloc[-1]
    return claims.Evidence(
        holds=bool(ok.all()),
        values={"ok": int(ok.sum()), "n": len(table), "target": TARGET_NEAR_BEST},
        evidence=f"Worst case: {worst['workload']}, recommended configuration "
                 f"{worst['vs_best']:.2f}x the best measured one, where the repeated timings "
                 f"of one configuration spread {worst['spread'] * 100:.0f}% (median IQR / "
                 f"median).")


@claims.claim("advisor-beats-default", chapter=CHAPTER,
              statement="Never slower than Pool's default chunksize, within {noise_pct:.0f}% "
                        "noise, means at most {limit:.2f} times its measured time; the "
                        "recommendation's worst was {worst:.2f}.")
def _beats_default() -> claims.Evidence:
    table = summary(load_validation())
    worst = table.sort_values("vs_pool_default").iloc[-1]
    return claims.Evidence(
        holds=bool((table["vs_pool_default"] <= NOISE).all()),
        values={"worst": float(worst["vs_pool_default"]), "noise_pct": (NOISE - 1) * 100,
                "limit": NOISE},
        evidence=f"Recommended / Pool default (workers = cores) measured on each workload; "
                 f"worst {worst['workload']} at {worst['vs_pool_default']:.2f}.")


@claims.claim("advisor-beats-simple-choices", chapter=CHAPTER,
              statement="Never slower than the best of Pool's default chunksize, a thread pool "
                        "and joblib's auto batching, within {noise_pct:.0f}% noise, means at "
                        "most {limit:.2f} times its measured time; the recommendation's worst "
                        "was {worst:.2f}.")
def _beats_simple_choices() -> claims.Evidence:
    table = summary(load_validation())
    worst = table.sort_values("vs_simple").iloc[-1]
    return claims.Evidence(
        holds=bool((table["vs_simple"] <= NOISE).all()),
        values={"worst": float(worst["vs_simple"]), "noise_pct": (NOISE - 1) * 100,
                "limit": NOISE},
        evidence=f"Recommended / the fastest of Pool(cores) at its default chunksize, "
                 f"ThreadPool(cores) and joblib Parallel(n_jobs=cores, batch_size='auto') from "
                 f"cold workers, measured in the same rounds; worst {worst['workload']} at "
                 f"{worst['vs_simple']:.2f}.")


@claims.claim("advisor-beats-joblib", chapter=CHAPTER,
              statement="Never slower than joblib's batch_size=\"auto\" from cold workers, "
                        "within {noise_pct:.0f}% noise, means at most {limit:.2f} times its "
                        "measured time; the recommendation's worst was {worst:.2f}.")
def _beats_joblib() -> claims.Evidence:
    table = summary(load_validation())
    worst = table.sort_values("vs_joblib_auto").iloc[-1]
    return claims.Evidence(
        holds=bool((table["vs_joblib_auto"] <= NOISE).all()),
        values={"worst": float(worst["vs_joblib_auto"]), "noise_pct": (NOISE - 1) * 100,
                "limit": NOISE},
        evidence=f"Recommended / joblib Parallel(n_jobs=cores, batch_size='auto') from cold "
                 f"workers; worst {worst['workload']} at {worst['vs_joblib_auto']:.2f}.")


@claims.claim("advisor-tiny-serial", chapter=CHAPTER,
              statement="For sub-microsecond tasks the advisor said {choice}, and the plain "
                        "loop ran {ratio:.0f|faster|slower} than the best measured Pool.")
def _tiny_serial() -> claims.Evidence:
    df = load_validation(["tiny"])
    serial = float(df.loc[df["kind"] == "serial", "measured_s"].iloc[0])
    best_pool = float(df.loc[df["kind"] == "sweep", "measured_s"].min())
    tool = df["recommended_tool"].iloc[0]
    return claims.Evidence(
        holds=tool == "serial" and serial < best_pool,
        values={"ratio": best_pool / serial,
                "choice": "not to parallelize" if tool == "serial" else f"to use {tool}"},
        evidence=f"Recommended tool: {tool}; loop {serial * 1e3:.1f} ms, best Pool "
                 f"{best_pool * 1e3:.1f} ms.")


@claims.claim("advisor-profile-budget", chapter=CHAPTER,
              statement="The slowest advise() call of the validation took {worst_s:.1f} s, "
                        "against the profiler's own time budget of {budget_s:g} s.")
def _profile_budget() -> claims.Evidence:
    from mpguide.profiler import DEFAULT_TIME_BUDGET

    table = summary(load_validation())
    worst = float(table["advise_s"].max())
    each = ", ".join(f"{w} {s:.1f} s" for w, s in zip(table["workload"], table["advise_s"],
                                                       strict=True))
    return claims.Evidence(
        holds=worst <= DEFAULT_TIME_BUDGET,
        values={"worst_s": worst, "budget_s": DEFAULT_TIME_BUDGET},
        evidence=f"Holds if every call fits in the budget that profiling may spend "
                 f"(profiler.DEFAULT_TIME_BUDGET): the advisor promises a few seconds at most, "
                 f"and the whole call is what its user waits for. advise() wall time per "
                 f"workload, the profiling process's start, the free-cores probe and the "
                 f"prediction grid included: {each}.")
