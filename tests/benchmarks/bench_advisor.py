"""Benchmark: the advisor's predictions against measured wall times, and its recommendations
against the best measured configuration, Pool's default chunksize and joblib's auto batching.

Workloads (:data:`mpguide.chapters.advisor.WORKLOADS`): overhead-bound tiny items, compute-bound,
argument-bound, result-bound, uneven (sorted costs), GIL-releasing numpy, BLAS. For each, in a
fresh interpreter, the advisor profiles the function and predicts; then the real
``with ctx.Pool(w) as p: p.map(func, items, chunksize=c)`` is timed over workers x chunksize
(start and stop included), with Pool's default chunksize, joblib ``batch_size="auto"``, the
plain loop and the recommended configuration. The model is fitted on none of them.

Targets (issue 6): median absolute error <= 15%; recommended within 1.1x of the best of the
sweep; never slower than Pool's default chunksize or joblib's auto batching.

Run from the repository root (quick mode keeps it to a few minutes on two cores)::

    MPGUIDE_QUICK=1 MPGUIDE_FRESH=1 python tests/benchmarks/bench_advisor.py [WORKLOAD ...]

This file is imported by ``pytest --doctest-modules``: it imports only the standard library
at the top and does its work under the main guard.
"""

from __future__ import annotations

import sys
import time


def main(names: list[str]) -> int:
    import pandas as pd

    from mpguide import config
    from mpguide.chapters import advisor

    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    start = time.perf_counter()
    df = advisor.load_validation(names or None)
    table = advisor.summary(df)
    sweep = df[df["kind"] == "sweep"]
    print(f"mode {config.mode()}, start method {df['start_method'].iloc[0]}, "
          f"{len(sweep)} swept configurations, {time.perf_counter() - start:.0f} s\n")
    print(df[["workload", "kind", "tool", "workers", "chunksize", "measured_s", "predicted_s",
              "error"]].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    error = advisor.overall_error(df)
    print(f"\nmedian |error| over all swept configurations: {error * 100:.1f}% "
          f"(target <= {advisor.TARGET_ERROR * 100:.0f}%)")
    print(f"recommended / best of sweep: worst {table['vs_best'].max():.2f}, median "
          f"{table['vs_best'].median():.2f} (target <= {advisor.TARGET_NEAR_BEST})")
    print(f"recommended / Pool default chunksize: worst {table['vs_pool_default'].max():.2f} "
          f"(target <= 1)")
    print(f"recommended / joblib auto (cold workers): worst {table['vs_joblib_auto'].max():.2f}"
          f" (target <= 1)")
    print(f"recommended / joblib auto (warm workers): worst "
          f"{table['vs_joblib_auto_warm'].max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
