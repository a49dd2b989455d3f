"""
Start methods: start-up, memory per worker and the fork-with-threads deadlock
=============================================================================

``fork`` copies the parent, ``spawn`` starts a new interpreter that imports your main module
again, ``forkserver`` forks workers from a clean server process. Here is what each costs to
start and in memory per worker, from a main script that imports only the standard library and
from one that imports numpy and pandas, and why ``fork`` is dangerous in a program that runs
threads (the seed article "Python's multiprocessing performance problem").
"""

# %%
# Start-up and memory per worker
# ------------------------------
# Both are measured once for the whole guide, each in a generated plain script whose
# ``__main__`` imports nothing (``"light"``) or numpy and pandas: chapter 1 times
# ``with Pool(workers) as p: p.map(noop, range(workers))`` start to stop
# (``mpguide.chapters.overhead``), chapter 2 reads every idle worker's memory after one task
# (``mpguide.chapters.worker_memory``), both with as many workers as usable cores. The
# declarations, per start method and main:
from mpguide.chapters import choosing, overhead, tuning, worker_memory
from mpguide.report import show

show([*overhead.plan_startup(),
      *(worker_memory.worker_memory_params(main) for main in overhead.MAINS)])

# %%
# USS is the memory only that worker holds (what the machine loses per worker); RSS also counts
# pages shared with the parent. ``first_pool_ms`` is the first pool of a fresh script (it also
# starts forkserver's server).
table = choosing.start_methods_table()
starts = choosing.load_start_methods()  # chapter 2's records: the worker memory
show(table.round(1), source=starts)

# %%
fig = show(tuning.bar_figure(table, x="method", y="worker_uss_mib", hue="main", caption=starts,
                             ylabel="USS per worker (MiB, median)",
                             title="Memory each worker holds on its own"))

# %%
fig = show(tuning.bar_figure(table, x="method", y="first_pool_ms", hue="main", caption=starts,
                             ylabel="first Pool start + stop (ms, median)",
                             title="Starting and stopping a Pool"))

# %%
# The fork-with-threads deadlock, safely
# --------------------------------------
# A thread holds a lock (as logging, an I/O buffer or a library's thread pool do now and then)
# while the main thread starts a child that takes the same lock. A ``fork`` child inherits the
# lock *held*, without the thread that would release it. The child is given a few seconds,
# then killed; all of it runs in a separate interpreter with a timeout (``run_cached``), so
# it cannot hang. The declaration:
show(choosing.fork_deadlock_params())

# %%
deadlock = choosing.load_fork_deadlock()
show(deadlock[["method", "outcome", "waited_s", "wait_limit_s", "exitcode", "warning"]],
     source=deadlock)

# %%
fig = show(tuning.bar_figure(deadlock, x="method", y="waited_s", caption=deadlock,
                             reference=float(deadlock.wait_limit_s.iloc[0]),
                             ylabel="seconds until the child ended or was killed",
                             title="Child taking a lock held by a parent thread"))

# %%
# Version facts
# -------------
# Python 3.12 emits a ``DeprecationWarning`` when a process with several threads forks;
# Python 3.14 makes ``forkserver`` the default start method on Linux (macOS and Windows have
# used ``spawn`` for years). What this interpreter does:
show(choosing.python_facts())

# %%
# What to copy
# ------------
# Pick the start method explicitly, and prefer ``spawn`` or ``forkserver`` in programs that use
# threads (numpy, pandas and many other libraries start some). Plain ``multiprocessing``;
# every wait is bounded. Run as this script, each worker re-imports this file and re-runs the
# cells above (they only read the cache).
if __name__ == "__main__":
    import math
    import multiprocessing
    import os

    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with multiprocessing.get_context(method).Pool(cores) as pool:
        print(method, pool.map_async(math.factorial, range(8)).get(timeout=120))
