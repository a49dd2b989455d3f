"""
How many workers?
=================

Speedup of ``Pool.map`` over the plain loop for 1 to twice the usable cores, for a
pure-Python task that holds the GIL, a numpy task that releases it, and uneven tasks (every
eighth task eight times longer). The dashed line is the ideal speedup; beyond the core count
workers only take turns on the same cores.
"""

# %%
# Speedup against workers
# -----------------------
# Pools are started and warmed up before timing, so this is the steady state; chapter 1 shows
# what starting them costs. Chunksize 1, so uneven tasks can balance.
from mpguide import plotting
from mpguide.chapters import pool_size

sizes = pool_size.load_pool_size()
fig = plotting.speedup_plot(pool_size.pool_size_speedups(sizes), hue="workload",
                            title="Pool.map speedup against pool size")

# %%
# The same numbers as a table: median seconds, spread, and speedup.
pool_size.pool_size_summary(sizes).round(3)

# %%
# What to copy
# ------------
# Start with as many workers as usable cores (``os.process_cpu_count()`` on Python 3.13+,
# ``len(os.sched_getaffinity(0))`` on Linux); measure one step up and down.
if __name__ == "__main__":
    import multiprocessing
    import os

    from mpguide import workloads

    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        print(sum(pool.map_async(workloads.spin, [100_000] * 16).get(timeout=120)))
