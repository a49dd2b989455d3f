"""
Where the wall time of one Pool.map goes
========================================

How much of a ``Pool.map`` run do the workers actually spend computing? Wrapping the task in
:func:`mpguide.workloads.timed_call` makes every task report when it started and ended, and in
which worker. Set against the wall time from creating the pool to joining it, those stamps
split the run into start-up, computing, the gaps between tasks (dispatch, pickling, result
handling, waiting) and wind-down.
"""

# %%
# Measure
# -------
# Three whole runs, each the first pool of a fresh interpreter: 10 µs tasks at chunksize 1,
# the same tasks at Pool's default chunksize, and 1 ms tasks at chunksize 1. The results are
# checked against a serial run first. One row per task:
from mpguide.chapters import task_duration

tasks = task_duration.load_decomposition()
tasks[["case", "task", "worker", "start_s", "end_s", "wall_s"]].head()

# %%
# Split each run
# --------------
# Worker time is ``workers x wall``; the shares of the four phases add up to one per run.
phases = task_duration.decompose(tasks)
phases.pivot(index="case", columns="phase", values="share")[list(task_duration.PHASES)]

# %%
# The timeline shows each worker as a row and each task as a green bar; the stacked bars at
# the bottom sum each phase over the workers.
fig = task_duration.plot_decomposition(tasks)

# %%
# What to copy
# ------------
# The same instrumentation for your own function: wrap it with ``functools.partial`` around
# :func:`mpguide.workloads.timed_call` (both importable, so any start method can unpickle
# them) and compare the summed task time with the wall time.
#
# Run as a script under ``spawn`` or ``forkserver``, each worker re-imports this file and
# re-runs the cells above (they only read the cache here); in your own script keep such work
# under the main guard as well.
if __name__ == "__main__":
    import functools
    import multiprocessing
    import time

    from mpguide import workloads

    task = functools.partial(workloads.timed_call, workloads.spin)
    t0 = time.time()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        stamps = pool.map_async(task, [10_000] * 200).get(timeout=120)
    wall = time.time() - t0
    busy = sum(end - start for _, start, end, _ in stamps)
    print(f"workers computed {busy / (2 * wall):.0%} of 2 x {wall:.3f} s")
