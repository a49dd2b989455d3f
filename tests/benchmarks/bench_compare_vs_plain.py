"""Benchmark: ``python -m mpguide compare`` against the same configurations in plain code.

Writes a small user module (functions mpguide has never seen: a 1 ms pure-Python loop, a
tiny arithmetic task over many items, a 2 ms sleep, hashing that releases the GIL) to a
temporary folder, then alternates, ``ROUNDS`` times, one ``compare --json`` run and one run
of a plain script that times every configuration as a reader's own code would
(``with ctx.Pool(w) as pool: pool.map(f, items, chunksize=c)``, ``ThreadPoolExecutor``,
``ProcessPoolExecutor``, the loop), written here with nothing from mpguide. Prints, per
configuration, the median of compare's medians, the plain one and their ratio (target: within
25%), and the spread of the ratio over the rounds.

Run from the repository root::

    python tests/benchmarks/bench_compare_vs_plain.py [--start-method spawn] [--rounds 3]

This file is imported by ``pytest --doctest-modules``: it imports only the standard library
at the top and does its work under the main guard.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

#: The user's module: functions and item factories compare is pointed at.
USER_MODULE = textwrap.dedent('''
    import hashlib
    import time

    def spin_1ms(x):
        end = time.perf_counter() + 1e-3
        while time.perf_counter() < end:
            pass
        return x

    def tiny(x):
        return x * x + 1

    def sleepy(x):
        time.sleep(2e-3)
        return x

    def digest(block):
        return hashlib.sha256(block).hexdigest()

    def spin_items():
        return list(range(200))

    def tiny_items():
        return list(range(20000))

    def sleepy_items():
        return list(range(100))

    def digest_items():
        return [bytes([i % 256]) * (1 << 18) for i in range(64)]
''')

#: (function, item factory) pairs measured.
CASES = [("spin_1ms", "spin_items"), ("tiny", "tiny_items"), ("sleepy", "sleepy_items"),
         ("digest", "digest_items")]

#: The plain timing script: argv[1] is a JSON list of configurations; prints median seconds.
PLAIN = textwrap.dedent('''
    import concurrent.futures, importlib, json, multiprocessing, statistics, sys, time

    def one(config, func, items):
        tool, workers, chunksize = config["tool"], config["workers"], config["chunksize"]
        ctx = multiprocessing.get_context(config["start_method"] or "fork")
        if tool == "loop":
            return [func(x) for x in items]
        if tool == "threads":
            with concurrent.futures.ThreadPoolExecutor(workers) as ex:
                return list(ex.map(func, items))
        if tool == "pool":
            with ctx.Pool(workers) as pool:
                return pool.map_async(func, items, chunksize).get(timeout=120)
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as ex:
            return list(ex.map(func, items, chunksize=chunksize, timeout=120))

    if __name__ == "__main__":
        configs, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
        module = importlib.import_module("usermod")
        out = []
        for case in configs:
            func, items = getattr(module, case["func"]), getattr(module, case["items"])()
            samples = {i: [] for i in range(len(case["configs"]))}
            for repeat in range(repeats + 1):  # the first round warms up
                for i, config in enumerate(case["configs"]):
                    start = time.perf_counter()
                    one(config, func, items)
                    if repeat:
                        samples[i].append(time.perf_counter() - start)
            out.append([statistics.median(samples[i]) for i in range(len(case["configs"]))])
        print(json.dumps(out))
''')


def run_compare(folder: Path, env: dict[str, str], method: str, repeats: int) -> list[list[dict]]:
    """One ``compare --json`` run per case; its records."""
    out = []
    for func, items in CASES:
        result = subprocess.run(
            [sys.executable, "-m", "mpguide", "compare", f"usermod:{func}", "--items",
             f"usermod:{items}", "--start-methods", method, "--repeats", str(repeats), "--json"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=1800, check=True)
        out.append(json.loads(result.stdout))
    return out


def run_plain(folder: Path, env: dict[str, str], records: list[list[dict]],
              repeats: int) -> list[list[float]]:
    """The same configurations timed by :data:`PLAIN`; median seconds per configuration."""
    cases = [{"func": func, "items": items, "configs": [
        {"tool": r["tool"], "workers": r["workers"], "chunksize": r["chunksize_used"],
         "start_method": r["start_method"]} for r in case]}
        for (func, items), case in zip(CASES, records, strict=True)]
    result = subprocess.run([sys.executable, str(folder / "plain.py"), json.dumps(cases),
                             str(repeats)], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=1800, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-method", default="fork")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "usermod.py").write_text(USER_MODULE)
        (folder / "plain.py").write_text(PLAIN)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(repo)]),
               "MPGUIDE_CACHE_DIR": str(folder / "cache")}
        ratios: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.rounds):
            records = run_compare(folder, env, args.start_method, args.repeats)
            plain = run_plain(folder, env, records, args.repeats)
            for (func, _), case, times in zip(CASES, records, plain, strict=True):
                for record, seconds in zip(case, times, strict=True):
                    ratios.setdefault((func, record["label"]), []).append(
                        record["median_s"] / seconds)
            print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
    within = 0
    print(f"{'function':10} {'configuration':48} {'compare/plain':>13} {'spread':>15}")
    for (func, label), values in ratios.items():
        ratio = statistics.median(values)
        within += abs(ratio - 1) <= 0.25
        print(f"{func:10} {label:48} {ratio:13.2f} {min(values):7.2f}-{max(values):.2f}")
    print(f"within 25%: {within} of {len(ratios)} configurations "
          f"({args.start_method}, {args.rounds} rounds of {args.repeats} repeats)")


if __name__ == "__main__":
    main()
