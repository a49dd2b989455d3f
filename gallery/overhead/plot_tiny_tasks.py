"""
Tiny tasks: the cost of sending work to a Pool
==============================================

The seed article "How to Optimize Python Multiprocessing Pool Performance and Cut IPC
Overhead" suggests a quick test: push a function that does almost nothing through
``Pool(4).map`` with ``chunksize=1`` over 50,000 items, and you have measured the raw cost of
pickling, IPC and scheduling. This example maps a function over its items through all the
cores of this machine (by default that do-nothing function), then runs the article's own
setup, then shows the per-task costs behind both.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS``): a function defined in this script cannot reach
# a ``spawn`` or ``forkserver`` worker. That is all it takes to get the first table and figure
# below for your function, under any start method.
from mpguide import config, workloads

FUNC = workloads.noop  # any importable function of one argument
ITEMS = list(range(config.scaled(8_000, 5_000)))  # a list, or a factory called with PARAMS
PARAMS: dict = {}  # keyword arguments of ITEMS when it is a factory

# %%
# Your function through a Pool
# ----------------------------
# The experiment, in plain sight: ``FUNC`` over ``ITEMS`` through ``Pool`` at chunksize 1,
# ``Pool`` at its default chunksize and ``ProcessPoolExecutor`` (chunksize 1), each with all
# usable cores and timed whole, start and stop included, as a script pays them; the plain
# loop is added as the reference. Every executor's result is checked against the loop's
# first. It runs in a fresh interpreter and is cached per machine (``MPGUIDE_FRESH=1``
# measures again).
from mpguide import executors, machine
from mpguide.chapters import overhead
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
result = Experiment("overhead-tiny-tasks", FUNC, ITEMS, [
    executors.Pool(workers, chunksize=1),
    executors.Pool(workers),
    executors.ProcessPool(workers)], params=PARAMS).run()
show(overhead.tiny_tasks_table(result)[["label", "median_s", "iqr_s", "per_item_us", "x_loop"]],
     source=result.frame())

# %%
# ``x_loop`` is how many times the loop's time each executor took; the bars are medians on a
# log scale.
fig = show(overhead.plot_tiny_tasks(result.frame()))

# %%
# The article's setup
# -------------------
# The article's benchmark as published: ``noop`` over 50,000 integers (5,000 in quick mode)
# through ``Pool(4)``, the article's four workers whatever this machine has, at chunksize 1
# and at Pool's default chunksize. It stays the article's function and items when you replace
# ``FUNC`` and ``ITEMS``. The article publishes no timing for it, only the method.
seed = Experiment("overhead-seed-tiny-tasks", workloads.noop,
                  list(range(config.scaled(overhead.SEED_ITEMS, 5_000))), [
                      executors.Pool(overhead.SEED_WORKERS, chunksize=1),  # the article's
                      executors.Pool(overhead.SEED_WORKERS)]).run()
show(overhead.tiny_tasks_table(seed)[["label", "median_s", "iqr_s", "per_item_us", "x_loop"]],
     source=seed.frame())

# %%
fig = show(overhead.plot_tiny_tasks(
         seed.frame(), title=f"The article's setup: Pool({overhead.SEED_WORKERS}), noop"))

# %%
# Per task
# --------
# What one task costs: a plain call, one ``apply_async`` round trip (send, run, wait for the
# result), and the overhead per item that ``map`` adds over the loop at several chunksizes,
# on warm pools of all usable cores. Not a function over items, so it is declared with
# ``run_cached`` (fresh interpreter, cached): ``map`` keeps many tasks in flight, so its
# per-item cost is below the round trip, and chunking divides it.
from mpguide.experiment import run_cached

records = run_cached("overhead-dispatch", "mpguide.chapters.overhead:measure_dispatch",
                     {"start_method": config.start_method(), "workers": workers})
dispatch = overhead.dispatch_frame(records)
show(overhead.dispatch_summary(dispatch), source=dispatch)

# %%
# What to copy
# ------------
# For many tiny tasks, batch them: let ``map`` pick its chunksize (the default) or pass a large
# one, so that each message to a worker carries milliseconds of work. Plain
# ``multiprocessing``; every wait is bounded.
#
# Run as this script, each ``spawn`` or ``forkserver`` worker re-imports this file and re-runs
# the cells above (they only read the cache, but what it prints includes that time); in your
# own script keep such work under the main guard as well.
if __name__ == "__main__":
    import multiprocessing
    import os
    import time

    items = ITEMS(**PARAMS) if callable(ITEMS) else list(ITEMS)
    processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        out = pool.map_async(FUNC, items).get(timeout=120)  # Pool's default chunksize
    print(f"{len(out)} items on {processes} workers in {time.perf_counter() - start:.3f} s")
