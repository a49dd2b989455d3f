"""Probes of one Python interpreter, written with the standard library only.

Any CPython from 3.10 on runs this file as a script, with nothing installed::

    python3.12 -I -S mpguide/_stdlib_probes.py '{"workers": 2, "start_method": "fork", ...}'

(``-I`` keeps this file's folder, mpguide's own, off ``sys.path``; ``-S`` skips ``site``, in
the pool workers too, so what is installed does not count). It prints one JSON record:
what the interpreter is (version, free-threaded build or not, GIL on or off, default start
method, pickle's default protocol, whether :mod:`concurrent.futures` has
``InterpreterPoolExecutor``, ``os.cpu_count()`` and, from 3.13, ``os.process_cpu_count()``)
and the samples of each probe, in seconds:

- ``pool_start_stop_s``: ``ctx.Pool(workers)`` started, one tiny ``map``, closed and joined,
  per start method, the methods in turn (one warm-up start each dropped: it starts the fork
  server);
- ``map_item_overhead_s``: what a warm pool adds per item of ``map(noop, items, chunksize=1)``
  over the plain loop (under ``start_method``, the same on every interpreter);
- ``pickle``: ``dumps`` and ``loads`` of a list of floats and of a bytes object, at the
  default protocol and at protocol 5;
- ``shm_round_trip_s`` and ``pickled_round_trip_s``: a warm worker checksums ``shm_bytes``
  bytes, written into a shared-memory segment (created once, attached by the worker each
  time) or pickled, in turn;
- ``threads``: pure-Python work on ``workers`` threads and the same work in a loop, in turn
  (as fast as each other with a GIL);
- ``interpreter_pool``: where ``InterpreterPoolExecutor`` exists (3.14), its start+stop and
  per-item overhead.

:mod:`mpguide.interpreters` runs it under every interpreter it finds; the parameters (sizes,
repeats, bounds) come from the caller. Every wait is bounded by ``timeout`` and the caller
bounds the whole run; if the caller dies, this process ends its whole process group (pool
workers included), as :func:`mpguide.runner.end_with_parent` does for the kit's children.
Only what the pool workers need is imported at the top: a spawn or forkserver worker
re-imports this file, and what it imports is part of the start-up that the probe measures.
"""

from __future__ import annotations

import contextlib
import functools
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

#: The environment variable in which the caller names its pid (as :mod:`mpguide.runner`).
PARENT_PID_ENV = "MPGUIDE_PARENT_PID"
#: Shortest sample of the pickling probe, seconds (as ``mpguide.timing.DEFAULT_MIN_TIME``):
#: a payload that pickles faster is pickled several times per sample.
MIN_SAMPLE_S = 0.02


def noop(x: Any) -> Any:
    """The task that does nothing: what a pool costs per item."""
    return x


def spin(iterations: int) -> int:
    """Pure-Python work that holds the GIL, for ``iterations`` loop turns."""
    total = 0
    for i in range(iterations):
        total += i & 7
    return total


def crc_of_bytes(data: bytes) -> int:
    """CRC-32 of an argument that came pickled."""
    return zlib.crc32(data)


def crc_of_segment(name: str, nbytes: int) -> int:
    """CRC-32 of the first ``nbytes`` of the shared-memory segment ``name``, attached and
    closed here (not tracked where Python allows it: the creator unlinks it)."""
    from multiprocessing import shared_memory

    kwargs = {"track": False} if sys.version_info >= (3, 13) else {}
    segment = shared_memory.SharedMemory(name=name, **kwargs)
    try:
        return zlib.crc32(_view(segment)[:nbytes])
    finally:
        segment.close()


def _view(segment: SharedMemory) -> memoryview:
    """The segment's bytes (``buf`` is ``None`` only once it is closed)."""
    assert segment.buf is not None
    return segment.buf


