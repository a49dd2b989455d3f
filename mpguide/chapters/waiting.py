"""Chapter 3, part 3: work that waits (a Pool or one Process per task; threads or an asyncio
event loop feeding a process pool when each item is fetched, then computed).

:mod:`mpguide.chapters.tuning` declares the chapter. Neither experiment is a plain map of a
function through executors (one ``Process`` per task; threads handing work to a process pool),
so both go through :func:`mpguide.experiment.run_cached` (fresh interpreter, cached), declared
by :func:`pool_vs_process_params` and :func:`io_cpu_params` with worker counts from
:func:`mpguide.machine.usable_cpus`; ``load_*`` functions return tidy DataFrames. The waiting
is real I/O served from this machine: :func:`local_server` runs a small HTTP server on
127.0.0.1 (a free port) whose answers take a fixed delay, started and shut down by the
experiment, so it runs anywhere without a network.

Examples
--------
>>> from mpguide.chapters import waiting
>>> waiting.digest((b"abc", 10)) == waiting.digest((b"abc", 10))
True
>>> with waiting.local_server(delay_s=0.0, nbytes=8) as base_url:
...     len(waiting.fetch(f"{base_url}/item/3"))
8
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.server
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, pools, timing, workloads
from mpguide.chapters.tuning import CHAPTER
from mpguide.experiment import run_cached

if TYPE_CHECKING:
    import pandas as pd

#: Threads of the I/O pool per worker of the process pool (the waits overlap; the computing
#: is the processes').
IO_THREADS_PER_WORKER = 4

#: The designs the I/O + CPU comparison times, in the order of its figure (they are part of
#: its declaration, so a cached run that lacks one is not reused).
IO_CPU_WAYS = ("serial", "threads only", "processes only", "threads feed processes",
               "asyncio feeds processes")

#: Seconds each worker of the asyncio design's executor sleeps once before timing, so that all
#: its workers exist (a ``ProcessPoolExecutor`` starts them on demand).
WARM_UP_S = 0.05


def _frame(rows: list[dict[str, Any]] | None, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    if not rows:  # a worker re-importing its parent's script, on a cache miss
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows)


def _metadata(start_method: str) -> dict[str, Any]:
    return {**machine.collect_metadata(), "start_method": start_method,
            "measured_in": "fresh interpreter"}


# ---------------------------------------------------------------------------------------------
# Pool vs one Process per task
# ---------------------------------------------------------------------------------------------

#: Scenarios of the Pool-vs-Process comparison: name -> (task kind, tasks per worker full,
#: quick, seconds per task full, quick).
POOL_VS_PROCESS = {
    "few CPU tasks": ("cpu", 2, 2, 0.1, 0.04),
    "many CPU tasks": ("cpu", 50, 10, 0.002, 0.002),
    "few long I/O waits": ("io", 4, 2, 0.15, 0.1),
}


def pool_vs_process_params(start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params of the Pool-vs-Process comparison, not run: task counts per
    usable core, and the ``Pool`` they go through (usable cores, chunksize 1)."""
    workers = machine.usable_cpus()
    quick = config.quick_mode()
    scenarios = {name: {"kind": kind, "n": workers * (nq if quick else nf),
                        "task_s": sq if quick else sf}
                 for name, (kind, nf, nq, sf, sq) in POOL_VS_PROCESS.items()}
    pool = executors.Pool(workers, chunksize=1,
                          start_method=config.resolve_start_method(start_method))
    return {"pool": pool.to_dict(), "scenarios": scenarios, "repeats": 2}


def _run_processes(ctx: Any, target: Callable[[Any], Any], args: list[Any],
                   timeout: float) -> None:
    """Start one process per argument, join all within ``timeout``, fail on a bad exit."""
    processes = [ctx.Process(target=target, args=(a,), daemon=True) for a in args]
    deadline = time.monotonic() + timeout
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
    bad = [p.exitcode for p in processes if p.exitcode != 0]
    if bad:
        raise pools.WorkerDiedError(f"{len(bad)} of {len(processes)} processes failed or "
                                    f"timed out (exit codes {bad[:5]})")


