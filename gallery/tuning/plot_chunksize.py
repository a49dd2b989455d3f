"""
Chunksize: the U-curve, Pool's default and manual batching
==========================================================

The seed article "How to Optimize Python Multiprocessing Pool Performance and Cut IPC
Overhead" reports a U-shaped curve of time against ``chunksize``: too small and every item
pays a round trip to a worker, too large and some workers sit idle. Here is that curve on this
machine, for a function of your choice and then for tasks of several durations, with
``Pool.map``'s default chunksize, manual batching and ``ProcessPoolExecutor.map``'s default
of 1 beside it.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS`` where the experiment runs): a function defined in
# this script cannot reach a ``spawn`` or ``forkserver`` worker. That is all it takes to get
# the first table and figures below for your function, under any start method. The defaults
# are 100 µs pure-Python tasks, as many as the plain loop runs in about 80 ms (30 ms in quick
# mode).
from mpguide import config, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = {"seconds": 1e-4, "count": config.scaled(800, 300)}  # keyword arguments of ITEMS

# %%
# Time against chunksize
# ----------------------
# The experiment, in plain sight: ``Pool.map`` at each chunksize from 1 to one chunk per
# worker and one chunk for everything (``tuning.chunksize_grid``), at Pool's default, and
# ``ProcessPoolExecutor.map`` at its default of 1, all with as many workers as usable cores.
# Each map is timed on a started pool (chapter 1 shows what starting one costs); the plain
# loop is added as the reference and every result is checked against it first.
from mpguide import executors, machine
from mpguide.chapters import tuning
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
n_items = len(ITEMS(**PARAMS)) if callable(ITEMS) else len(ITEMS)
result = Experiment("tuning-chunksize", FUNC, ITEMS, [
    *(executors.Pool(workers, chunksize=c) for c in tuning.chunksize_grid(n_items, workers)),
    executors.Pool(workers),  # Pool.map's default chunksize
    executors.ProcessPool(workers),  # ProcessPoolExecutor.map's default chunksize, 1
], params=PARAMS, startup=False).run()
show(result.table().round(4), source=result.frame())

# %%
# Each point is one run's time divided by the plain loop's median: below the dashed line the
# pool wins.
yours = tuning.chunksize_frame(result)
fig = show(tuning.plot_chunksize(yours, title="Your function: Pool.map time against chunksize"))

# %%
# The best chunksize and the defaults, as ratios of median times to the best chunksize (1.0
# is as fast as the best).
show(tuning.chunksize_choices(tuning.chunksize_summary(yours)).round(2), source=yours)

# %%
# By task duration
# ----------------
# The same declaration for ``spin`` tasks of 10, 100 and 1000 µs
# (``tuning.chunksize_experiments()``, each with as many items as the loop runs in about
# 80 ms, 30 ms in quick mode), with manual batching beside it:
# lists of items sent to a function that loops over them (``tuning.spin_batch``), at the size
# of Pool's default chunksize, which is what chunksize does for you. It stays this sweep when
# you replace ``FUNC`` and ``ITEMS``.
sweep = tuning.load_chunksize()
fig = show(tuning.plot_chunksize(
    sweep, title="Pool.map time against chunksize, by task duration (µs)"))

# %%
# ``Pool.map`` without a chunksize uses about four chunks per worker
# (``executors.default_chunksize``); ``ProcessPoolExecutor.map`` and ``Pool.imap`` send one
# item per message.
show(tuning.chunksize_choices(tuning.chunksize_summary(sweep)).round(2), source=sweep)

# %%
# What to copy
# ------------
# Let ``Pool.map`` choose (its default is close to the best unless tasks are very uneven), and
# give ``ProcessPoolExecutor.map`` an explicit chunksize of the same size. Plain
# ``concurrent.futures``; every wait is bounded. Run as this script, each ``spawn`` worker
# re-imports this file and re-runs the cells above (they only read the cache).
if __name__ == "__main__":
    import concurrent.futures
    import multiprocessing
    import os

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    chunk = -(-len(items) // (4 * cores))  # what Pool.map picks by itself
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(cores, mp_context=ctx) as executor:
        out = list(executor.map(FUNC, items, chunksize=chunk, timeout=120))
    print(len(out), "results with chunksize", chunk)