def _clock(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _interleaved(runs: Mapping[str, Callable[[], Any]], repeats: int,
                 min_time: float = 0.0) -> dict[str, list[float]]:
    """Seconds per call of each of ``runs``: one warm-up call each, then ``repeats`` rounds
    of one sample of each in turn, so that a machine's drift hits them all alike. A sample
    times as many calls as make it last ``min_time`` (by the warm-up), divided by them."""
    loops = {name: max(1, math.ceil(min_time / max(_clock(run), 1e-9)))
             for name, run in runs.items()}
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(loops[name]):
                run()
            samples[name].append((time.perf_counter() - start) / loops[name])
    return samples


def _close_and_join(pool: Any, timeout: float) -> None:
    """``pool.close(); pool.join()``, the join bounded by ``timeout`` (then terminated)."""
    pool.close()
    joiner = threading.Thread(target=pool.join, daemon=True)
    joiner.start()
    joiner.join(timeout)
    if joiner.is_alive():
        pool.terminate()
        raise TimeoutError(f"the pool's workers did not exit within {timeout:g} s")


@contextlib.contextmanager
def _pool(ctx: Any, workers: int, timeout: float) -> Iterator[Any]:
    """``ctx.Pool(workers)``, closed and joined on exit (terminated on an error)."""
    pool = ctx.Pool(workers)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    _close_and_join(pool, timeout)


def _checked(expected: Any, actual: Any, what: str) -> Any:
    if actual != expected:
        raise RuntimeError(f"{what} returned a wrong result")
    return actual


def _start_stop(ctx: Any, workers: int, timeout: float) -> None:
    with _pool(ctx, workers, timeout) as pool:
        _checked(list(range(workers)), pool.map_async(noop, range(workers), 1).get(timeout),
                 "the pool")


def pool_start_stop(methods: Iterable[str], workers: int, repeats: int,
                    timeout: float) -> dict[str, list[float]]:
    """Seconds to start ``Pool(workers)``, map ``noop`` once, close and join, per start
    method, the methods interleaved."""
    return _interleaved({m: functools.partial(_start_stop, multiprocessing.get_context(m),
                                              workers, timeout) for m in methods}, repeats)


def map_item_overhead(pool: Any, n_items: int, repeats: int, timeout: float) -> list[float]:
    """Seconds a warm ``pool`` adds per item of ``map(noop, items, 1)`` over the loop."""
    items = list(range(n_items))
    _checked(items, pool.map_async(noop, items, 1).get(timeout), "Pool.map")
    samples = []
    for _ in range(repeats):
        loop = _clock(lambda: list(map(noop, items)))
        wall = _clock(lambda: pool.map_async(noop, items, 1).get(timeout))
        samples.append((wall - loop) / n_items)
    return samples


def round_trips(pool: Any, nbytes: int, repeats: int, timeout: float) -> dict[str, Any]:
    """Seconds for a warm worker to checksum ``nbytes`` bytes written into a shared-memory
    segment (created once, attached by the worker each time) and sent pickled, in turn."""
    from multiprocessing import shared_memory

    payload = bytes(range(256)) * (nbytes // 256)
    expected = zlib.crc32(payload)
    segment = shared_memory.SharedMemory(create=True, size=len(payload))
    try:
        def through_shm() -> None:
            _view(segment)[:len(payload)] = payload
            _checked(expected, pool.apply_async(
                crc_of_segment, (segment.name, len(payload))).get(timeout), "the shm worker")

        def pickled() -> None:
            _checked(expected, pool.apply_async(crc_of_bytes, (payload,)).get(timeout),
                     "the pickled worker")

        samples = _interleaved({"shm_round_trip_s": through_shm,
                                "pickled_round_trip_s": pickled}, repeats)
    finally:
        segment.close()
        segment.unlink()
    return {**samples, "shm_bytes": len(payload)}


def pickle_costs(n_floats: int, nbytes: int, repeats: int) -> dict[str, Any]:
    """``dumps`` and ``loads`` seconds of a list of ``n_floats`` floats and of ``nbytes``
    bytes, at pickle's default protocol and at protocol 5 (the default from 3.14),
    interleaved, each sample at least :data:`MIN_SAMPLE_S` long."""
    payloads = {"floats": [i * 0.5 for i in range(n_floats)],
                "bytes": bytes(range(256)) * (nbytes // 256)}
    costs: dict[str, Any] = {}
    for kind, payload in payloads.items():
        pickled = {str(p): pickle.dumps(payload, protocol=p)
                   for p in sorted({pickle.DEFAULT_PROTOCOL, 5})}
        runs = {}
        for protocol, data in pickled.items():
            runs[f"{protocol} dumps_s"] = functools.partial(pickle.dumps, payload, int(protocol))
            runs[f"{protocol} loads_s"] = functools.partial(pickle.loads, data)
        samples = _interleaved(runs, repeats, MIN_SAMPLE_S)
        costs[kind] = {protocol: {"pickled_bytes": len(data),
                                  "dumps_s": samples[f"{protocol} dumps_s"],
                                  "loads_s": samples[f"{protocol} loads_s"]}
                       for protocol, data in pickled.items()}
    return costs


def iterations_for(seconds: float) -> int:
    """Turns of :func:`spin` that last about ``seconds`` on this interpreter."""
    iterations = 1000
    while (took := _clock(functools.partial(spin, iterations))) < seconds / 4:
        iterations *= 2
    return max(1, round(iterations * seconds / took))


def threads(workers: int, task_s: float, repeats: int, timeout: float) -> dict[str, list[float]]:
    """Seconds of ``workers`` pure-Python tasks of ``task_s`` each in a loop and on a thread
    pool of ``workers`` threads, interleaved."""
    tasks = [iterations_for(task_s)] * workers
    expected = [spin(n) for n in tasks]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        _checked(expected, list(pool.map(spin, tasks, timeout=timeout)), "the threads")
        return _interleaved({"loop_s": lambda: [spin(n) for n in tasks],
                             "threads_s": lambda: list(pool.map(spin, tasks, timeout=timeout))},
                            repeats)


def interpreter_pool(workers: int, n_items: int, repeats: int,
                     timeout: float) -> dict[str, Any] | None:
    """Start+stop seconds and per-item overhead of ``InterpreterPoolExecutor(workers)``
    (Python 3.14), ``None`` where it does not exist, ``{"error": ...}`` where it failed.

    The task is the builtin ``abs``: a function of ``__main__`` cannot run in another
    interpreter."""
    try:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]
    except ImportError:
        return None
    items = list(range(n_items))
    try:
        def start_stop() -> None:
            with InterpreterPoolExecutor(workers) as pool:
                _checked(list(range(workers)),
                         list(pool.map(abs, range(workers), timeout=timeout)), "the pool")

        with InterpreterPoolExecutor(workers) as pool:
            _checked(items, list(pool.map(abs, items, timeout=timeout)), "the pool")
            overhead = []
            for _ in range(repeats):
                loop = _clock(lambda: list(map(abs, items)))
                wall = _clock(lambda: list(pool.map(abs, items, timeout=timeout)))
                overhead.append((wall - loop) / n_items)
        start_stop_s = _interleaved({"start_stop_s": start_stop}, repeats)["start_stop_s"]
        return {"start_stop_s": start_stop_s, "map_item_overhead_s": overhead}
    except Exception as exc:  # noqa: BLE001 - a new API on a new interpreter: reported
        return {"error": f"{type(exc).__name__}: {exc}"}


def describe() -> dict[str, Any]:
    """What this interpreter is, without measuring anything."""
    import concurrent.futures
    import platform
    import sysconfig

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "version": list(sys.version_info[:3]),
        "executable": sys.executable,
        "free_threaded": free_threaded,
        "gil_enabled": True if is_gil_enabled is None else bool(is_gil_enabled()),
        "start_methods": multiprocessing.get_all_start_methods(),
        "default_start_method": multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_all_start_methods()[0],
        "pickle_default_protocol": pickle.DEFAULT_PROTOCOL,
        "pickle_highest_protocol": pickle.HIGHEST_PROTOCOL,
        "interpreter_pool_executor": hasattr(concurrent.futures, "InterpreterPoolExecutor"),
        "cpu_count": os.cpu_count(),
        "process_cpu_count": getattr(os, "process_cpu_count", lambda: None)(),
    }


def measure(*, workers: int, start_method: str, repeats: int, map_items: int,
            pickle_floats: int, pickle_bytes: int, shm_bytes: int, thread_task_s: float,
            timeout: float) -> dict[str, Any]:
    """Every probe, in this interpreter; the JSON-ready record described above."""
    record = describe()
    methods = record["start_methods"]
    method = start_method if start_method in methods else record["default_start_method"]
    record["params"] = {"workers": workers, "start_method": method, "repeats": repeats,
                        "map_items": map_items, "pickle_floats": pickle_floats,
                        "pickle_bytes": pickle_bytes, "shm_bytes": shm_bytes,
                        "thread_task_s": thread_task_s}
    if "fork" in methods:  # the tracker runs before any fork, so fork workers share it
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    record["pool_start_stop_s"] = pool_start_stop(methods, workers, repeats, timeout)
    with _pool(multiprocessing.get_context(method), workers, timeout) as pool:
        record["map_item_overhead_s"] = map_item_overhead(pool, map_items, repeats, timeout)
        record.update(round_trips(pool, shm_bytes, repeats, timeout))
    record["pickle"] = pickle_costs(pickle_floats, pickle_bytes, repeats)
    record["threads"] = threads(workers, thread_task_s, repeats, timeout)
    record["interpreter_pool"] = interpreter_pool(workers, map_items, repeats, timeout)
    return record


def end_with_parent(interval: float = 0.5) -> None:
    """Once the caller is gone, SIGTERM this process's whole group: the probe, its pool
    workers and fork server (the resource tracker ignores it and unlinks what they left)."""
    parent = int(os.environ.get(PARENT_PID_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(0), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="mpguide-parent-watch").start()


def main(argv: list[str]) -> None:
    """``argv[1]`` is the JSON object of :func:`measure`'s parameters; prints the record."""
    import json

    if len(argv) != 2:
        raise SystemExit(f"usage: {argv[0]} '{{\"workers\": ..., ...}}' (see measure())")
    end_with_parent()
    print(json.dumps(measure(**json.loads(argv[1]))), flush=True)


if __name__ == "__main__":
    main(sys.argv)