def _pool_run(spec: executors.Executor, func: Callable[[Any], Any], args: list[Any],
              timeout: float) -> list[Any]:
    """``with Pool(...) as p: return p.map(func, args)``, bounded (no pickling check)."""
    with spec.started(timeout) as run:
        return run(func, args)


def measure_pool_vs_process(*, pool: dict[str, Any], scenarios: dict[str, dict[str, Any]],
                            repeats: int) -> list[dict[str, Any]]:
    """Wall time (start and stop included) of a serial loop, ``pool`` (an
    :class:`mpguide.executors.Pool` spec: ``with Pool(...) as p: p.map(...)``) and one
    ``Process`` per task, for each scenario, interleaved."""
    spec = executors.from_dict(pool)
    method = str(getattr(spec, "start_method", None) or config.start_method())
    ctx = pools.get_context(method)
    timeout = config.DEFAULT_TIMEOUT
    records = []
    for name, scenario in scenarios.items():
        if scenario["kind"] == "cpu":
            func: Callable[[Any], Any] = workloads.spin
            args = [workloads.iterations_for(scenario["task_s"])] * scenario["n"]
        else:
            func, args = workloads.sleep_task, [scenario["task_s"]] * scenario["n"]
        expected = list(map(func, args))
        timing.check_same(expected, spec.map(func, args, timeout=timeout), f"Pool in {name}")
        runs = {"serial": lambda func=func, args=args: list(map(func, args)),
                "Pool": lambda func=func, args=args: _pool_run(spec, func, args, timeout),
                "Process per task": lambda func=func, args=args: _run_processes(
                    ctx, func, args, timeout)}
        for rep in range(repeats):
            for way, run in runs.items():
                start = time.perf_counter()
                run()
                records.append({"scenario": name, "way": way, "repeat": rep,
                                "n_tasks": scenario["n"], "task_s": scenario["task_s"],
                                "workers": spec.parallelism, "label": spec.label,
                                "seconds": time.perf_counter() - start})
    meta = _metadata(method)
    return [{**meta, **r} for r in records]


