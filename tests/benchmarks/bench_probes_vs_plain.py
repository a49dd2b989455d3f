"""Benchmark: the machine card against plain multiprocessing, and against itself.

Runs ``python -m mpguide machine --json --fresh`` twice, and between the two runs measures
every probe's quantity again with plain ``multiprocessing``, ``pickle`` and ``numpy`` written
independently here (nothing from mpguide in the measuring part). Prints, per probe, the card's
figure, the plain figure, their ratio (target: within a factor of 2) and the spread between
the two card runs (target: within 20%).

Run from the repository root (add ``MPGUIDE_QUICK=1`` for a fast pass)::

    python tests/benchmarks/bench_probes_vs_plain.py

This file is imported by ``pytest --doctest-modules``: it imports only the standard library
at the top and does its work under the main guard.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import statistics
import subprocess
import sys
import time

MIB = 1 << 20


def noop(x):
    """The task of every plain pool below."""
    return x


def quick() -> bool:
    """Whether MPGUIDE_QUICK asks for the small sizes the card then uses too."""
    return os.environ.get("MPGUIDE_QUICK", "") not in {"", "0"}


def median_time(func, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``func()`` after one warm-up call."""
    func()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def plain_pool_start_stop(method: str, workers: int) -> float:
    ctx = multiprocessing.get_context(method)

    def start_stop() -> None:
        pool = ctx.Pool(workers)
        pool.map(noop, range(workers), chunksize=1)
        pool.close()
        pool.join()

    return median_time(start_stop, 11)


def plain_apply(workers: int, calls: int = 2000) -> tuple[float, float]:
    """(mean over a tight loop, median single call) of ``apply_async(noop).get()``."""
    with multiprocessing.Pool(workers) as pool:
        pool.map(noop, range(workers))
        started = time.perf_counter()
        for _ in range(calls):
            pool.apply_async(noop, (0,)).get(60)
        mean = (time.perf_counter() - started) / calls
        singles = []
        for _ in range(calls):
            t0 = time.perf_counter()
            pool.apply_async(noop, (0,)).get(60)
            singles.append(time.perf_counter() - t0)
    return mean, statistics.median(singles)


def plain_map_overhead(workers: int, chunksize: int) -> float:
    """Per-item overhead of ``Pool.map(noop)`` over the plain loop, with the card's item
    counts (2000 items times min(chunksize, 100), a quarter in quick mode)."""
    base = 500 if quick() else 2000
    items = list(range(max(base * min(chunksize, 100), 10 * chunksize)))
    loop = median_time(lambda: list(map(noop, items)), 5)
    with multiprocessing.Pool(workers) as pool:
        pool.map(noop, range(workers))
        wall = median_time(lambda: pool.map(noop, items, chunksize=chunksize), 7)
    return (wall - loop) / len(items)


