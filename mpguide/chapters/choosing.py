"""Chapter 3, part 2: choosing (start methods and the fork-with-threads deadlock, threads or
processes, BLAS threads inside processes).

:mod:`mpguide.chapters.tuning` declares the chapter. The maps of a function over items are
declared here once as :class:`~mpguide.experiment.Experiment` s with worker counts from
:func:`mpguide.machine.usable_cpus` (:func:`threads_experiments`, :func:`blas_experiment`);
the rest goes through :func:`~mpguide.experiment.run_cached` (the deadlock demonstration, the
BLAS threads each worker really has); the seed article's ten sums in a thread pool are
:func:`ten_sums_experiment`. The start-method comparison measures nothing itself: it
reads pool start+stop from chapter 1 (:func:`mpguide.chapters.overhead.load_startup`) and
worker memory from chapter 2 (:func:`mpguide.chapters.worker_memory.load_worker_memory`),
both from a light ``__main__`` and from one importing numpy and pandas. Everything a pool or a
process receives by reference is defined here, importable under every start method. Work that
waits is in :mod:`mpguide.chapters.waiting`.

Examples
--------
>>> from mpguide.chapters import choosing
>>> choosing.python_facts()["fork_threads_warning_since"]
'3.12'
>>> sorted(choosing.threads_experiments())
['numpy', 'spin']
"""

from __future__ import annotations

import math
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, pools, timing, workloads
from mpguide.blas import blas_threads
from mpguide.chapters import transfer
from mpguide.chapters.pool_size import WORKLOADS
from mpguide.chapters.tuning import CHAPTER
from mpguide.experiment import Experiment, Result, run_cached

if TYPE_CHECKING:
    import pandas as pd

#: Python versions behind the start-method facts quoted on the guide page.
FORK_THREADS_WARNING_SINCE = (3, 12)
FORKSERVER_DEFAULT_SINCE = (3, 14)

#: What each workload of the threads-vs-processes comparison is, for tables.
THREAD_WORKLOADS = {"spin": "pure Python (holds the GIL)", "numpy": "numpy (releases the GIL)"}

#: The seed article's ten sums (:data:`mpguide.chapters.transfer.SEED_003`, "Option #1: Just
#: use threads"): ``np.sum`` of one ``np.ones((1024, 1024, 1024))`` (float64, 8 GiB) ten
#: times in a loop and through a ``ThreadPool`` of 4; seconds as the article printed them.
SEED_003_TEN_SUMS: dict[str, Any] = {"nbytes": 8 * transfer.GIB, "sums": 10, "threads": 4,
                                     "sequential_s": 4.253, "threads_s": 1.385}

#: How far this machine's parallel efficiency may lie from the article's (0.77) for the same
#: effect: 0.52 to 1.02, a third of it either way. A streaming sum is bound by memory
#: bandwidth: where the threads share a bus that one or two of them fill (many laptops, small
#: VMs), each adds less than half a core and the claim fails; above 1 only a cache that holds
#: the array would take it.
TEN_SUMS_BAND = 0.25


# ---------------------------------------------------------------------------------------------
# Start methods: start+stop time (chapter 1) and per-worker memory (chapter 2)
# ---------------------------------------------------------------------------------------------

def load_start_methods() -> pd.DataFrame:
    """Memory of each worker per start method and kind of ``__main__``: ``main`` (``"light"``
    / ``"numpy+pandas"``), ``method``, ``worker_uss_mib``, ``worker_rss_mib`` and metadata,
    one row per worker: chapter 2's records
    (:func:`mpguide.chapters.worker_memory.load_worker_memory`)."""
    from mpguide.chapters.overhead import MAINS
    from mpguide.chapters.worker_memory import load_worker_memory

    memory = load_worker_memory(tuple(MAINS))
    workers = memory[memory["process"] != "parent"]
    return workers.rename(columns={"start_method": "method", "uss_mib": "worker_uss_mib",
                                   "rss_mib": "worker_rss_mib"}).reset_index(drop=True)


