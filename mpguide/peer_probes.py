"""The peers' overheads on this machine: what joblib, mpire and Dask cost to start and per task.

:func:`measure_peer` measures one peer as the machine card measures ``Pool``
(:mod:`mpguide.probes`): its executor (:mod:`mpguide.peers`) started with the usable cores'
workers and one tiny map (``start_s``), stopped (``stop_s``), and in between the seconds a warm
executor adds per item of a ``noop`` map at several chunksizes
(:func:`mpguide.probes.overhead_samples`, the same probe as Pool's), and what a big argument
and a big result add per byte beyond their pickling (``arg_s_per_byte``,
``result_s_per_byte``: the tool's channel, where Pool's is its pipe). joblib and mpire fix the
chunksize when their executor starts, so each chunksize gets its own executor (and gives one
start and stop sample); Dask's chunks are tasks over lists (:func:`mpguide.peers.apply_chunk`,
as :class:`~mpguide.peers.Dask` batches), so one cluster serves every chunksize. Every wait is
bounded by the executors; nothing is left behind (their guarantee, and the fresh interpreter's).

:func:`peer_card` measures every installed peer once per machine, each in a fresh interpreter
(:func:`mpguide.runner.run_fresh`), and caches the records (experiment ``"peer-costs"``) as the
machine card is cached; a peer that is not installed is simply absent. The cost model reads a
record with :meth:`mpguide.costs.PeerCosts.from_record`.

Examples
--------
>>> from mpguide import peer_probes
>>> set(peer_probes.installed()) <= {"joblib", "mpire", "dask"}
True
>>> record = peer_probes.measure_peer("mpire", 1, chunksizes=[1, 100], n_items=20)
>>> sorted(record["overhead_by_chunksize_s"]), record["start_s"] > 0
(['1', '100'], True)
"""

from __future__ import annotations

import functools
import importlib
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from mpguide import config, peers, probes, runner, timing, workloads
from mpguide.cache import ResultCache

#: Cache experiment name of the peers' records.
EXPERIMENT = "peer-costs"
#: The peers, by tool name, in the order they are measured.
TOOLS: dict[str, type[peers.PeerExecutor]] = {
    "joblib": peers.Joblib, "mpire": peers.Mpire, "dask": peers.Dask}
#: Items of a chunksize-1 map (full mode; a quarter in quick mode, at least
#: :data:`MIN_MAP_ITEMS`), more for larger chunksizes (:func:`mpguide.probes.map_items`).
#: Sized so that one map lasts 0.05-0.2 s at the per-task costs seen on the 2-core VM this was
#: written on (joblib and mpire ~250 µs per task at chunksize 1, Dask 2-4 ms).
MAP_ITEMS = {"joblib": 200, "mpire": 200, "dask": 40}
MIN_MAP_ITEMS = 20
#: Bytes of one argument and one result of the transfer maps, and items per map (full, quick
#: mode): a few tens of MiB, so the bytes outweigh the per-task cost of the no-op map.
PAYLOAD_BYTES = 2 * probes.MIB
PAYLOAD_ITEMS = (16, 8)
#: Chunksizes measured in quick mode (full mode: :data:`mpguide.probes.CHUNKSIZES`); two
#: points fix the cost per task and per item of the fit.
QUICK_CHUNKSIZES = (1, 100)

Progress = Callable[[str], None]


def installed() -> list[str]:
    """The peers whose package is installed here, by tool name."""
    return [tool for tool, spec in TOOLS.items() if spec.available()]


def peer_spec(tool: str, workers: int | None, chunksize: int | None = None,
              start_method: str | None = None) -> peers.PeerExecutor:
    """The executor of ``tool`` (mpire's workers start with ``start_method``).

    >>> peer_spec("joblib", 2, 10).label
    'joblib(2, batch_size=10)'
    """
    if tool == "joblib":
        return peers.Joblib(workers, chunksize=chunksize)
    if tool == "mpire":
        return peers.Mpire(workers, chunksize=chunksize, start_method=start_method)
    if tool == "dask":
        return peers.Dask(workers, chunksize=chunksize)
    raise ValueError(f"unknown peer {tool!r}; choose one of {', '.join(TOOLS)}")


