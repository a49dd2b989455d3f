"""
How long must a task run before a Pool pays off?
================================================

Every item ``Pool.map`` hands to a worker is pickled, sent through a pipe, unpickled, run, and
its result sent back. When the task itself is shorter than that round of overhead, the plain
loop wins. This example times your function on a running Pool, then sweeps the task duration
from about a microsecond to ten milliseconds (a pure-Python loop,
:func:`mpguide.workloads.spin`, calibrated on this machine), finds the break-even duration
where the pool starts to win, and shows where your function falls against it.
"""

# %%
# Your function and items
# -----------------------
# Replace these lines with your own, imported from your module
# (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function that
# returns one, called with ``PARAMS``): a function defined in this script cannot reach a
# ``spawn`` or ``forkserver`` worker. That is all it takes to get the tables and the figure
# below for your function, under any start method. By default: ``spin`` tasks of about
# 100 µs, calibrated here by :func:`~mpguide.chapters.task_duration.spin_items`.
from mpguide import workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = {"seconds": 1e-4}  # keyword arguments of ITEMS when it is a factory

# %%
# Your function on a running Pool
# -------------------------------
# ``FUNC`` over ``ITEMS`` three ways, interleaved: the plain loop (the experiment adds it as
# the reference), ``Pool.map`` at chunksize 1 and ``Pool.map`` at the chunksize it picks by
# default, all usable cores. ``startup=False`` times the map on pools that are already
# running: start-up is a separate, one-off cost (see the pool start-up example). The results
# are checked against the loop's before anything is timed; the experiment runs in a fresh
# interpreter and is cached per machine (``MPGUIDE_FRESH=1`` measures again).
from mpguide import executors, machine
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
specs = [executors.Pool(workers, chunksize=1), executors.Pool(workers)]
yours = Experiment("overhead-task-duration", FUNC, ITEMS, specs, params=PARAMS,
                   startup=False).run()
mine = task_duration.duration_frame([(None, yours)])
columns = ["variant", "task_s", "items", "chunksize", "per_item_s", "speedup", "overhead_s"]
show(task_duration.task_duration_summary(mine)[columns], source=yours.frame())

# %%
# The sweep
# ---------
# The same executors over ``spin`` tasks of each duration, one experiment per duration (the
# items factory calibrates the tasks in the experiment's own interpreter). ``task_s`` is the
# duration the loop measured.
sweep = [(seconds, Experiment("overhead-task-duration", workloads.spin,
                              task_duration.spin_items, specs, params={"seconds": seconds},
                              startup=False).run())
         for seconds in task_duration.task_durations()]
durations = task_duration.duration_frame(sweep)
summary = task_duration.task_duration_summary(durations)
show(summary[columns], source=durations)

# %%
# Where the Pool starts to win
# ----------------------------
# The break-even duration is interpolated from the measured points (log-log, between the last
# losing and the first winning duration), not assumed; your function's tasks are set against
# it.
evens = task_duration.break_evens(summary)
own = task_duration.task_duration_summary(mine)
show({"your task": task_duration.format_duration(own["task_s"].max()),
      **{f"break-even, {variant}": task_duration.format_duration(seconds)
         for variant, seconds in evens.items()}})

# %%
# Left: wall time per item (log-log); the loop's line is the task duration itself. Right: the
# speedup over the loop, your function as stars; below the dashed line the Pool loses.
fig = show(task_duration.plot_task_duration(durations, yours=mine, label=FUNC.__name__))

# %%
# What to copy
# ------------
# Time one call of your function first. Well below the break-even duration, let ``Pool.map``
# chunk the items (leave ``chunksize`` at its default or raise it) or do not parallelize;
# well above it, chunksize 1 balances the load best. Plain ``multiprocessing``; every wait is
# bounded.
#
# Run as this script, each ``spawn`` or ``forkserver`` worker re-imports this file and re-runs
# the cells above (they only read the cache, but what it prints includes that time); in your
# own script keep such work under the main guard as well.
if __name__ == "__main__":
    import multiprocessing
    import os
    import time

    items = ITEMS(**PARAMS) if callable(ITEMS) else list(ITEMS)
    start = time.perf_counter()
    FUNC(items[0])
    print(f"one task: {(time.perf_counter() - start) * 1e6:.0f} µs")
    processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map_async(FUNC, items).get(timeout=120)
    print(f"{len(results)} tasks on {processes} workers")
