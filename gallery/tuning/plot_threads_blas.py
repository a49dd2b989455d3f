"""
Threads or processes, and BLAS threads inside processes
=======================================================

Threads share memory, so nothing is pickled, but only one thread runs Python bytecode at a
time (the GIL). numpy releases the GIL inside its loops, so numpy work can run in parallel in
threads. And numpy's BLAS starts threads of its own, which a process pool multiplies.
"""

# %%
# Threads against processes
# -------------------------
# Pure-Python work and numpy work, each in a ``ThreadPool(2)`` and a ``Pool(2)`` (both started
# before timing). The seed article "Python's multiprocessing performance problem" published
# 4.25 s sequential against 1.39 s with 4 threads for summing a large array ten times.
from mpguide.chapters import choosing, tuning

threads = choosing.load_threads_vs_processes()
speed = choosing.speedups(threads, ["workload"], "executor")
speed.round(3)

# %%
fig = tuning.bar_figure(speed, x="workload", y="speedup", hue="executor", caption=threads,
                        reference=1.0, ylabel="speedup over the plain loop (median)",
                        title="Threads need work that releases the GIL")

# %%
# BLAS oversubscription
# ---------------------
# Matrix products in a ``Pool(2)``: each worker's BLAS starts as many threads as there are
# cores, so workers times BLAS threads compete for the cores. An initializer that caps BLAS at
# one thread per worker (``mpguide.blas.limit_blas_threads``, threadpoolctl) removes the
# contention.
blas = choosing.load_blas()
blas_table = blas.groupby(["variant", "blas_threads_per_worker"], sort=False)["seconds"] \
    .describe()[["50%", "25%", "75%", "min", "max"]].reset_index()
blas_table

# %%
fig = tuning.bar_figure(
    blas_table.assign(iqr=blas_table["75%"] - blas_table["25%"]), x="variant", y="50%",
    err="iqr", caption=blas, ylabel="seconds (median, IQR)",
    title="Matmul tasks: default BLAS threads vs capped")

# %%
# What to copy
# ------------
# Use threads for numpy-heavy work; in a process pool of numpy work, cap BLAS threads with an
# initializer that imports numpy first, then calls ``threadpoolctl.threadpool_limits(1)``:
# ``from mpguide.blas import limit_blas_threads`` does both.
if __name__ == "__main__":
    import multiprocessing

    from mpguide import workloads
    from mpguide.blas import limit_blas_threads

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, initializer=limit_blas_threads, initargs=(1,)) as pool:
        print(pool.map_async(workloads.matmul_task, [200] * 8).get(timeout=120)[:2])