def start_methods_table() -> pd.DataFrame:
    """One row per kind of main and start method: the first Pool's start+stop (ms, median,
    chapter 1's records) and the median USS and RSS of one worker (MiB, chapter 2's)."""
    from mpguide.chapters.overhead import load_startup, startup_summary

    startup = startup_summary(load_startup())
    first = startup[startup["pool"] == "first"].rename(columns={"start_method": "method"})
    memory = load_start_methods().groupby(["main", "method"], sort=False)[
        ["worker_uss_mib", "worker_rss_mib"]].median().reset_index()
    return memory.merge(first[["main", "method", "median_ms"]], on=["main", "method"],
                        how="left").rename(columns={"median_ms": "first_pool_ms"})


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


def measure_fork_deadlock(*, wait_s: float, methods: list[str]) -> list[dict[str, Any]]:
    """Start a child with each method while a thread of this process holds a lock.

    Under ``fork`` the child gets a copy of the lock in its held state, and no copy of the
    thread that would release it: it waits forever. The child is given ``wait_s`` seconds,
    then killed and reported as deadlocked. Run through :func:`run_cached` in a fresh
    interpreter, so even a failure to kill stays inside a process group that is killed on
    timeout.
    """
    records = []
    for method in methods:
        ctx: Any = pools.get_context(method)
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
    meta = {**machine.collect_metadata(), "start_method": ", ".join(methods) + " compared",
            "measured_in": "fresh interpreter"}
    return [{**meta, **r} for r in records]


def fork_deadlock_params() -> dict[str, Any]:
    """The ``run_cached`` params of the deadlock demonstration, not run."""
    return {"wait_s": config.scaled(3, 2), "methods": config.available_start_methods()}


def load_fork_deadlock() -> pd.DataFrame:
    """Tidy frame of :func:`measure_fork_deadlock` (cached; never hangs: the child is killed
    after ``wait_s`` and the whole interpreter after a further minute)."""
    import pandas as pd

    params = fork_deadlock_params()
    rows = run_cached("choosing-fork-deadlock", f"{__name__}:measure_fork_deadlock", params,
                      timeout=params["wait_s"] * len(params["methods"]) + 60)
    return pd.DataFrame(rows or [], columns=None if rows else [
        "method", "outcome", "waited_s", "exitcode", "wait_limit_s", "warning"])


# ---------------------------------------------------------------------------------------------
# Threads vs processes
# ---------------------------------------------------------------------------------------------

def threads_params() -> dict[str, Any]:
    """Items of each workload: 10 ms tasks (4 ms in quick mode), 16 per usable core (6)."""
    return {"seconds": config.scaled(10, 4) / 1e3,
            "count": config.scaled(16, 6) * machine.usable_cpus()}


def threads_experiments() -> dict[str, Experiment]:
    """A GIL-holding workload (``spin``) and a GIL-releasing one (numpy), each through the
    loop, ``Threads(workers)`` and ``Pool(workers)`` (usable cores), timed on started pools;
    not run."""
    workers = machine.usable_cpus()
    return {name: Experiment("choosing-threads", *WORKLOADS[name],
                             [executors.Threads(workers), executors.Pool(workers)],
                             params=threads_params(), startup=False)
            for name in THREAD_WORKLOADS}


def threads_frame(result: Result, workload: str) -> pd.DataFrame:
    """Tidy rows of one threads-vs-processes experiment: ``workload``, ``label`` (what the
    workload is), ``executor`` (``serial`` / ``threads`` / ``processes``), ``seconds``."""
    df = result.frame()
    executor = df["tool"].map({"loop": "serial", "threads": "threads", "pool": "processes",
                               "processpool": "processes"})
    return df.assign(workload=workload, executor=executor, n_items=df["items"],
                     label=THREAD_WORKLOADS.get(workload, workload))


