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
# Your function and items
# -----------------------
# Replace these lines with your own, imported from your module
# (``from mywork import parse, load_documents``): a function defined in this script cannot
# reach a ``spawn`` or ``forkserver`` worker. ``ITEMS`` is a function that returns the items,
# called with ``PARAMS`` in the experiment's own interpreter, or a list of plain values
# (numbers, strings: the list travels as JSON). By default: 10 µs ``spin`` tasks, calibrated
# here by :func:`~mpguide.chapters.task_duration.spin_items`.
from mpguide import config, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a factory called with PARAMS, or a list
PARAMS = {"seconds": 1e-5, "count": config.scaled(2000, 400)}

# %%
# Measure
# -------
# Each run is one whole ``with Pool(workers) as pool: pool.map(timed_call(FUNC), items,
# chunksize)``, the first pool of a fresh interpreter, on all usable cores; its results are
# checked against a serial run first. The stamps are not a plain timing, so the experiment is
# declared with ``run_cached`` (fresh interpreter, cached per machine): your function at
# chunksize 1 and at Pool's default chunksize, and for contrast ``spin`` tasks of 1 ms at
# chunksize 1. One row per task:
from mpguide import executors, machine
from mpguide.experiment import run_cached
from mpguide.report import show

workers = machine.usable_cpus()
items = executors.target_of(ITEMS) if callable(ITEMS) else list(ITEMS)
runs = {}
for chunksize, name in ((1, "chunksize 1"), (None, "default chunksize")):
    runs[f"{FUNC.__name__}, {name}"] = run_cached(
        "overhead-decomposition", "mpguide.chapters.task_duration:measure_decomposition",
        {"start_method": config.start_method(), "workers": workers,
         "func": executors.target_of(FUNC), "items": items, "params": PARAMS,
         "chunksize": chunksize})
runs["1 ms spin tasks, chunksize 1"] = run_cached(
    "overhead-decomposition", "mpguide.chapters.task_duration:measure_decomposition",
    {"start_method": config.start_method(), "workers": workers,
     "func": "mpguide.workloads:spin", "items": "mpguide.chapters.task_duration:spin_items",
     "params": {"seconds": 1e-3, "count": config.scaled(200, 40)}, "chunksize": 1})
tasks = task_duration.decomposition_frame(runs)
show(tasks[["case", "task", "worker", "start_s", "end_s", "wall_s"]].head(), source=tasks)

# %%
# Split each run
# --------------
# Worker time is ``workers x wall``; the shares of the four phases add up to one per run.
phases = task_duration.decompose(tasks)
show(phases.pivot(index="case", columns="phase", values="share").reindex(
         columns=list(task_duration.PHASES)), source=tasks)

# %%
# The timeline shows each worker as a row and each task as a green bar; the stacked bars at
# the bottom sum each phase over the workers.
fig = show(task_duration.plot_decomposition(tasks))

# %%
# What to copy
# ------------
# The quick version for your own function needs no stamps: the loop's time is the work, and
# ``workers x wall`` of the Pool run is what the workers had; their ratio is the share of
# time spent computing. Plain ``multiprocessing``; every wait is bounded.
#
# Run as this script, each ``spawn`` or ``forkserver`` worker re-imports this file and re-runs
# the cells above (they only read the cache, but what it prints includes that time); in your
# own script keep such work under the main guard as well.
if __name__ == "__main__":
    import multiprocessing
    import os
    import time

    work = ITEMS(**PARAMS) if callable(ITEMS) else list(ITEMS)
    start = time.perf_counter()
    for item in work:
        FUNC(item)
    serial = time.perf_counter() - start
    processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map_async(FUNC, work, chunksize=1).get(timeout=120)
    wall = time.perf_counter() - start
    print(f"workers computed about {serial / (processes * wall):.0%} of {processes} x "
          f"{wall:.3f} s")