def _mapper(tool: str, run: Callable[..., list[Any]], chunksize: int, items: list[Any],
            func: Callable[[Any], Any] = workloads.noop) -> Callable[[], list[Any]]:
    """The timed map at ``chunksize``; Dask's chunks are tasks over lists, as it batches."""
    if tool != "dask" or chunksize == 1:
        return functools.partial(run, func, items)
    task = functools.partial(peers.apply_chunk, func)

    def batched() -> list[Any]:
        return [r for chunk in run(task, peers.chunks(items, chunksize)) for r in chunk]
    return batched


def _channel_s_per_byte(map_of: Callable[..., Callable[[], list[Any]]],
                        func: Callable[[Any], Any], items: list[Any], payload: Any, *,
                        overhead_s: float, repeats: int) -> float:
    """Seconds per pickled byte that moving ``payload`` (the argument or the result of
    ``func`` on each of ``items``) adds to a no-op task, beyond pickling and unpickling it
    (which the profile prices for the real objects): the peer's channel."""
    import pickle

    loop = timing.measure_once(lambda: [func(x) for x in items], name="loop").median
    extra = statistics.median(probes.overhead_samples(
        map_of(items, func), items, loop, repeats=repeats, check=False)) - overhead_s
    blob = pickle.dumps(payload, protocol=5)
    pickling = timing.measure(pickle.dumps, payload, 5, name="dumps", repeats=3).median \
        + timing.measure(pickle.loads, blob, name="loads", repeats=3).median
    return max(0.0, (extra - pickling) / len(blob))


