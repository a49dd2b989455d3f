"""Every claim of chapters 4, 7 and 8 (the advisor, other tools side by side, scale-out) fed
small records of the real shape where its statement is false, and where it holds, the
statement reading true to its numbers either way. Nothing is measured: the ``load_*``
functions a claim reads are replaced by records built here. :data:`FAILING_CASES` declares
the cases to the coverage test of ``test_claims_can_fail.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from mpguide import claims, executors, machine, peers, timing
from mpguide.chapters import advisor, advisor_real, scale_out, side_by_side

#: What a case patches: (module, name of its ``load_*`` function) -> what replaces it.
Patches = dict[tuple[ModuleType, str], Callable[..., Any]]
Builder = Callable[[bool], tuple[Patches, str]]

#: claim id -> builder of the records (``holds``: where the statement holds, or fails) and a
#: piece of the filled statement that shows it reads true to its numbers.
CASES: dict[str, Builder] = {}


def case(claim_id: str) -> Callable[[Builder], Builder]:
    """Register the decorated builder as the cases of ``claim_id``."""
    def register(builder: Builder) -> Builder:
        CASES[claim_id] = builder
        return builder
    return register


def serving(value: Any) -> Callable[..., Any]:
    """A stand-in ``load_*`` function that returns ``value`` whatever it is asked."""
    return lambda *_, **__: value


@functools.cache
def _meta() -> dict[str, Any]:
    return machine.collect_metadata()


def _result(name: str, seconds: dict[str, tuple[executors.Executor, float]],
            items: int) -> dict[str, Any]:
    """A :class:`~mpguide.experiment.Result` dict: each way's executor timed three times
    around its seconds."""
    return {"name": name, "measurements": [timing.Measurement(
        spec.label, (s * 0.98, s, s * 1.02),
        params={**spec.record(), "items": items, "way": way},
        metadata={**_meta(), "start_method": spec.record()["start_method"] or "fork"}
    ).to_dict() for way, (spec, s) in seconds.items()]}


# --- chapter 7: side_by_side -------------------------------------------------------------------

ITEMS, WORKERS = 100, 2
MS = side_by_side.MS_SHAPE
#: The shapes the claims read.
SHAPES = ("no-op", "tiny", MS, "BLAS", "fat arguments")


def _side(changed: dict[str, dict[str, float]]) -> Patches:
    """Every way of :data:`SHAPES` taking 0.5 s against the loop's 1 s, except the
    ``changed`` seconds (shape -> way -> seconds); served by ``load_side_by_side``."""
    specs = {"loop": executors.Loop(), **side_by_side.lineup(ITEMS, WORKERS)}
    shapes = [{"name": name, "memory": [], "result": _result(name, {
        way: (spec, changed.get(name, {}).get(way, 1.0 if way == "loop" else 0.5))
        for way, spec in specs.items()}, ITEMS)} for name in SHAPES]
    side = side_by_side.SideBySide.from_dict({"shapes": shapes})
    return {(side_by_side, "load_side_by_side"): serving(side)}


@case("dask-per-task-overhead")
def _dask_per_task(holds: bool) -> tuple[Patches, str]:
    noop = 0.05 if holds else 0.3  # over 100 items
    return _side({"no-op": {"Dask": noop}}), "cost 500 µs" if holds else "cost 3000 µs"


@case("ray-10ms-rule-dask")
def _ray_dask(holds: bool) -> tuple[Patches, str]:
    dask = 2.0 if holds else 0.4
    return _side({MS: {"Dask": dask}}), "ran 2.00x slower" if holds else "ran 2.50x faster"


@case("ray-10ms-rule-pools")
def _ray_pools(holds: bool) -> tuple[Patches, str]:
    executor = 0.5 if holds else 1.25
    return (_side({MS: {"ProcessPoolExecutor": executor}}),
            ("2.00x faster" if holds else "1.25x slower") + " through ProcessPoolExecutor")


@case("ray-batching-example")
def _ray_batching(holds: bool) -> tuple[Patches, str]:
    chunks = 0.1 if holds else 0.5
    return (_side({"tiny": {"Dask": 2.0, "Dask, Pool's chunks": chunks}}),
            ("20.0x" if holds else "4.0x") + " faster than that in chunks of 13")


@case("joblib-auto-batching-tiny")
def _joblib_auto(holds: bool) -> tuple[Patches, str]:
    auto = 0.4 if holds else 1.0
    return (_side({"tiny": {"joblib": auto}}),
            "ran the tiny tasks " + ("1.25x faster" if holds else "2.00x slower"))


@case("joblib-caps-blas")
def _joblib_blas(holds: bool) -> tuple[Patches, str]:
    joblib = 0.25 if holds else 1.0
    return _side({"BLAS": {"joblib": joblib}}), "ran 2.00x " + ("faster" if holds else "slower")


@case("mpire-chart-plain-map")
def _mpire(holds: bool) -> tuple[Patches, str]:
    fat = 0.2 if holds else 0.625
    return (_side({MS: {"mpire": 0.2}, "fat arguments": {"mpire": fat}}),
            ("2.50x faster" if holds else "1.25x slower") + " on a fat argument")


# --- chapter 8: scale_out ----------------------------------------------------------------------

ADDRESS = "tcp://127.0.0.1:40123"


def _cluster(*, dask_task_s: float = 5e-4, batched_gain: float = 5.0,
             dask_speedups: tuple[float, ...] = (0.1, 0.6, 1.7),
             pool_speedups: tuple[float, ...] = (1.0, 1.7, 1.9), every_s: float = 0.4,
             scatter_s: float = 0.1) -> dict[str, Any]:
    """A record shaped like ``scale_out_measure.measure_scale_out``'s, on 2 workers: a Pool
    task costs 50 µs, a Dask task ``dask_task_s`` (``batched_gain`` times less per item in
    batches of 10); the pay-off sweep's speedups at 1, 10 and 30 ms; an 8 MiB argument sent
    with every task in ``every_s``, scattered first in ``scatter_s``."""
    loop, pool = executors.Loop(), executors.Pool(WORKERS, chunksize=1)
    dask = peers.Dask(WORKERS, address=ADDRESS)
    tasks = 100
    payoff = [{"task_ms": ms, "result": _result("scale-out-payoff", {
        "loop": (loop, 8 * ms / 1e3), "pool": (pool, 8 * ms / 1e3 / p),
        "dask": (dask, 8 * ms / 1e3 / d)}, 8)}
        for ms, d, p in zip((1.0, 10.0, 30.0), dask_speedups, pool_speedups, strict=True)]
    scatter = [{"kib": kib, "tasks": 8, "how": how, "samples": [s * factor] * 3}
               for kib, factor in ((64, 0.1), (8192, 1.0))
               for how, s in zip(scale_out.SCATTER_WAYS, (every_s, scatter_s, scatter_s / 2),
                                 strict=True)]
    return {
        "cluster": {"address": ADDRESS, "workers": WORKERS, "startup_s": 4.0},
        "latency": _result("scale-out-latency", {"pool": (pool, 2e-4), "dask": (dask, 5e-3)},
                           1),
        "throughput": _result("scale-out-throughput", {
            "loop": (loop, 1e-5), "pool": (pool, tasks * 5e-5),
            "dask": (dask, tasks * dask_task_s),
            "batched": (peers.Dask(WORKERS, 10, address=ADDRESS),
                        tasks * dask_task_s / batched_gain)}, tasks),
        "payoff": payoff, "scatter": scatter, "metadata": _meta(),
    }


def _scale_out(**changes: Any) -> Patches:
    return {(scale_out, "load_scale_out"): serving(_cluster(**changes))}


@case("dask-task-overhead-documented")
def _task_overhead(holds: bool) -> tuple[Patches, str]:
    # Fails below the documented range too: the range is what is tested, not a ceiling.
    task_s = 5e-4 if holds else 1e-4
    return (_scale_out(dask_task_s=task_s),
            "cost 500 µs here (10x" if holds else "cost 100 µs here (2x")


@case("batching-cuts-dask-overhead")
def _batching(holds: bool) -> tuple[Patches, str]:
    gain = 5.0 if holds else 1.5
    return _scale_out(batched_gain=gain), "(5.00x less" if holds else "(1.50x less"


@case("scatter-beats-every-task")
def _scatter(holds: bool) -> tuple[Patches, str]:
    return (_scale_out(scatter_s=0.1 if holds else 0.6),
            "was 4.00x faster" if holds else "was 1.50x slower")


@case("cluster-needs-longer-tasks")
def _payoff(holds: bool) -> tuple[Patches, str]:
    dask = (0.1, 0.6, 1.7) if holds else (1.8, 1.9, 1.95)  # paid off first: 1 ms tasks
    return _scale_out(dask_speedups=dask), "last 28 ms" if holds else "last 1 ms"


@case("projection-model-fits-loopback")
def _model(holds: bool) -> tuple[Patches, str]:
    projected = tuple(scale_out.model_check(_cluster())["projected_speedup"])
    measured = projected if holds else tuple(s / 3 for s in projected)
    return _scale_out(dask_speedups=measured), "within 1.0x" if holds else "within 3.0x"


# --- chapter 4: advisor ------------------------------------------------------------------------


def _workload(name: str, *, sweep: tuple[tuple[float, float], ...] = ((0.5, 0.55), (0.8, 0.72)),
              serial: float = 1.0, recommended: float = 0.5, tool: str = "pool",
              default: float = 0.6, threads: float = 0.95, joblib: float = 0.9,
              advise_s: float = 1.0) -> dict[str, Any]:
    """A ``measure_workload`` result: the loop, the sweep's (measured, predicted) seconds,
    Pool's default, a thread pool, joblib's auto batching from cold and warm workers, and the
    recommended ``tool`` (the loop's own row when it is ``"serial"``)."""
    rows = [("serial", "serial", serial, serial), *(("sweep", "pool", m, p) for m, p in sweep),
            ("pool-default", "pool", default, None), ("threads", "threads", threads, None),
            ("joblib-auto", "joblib", joblib, None),
            ("joblib-auto-warm", "joblib", joblib / 2, None),
            ("recommended", tool, serial if tool == "serial" else recommended, None)]
    return {"advice": {"recommendation": {"tool": tool}}, "advise_s": advise_s,
            "metadata": {"cpu_model": "Xeon", "usable_cpus": WORKERS},
            "records": [{"kind": kind, "tool": t, "workers": WORKERS, "chunksize": None,
                         "predicted_s": p, "samples": [m] * 3, "measured_s": m,
                         "workload": name, "shape": name, "start_method": "fork",
                         "n_items": ITEMS} for kind, t, m, p in rows]}


def _advisor(tiny: dict[str, Any] | None = None, **compute: Any) -> Patches:
    """Served by ``load_validation``: a tiny workload where the loop wins (or ``tiny``'s
    changes) and a compute workload where a Pool wins (or ``compute``'s changes)."""
    import pandas as pd

    loop_wins = {"serial": 0.001, "tool": "serial", "sweep": ((0.02, 0.021), (0.03, 0.029))}
    frames = {"tiny": advisor.validation_frame(_workload("tiny", **{**loop_wins, **(tiny or {})})),
              "compute": advisor.validation_frame(_workload("compute", **compute))}

    def load_validation(names: list[str] | None = None, *_: Any, **__: Any) -> pd.DataFrame:
        return pd.concat([frames[n] for n in names or frames], ignore_index=True)
    return {(advisor, "load_validation"): load_validation}


@case("advisor-median-error")
def _median_error(holds: bool) -> tuple[Patches, str]:
    # Sweep errors: 10% and 10% (tiny: 5%, 3%) hold; 40% and 30% fail.
    sweep = ((0.5, 0.55), (0.8, 0.72)) if holds else ((0.5, 0.7), (0.8, 1.04))
    return _advisor(sweep=sweep), "was 8% over 4" if holds else "was 18% over 4"


@case("advisor-beats-default")
def _beats_default(holds: bool) -> tuple[Patches, str]:
    default = 0.6 if holds else 0.45
    return _advisor(default=default), "worst was 0.83" if holds else "worst was 1.11"


@case("advisor-near-best")
def _near_best(holds: bool) -> tuple[Patches, str]:
    # The best measured is the sweep's 0.5 s, or fails: a thread pool's 0.4 s (the best of
    # everything measured, not only of the Pool sweep); the recommendation ran 0.52 s.
    threads = 0.5 if holds else 0.4
    return (_advisor(recommended=0.52, threads=threads),
            "on 2 of 2" if holds else "on 1 of 2")


@case("advisor-beats-simple-choices")
def _beats_simple_choices(holds: bool) -> tuple[Patches, str]:
    # Holds: the fastest simple choice is Pool's default (0.6). Fails: a thread pool at 0.45.
    threads = 0.95 if holds else 0.45
    return _advisor(threads=threads), "worst was 0.83" if holds else "worst was 1.11"


@case("advisor-beats-joblib")
def _beats_joblib(holds: bool) -> tuple[Patches, str]:
    joblib = 0.9 if holds else 0.4
    return _advisor(joblib=joblib), "worst was 0.56" if holds else "worst was 1.25"


@case("advisor-tiny-serial")
def _tiny_serial(holds: bool) -> tuple[Patches, str]:
    tiny = {} if holds else {"tool": "pool", "recommended": 0.02}
    return (_advisor(tiny),
            "said not to parallelize" if holds else "said to use pool")


@case("advisor-profile-budget")
def _profile_budget(holds: bool) -> tuple[Patches, str]:
    advise_s = 1.2 if holds else 4.5
    return _advisor(advise_s=advise_s), "took 1.2 s" if holds else "took 4.5 s"


def _real(**sha256: Any) -> Patches:
    """Served by ``load_real_validation``: a json workload where a Pool wins, and a sha256
    one where a thread pool could (``sha256``'s changes)."""
    import pandas as pd

    frame = pd.concat([advisor.validation_frame(_workload("json")),
                       advisor.validation_frame(_workload("sha256", **sha256))],
                      ignore_index=True)
    return {(advisor_real, "load_real_validation"): serving(frame)}


@case("advisor-real-error")
def _real_error(holds: bool) -> tuple[Patches, str]:
    # Sweep errors 10% and 10% on both hold the 20% target; 50% and 40% on sha256 make the
    # median 25%.
    sweep = ((0.5, 0.55), (0.8, 0.72)) if holds else ((0.5, 0.75), (0.8, 1.12))
    return _real(sweep=sweep), "was 10% over 4" if holds else "was 25% over 4"


@case("advisor-real-near-best")
def _real_near_best(holds: bool) -> tuple[Patches, str]:
    # The recommendation ran 0.52 s; a thread pool at 0.5 s keeps it within 1.15x, at 0.4 s
    # it is 1.3x the best.
    threads = 0.5 if holds else 0.4
    return _real(recommended=0.52, threads=threads), "on 2 of 2" if holds else "on 1 of 2"


# --- the cases, both ways ----------------------------------------------------------------------



@pytest.mark.parametrize("holds", [True, False], ids=["holds", "fails"])
@pytest.mark.parametrize("claim_id", list(CASES))
def test_claim_follows_its_records(claim_id: str, holds: bool,
                                   monkeypatch: pytest.MonkeyPatch,
                                   read_verdict: Callable[..., claims.Verdict]) -> None:
    patches, reads = CASES[claim_id](holds)
    for (module, name), replacement in patches.items():
        assert callable(getattr(module, name)), (module, name)
        monkeypatch.setattr(module, name, replacement)
    verdict = read_verdict(claim_id, holds)
    assert reads in verdict.statement, verdict.statement
    assert verdict.evidence


def test_every_claim_of_the_three_chapters_has_cases() -> None:
    ours = {chapter.CHAPTER.name for chapter in (advisor, side_by_side, scale_out)}
    assert set(CASES) == {c for c, claim in claims.registered(kind=claims.CLAIM).items()
                          if claim.chapter in ours}


#: Claim id -> the test that feeds it records where it fails (``test_claims_can_fail.py``).
FAILING_CASES = dict.fromkeys(CASES, "test_claims_fail_peers.py::test_claim_follows_its_records")
