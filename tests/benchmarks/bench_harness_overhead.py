"""Benchmark: what mpguide's timing harness adds to a call, against ``timeit``.

Times a no-op function (with no argument and with one) with :func:`mpguide.timing.measure`
and with ``timeit`` at the same loop count, in alternating rounds, and prints each round's
ratio (mpguide's median seconds per call / timeit's median) and the median ratio with its
interquartile range. Target: within 10% (a ratio between 0.9 and 1.1).

Run from the repository root::

    python tests/benchmarks/bench_harness_overhead.py

This file is imported by ``pytest --doctest-modules``: it imports only the standard library
at the top and does its work under the main guard.
"""

from __future__ import annotations

import statistics
import timeit

ROUNDS = 11
REPEATS = 7


def nothing() -> None:
    """A no-op with no argument."""


def identity(x):
    """A no-op with one argument."""
    return x


def one_round(func, args: tuple) -> tuple[float, float, int]:
    """(mpguide median, timeit median, loops): seconds per call, same loop count."""
    from mpguide import timing

    measured = timing.measure(func, *args, repeats=REPEATS)
    statement = "f(a)" if args else "f()"
    timer = timeit.Timer(statement, globals={"f": func, "a": args[0] if args else None})
    plain = statistics.median(t / measured.loops
                              for t in timer.repeat(repeat=REPEATS, number=measured.loops))
    return measured.median, plain, measured.loops


def main() -> None:
    for label, func, args in (("f()", nothing, ()), ("f(x)", identity, (1,))):
        ratios = []
        for index in range(ROUNDS):
            ours, plain, loops = one_round(func, args)
            ratios.append(ours / plain)
            print(f"{label:<5} round {index:>2}: mpguide {ours * 1e9:6.1f} ns, timeit "
                  f"{plain * 1e9:6.1f} ns, loops {loops}, ratio {ours / plain:.3f}")
        q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        print(f"{label:<5} mpguide/timeit: median {median:.3f} (IQR {q1:.3f}-{q3:.3f}) over "
              f"{ROUNDS} rounds of {REPEATS} samples\n")


if __name__ == "__main__":
    main()
