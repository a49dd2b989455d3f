"""Overhead probes: what a Pool, pickle, a pipe and shared memory cost on this machine.

Each probe returns :class:`~mpguide.timing.Measurement` records (calibrated, warmed up,
repeated), with every wait bounded. They are the figures of the machine card
(:mod:`mpguide.card`) and the constants of the cost model:

- :func:`pool_start_stop`: ``ctx.Pool(w)`` started, one tiny ``map``, closed and joined,
  measured from a fresh interpreter whose ``__main__`` imports only mpguide (spawn and
  forkserver children re-import the parent's main, so the main must be stated);
- :func:`apply_round_trip`: one ``apply_async(noop).get()`` on a warm pool;
- :func:`map_item_overhead`: seconds a warm pool adds per item of ``map(noop)``, by chunksize;
- :func:`pickle_throughput`: ``pickle.dumps`` / ``pickle.loads`` by payload kind, size and
  protocol;
- :func:`pool_transfer`: big arrays through a warm pool's own task or result path, results
  kept (what the cost model prices big arguments and results at);
- the floors to compare with: :func:`memcpy` (numpy copy), :func:`pipe_round_trip` and
  :func:`pipe_throughput` (``multiprocessing.Pipe`` between two processes);
- :func:`shm_create_attach`: create and attach a ``multiprocessing.shared_memory`` segment.

Samples are seconds per call (``unit="s"``); :func:`bytes_per_s` turns a size-carrying record
into a throughput. ``MPGUIDE_QUICK=1`` shrinks sizes and repeats. Heavy imports (numpy) happen
inside the probes, so a ``spawn`` worker importing this module stays cheap.

Examples
--------
>>> from mpguide import probes
>>> dumps, loads = probes.pickle_throughput("bytes", 1 << 20, repeats=3)
>>> dumps.params["direction"], loads.params["protocol"]
('dumps', 5)
>>> probes.bytes_per_s(dumps) > 0
True
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.pool
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mpguide import config, pools, runner, timing, workloads
from mpguide.pipe_peer import PipePeer, with_peer
from mpguide.timing import Measurement

#: Chunksizes of the per-item ``map`` overhead probe (the machine card reports each).
CHUNKSIZES = (1, 10, 100, 1000)

#: Items per ``map`` call at chunksize 1 (full mode; a quarter in quick mode). Chunksize ``c``
#: maps ``min(c, MAP_SCALE_LIMIT)`` times as many, at least ten chunks: the per-item cost
#: falls about as fast as the chunksize grows up to ~100, so every ``map`` lasts tens of
#: milliseconds, long enough that one scheduling hiccup does not move the per-item figure.
MAP_ITEMS = 2_000
MAP_SCALE_LIMIT = 100

#: Description of the ``__main__`` of :func:`runner.run_fresh`'s child, recorded with the
#: probes that depend on it (a spawn or forkserver worker re-imports the parent's main).
FRESH_MAIN = "mpguide._child (stdlib + mpguide)"

#: Pools started in turn by the warm-pool probes (full, quick mode). On the 2-core VM this
#: was written on, about one ``Pool(2)`` in four had a median ``apply`` round trip several
#: times slower than the others (where the scheduler put its threads), for the pool's whole
#: life: sampling several pools gives a median that a second run reproduces.
POOLS = (7, 3)
#: Timed maps per pool and chunksize (full, quick mode), after one warm-up map: the first
#: big maps of a fresh pool ran several times slower than the next ones on that VM. (4 timed
#: maps per pool did not make two card runs agree any better than 2.)
MAPS_PER_POOL = (2, 2)
#: Single calls timed per pool for a round trip (full, quick mode): the median single call is
#: steady where a tight loop's mean swings with a long tail of slow wake-ups.
#: ``tests/benchmarks/bench_probes_vs_plain.py`` prints the tight-loop mean beside it.
ROUND_TRIPS = (201, 41)
#: Peer processes started in turn by the pipe round-trip probe (full, quick mode). Measured
#: on one peer, two card runs in a row differed by up to 28% on a quiet 2-core VM.
PIPE_PEERS = (5, 2)
#: Round trips made and dropped first on each pool or pipe.
ROUND_TRIP_WARMUPS = 10

MIB = 1 << 20


def _repeats(repeats: int | None, full: int = 9, quick: int = 3) -> int:
    return config.scaled(full, quick) if repeats is None else repeats


def _usable_cpus() -> int:
    from mpguide.machine import usable_cpus

    return usable_cpus()


def current_main() -> str:
    """What this interpreter's ``__main__`` is, as probes record it.

    Examples
    --------
    >>> isinstance(current_main(), str)
    True
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if name == "mpguide._child":
        return FRESH_MAIN
    return name or getattr(main, "__file__", None) or "interactive (no __main__ file)"