def load_pool_vs_process(params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Tidy frame of :func:`measure_pool_vs_process` with ``params`` (default:
    :func:`pool_vs_process_params`; fresh interpreter, cached)."""
    params = pool_vs_process_params() if params is None else params
    rows = run_cached("choosing-pool-vs-process", f"{__name__}:measure_pool_vs_process",
                      params, timeout=config.DEFAULT_TIMEOUT * 10)
    return _frame(rows, ["scenario", "way", "repeat", "n_tasks", "workers", "seconds"])


# ---------------------------------------------------------------------------------------------
# I/O and CPU together: threads for the waiting, processes for the computing
# ---------------------------------------------------------------------------------------------

class _Server(http.server.ThreadingHTTPServer):
    """The local server: how long each answer waits and how many bytes it has. Its listen
    queue is the system's largest: with socketserver's default of 5, the sixth connection that
    arrives at once waits for a SYN retry (about a second)."""

    request_queue_size = socket.SOMAXCONN
    delay_s: float = 0.0
    nbytes: int = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer (a fetch that timed out) is not the
        server's error: no traceback on stderr for it."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers ``GET /item/<i>`` after the server's delay with ``nbytes`` bytes (404 for any
    other path); HTTP/1.0, so it closes the connection after each answer."""

    server: _Server

    def do_GET(self) -> None:
        time.sleep(self.server.delay_s)
        folder, _, item = self.path.rpartition("/")
        if folder != "/item" or not item.isdigit():
            self.send_error(404, "no such item")
            return
        index = int(item)
        nbytes = self.server.nbytes
        body = (index.to_bytes(4, "little") * (nbytes // 4 + 1))[:nbytes]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Stay quiet: no access log on stderr."""


@contextlib.contextmanager
def local_server(delay_s: float, nbytes: int) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 (free port) whose answers take ``delay_s``;
    yields its base URL and is always shut down on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.delay_s, server.nbytes = delay_s, nbytes
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True, name="mpguide-http")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(url: str) -> bytes:
    """GET ``url`` (10 s timeout) and return the body: the waiting part."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


async def fetch_async(url: str, timeout: float = 10.0) -> bytes:
    """GET ``url`` with asyncio streams (plain HTTP/1.0: the server closes the connection after
    its answer) within ``timeout`` and return the body: the waiting part, on an event loop. An
    answer other than 200 raises :class:`OSError`.

    Examples
    --------
    >>> import asyncio
    >>> with local_server(delay_s=0.0, nbytes=8) as base_url:
    ...     len(asyncio.run(fetch_async(f"{base_url}/item/3")))
    8
    """
    return await asyncio.wait_for(_get(urllib.parse.urlsplit(url)), timeout)


async def _get(url: urllib.parse.SplitResult) -> bytes:
    reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
    try:
        writer.write(f"GET {url.path or '/'} HTTP/1.0\r\nHost: {url.netloc}\r\n\r\n".encode())
        await writer.drain()
        answer = await reader.read()  # to the end: the server closes after its answer
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if status.split(b" ")[1:2] != [b"200"]:
        raise OSError(f"GET {url.geturl()} answered {status.decode(errors='replace')!r}, "
                      f"not 200")
    return body


def digest(job: tuple[bytes, int]) -> int:
    """CRC of the data mixed with ``iterations`` of :func:`workloads.spin`: the computing
    part (holds the GIL)."""
    data, iterations = job
    return zlib.crc32(data) ^ workloads.spin(iterations)


def fetch_and_digest(job: tuple[str, int]) -> int:
    """Both parts in one task: what a thread-only or process-only design runs."""
    url, iterations = job
    return digest((fetch(url), iterations))


async def asyncio_feed(urls: list[str], iterations: int, executor: concurrent.futures.Executor,
                       fetches: int, timeout: float) -> list[int]:
    """Fetch ``urls`` on the running event loop, at most ``fetches`` at once, and hand each
    body to ``executor`` (``loop.run_in_executor``) as it arrives, bounded by ``timeout`` as a
    whole: asyncio feeding processes. Returns the digests in the order of ``urls``."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(fetches)

    async def one(url: str) -> int:
        async with gate:
            data = await fetch_async(url)
        return await loop.run_in_executor(executor, digest, (data, iterations))

    return list(await asyncio.wait_for(asyncio.gather(*map(one, urls)), timeout))


@contextlib.contextmanager
def _warm_executor(workers: int, start_method: str,
                   timeout: float) -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` whose workers all exist (each got a short
    sleep), shut down within ``timeout`` on exit (its workers killed if the block failed)."""
    executor = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=pools.get_context(start_method))
    failed = True
    try:
        list(executor.map(workloads.sleep_task, [WARM_UP_S] * workers, timeout=timeout))
        yield executor
        failed = False
    finally:
        executors.shutdown_bounded(executor, timeout, kill=failed)


def io_cpu_params(start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params of the I/O + CPU pipeline comparison, not run: a process pool
    of the usable cores, :data:`IO_THREADS_PER_WORKER` threads per worker, 8 items per worker
    (4 in quick mode) that each wait 50 ms, then compute 20 ms (10 ms)."""
    workers = machine.usable_cpus()
    return {"start_method": config.resolve_start_method(start_method), "workers": workers,
            "threads": IO_THREADS_PER_WORKER * workers,
            "n_items": config.scaled(8, 4) * workers, "delay_ms": 50,
            "cpu_ms": config.scaled(20, 10), "nbytes": 4096, "repeats": config.scaled(3, 2),
            "ways": list(IO_CPU_WAYS)}


def measure_io_cpu(*, start_method: str, workers: int, threads: int, n_items: int,
                   delay_ms: float, cpu_ms: float, nbytes: int, repeats: int,
                   ways: Sequence[str] = IO_CPU_WAYS) -> list[dict[str, Any]]:
    """Fetch ``n_items`` answers from a local server (each waits ``delay_ms``) and compute
    ``cpu_ms`` on each: serial, threads only, processes only, threads feeding processes and
    asyncio feeding processes (one event loop, at most ``threads`` fetches at once, handing
    each answer to a ``ProcessPoolExecutor`` of ``workers``; one ``asyncio.run`` per run),
    each checked against the serial loop, then timed ``repeats`` times, interleaved.

    Both process pools start (and are warmed up) before the threads and the server, so no
    fork copies a thread that is fetching.
    """
    unknown = set(ways) - set(IO_CPU_WAYS)
    if unknown:
        raise ValueError(f"no such design: {sorted(unknown)}; choose from {list(IO_CPU_WAYS)}")
    iterations = workloads.iterations_for(cpu_ms * 1e-3)
    timeout = config.DEFAULT_TIMEOUT
    records = []
    with (pools.bounded_pool(workers, start_method) as procs,
          _warm_executor(workers, start_method, timeout) as executor,
          ThreadPool(threads) as waiters):
        pools.wait_result(procs.map_async(workloads.noop, range(workers * 2), 1), procs, timeout)
        with local_server(delay_ms * 1e-3, nbytes) as base:
            jobs = [(f"{base}/item/{i}", iterations) for i in range(n_items)]
            urls = [url for url, _ in jobs]
            expected = [fetch_and_digest(job) for job in jobs]

            def hybrid() -> list[int]:
                pending = [procs.apply_async(digest, ((data, iterations),)) for data in
                           waiters.imap(fetch, urls)]
                return [pools.wait_result(p, procs, timeout) for p in pending]

            runs = {
                "serial": lambda: [fetch_and_digest(job) for job in jobs],
                "threads only": lambda: waiters.map_async(fetch_and_digest, jobs, 1).get(
                    timeout),
                "processes only": lambda: pools.wait_result(
                    procs.map_async(fetch_and_digest, jobs, 1), procs, timeout),
                "threads feed processes": hybrid,
                "asyncio feeds processes": lambda: asyncio.run(
                    asyncio_feed(urls, iterations, executor, threads, timeout)),
            }
            runs = {way: runs[way] for way in ways}
            for way, run in runs.items():
                timing.check_same(expected, run(), way)
            for rep in range(repeats):
                for way, run in runs.items():
                    start = time.perf_counter()
                    run()
                    records.append({"way": way, "repeat": rep, "n_items": n_items,
                                    "delay_ms": delay_ms, "cpu_ms": cpu_ms, "workers": workers,
                                    "threads": threads,
                                    "seconds": time.perf_counter() - start})
    meta = _metadata(start_method)
    return [{**meta, **r} for r in records]


def load_io_cpu(params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Tidy frame of :func:`measure_io_cpu` with ``params`` (default: :func:`io_cpu_params`;
    fresh interpreter, cached)."""
    params = io_cpu_params() if params is None else params
    rows = run_cached("choosing-io-cpu", f"{__name__}:measure_io_cpu", params,
                      timeout=config.DEFAULT_TIMEOUT * 10)
    return _frame(rows, ["way", "repeat", "n_items", "seconds"])


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

#: Share of the waiting that one Process per task saves over a Pool (whose workers wait
#: ``ceil(tasks / workers)`` times in turn; the processes wait once) that it must keep once
#: its processes have started: below half, starting them costs more than the waits it saves.
KEEPS_OF_WAITS_SAVED = 0.5


@claims.claim("process-per-task-for-long-waits", chapter=CHAPTER,
              statement="For {io_n} tasks that mostly wait ({wait:.2f} s each), one Process per "
                        "task took {io_process:.2f} s against {io_pool:.2f} s for a Pool of "
                        "{workers}, which waits {rounds} times in turn: it kept at least half "
                        "of the {saved:.2f} s that waiting all at once saves ({kept:.0%}); for "
                        "{many_n} short CPU tasks the Pool took {many_pool:.2f} s against "
                        "{many_process:.2f} s.")
def _pool_vs_process() -> claims.Evidence:
    df = load_pool_vs_process()
    med = df.groupby(["scenario", "way"])["seconds"].median()
    n = df.groupby("scenario")["n_tasks"].first()
    io, many = "few long I/O waits", "many CPU tasks"
    workers, wait = int(df.workers.iloc[0]), float(df.loc[df.scenario == io, "task_s"].iloc[0])
    rounds = -(-int(n[io]) // workers)
    saved = (rounds - 1) * wait  # the Pool's turns of waiting beyond the first
    io_process, io_pool = med[io, "Process per task"], med[io, "Pool"]
    kept = (io_pool - io_process) / saved if saved else float("nan")
    values = {"io_n": int(n[io]), "many_n": int(n[many]), "workers": workers, "wait": wait,
              "rounds": rounds, "saved": saved, "kept": kept, "io_process": io_process,
              "io_pool": io_pool, "many_pool": med[many, "Pool"],
              "many_process": med[many, "Process per task"]}
    return claims.Evidence(
        holds=bool(kept >= KEEPS_OF_WAITS_SAVED
                   and values["many_pool"] < values["many_process"]),
        values=values, evidence="Median wall times, process start and stop included; the "
                                "waits saved are the Pool's turns beyond the first.")


@claims.claim("threads-feed-processes", chapter=CHAPTER,
              statement="Fetching and computing {n} items, threads feeding a process pool took "
                        "{hybrid:.2f} s; threads alone {threads:.2f} s, processes alone "
                        "{processes:.2f} s, the serial loop {serial:.2f} s.")
def _hybrid() -> claims.Evidence:
    df = load_io_cpu()
    med = df.groupby("way")["seconds"].median()
    values = {"n": int(df.n_items.iloc[0]), "hybrid": med["threads feed processes"],
              "threads": med["threads only"], "processes": med["processes only"],
              "serial": med["serial"]}
    return claims.Evidence(
        holds=bool(values["hybrid"] < min(values["threads"], values["processes"])),
        values=values, evidence=f"Each answer waits {df.delay_ms.iloc[0]:g} ms on a local "
                                f"server, then {df.cpu_ms.iloc[0]:g} ms of pure-Python work.")


@claims.claim("asyncio-feeds-processes", chapter=CHAPTER,
              statement="One asyncio event loop fetching the same {n} items ({fetches} at most "
                        "at once) and handing each to a process pool took {asyncio:.2f} s, "
                        "{ratio:.2f}x the time of threads feeding it ({hybrid:.2f} s), against "
                        "{threads:.2f} s for threads alone and {processes:.2f} s for processes "
                        "alone.")
def _asyncio_hybrid() -> claims.Evidence:
    df = load_io_cpu()
    med = df.groupby("way")["seconds"].median()
    values = {"n": int(df.n_items.iloc[0]), "fetches": int(df.threads.iloc[0]),
              "asyncio": med["asyncio feeds processes"], "hybrid": med["threads feed processes"],
              "threads": med["threads only"], "processes": med["processes only"]}
    values["ratio"] = values["asyncio"] / values["hybrid"]
    return claims.Evidence(
        holds=bool(values["asyncio"] < min(values["threads"], values["processes"])),
        values=values, evidence="Median wall times measured in the same run, interleaved with "
                                "the other designs; each asyncio run starts its own event loop "
                                "(asyncio.run), as a script does.")
