"""Chapter 3, part 2: choosing (start methods and the fork-with-threads deadlock, threads or
processes, BLAS threads inside processes).

Same shape as :mod:`mpguide.chapters.tuning` (which declares the chapter): every experiment
runs in a fresh interpreter (or, for the heavy-``__main__`` case, a generated script), its JSON
result is cached, and ``load_*`` functions return tidy DataFrames for the gallery, the guide
page and the claims. Everything a pool or a process receives by reference (the lock-taking
child) is defined here, importable under every start method; BLAS threads are capped and read
with :func:`mpguide.blas.limit_blas_threads` and :func:`mpguide.blas.blas_threads`. Work that
waits is in :mod:`mpguide.chapters.waiting`.

Examples
--------
>>> from mpguide.chapters import choosing
>>> choosing.python_facts()["fork_threads_warning_since"]
'3.12'
>>> choosing.heavy_preamble(["numpy"]).split("  #")[0]
'import numpy'
"""

from __future__ import annotations

import math
import sys
import threading
import time
import warnings
from multiprocessing.pool import ThreadPool
from typing import Any

from mpguide import claims, config, pools, runner, timing, workloads
from mpguide.blas import blas_threads, limit_blas_threads
from mpguide.chapters.tuning import CHAPTER, finish, pool_map, records_frame, run_cached, timed

#: What the generated "heavy" script imports at top level, like a typical data script
#: (quick mode imports numpy only, to keep CI builds short).
HEAVY_IMPORTS = ("numpy", "pandas")

#: Python versions behind the start-method facts quoted on the guide page.
FORK_THREADS_WARNING_SINCE = (3, 12)
FORKSERVER_DEFAULT_SINCE = (3, 14)


def _method(start_method: str | None) -> str:
    return config.validate_start_method(start_method or config.start_method())


# ---------------------------------------------------------------------------------------------
# Start methods: start+stop time and per-worker memory, light and heavy __main__
# ---------------------------------------------------------------------------------------------

def _worker_memory(pool) -> tuple[float, float]:
    """Mean USS and RSS (MiB) of a pool's workers."""
    import psutil

    uss, rss = [], []
    for process in pool._pool:  # Pool has no public list of its processes
        info = psutil.Process(process.pid).memory_full_info()
        uss.append(info.uss / 2**20)
        rss.append(info.rss / 2**20)
    return sum(uss) / len(uss), sum(rss) / len(rss)


def measure_start_method(*, method: str, workers: int, repeats: int) -> list[dict[str, Any]]:
    """Start ``ctx.Pool(workers)``, map one tiny task per worker, read the workers' memory,
    close and join; ``repeats + 1`` times in this interpreter (the first pool also starts the
    forkserver, so it is recorded as ``first``)."""
    records = []
    for rep in range(repeats + 1):
        start = time.perf_counter()
        with pools.bounded_pool(workers, method) as pool:
            pool_map(pool, workloads.noop, list(range(workers)), 1)
            started = time.perf_counter() - start
            uss, rss = _worker_memory(pool)
        records.append({"method": method, "repeat": rep, "first": rep == 0,
                        "start_s": started, "start_stop_s": time.perf_counter() - start,
                        "worker_uss_mib": uss, "worker_rss_mib": rss})
    return records


def heavy_preamble(imports: list[str]) -> str:
    """Top of a script that imports ``imports`` (for :func:`runner.run_fresh`'s ``preamble``);
    a spawn child of that script re-imports the heavy modules.

    Examples
    --------
    >>> heavy_preamble(["numpy", "pandas"])
    'import numpy, pandas  # noqa: F401  (the point of the script)'
    """
    return f"import {', '.join(imports)}  # noqa: F401  (the point of the script)"


def start_methods_params() -> dict[str, Any]:
    """Parameters of the start-method comparison for the current mode."""
    return {"mode": config.mode(), "workers": 2, "repeats": config.scaled(1, 0),
            "methods": config.available_start_methods(),
            "imports": list(HEAVY_IMPORTS[:config.scaled(len(HEAVY_IMPORTS), 1)])}


def measure_start_methods(*, mode: str, workers: int, repeats: int, methods: list[str],
                          imports: list[str]) -> dict[str, Any]:
    """:func:`measure_start_method` for each method, from a light ``__main__``
    (:mod:`mpguide._child`, stdlib + mpguide) and from a heavy one importing ``imports``
    (:func:`heavy_preamble`)."""
    del mode
    records = []
    for method in methods:
        kwargs = {"method": method, "workers": workers, "repeats": repeats}
        target = f"{__name__}:measure_start_method"
        light = runner.run_fresh(target, kwargs, timeout=120)
        heavy = runner.run_fresh(target, kwargs, timeout=180, preamble=heavy_preamble(imports))
        records += [{**r, "main": "light"} for r in light]
        records += [{**r, "main": "heavy", "imports": " ".join(imports)} for r in heavy]
    return finish(records, ", ".join(methods) + " compared")