def bytes_per_s(measurement: Measurement) -> float:
    """Throughput of a record whose ``params`` carry ``nbytes``: bytes per second (median).

    A 0-byte payload moves 0 bytes/s.

    Examples
    --------
    >>> bytes_per_s(Measurement("x", (0.5, 0.5), params={"nbytes": 100}))
    200.0
    """
    nbytes: float = measurement.params["nbytes"]
    return nbytes / measurement.median


# --- pools -------------------------------------------------------------------------------


def _start_stop_pool(method: str, workers: int, timeout: float) -> None:
    with pools.bounded_pool(workers, method, timeout) as pool:
        result = pool.map_async(workloads.noop, range(workers), chunksize=1)
        pools.wait_result(result, pool, timeout, what="the probe pool")


def pool_start_stop(start_method: str | None = None, workers: int | None = None, *,
                    repeats: int | None = None, fresh: bool = True,
                    timeout: float | None = None) -> Measurement:
    """Seconds to start ``ctx.Pool(workers)``, run one tiny ``map`` and close and join it.

    With ``fresh=True`` (the default) the probe runs in a new interpreter through
    :func:`runner.run_fresh`, so the figure describes a script whose ``__main__`` imports only
    the standard library and mpguide, whatever the caller has imported. One warm-up start is
    dropped: under ``forkserver`` it includes starting the fork server itself, a once per
    program cost.

    Examples
    --------
    >>> m = pool_start_stop("fork", 1, repeats=2, fresh=False)
    >>> m.params["start_method"], m.params["workers"], m.median > 0
    ('fork', 1, True)
    """
    method = config.resolve_start_method(start_method)
    workers = workers or _usable_cpus()
    # 31 samples: with 11, fork's few-millisecond start+stop differed by up to 38% between two
    # card runs on a quiet 2-core VM; each sample costs only milliseconds.
    repeats = _repeats(repeats, full=31, quick=3)
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    if fresh:
        (record,) = runner.run_fresh(
            "mpguide.probes:run_probe",
            {"name": "pool_start_stop",
             "kwargs": {"start_method": method, "workers": workers, "repeats": repeats,
                        "fresh": False, "timeout": timeout}},
            timeout=timeout * (repeats + 2),
        )
        return Measurement.from_dict(record)
    return timing.measure_once(
        _start_stop_pool, method, workers, timeout, name="pool_start_stop", repeats=repeats,
        params={"start_method": method, "workers": workers, "main": current_main()},
    )


def _warm_pools(method: str, workers: int, count: int,
                timeout: float) -> Iterator[multiprocessing.pool.Pool]:
    """``count`` pools in turn, each warm (every worker has run a task), each terminated."""
    for _ in range(count):
        with pools.bounded_pool(workers, method, timeout) as pool:
            pools.wait_result(pool.map_async(workloads.noop, range(workers), chunksize=1), pool,
                              timeout, what="the probe pool")
            yield pool


def apply_round_trip(start_method: str | None = None, workers: int | None = None, *,
                     n_pools: int | None = None, calls: int | None = None,
                     timeout: float | None = None) -> Measurement:
    """Seconds for one ``pool.apply_async(noop, (0,)).get(timeout)`` on a warm pool.

    Each sample is the median of ``calls`` single round trips on one pool, and the samples come
    from ``n_pools`` pools started in turn (see :data:`POOLS`): the median is the typical round
    trip, the spread says how much it depends on where the scheduler put the pool.

    Examples
    --------
    >>> m = apply_round_trip("fork", 1, n_pools=2, calls=5)
    >>> m.name, len(m.samples), m.median > 0
    ('apply_round_trip', 2, True)
    """
    method = config.resolve_start_method(start_method)
    workers = workers or _usable_cpus()
    n_pools = config.scaled(*POOLS) if n_pools is None else n_pools
    calls = config.scaled(*ROUND_TRIPS) if calls is None else calls
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    samples = []
    for pool in _warm_pools(method, workers, n_pools, timeout):

        def round_trip(pool: multiprocessing.pool.Pool = pool) -> Any:
            return pool.apply_async(workloads.noop, (0,)).get(timeout)

        samples.append(timing.measure(round_trip, loops=1, warmups=ROUND_TRIP_WARMUPS,
                                      repeats=calls).median)
    return Measurement("apply_round_trip", tuple(samples), params={
        "start_method": method, "workers": workers, "pools": n_pools, "calls": calls,
        "main": current_main()})


