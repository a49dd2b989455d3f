"""Chapter 1, part 3: what the ``trace`` command's stamps cost.

:mod:`mpguide.chapters.overhead` declares the chapter. :func:`trace_cost_params` declares the
measurement (``Pool(usable).map`` of 1 ms pure-Python tasks at chunksize 1, the worst case for
tracing: one message per item), :func:`load_trace_cost` runs
:func:`mpguide.tracer.measure_overhead` on it (traced and plain runs side by side, in a fresh
interpreter, cached) and the claim below checks the promise of ``python -m mpguide trace``:
under 5% of the wall time.

Examples
--------
>>> from mpguide.chapters import trace_cost
>>> params = trace_cost.trace_cost_params()
>>> params["executor"]["chunksize"], params["params"]["seconds"]
(1, 0.001)
"""

from __future__ import annotations

from typing import Any

from mpguide import claims, config, executors, machine
from mpguide.chapters.overhead import CHAPTER, format_duration
from mpguide.experiment import run_cached

#: Cache name of the measurement.
TRACE_COST = "overhead-trace-cost"

#: Seconds of each traced task: 1 ms, where the trace command promises a small cost.
TASK_S = 1e-3

#: The most tracing may add to the median wall time (the trace command's promise).
MAX_OVERHEAD = 0.05


def trace_cost_params() -> dict[str, Any]:
    """The ``run_cached`` params, not run: :data:`TASK_S` spin tasks, 200 per usable core (100
    in quick mode), through ``Pool(usable, chunksize=1)``, 15 pairs of runs (7)."""
    workers = machine.usable_cpus()
    return {"func": "mpguide.workloads:spin", "items": "mpguide.chapters.task_duration:spin_items",
            "params": {"seconds": TASK_S, "count": workers * config.scaled(200, 100)},
            "executor": executors.Pool(workers, chunksize=1).to_dict(),
            "repeats": config.scaled(15, 7)}


def load_trace_cost(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`mpguide.tracer.measure_overhead` of ``params`` (default:
    :func:`trace_cost_params`; fresh interpreter, cached)."""
    return dict(run_cached(TRACE_COST, "mpguide.tracer:measure_overhead",
                           trace_cost_params() if params is None else params))


@claims.claim("tracing-costs-little", chapter=CHAPTER,
              statement="Tracing {items} tasks of {task} at chunksize 1 (one message per item) "
                        "changed the wall time of the whole Pool.map by {overhead:+.1%} (median "
                        "of {pairs} traced and plain runs side by side, interquartile range "
                        "{iqr:.1%}); claimed: under {limit:.0%}.")
def _tracing_costs_little() -> claims.Evidence:
    cost = load_trace_cost()
    overhead = float(cost["overhead"])
    values = {"items": int(cost["items"]), "task": format_duration(TASK_S),
              "overhead": overhead, "pairs": int(cost["repeats"]),
              "iqr": float(cost["overhead_iqr"]), "limit": MAX_OVERHEAD}
    return claims.Evidence(
        holds=overhead < MAX_OVERHEAD, values=values,
        evidence=f"{cost['label']}: plain median {cost['plain_median_s']:.3f} s, traced "
                 f"median {cost['traced_median_s']:.3f} s; the fastest of each differ by "
                 f"{cost['overhead_best']:+.1%}.")