def load_threads_vs_processes() -> pd.DataFrame:
    """:func:`threads_frame` of both :func:`threads_experiments` (fresh interpreter, cached)."""
    import pandas as pd

    return pd.concat([threads_frame(exp.run(), name)
                      for name, exp in threads_experiments().items()], ignore_index=True)


def speedups(df: pd.DataFrame, by: list[str], column: str,
             baseline: str = "serial") -> pd.DataFrame:
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


def ten_sums_items(nbytes: int, count: int) -> list[Any]:
    """One array of ``nbytes`` of float64 ones (``np.ones``' default type, as the article's),
    ``count`` times: the same object each time, as the article's ``[arr] * 10``."""
    import numpy as np

    return [np.ones(nbytes // 8)] * count


def ten_sums_params() -> dict[str, Any]:
    """The array of chapter 2's seed experiment (:func:`mpguide.chapters.transfer.seed003_nbytes`,
    the article's 8 GiB scaled down), summed the article's ten times.

    Examples
    --------
    >>> ten_sums_params()["count"]
    10
    """
    return {"nbytes": transfer.seed003_nbytes(), "count": SEED_003_TEN_SUMS["sums"]}


def ten_sums_plan(cores: int | None = None) -> list[executors.Executor]:
    """The article's 4 threads, then one thread per usable core (``cores``, default
    :func:`mpguide.machine.usable_cpus`) unless that is the same pool.

    Examples
    --------
    >>> [e.workers for e in ten_sums_plan(2)], [e.workers for e in ten_sums_plan(4)]
    ([4, 2], [4])
    """
    plan = [executors.Threads(SEED_003_TEN_SUMS["threads"]),
            executors.Threads(cores or machine.usable_cpus())]
    return [e for i, e in enumerate(plan) if e not in plan[:i]]


def ten_sums_experiment() -> Experiment:
    """:func:`mpguide.chapters.transfer.array_sum` over :func:`ten_sums_items` through the loop
    and :func:`ten_sums_plan`, on started pools (the article's clock ran inside its
    ``with ThreadPool``); not run."""
    return Experiment("choosing-ten-sums", transfer.array_sum, ten_sums_items, ten_sums_plan(),
                      params=ten_sums_params(), startup=False)


def load_ten_sums() -> pd.DataFrame:
    """Seconds per ten sums of :func:`ten_sums_experiment` per executor, with the array's
    size (``nbytes``); fresh interpreter, cached."""
    return ten_sums_experiment().run().frame().assign(nbytes=ten_sums_params()["nbytes"])


def ten_sums_table(df: pd.DataFrame) -> pd.DataFrame:
    """The article's ten sums beside ours: per thread pool, the array, its threads, how many
    of them can run at once (``parallel``), median seconds of the loop and of the pool, the
    speedup and the parallel efficiency, speedup / ``parallel`` (1: each thread that can run
    does a whole core's work). ``parallel`` is ``min(threads, usable cores)``; the article's
    is its 4 threads, since a speedup above 3 needs at least 4 cores. Without records (a
    worker re-running a gallery script's cells) only the article's row is left."""
    import pandas as pd

    seed = SEED_003_TEN_SUMS
    rows = [{"source": f"{transfer.SEED_003} (published)",
             "array": transfer.sizes_label(seed["nbytes"]), "threads": seed["threads"],
             "parallel": seed["threads"], "loop_s": seed["sequential_s"],
             "threads_s": seed["threads_s"]}]
    median = df.groupby("label", sort=False)["seconds"].median()
    loops = df.loc[df["tool"] == "loop", "label"]
    for label, threads in df[df["tool"] == "threads"].groupby("label", sort=False)["workers"]:
        workers, cores = int(threads.iloc[0]), int(df["usable_cpus"].iloc[0])
        rows.append({"source": f"this machine ({cores} usable cores)",
                     "array": transfer.sizes_label(int(df["nbytes"].iloc[0])),
                     "threads": workers, "parallel": min(workers, cores),
                     "loop_s": float(median[loops.iloc[0]]), "threads_s": float(median[label])})
    out = pd.DataFrame(rows)
    out["speedup"] = out["loop_s"] / out["threads_s"]
    out["efficiency"] = out["speedup"] / out["parallel"]
    return out


# ---------------------------------------------------------------------------------------------
# BLAS oversubscription
# ---------------------------------------------------------------------------------------------

def matmul_trace(n: int) -> float:
    """:func:`workloads.matmul_task` rounded to 3 decimals: BLAS pools of different sizes may
    sum in another order, and the experiment checks results for equality."""
    return round(workloads.matmul_task(n), 3)


def blas_experiment() -> Experiment:
    """Numpy matmul tasks (256 x 256) through the loop, ``Pool(workers, chunksize=1)`` with
    its workers' default BLAS threads, and the same pool capped at 1 BLAS thread per worker
    (``blas_threads=1``: :func:`mpguide.blas.limit_blas_threads` as initializer); not run."""
    workers = machine.usable_cpus()
    return Experiment("choosing-blas", matmul_trace, [256] * (config.scaled(20, 8) * workers), [
        executors.Pool(workers, chunksize=1), executors.Pool(workers, chunksize=1,
                                                             blas_threads=1)],
        startup=False)


def measure_blas_threads(*, specs: list[dict[str, Any]]) -> dict[str, int]:
    """BLAS threads of this (fresh) interpreter (``"loop"``) and the most any worker of each
    pool spec has, asked with :func:`mpguide.blas.blas_threads` in every worker."""
    out = {"loop": blas_threads()}
    for data in specs:
        spec = executors.from_dict(data)
        out[spec.label] = max(spec.map(blas_threads, range(4 * spec.parallelism)))
    return out


def _blas_variant(tool: str, cap: Any) -> str:
    if tool == "loop":
        return "serial"
    if cap is None or (isinstance(cap, float) and math.isnan(cap)):  # NaN: no cap
        return "pool, default BLAS threads"
    return f"pool, BLAS capped at {int(cap)}"


def worker_blas_threads(specs: list[executors.Executor]) -> dict[str, int]:
    """BLAS threads per worker of each pool spec (and of the loop's interpreter), asked in
    the workers by :func:`measure_blas_threads` (fresh interpreter, cached)."""
    specs = [s for s in specs if s.tool != "loop"]
    return run_cached("choosing-blas-threads", f"{__name__}:measure_blas_threads",
                      {"specs": [s.to_dict() for s in specs]}) or {}


def blas_frame(result: Result, threads: dict[str, int]) -> pd.DataFrame:
    """Tidy rows of a BLAS experiment: ``variant`` (``serial``, ``pool, default BLAS
    threads``, ``pool, BLAS capped at 1``), ``blas_threads_per_worker`` (from ``threads``,
    :func:`worker_blas_threads`), ``seconds``, ``workers``."""
    df = result.frame()
    df["variant"] = [_blas_variant(tool, cap) for tool, cap in
                     zip(df["tool"], df.get("blas_threads", [None] * len(df)), strict=True)]
    df["blas_threads_per_worker"] = df["label"].map(threads).astype("Int64")
    return df.assign(n_items=df["items"])


def blas_table(df: pd.DataFrame) -> pd.DataFrame:
    """Median and IQR seconds per variant of :func:`blas_frame` rows, with the BLAS threads
    per worker and the speedup over the plain loop."""
    out = timing.summarize(df, ["variant", "blas_threads_per_worker"], value="seconds")
    serial = out.loc[out["variant"] == "serial", "median"]
    out["speedup"] = float(serial.iloc[0]) / out["median"] if len(serial) else float("nan")
    return out


def load_blas() -> pd.DataFrame:
    """:func:`blas_frame` of :func:`blas_experiment` (fresh interpreters, cached)."""
    experiment = blas_experiment()
    return blas_frame(experiment.run(), worker_blas_threads(list(experiment.executors)))


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

@claims.demonstration("fork-threads-deadlock", chapter=CHAPTER,
                      statement="A fork child started while another thread held a lock "
                                "deadlocked (killed after {waited:.1f} s); the spawn child "
                                "finished in {spawn_s:.2f} s.")
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
    heavy = next(m for m in df["main"].unique() if m != "light")
    values = {"spawn": uss["light", "spawn"], "fork": uss["light", "fork"],
              "spawn_heavy": uss[heavy, "spawn"], "imports": " and ".join(heavy.split("+"))}
    return claims.Evidence(
        holds=bool(values["spawn"] > 2 * values["fork"]
                   and values["spawn_heavy"] > values["spawn"]),
        values=values,
        evidence="USS (unique set size) per worker after one task, median over the workers "
                 "(chapter 2's records); forkserver: "
                 f"{uss['light', 'forkserver']:.1f} MiB (light main), "
                 f"{uss[heavy, 'forkserver']:.1f} MiB ({heavy} main).")


@claims.claim("threads-need-gil-release", chapter=CHAPTER,
              statement="A thread pool gave pure-Python work a speedup of {spin:.2f} and numpy "
                        "work {numpy:.2f}; a process pool gave {spin_proc:.2f} and "
                        "{numpy_proc:.2f}.")
def _threads_gil() -> claims.Evidence:
    out = speedups(load_threads_vs_processes(), ["workload"], "executor")
    s = out.set_index(["workload", "executor"])["speedup"]
    return claims.Evidence(
        holds=bool(s["spin", "threads"] < 1.2 and s["numpy", "threads"] > 1.2),
        values={"spin": s["spin", "threads"], "numpy": s["numpy", "threads"],
                "spin_proc": s["spin", "processes"], "numpy_proc": s["numpy", "processes"]},
        evidence="Speedup = serial median / pool median, pools already started.")


@claims.claim("seed003-ten-sums-in-threads", chapter=CHAPTER,
              statement="Ten sums of one {size} array through {threads} threads on {cores} "
                        "usable cores gave a speedup of {speedup:.2f} over the loop: a "
                        "parallel efficiency of {efficiency:.2f} (speedup per thread running "
                        "at once, {parallel} here), against {theirs:.2f} for the seed "
                        "article's {their_speedup:.2f} with {threads} threads, a difference of "
                        "{difference:+.2f}, within the {band:.2f} either way that marks the "
                        "same effect.")
def _ten_sums() -> claims.Evidence:
    df = load_ten_sums()
    table = ten_sums_table(df)
    theirs = table.iloc[0]
    ours = table.iloc[1:].set_index("threads")
    article = ours.loc[SEED_003_TEN_SUMS["threads"]]
    difference = float(article["efficiency"] - theirs["efficiency"])
    return claims.Evidence(
        holds=abs(difference) <= TEN_SUMS_BAND and article["parallel"] > 1,
        values={"size": article["array"], "threads": SEED_003_TEN_SUMS["threads"],
                "cores": int(df["usable_cpus"].iloc[0]),
                "speedup": article["speedup"], "efficiency": article["efficiency"],
                "parallel": int(article["parallel"]), "theirs": theirs["efficiency"],
                "their_speedup": theirs["speedup"], "difference": difference,
                "band": TEN_SUMS_BAND},
        evidence=f"Medians on started pools: loop {article['loop_s']:.3f} s, "
                 + ", ".join(f"{t} threads {r.threads_s:.3f} s (efficiency {r.efficiency:.2f})"
                             for t, r in ours.iterrows())
                 + f"; published ({transfer.sizes_label(SEED_003_TEN_SUMS['nbytes'])}): "
                 f"{theirs['loop_s']} s and {theirs['threads_s']} s."
                 + (" One usable core: no two threads ran at once, nothing to compare."
                    if article["parallel"] == 1 else ""))


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