def measure_peer(tool: str, workers: int | None = None, *,
                 chunksizes: Sequence[int] | None = None, n_items: int | None = None,
                 timeout: float | None = None) -> dict[str, Any]:
    """Measure one peer here: start, stop, and overhead per item by chunksize (JSON-ready).

    ``workers`` defaults to the usable cores, ``chunksizes`` to
    :data:`mpguide.probes.CHUNKSIZES` (:data:`QUICK_CHUNKSIZES` in quick mode), ``n_items``
    (items of a chunksize-1 map) to :data:`MAP_ITEMS`. Seconds are medians; the samples are
    kept beside them.
    """
    from mpguide.machine import usable_cpus

    started = time.perf_counter()
    workers = workers or usable_cpus()
    spec = peer_spec(tool, workers)
    sizes = list(chunksizes or config.scaled(probes.CHUNKSIZES, QUICK_CHUNKSIZES))
    base = n_items or config.scaled(MAP_ITEMS[tool], max(MIN_MAP_ITEMS, MAP_ITEMS[tool] // 4))
    maps = config.scaled(*probes.MAPS_PER_POOL)
    timeout = config.DEFAULT_TIMEOUT if timeout is None else timeout
    importlib.import_module(spec.requires)  # paid once per program, not per start
    items = {c: list(range(probes.map_items(c, base))) for c in sizes}
    loop = {c: timing.measure_once(probes.plain_loop, items[c], name="loop").median
            for c in sizes}
    groups = [sizes] if tool == "dask" else [[c] for c in sizes]
    starts, stops, overhead = [], [], {}
    channel: dict[str, float] = {}
    for group in groups:
        spec = peer_spec(tool, workers, None if tool == "dask" else group[0])
        begin = time.perf_counter()
        with spec.started(timeout) as run:
            run(workloads.noop, list(range(workers)))
            starts.append(time.perf_counter() - begin)
            for chunksize in group:
                overhead[chunksize] = probes.overhead_samples(
                    _mapper(tool, run, chunksize, items[chunksize]), items[chunksize],
                    loop[chunksize], repeats=maps)
            if not channel:
                channel = _channels(functools.partial(_mapper, tool, run, group[0]),
                                    statistics.median(overhead[group[0]]), repeats=maps)
            stopping = time.perf_counter()
        stops.append(time.perf_counter() - stopping)
    return {
        "tool": tool, "start_method": spec.record()["start_method"], "workers": workers,
        "start_s": statistics.median(starts), "stop_s": statistics.median(stops),
        "start_samples": starts, "stop_samples": stops,
        "overhead_by_chunksize_s": {str(c): statistics.median(s) for c, s in overhead.items()},
        **channel,
        "overhead_samples": {str(c): s for c, s in overhead.items()},
        "n_items": {str(c): len(items[c]) for c in sizes}, "main": probes.current_main(),
        "seconds": round(time.perf_counter() - started, 2)}


def _channels(map_of: Callable[..., Callable[[], list[Any]]], overhead_s: float, *,
              repeats: int) -> dict[str, float]:
    """``arg_s_per_byte`` and ``result_s_per_byte`` of the peer: big ``bytes`` arguments, big
    float64 array results (:func:`_channel_s_per_byte`)."""
    count = config.scaled(*PAYLOAD_ITEMS)
    args = [bytes(PAYLOAD_BYTES) for _ in range(count)]
    spec = ("ndarray", PAYLOAD_BYTES)
    with warnings.catch_warnings():  # Dask warns of big task arguments: they are the point
        warnings.filterwarnings("ignore", message="Sending large graph")
        return {
            "arg_s_per_byte": _channel_s_per_byte(
                map_of, workloads.payload_length, args, args[0], overhead_s=overhead_s,
                repeats=repeats),
            "result_s_per_byte": _channel_s_per_byte(
                map_of, workloads.payload_task, [spec] * count, workloads.payload_task(spec),
                overhead_s=overhead_s, repeats=repeats)}


def measure_peers(mode: str, tools: Sequence[str], workers: int, start_method: str,
                  progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """:func:`measure_peer` of each of ``tools``, each in a fresh interpreter (``mode`` and
    ``start_method`` passed as ``MPGUIDE_QUICK`` and ``MPGUIDE_START_METHOD``)."""
    env = {"MPGUIDE_QUICK": "1" if mode == "quick" else "0",
           "MPGUIDE_START_METHOD": start_method}
    records = {}
    for index, tool in enumerate(tools, start=1):
        if progress is not None:
            progress(f"[{index}/{len(tools)}] {tool} start, stop and overhead per task")
        records[tool] = runner.run_fresh(f"{__name__}:measure_peer",
                                         {"tool": tool, "workers": workers}, env=env,
                                         timeout=config.DEFAULT_TIMEOUT * 5)
    return records


def peer_card(fresh: bool = False, *, tools: Sequence[str] | None = None,
              progress: Progress | None = None,
              cache: ResultCache | None = None) -> dict[str, dict[str, Any]]:
    """The installed peers' records, by tool name: cached, measured when missing or ``fresh``.

    ``tools`` narrows the peers (default: :func:`installed`; one not installed is skipped).
    """
    from mpguide.machine import usable_cpus

    present = installed()
    chosen = present if tools is None else [t for t in tools if t in present]
    params = {"mode": config.mode(), "tools": chosen, "workers": usable_cpus(),
              "start_method": config.start_method()}
    measure = functools.partial(measure_peers, progress=progress)
    card: dict[str, dict[str, Any]] = (cache or ResultCache()).get_or_measure(
        EXPERIMENT, params, measure, fresh=fresh)
    return card


__all__ = ["EXPERIMENT", "MAP_ITEMS", "PAYLOAD_BYTES", "PAYLOAD_ITEMS", "QUICK_CHUNKSIZES",
           "TOOLS", "installed", "measure_peer", "measure_peers", "peer_card", "peer_spec"]
