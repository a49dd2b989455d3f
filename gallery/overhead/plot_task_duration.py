"""
How long must a task run before a Pool pays off?
================================================

Every item ``Pool.map`` hands to a worker is pickled, sent through a pipe, unpickled, run, and
its result sent back. When the task itself is shorter than that round of overhead, the plain
loop wins. This example sweeps the task duration from about a microsecond to ten milliseconds
(a pure-Python loop, :func:`mpguide.workloads.spin`, calibrated on this machine) and finds the
break-even duration where the pool starts to win.
"""

# %%
# Measure
# -------
# For each duration the items are timed three ways, interleaved, on a pool that is already
# running (its start-up is a separate, one-off cost): the plain loop, ``Pool.map`` at chunksize
# 1, and ``Pool.map`` at the chunksize it picks by default. The parallel results are checked
# against the loop's before anything is timed.
from mpguide.chapters import task_duration

durations = task_duration.load_task_duration()
summary = task_duration.task_duration_summary(durations)
summary[["variant", "task_s", "items", "chunksize", "per_item_s", "speedup", "overhead_s"]]

# %%
# Where the Pool starts to win
# ----------------------------
# The break-even duration is interpolated from the measured points (log-log, between the last
# losing and the first winning duration), not assumed.
evens = task_duration.break_evens(summary)
{variant: task_duration.format_duration(seconds) for variant, seconds in evens.items()}

# %%
# Left: wall time per item (log-log); the loop's line is the task duration itself. Right: the
# speedup over the loop; below the dashed line the Pool loses.
fig = task_duration.plot_task_duration(durations)

# %%
# What to copy
# ------------
# Time one call of your function first. Well below the break-even duration, let ``Pool.map``
# chunk the items (leave ``chunksize`` at its default or raise it) or do not parallelize;
# well above it, chunksize 1 balances the load best.
#
# Run as a script under ``spawn`` or ``forkserver``, each worker re-imports this file and
# re-runs the cells above (they only read the cache here); in your own script keep such work
# under the main guard as well.
if __name__ == "__main__":
    import multiprocessing
    import time

    from mpguide import workloads

    items = [workloads.iterations_for(1e-3)] * 100
    start = time.perf_counter()
    workloads.spin(items[0])
    print(f"one task: {(time.perf_counter() - start) * 1e6:.0f} µs")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map_async(workloads.spin, items).get(timeout=120)
