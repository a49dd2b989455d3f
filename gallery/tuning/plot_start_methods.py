"""
Start methods: memory per worker and the fork-with-threads deadlock
===================================================================

``fork`` copies the parent, ``spawn`` starts a new interpreter that imports your main module
again, ``forkserver`` forks workers from a clean server process. Chapter 1 times their start
and stop; here is what each worker costs in memory, and why ``fork`` is dangerous in a
program that runs threads (the seed article "Python's multiprocessing performance problem").
"""

# %%
# Memory of one worker
# --------------------
# USS is the memory only that worker holds (what the machine loses per worker); RSS also counts
# pages shared with the parent. Measured after one task, from a script whose main imports
# only mpguide ("light") and from one that also imports numpy (and pandas in full mode).
from mpguide.chapters import choosing, tuning

starts = choosing.load_start_methods()
memory = starts.groupby(["main", "method"])[["worker_uss_mib", "worker_rss_mib"]].median()
memory.round(1)

# %%
fig = tuning.bar_figure(memory.reset_index(), x="method", y="worker_uss_mib", hue="main",
                        caption=starts, ylabel="USS per worker (MiB, median)",
                        title="Memory each worker holds on its own")

# %%
# The fork-with-threads deadlock, safely
# --------------------------------------
# A thread holds a lock (as logging, an I/O buffer or a library's thread pool do now and then)
# while the main thread starts a child that takes the same lock. A ``fork`` child inherits the
# lock *held*, without the thread that would release it. The child is given a few seconds,
# then killed; all of it runs in a separate interpreter with a timeout, so it cannot hang.
deadlock = choosing.load_fork_deadlock()
deadlock[["method", "outcome", "waited_s", "wait_limit_s", "exitcode", "warning"]]

# %%
fig = tuning.bar_figure(deadlock, x="method", y="waited_s", caption=deadlock,
                        reference=float(deadlock.wait_limit_s.iloc[0]),
                        ylabel="seconds until the child ended or was killed",
                        title="Child taking a lock held by a parent thread")

# %%
# Version facts
# -------------
# Python 3.12 emits a ``DeprecationWarning`` when a process with several threads forks;
# Python 3.14 makes ``forkserver`` the default start method on Linux (macOS and Windows have
# used ``spawn`` for years). What this interpreter does:
choosing.python_facts()

# %%
# What to copy
# ------------
# Pick the start method explicitly, and prefer ``spawn`` or ``forkserver`` in programs that use
# threads (numpy, pandas and many other libraries start some).
if __name__ == "__main__":
    import multiprocessing

    from mpguide import workloads

    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    with multiprocessing.get_context(method).Pool(2) as pool:
        print(pool.map_async(workloads.square, range(8)).get(timeout=120))