def run_cached_local(experiment: str, func, params: dict[str, Any]) -> Any:
    """Cache ``func(**params)`` run in this process (for experiments that start their own
    fresh interpreters)."""
    from mpguide.cache import ResultCache

    return ResultCache().get_or_measure(experiment, params, func)


def load_start_methods():
    """Tidy frame of :func:`measure_start_methods` (cached)."""
    params = start_methods_params()
    result = run_cached_local("choosing-start-methods", measure_start_methods, params)
    return records_frame(result)


# ---------------------------------------------------------------------------------------------
# The fork-with-threads deadlock, demonstrated safely
# ---------------------------------------------------------------------------------------------

#: Stands for any lock a library holds now and then in a background thread (logging, an I/O
#: buffer, an allocator, a thread pool's queue).
_LIBRARY_LOCK = threading.Lock()


def use_library_lock() -> None:
    """Child process body: take :data:`_LIBRARY_LOCK` once, as library code would."""
    with _LIBRARY_LOCK:
        pass


def measure_fork_deadlock(*, mode: str, wait_s: float, methods: list[str]) -> dict[str, Any]:
    """Start a child with each method while a thread of this process holds a lock.

    Under ``fork`` the child gets a copy of the lock in its held state, and no copy of the
    thread that would release it: it waits forever. The child is given ``wait_s`` seconds,
    then killed and reported as deadlocked. Run through :func:`runner.run_fresh`, so even a
    failure to kill stays inside a process group that is killed on timeout.
    """
    del mode
    records = []
    for method in methods:
        ctx = pools.get_context(method)
        holding, release = threading.Event(), threading.Event()

        def hold(holding: threading.Event = holding, release: threading.Event = release) -> None:
            with _LIBRARY_LOCK:
                holding.set()
                release.wait(wait_s + 30)

        holder = threading.Thread(target=hold, daemon=True, name="library-thread")
        holder.start()
        holding.wait(10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            child = ctx.Process(target=use_library_lock, daemon=True)
            start = time.perf_counter()
            child.start()
        child.join(wait_s)
        waited = time.perf_counter() - start
        deadlocked = child.is_alive()
        if deadlocked:
            child.kill()
            child.join(5)
        release.set()
        holder.join(5)
        records.append({
            "method": method, "outcome": "deadlocked" if deadlocked else "finished",
            "waited_s": waited, "exitcode": child.exitcode, "wait_limit_s": wait_s,
            "warning": "; ".join(f"{w.category.__name__}: {w.message}" for w in caught) or None,
        })
    return finish(records, ", ".join(methods) + " compared")


def fork_deadlock_params() -> dict[str, Any]:
    """Parameters of the deadlock demonstration for the current mode."""
    return {"mode": config.mode(), "wait_s": config.scaled(3, 2),
            "methods": config.available_start_methods()}


def load_fork_deadlock():
    """Tidy frame of :func:`measure_fork_deadlock` (cached; never hangs: the child is killed
    after ``wait_s`` and the whole interpreter after a further minute)."""
    params = fork_deadlock_params()
    return records_frame(run_cached(
        "choosing-fork-deadlock", f"{__name__}:measure_fork_deadlock", params,
        timeout=params["wait_s"] * len(params["methods"]) + 60))


# ---------------------------------------------------------------------------------------------
# Threads vs processes
# ---------------------------------------------------------------------------------------------

def threads_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the threads-vs-processes comparison for the current mode."""
    return {"start_method": _method(start_method), "mode": config.mode(), "workers": 2,
            "n_items": config.scaled(32, 12), "task_ms": config.scaled(10, 4),
            "repeats": config.scaled(3, 2)}


def measure_threads_vs_processes(*, start_method: str, mode: str, workers: int, n_items: int,
                                 task_ms: float, repeats: int) -> dict[str, Any]:
    """Serial loop, ``ThreadPool(workers)`` and ``Pool(workers)`` on a GIL-holding task
    (:func:`workloads.spin`) and a GIL-releasing one (:func:`workloads.numpy_sum_task`);
    pools started and warmed up before timing, chunksize 1."""
    from mpguide.chapters.pool_size import pool_size_items

    del mode
    records = []
    with pools.bounded_pool(workers, start_method) as procs, ThreadPool(workers) as threads:
        pool_map(procs, workloads.noop, list(range(workers * 2)), 1)
        for kind, label in (("spin", "pure Python (holds the GIL)"),
                            ("numpy", "numpy (releases the GIL)")):
            func, items = pool_size_items(kind, n_items, task_ms)
            expected = list(map(func, items))
            runs = {
                "serial": lambda f=func, i=items: list(map(f, i)),
                "threads": lambda f=func, i=items: threads.map_async(f, i, 1).get(
                    config.DEFAULT_TIMEOUT),
                "processes": lambda f=func, i=items: pool_map(procs, f, i, 1),
            }
            for executor, run in runs.items():
                timing.check_same(expected, run(), f"{executor} {kind}")
                for rep in range(repeats):
                    _, seconds = timed(run)
                    records.append({"workload": kind, "label": label, "executor": executor,
                                    "repeat": rep, "workers": workers, "n_items": n_items,
                                    "task_ms": task_ms, "seconds": seconds})
    return finish(records, start_method)


def load_threads_vs_processes(start_method: str | None = None):
    """Tidy frame of :func:`measure_threads_vs_processes` (cached)."""
    return records_frame(run_cached("choosing-threads", f"{__name__}:measure_threads_vs_processes",
                                    threads_params(start_method)))


def speedups(df, by: list[str], column: str, baseline: str = "serial"):
    """Median seconds (with IQR) per ``by`` + ``column`` and the speedup over the
    ``baseline`` value of ``column`` within each ``by`` group.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"w": ["a"] * 4, "way": ["serial", "serial", "pool", "pool"],
    ...                    "seconds": [2.0, 2.0, 1.0, 1.0]})
    >>> speedups(df, ["w"], "way")[["way", "speedup"]].to_dict("records")
    [{'way': 'serial', 'speedup': 1.0}, {'way': 'pool', 'speedup': 2.0}]
    """
    out = timing.summarize(df, [*by, column], value="seconds")
    base = out[out[column] == baseline][[*by, "median"]].rename(columns={"median": "_base"})
    out = out.merge(base, on=by, how="left")
    out["speedup"] = out.pop("_base") / out["median"]
    return out


# ---------------------------------------------------------------------------------------------
# BLAS oversubscription
# ---------------------------------------------------------------------------------------------

def blas_params(start_method: str | None = None) -> dict[str, Any]:
    """Parameters of the BLAS oversubscription experiment for the current mode."""
    return {"start_method": _method(start_method), "mode": config.mode(), "workers": 2,
            "n_items": config.scaled(40, 16), "size": 256, "repeats": config.scaled(5, 3)}


def measure_blas(*, start_method: str, mode: str, workers: int, n_items: int, size: int,
                 repeats: int) -> dict[str, Any]:
    """Numpy matmul tasks: serial loop vs ``Pool(workers)`` with default BLAS threads vs a
    pool whose initializer caps them at 1 (:func:`limit_blas_threads`)."""
    del mode
    items = [size] * n_items
    expected = [workloads.matmul_task(n) for n in items]
    records = []

    def record(variant: str, run, threads: int) -> None:
        got = run()
        if not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(expected, got, strict=True)):
            raise timing.TimingError(f"{variant} gave different traces than the serial loop")
        for rep in range(repeats):
            _, seconds = timed(run)
            records.append({"variant": variant, "repeat": rep, "blas_threads_per_worker":
                            threads, "workers": workers, "n_items": n_items, "size": size,
                            "seconds": seconds})

    record("serial", lambda: [workloads.matmul_task(n) for n in items], blas_threads())
    for variant, kwargs in (("pool, default BLAS threads", {}),
                            ("pool, BLAS capped at 1", {"initializer": limit_blas_threads,
                                                        "initargs": (1,)})):
        with pools.bounded_pool(workers, start_method, **kwargs) as pool:
            threads = max(pool_map(pool, blas_threads, list(range(workers * 2)), 1))
            record(variant, lambda p=pool: pool_map(p, workloads.matmul_task, items, 1), threads)
    return finish(records, start_method)


def load_blas(start_method: str | None = None):
    """Tidy frame of :func:`measure_blas` (cached)."""
    return records_frame(run_cached("choosing-blas", f"{__name__}:measure_blas",
                                    blas_params(start_method)))


def python_facts() -> dict[str, Any]:
    """Version facts about start methods (documented CPython behaviour, not measurements).

    Examples
    --------
    >>> python_facts()["forkserver_default_since"]
    '3.14'
    """
    here = sys.version_info[:2]
    return {
        "python": f"{here[0]}.{here[1]}",
        "fork_threads_warning_since": ".".join(map(str, FORK_THREADS_WARNING_SINCE)),
        "forkserver_default_since": ".".join(map(str, FORKSERVER_DEFAULT_SINCE)),
        "warns_here": here >= FORK_THREADS_WARNING_SINCE,
        "default_here": config.default_start_method(),
        "platform": sys.platform,
    }


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

@claims.claim("fork-threads-deadlock", chapter=CHAPTER,
              statement="A fork child started while another thread held a lock deadlocked "
                        "(killed after {waited:.1f} s); the spawn child finished in "
                        "{spawn_s:.2f} s.")
def _fork_deadlock() -> claims.Evidence:
    df = load_fork_deadlock().set_index("method")
    return claims.Evidence(
        holds=bool(df.loc["fork", "outcome"] == "deadlocked"
                   and df.loc["spawn", "outcome"] == "finished"),
        values={"waited": float(df.loc["fork", "waited_s"]),
                "spawn_s": float(df.loc["spawn", "waited_s"])},
        evidence="Outcomes: " + ", ".join(f"{m} {o}" for m, o in df["outcome"].items())
                 + f"; fork warning on Python {python_facts()['python']}: "
                 + str(df.loc["fork", "warning"] or "none") + ".")


@claims.claim("spawn-workers-own-memory", chapter=CHAPTER,
              statement="A spawn worker held {spawn:.1f} MiB of memory of its own (USS) "
                        "against {fork:.1f} MiB for a fork worker, which shares its parent's "
                        "pages; with {imports} imported by the main script, each spawn worker "
                        "held {spawn_heavy:.1f} MiB.")
def _worker_memory_claim() -> claims.Evidence:
    df = load_start_methods()
    uss = df.groupby(["main", "method"])["worker_uss_mib"].median()
    values = {"spawn": uss["light", "spawn"], "fork": uss["light", "fork"],
              "spawn_heavy": uss["heavy", "spawn"],
              "imports": " and ".join(df[df.main == "heavy"].imports.iloc[0].split())}
    return claims.Evidence(
        holds=bool(values["spawn"] > 2 * values["fork"]
                   and values["spawn_heavy"] > values["spawn"]),
        values=values,
        evidence="USS (unique set size) per worker after one task, median over workers and "
                 "pools; forkserver: "
                 f"{uss['light', 'forkserver']:.1f} MiB (light main), "
                 f"{uss['heavy', 'forkserver']:.1f} MiB (heavy main).")


@claims.claim("threads-need-gil-release", chapter=CHAPTER,
              statement="A thread pool sped pure-Python work up {spin:.2f}x but numpy work "
                        "{numpy:.2f}x; a process pool gave {spin_proc:.2f}x and "
                        "{numpy_proc:.2f}x.")
def _threads_gil() -> claims.Evidence:
    out = speedups(load_threads_vs_processes(), ["workload"], "executor")
    s = out.set_index(["workload", "executor"])["speedup"]
    return claims.Evidence(
        holds=bool(s["spin", "threads"] < 1.2 and s["numpy", "threads"] > 1.2),
        values={"spin": s["spin", "threads"], "numpy": s["numpy", "threads"],
                "spin_proc": s["spin", "processes"], "numpy_proc": s["numpy", "processes"]},
        evidence="Speedup = serial median / pool median, pools already started.")


@claims.claim("blas-cap-fixes-oversubscription", chapter=CHAPTER,
              statement="Numpy matmul tasks in a Pool with {threads} BLAS threads per worker "
                        "ran at {default_speedup:.2f}x the serial loop; capping BLAS at 1 "
                        "thread per worker gave {capped_speedup:.2f}x.")
def _blas_cap() -> claims.Evidence:
    df = load_blas()
    med = df.groupby("variant")["seconds"].median()
    threads = int(df[df.variant == "pool, default BLAS threads"].blas_threads_per_worker.iloc[0])
    default = med["serial"] / med["pool, default BLAS threads"]
    capped = med["serial"] / med["pool, BLAS capped at 1"]
    return claims.Evidence(
        holds=bool(capped > default * 1.1),
        values={"threads": threads, "default_speedup": default, "capped_speedup": capped},
        evidence=f"Median seconds: serial {med['serial']:.3f}, default "
                 f"{med['pool, default BLAS threads']:.3f}, capped "
                 f"{med['pool, BLAS capped at 1']:.3f}.")