def map_items(chunksize: int, n_items: int | None = None) -> int:
    """Items of a map-overhead probe at ``chunksize``: ``n_items`` (default
    :data:`MAP_ITEMS`) at chunksize 1, more for larger chunksizes, at least ten chunks.

    >>> map_items(1, 200), map_items(10, 200), map_items(1000, 200)
    (200, 2000, 20000)
    """
    base = config.scaled(MAP_ITEMS, MAP_ITEMS // 4) if n_items is None else n_items
    return max(base * min(chunksize, MAP_SCALE_LIMIT), 10 * chunksize)


def map_item_overhead(chunksizes: Sequence[int] = CHUNKSIZES, start_method: str | None = None,
                      workers: int | None = None, *, n_items: int | None = None,
                      n_pools: int | None = None,
                      timeout: float | None = None) -> list[Measurement]:
    """Seconds a warm ``Pool(workers)`` adds per item of ``map(noop, items, chunksize)``.

    Each sample is ``(wall time of the map - wall time of the plain loop) / len(items)``, the
    loop being ``list(map(noop, items))`` timed just before; ``items`` holds ``n_items``
    integers at chunksize 1, more for larger chunksizes (see :data:`MAP_ITEMS`). Each of ``n_pools`` pools started in turn (see
    :data:`POOLS`) runs one warm-up map per chunksize, checked against the loop's result, then
    gives :data:`MAPS_PER_POOL` samples. One record per chunksize.

    Examples
    --------
    >>> by_chunksize = map_item_overhead([1, 100], "fork", 1, n_items=20, n_pools=2)
    >>> [m.params["chunksize"] for m in by_chunksize]
    [1, 100]
    """
    method = config.resolve_start_method(start_method)
    workers = workers or _usable_cpus()
    n_pools = config.scaled(*POOLS) if n_pools is None else n_pools
    maps = config.scaled(*MAPS_PER_POOL)
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    items = {c: list(range(map_items(c, n_items))) for c in chunksizes}
    loop = {c: timing.measure_once(plain_loop, items[c], name="loop").median
            for c in chunksizes}
    samples: dict[int, list[float]] = {c: [] for c in chunksizes}
    for index, pool in enumerate(_warm_pools(method, workers, n_pools, timeout)):
        for chunksize in chunksizes:

            def pool_map(pool: multiprocessing.pool.Pool = pool,
                         chunksize: int = chunksize) -> list[int]:
                result = pool.map_async(workloads.noop, items[chunksize], chunksize=chunksize)
                return pools.wait_result(result, pool, timeout, what="the probe pool")

            samples[chunksize] += overhead_samples(pool_map, items[chunksize], loop[chunksize],
                                                   repeats=maps, check=index == 0)
    return [
        Measurement("map_item_overhead", tuple(samples[c]), params={
            "start_method": method, "workers": workers, "chunksize": c,
            "n_items": len(items[c]), "loop_s": loop[c], "pools": n_pools,
            "main": current_main()})
        for c in chunksizes
    ]


def overhead_samples(run_map: Callable[[], list[int]], items: list[int], loop_s: float, *,
                     repeats: int, check: bool = True) -> list[float]:
    """Seconds per item that ``run_map()`` (a map of ``noop`` over ``items`` on warm workers)
    adds to the plain loop's ``loop_s``: one warm-up map (a fresh pool's first big maps run
    slower), its result checked against the loop's when ``check``, then ``repeats`` timed maps.
    The probe of Pool's map overhead and of the peers' (:mod:`mpguide.peer_probes`).

    Examples
    --------
    >>> items = list(range(1000))
    >>> loop = timing.measure_once(plain_loop, items, name="loop").median
    >>> len(overhead_samples(lambda: plain_loop(items), items, loop, repeats=3))
    3
    """
    result = run_map()
    if check:
        timing.check_same(items, result)
    wall = timing.measure_once(run_map, name="map", repeats=repeats, warmups=0)
    return [(w - loop_s) / len(items) for w in wall.samples]


def plain_loop(items: list[int]) -> list[int]:
    """``list(map(noop, items))``: the loop the map-overhead probes subtract."""
    return list(map(workloads.noop, items))


# --- serialization and copies ------------------------------------------------------------


def pickle_throughput(kind: str = "ndarray", nbytes: int | None = None, protocol: int = 5, *,
                      repeats: int | None = None) -> list[Measurement]:
    """Seconds for ``pickle.dumps`` and ``pickle.loads`` of one payload (two records).

    ``kind`` and ``nbytes`` as in :func:`workloads.make_payload` (default 64 MiB, 8 MiB in
    quick mode); ``params["pickled_bytes"]`` is the size of the pickle. Use
    :func:`bytes_per_s` for throughput.

    Examples
    --------
    >>> dumps, loads = pickle_throughput("bytes", 0, repeats=2)
    >>> bytes_per_s(dumps), loads.median > 0
    (0.0, True)
    """
    nbytes = config.scaled(64 * MIB, 8 * MIB) if nbytes is None else nbytes
    payload = workloads.make_payload(kind, nbytes)
    size = workloads.payload_size(payload)
    data = pickle.dumps(payload, protocol=protocol)
    params = {"kind": kind, "nbytes": size, "protocol": protocol, "pickled_bytes": len(data)}
    repeats = _repeats(repeats)
    dumps = timing.measure(pickle.dumps, payload, protocol, name="pickle_dumps",
                           repeats=repeats, params={**params, "direction": "dumps"})
    loads = timing.measure(pickle.loads, data, name="pickle_loads", repeats=repeats,
                           params={**params, "direction": "loads"})
    return [dumps, loads]


def pickle_sweep(kinds: Sequence[str] = workloads.PAYLOAD_KINDS,
                 sizes: Sequence[int] | None = None,
                 protocols: Sequence[int] = (pickle.DEFAULT_PROTOCOL, 5), *,
                 repeats: int | None = None) -> list[Measurement]:
    """:func:`pickle_throughput` for every payload kind, size and protocol.

    Examples
    --------
    >>> records = pickle_sweep(["bytes", "nested"], [1000], [4, 5], repeats=1)
    >>> len(records)
    8
    """
    sizes = config.scaled([2**k for k in (10, 14, 18, 22, 26)], [2**10, 2**16, 2**20]) \
        if sizes is None else sizes
    return [record for kind in kinds for size in sizes for protocol in dict.fromkeys(protocols)
            for record in pickle_throughput(kind, size, protocol, repeats=repeats)]


def memcpy(nbytes: int | None = None, *, repeats: int | None = None, tries: int = 1,
           source: Any = None) -> Measurement:
    """Seconds for ``source.copy()`` of a numpy array (default: a float64 array of ``nbytes``,
    64 MiB, 8 MiB in quick mode): the floor for moving data within one process.

    A fresh array each time, as when pickling allocates its output. With ``tries=1`` each
    sample is calibrated (a tight loop of copies, :func:`mpguide.timing.measure`); with
    ``tries > 1`` each sample is the fastest of ``tries`` back-to-back single copies, each
    freed at once. A copy right after another reuses the pages just freed: on the 2-core build
    VM one fresh 256 MiB copy swung between 0.1 s and 0.7 s depending on whether the kernel
    had free huge pages at hand (numpy asks for them), the best of three did not.

    Examples
    --------
    >>> m = memcpy(1 << 20, repeats=2)
    >>> bytes_per_s(m) > 0
    True
    >>> import numpy as np
    >>> best = memcpy(source=np.zeros(1000, dtype=np.uint8), repeats=2, tries=3)
    >>> best.params["nbytes"], best.params["tries"], len(best.samples)
    (1000, 3, 2)
    """
    import numpy as np

    if source is None:
        nbytes = config.scaled(64 * MIB, 8 * MIB) if nbytes is None else nbytes
        source = np.ones(nbytes // 8)
    params = {"nbytes": int(source.nbytes)}
    if tries <= 1:
        return timing.measure(source.copy, name="memcpy", repeats=_repeats(repeats),
                              params=params)
    return Measurement("memcpy", tuple(_best_copy(source, tries)
                                       for _ in range(_repeats(repeats))),
                       params={**params, "tries": tries})


def _best_copy(source: Any, tries: int) -> float:
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        copy = source.copy()
        best = min(best, time.perf_counter() - start)
        del copy
    return best


#: Payloads of the Pool transfer probes (full, quick mode): each of :data:`TRANSFER_BYTES`.
TRANSFER_ITEMS = (64, 32)
#: Bytes of one payload of the Pool transfer probes: a big result or argument, not a record.
TRANSFER_BYTES = 1 << 19
#: Which way the payloads of :func:`pool_transfer` go, and the task that sends them.
TRANSFER_TASKS: dict[str, Callable[[Any], Any]] = {"argument": workloads.payload_length,
                                                   "result": workloads.payload_task}


def pool_transfer(direction: str, start_method: str | None = None, workers: int | None = None,
                  *, count: int | None = None, nbytes: int = TRANSFER_BYTES,
                  repeats: int | None = None, timeout: float | None = None) -> Measurement:
    """Seconds of one ``map`` on a warm ``Pool(workers)`` at chunksize 1 that moves ``count``
    float64 arrays of ``nbytes`` each as arguments (``direction="argument"``, the task returns
    their length) or as results (``"result"``, the task makes them), the results kept as a
    script keeps them: Pool's own task or result path, pickling included, where
    :func:`pipe_throughput` measures a bare pipe whose bytes are dropped. ``params["nbytes"]``
    is the bytes moved per map (:func:`bytes_per_s`).

    Examples
    --------
    >>> m = pool_transfer("result", "fork", 1, count=4, nbytes=1 << 16, repeats=2)
    >>> m.params["direction"], m.params["nbytes"], bytes_per_s(m) > 0
    ('result', 262144, True)
    """
    if direction not in TRANSFER_TASKS:
        raise ValueError(f"direction must be one of {', '.join(TRANSFER_TASKS)}, "
                         f"got {direction!r}")
    method = config.resolve_start_method(start_method)
    workers = workers or _usable_cpus()
    count = config.scaled(*TRANSFER_ITEMS) if count is None else count
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    spec = ("ndarray", nbytes)
    items: list[Any] = ([workloads.make_payload(*spec) for _ in range(count)]
                        if direction == "argument" else [spec] * count)
    task = TRANSFER_TASKS[direction]
    expected = [task(item) for item in items[:1]] * count
    samples: tuple[float, ...] = ()
    for pool in _warm_pools(method, workers, 1, timeout):

        def pool_map(pool: multiprocessing.pool.Pool = pool) -> list[Any]:
            return pools.wait_result(pool.map_async(task, items, chunksize=1), pool, timeout,
                                     what="the probe pool")

        timing.check_same(expected, pool_map())  # the warm-up, checked
        samples = timing.measure_once(pool_map, name="pool_transfer", warmups=0,
                                      repeats=_repeats(repeats, 5, 3)).samples
    return Measurement("pool_transfer", samples, params={
        "direction": direction, "start_method": method, "workers": workers, "items": count,
        "nbytes": count * nbytes, "main": current_main()})


# --- pipes -------------------------------------------------------------------------------


def pipe_round_trip(start_method: str | None = None, *, calls: int | None = None,
                    timeout: float | None = None) -> Measurement:
    """Seconds for an 8-byte request and an 8-byte answer over ``multiprocessing.Pipe``
    between two processes: the floor under every pool round trip. Each of ``calls`` samples is
    one call (the median single call is steady; see :data:`ROUND_TRIPS`), spread over
    :data:`PIPE_PEERS` peer processes started in turn, for the reason :data:`POOLS` gives.

    Examples
    --------
    >>> pipe_round_trip("fork", calls=2).median > 0
    True
    """
    calls = config.scaled(*ROUND_TRIPS) if calls is None else calls
    peers = min(config.scaled(*PIPE_PEERS), calls)

    def probe(peer: PipePeer, method: str) -> Measurement:
        return timing.measure(peer.request, 8, name="pipe_round_trip", loops=1,
                              warmups=ROUND_TRIP_WARMUPS, repeats=max(1, calls // peers),
                              params={"start_method": method, "nbytes": 8})

    parts = [with_peer(start_method, 8, timeout, probe) for _ in range(peers)]
    return dataclasses.replace(parts[0], samples=tuple(s for p in parts for s in p.samples))


def pipe_throughput(nbytes: int | None = None, start_method: str | None = None, *,
                    repeats: int | None = None, timeout: float | None = None) -> Measurement:
    """Seconds to receive ``nbytes`` (default 64 MiB, 8 MiB in quick mode) from another
    process over ``multiprocessing.Pipe`` (``send_bytes``/``recv_bytes``, request included).

    Examples
    --------
    >>> bytes_per_s(pipe_throughput(1 << 20, "fork", repeats=2)) > 0
    True
    """
    nbytes = config.scaled(64 * MIB, 8 * MIB) if nbytes is None else nbytes

    def probe(peer: PipePeer, method: str) -> Measurement:
        return timing.measure(peer.request, nbytes, name="pipe_throughput",
                              repeats=_repeats(repeats),
                              params={"start_method": method, "nbytes": nbytes})

    return with_peer(start_method, nbytes, timeout, probe)


# --- shared memory -----------------------------------------------------------------------


def _create_attach(nbytes: int) -> None:
    from multiprocessing import shared_memory

    segment = shared_memory.SharedMemory(create=True, size=nbytes)
    try:
        shared_memory.SharedMemory(name=segment.name).close()
    finally:
        segment.close()
        segment.unlink()


def shm_create_attach(nbytes: int = MIB, *, calls: int | None = None) -> Measurement:
    """Seconds to create a shared-memory segment of ``nbytes`` and attach it by name (then
    close and unlink both: nothing is left in ``/dev/shm``).

    Each of ``calls`` samples is one isolated call (see :data:`ROUND_TRIPS`), after warm-ups
    that start multiprocessing's resource tracker. Every create, attach and unlink also sends
    the tracker a message; in a tight loop of thousands of segments the tracker's pipe fills
    and the loop runs at the tracker's pace, which is not the cost of the few segments a
    program shares.

    Examples
    --------
    >>> shm_create_attach(4096, calls=2).median > 0
    True
    """
    return timing.measure(_create_attach, nbytes, name="shm_create_attach", loops=1,
                          warmups=ROUND_TRIP_WARMUPS,
                          repeats=config.scaled(*ROUND_TRIPS) if calls is None else calls,
                          params={"nbytes": nbytes})


# --- running probes by name (fresh interpreters) -----------------------------------------

#: Probes callable by name through :func:`run_probe`.
PROBES: dict[str, Callable[..., Measurement | list[Measurement]]] = {
    "pool_start_stop": pool_start_stop,
    "apply_round_trip": apply_round_trip,
    "map_item_overhead": map_item_overhead,
    "pickle_throughput": pickle_throughput,
    "memcpy": memcpy,
    "pipe_round_trip": pipe_round_trip,
    "pipe_throughput": pipe_throughput,
    "shm_create_attach": shm_create_attach,
    "pool_transfer": pool_transfer,
}


def run_probe(name: str, kwargs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run the probe ``name`` here and return its records as JSON-ready dicts.

    The entry point for :func:`runner.run_fresh`:
    ``run_fresh("mpguide.probes:run_probe", {"name": "memcpy", "kwargs": {}})``.

    Examples
    --------
    >>> [r["name"] for r in run_probe("memcpy", {"nbytes": 4096, "repeats": 1})]
    ['memcpy']
    """
    if name not in PROBES:
        raise ValueError(f"unknown probe {name!r}; choose one of {', '.join(PROBES)}")
    result = PROBES[name](**(kwargs or {}))
    records = result if isinstance(result, list) else [result]
    return [record.to_dict() for record in records]


__all__ = ["CHUNKSIZES", "FRESH_MAIN", "PROBES", "apply_round_trip", "bytes_per_s",
           "current_main", "map_item_overhead", "map_items", "memcpy",
           "overhead_samples", "pickle_sweep", "pickle_throughput", "pipe_round_trip",
           "pipe_throughput", "plain_loop", "pool_start_stop", "pool_transfer", "run_probe",
           "shm_create_attach"]
