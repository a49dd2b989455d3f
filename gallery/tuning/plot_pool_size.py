"""
How many workers?
=================

Speedup of ``Pool.map`` over the plain loop for 1 to twice the usable cores: for a function
of your choice, then for a pure-Python task that holds the GIL, a numpy task that releases it,
and uneven tasks (a few of them much longer than the rest). The dashed line is the ideal speedup:
it rises with the workers up to the usable cores and stays flat beyond, where workers only take
turns on the same cores.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS`` where the experiment runs): a function defined in
# this script cannot reach a ``spawn`` or ``forkserver`` worker. That is all it takes to get
# the first figure and table below for your function, under any start method. The defaults
# are 5 ms pure-Python tasks (2 ms in quick mode), 24 per usable core (8).
from mpguide import config, machine, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = {"seconds": config.scaled(5, 2) / 1e3,  # keyword arguments of ITEMS
          "count": config.scaled(24, 8) * machine.usable_cpus()}

# %%
# Speedup against workers
# -----------------------
# The experiment, in plain sight: ``Pool(w).map`` at chunksize 1 (so uneven tasks can balance)
# for every pool size of ``pool_size.worker_counts``, from 1 to twice the usable cores. Each
# map is timed on a started pool, so this is the steady state (chapter 1 shows what starting
# one costs); the plain loop is added as the reference and every result is checked against it.
from mpguide import executors
from mpguide.chapters import pool_size
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
result = Experiment("tuning-pool-size", FUNC, ITEMS, [
    executors.Pool(w, chunksize=1) for w in pool_size.worker_counts(workers)],
    params=PARAMS, startup=False).run()
yours = pool_size.pool_size_frame(result, "your function")
fig = show(pool_size.plot_pool_size(yours, title="Your function: speedup against pool size"))

# %%
# The same numbers as a table: median seconds, spread, and speedup.
show(pool_size.pool_size_summary(yours).round(3), source=yours)

# %%
# Three kinds of work
# -------------------
# The same declaration (``pool_size.pool_size_experiments()``) for three workloads: ``spin``
# holds the GIL, numpy's ``sqrt``-and-sum releases it, and ``uneven`` is ``spin`` with every
# ``pool_size.UNEVEN_EVERY``-th task that many times longer. Inside a process the first two
# look alike: each worker has its own interpreter and its own GIL. It stays this sweep when you
# replace ``FUNC`` and ``ITEMS``.
sizes = pool_size.load_pool_size()
fig = show(pool_size.plot_pool_size(sizes))

# %%
show(pool_size.pool_size_summary(sizes).round(3), source=sizes)

# %%
# A busy machine
# --------------
# The seed's ``processes = cores - 1`` leaves a core for another program. Here another program
# spins on one core (``busy_machine.spinning``, killed after) while the loop, ``Pool(usable -
# 1)`` and ``Pool(usable)``, at chunksize 1 and at Pool's default, map ``FUNC`` over ``ITEMS``:
# interleaved, checked against the loop. ``other_share`` is the CPU the spinning program got
# meanwhile, in cores. On a one-core machine there is no core to leave free: no rows.
from mpguide.chapters import busy_machine

busy = busy_machine.load_busy(busy_machine.busy_params(FUNC, ITEMS, PARAMS))
show(busy_machine.busy_summary(busy).round(3), source=busy)

# %%
# What to copy
# ------------
# Start with as many workers as usable cores (``os.process_cpu_count()`` on Python 3.13+,
# ``len(os.sched_getaffinity(0))`` on Linux); measure one step up and down. Plain
# ``multiprocessing``; every wait is bounded. Run as this script, each ``spawn`` worker
# re-imports this file and re-runs the cells above (they only read the cache).
if __name__ == "__main__":
    import multiprocessing
    import os

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        out = pool.map_async(FUNC, items).get(timeout=120)
    print(len(out), "results from", cores, "workers")