def plain_pickle(nbytes: int) -> tuple[float, float]:
    import numpy as np

    array = np.arange(nbytes // 8, dtype=np.float64)
    data = pickle.dumps(array, protocol=5)
    dumps = median_time(lambda: pickle.dumps(array, protocol=5), 9)
    loads = median_time(lambda: pickle.loads(data), 9)
    return nbytes / dumps, nbytes / loads


def plain_memcpy(nbytes: int) -> float:
    import numpy as np

    array = np.ones(nbytes // 8)
    return nbytes / median_time(array.copy, 9)


def _sender(conn, nbytes: int) -> None:
    payload = bytes(nbytes)
    while True:
        request = conn.recv_bytes()
        if not request:
            return
        conn.send_bytes(payload, 0, int(request))


def plain_pipe(nbytes: int) -> tuple[float, float]:
    """(bytes per second for ``nbytes``, median 8-byte round trip)."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_sender, args=(child, nbytes), daemon=True)
    process.start()
    try:
        def fetch(size: int) -> None:
            parent.send_bytes(str(size).encode())
            parent.recv_bytes()

        throughput = nbytes / median_time(lambda: fetch(nbytes), 9)
        trips = []
        for _ in range(1000):
            t0 = time.perf_counter()
            fetch(8)
            trips.append(time.perf_counter() - t0)
        return throughput, statistics.median(trips)
    finally:
        parent.send_bytes(b"")
        process.join(10)
        if process.is_alive():
            process.kill()


def plain_shm(nbytes: int = MIB) -> tuple[float, float]:
    """(median single create+attach, mean over a tight loop of 200) of a shared-memory
    segment, closed and unlinked each time."""
    from multiprocessing import shared_memory

    def create_attach() -> None:
        segment = shared_memory.SharedMemory(create=True, size=nbytes)
        other = shared_memory.SharedMemory(name=segment.name)
        other.close()
        segment.close()
        segment.unlink()

    single = median_time(create_attach, 201)
    loops = 200
    return single, median_time(lambda: [create_attach() for _ in range(loops)], 7) / loops


def plain_figures(workers: int) -> dict[str, float]:
    """Every card figure measured the plain way, flattened to ``key[.sub]``."""
    size = 8 * MIB if quick() else 64 * MIB
    figures = {f"pool_start_stop_s.{m}": plain_pool_start_stop(m, workers)
               for m in multiprocessing.get_all_start_methods()}
    mean, single = plain_apply(workers)
    figures["apply_round_trip_s"] = single
    figures["apply_round_trip_s (tight-loop mean)"] = mean
    for chunksize in (1, 10, 100, 1000):
        figures[f"map_item_overhead_by_chunksize_s.{chunksize}"] = \
            plain_map_overhead(workers, chunksize)
    figures["pickle_dumps_bytes_per_s"], figures["pickle_loads_bytes_per_s"] = plain_pickle(size)
    figures["memcpy_bytes_per_s"] = plain_memcpy(size)
    figures["pipe_bytes_per_s"], figures["pipe_round_trip_s"] = plain_pipe(size)
    figures["shm_create_attach_s"], figures["shm_create_attach_s (tight-loop mean)"] = \
        plain_shm()
    return figures


def card_figures(card: dict) -> dict[str, float]:
    flat = {}
    for key, value in card["probes"].items():
        if isinstance(value, dict):
            flat.update({f"{key}.{sub}": v for sub, v in value.items()})
        elif key != "pool_workers":
            flat[key] = value
    return flat


def run_card() -> dict:
    done = subprocess.run([sys.executable, "-m", "mpguide", "machine", "--json", "--fresh"],
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout)


def main() -> None:
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count()
    started = time.perf_counter()
    first = run_card()
    plain = plain_figures(workers)
    second = run_card()
    a, b = card_figures(first), card_figures(second)
    print(f"mode={first['mode']}  workers={workers}  python={first['python']}  "
          f"cpu={first['cpu_model']}  load_avg_1m={first['load_avg_1m']} (card 1), "
          f"{second['load_avg_1m']} (card 2)")
    print(f"{'probe':<40}{'card 1':>11}{'card 2':>11}{'plain':>11}{'card/plain':>11}"
          f"{'run spread':>11}")
    ratios, spreads = [], []
    for key, value in plain.items():
        card_key = key.partition(" ")[0]
        mean_card = (a[card_key] + b[card_key]) / 2
        ratio = mean_card / value
        spread = abs(a[card_key] - b[card_key]) / mean_card
        if key == card_key:
            ratios.append((key, ratio))
            spreads.append((key, spread))
        print(f"{key:<40}{a[card_key]:>11.4g}{b[card_key]:>11.4g}{value:>11.4g}{ratio:>11.2f}"
              f"{spread:>10.0%}")
    worst_ratio = max(ratios, key=lambda kv: max(kv[1], 1 / kv[1]))
    worst_spread = max(spreads, key=lambda kv: kv[1])
    within2 = sum(0.5 <= r <= 2 for _, r in ratios)
    within20 = sum(s <= 0.2 for _, s in spreads)
    print(f"\ncard/plain within a factor 2: {within2}/{len(ratios)} (worst {worst_ratio[0]} "
          f"{worst_ratio[1]:.2f}); run-to-run spread within 20%: {within20}/{len(spreads)} "
          f"(worst {worst_spread[0]} {worst_spread[1]:.0%}); took "
          f"{time.perf_counter() - started:.0f} s, card probing {first['probe_seconds']} s "
          f"and {second['probe_seconds']} s")


if __name__ == "__main__":
    main()
