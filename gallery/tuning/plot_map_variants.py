"""
map, imap, imap_unordered and maxtasksperchild
==============================================

``Pool.map`` returns a list when every task is done; ``imap`` hands results over one by one,
in order; ``imap_unordered`` hands them over as they finish. On a long input whose results are
big, that changes when you see the first result and how much memory the parent holds. And
``maxtasksperchild`` replaces workers as they go, which costs a process start each time.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a function that
# returns the items, called with ``PARAMS`` where the experiment runs, or the items
# themselves if they are plain JSON data): a function defined in this script cannot reach a
# ``spawn`` or ``forkserver`` worker. That is all it takes to get the first table and figures
# below for your function, under any start method. The defaults are uneven tasks (200, 400
# or 600 µs in turn) that each return 32 KiB.
from mpguide import config
from mpguide.chapters import tuning

FUNC = tuning.spin_then_bytes  # any importable function of one argument
ITEMS = tuning.uneven_tasks  # a factory called with PARAMS, or JSON-ready items
PARAMS = {"seconds": 2e-4, "count": config.scaled(1500, 600), "result_kib": 32}

# %%
# First result, total time, peak memory, order
# --------------------------------------------
# The experiment: one pool of all usable cores, started and warmed up (every result checked
# against the plain loop), then ``map``, ``imap`` and ``imap_unordered`` in turn, each item at
# chunksize 1 (above 1, ``imap`` returns a plain generator whose ``next`` takes no timeout).
# ``map`` keeps all results (it returns them as a list); the ``imap`` loops look at each
# result and drop it. Peak memory is the highest rise of the parent's resident set during the
# call. It is not a plain map, so it runs through ``run_cached`` (fresh interpreter, cached).
from mpguide import executors, machine
from mpguide.report import show

workers = machine.usable_cpus()
pool = executors.Pool(workers, chunksize=1)
variants = tuning.load_map_variants(FUNC, ITEMS, PARAMS, pool)
table = tuning.map_variants_table(variants)
show(table.round(3), source=variants)

# %%
fig = show(tuning.bar_figure(table.reset_index(), x="method", y="first_result_s",
                             caption=variants, ylabel="seconds to the first result (median)",
                             title="When the first result arrives"))

# %%
fig = show(tuning.bar_figure(table.reset_index(), x="method", y="peak_rss_mib", caption=variants,
                             ylabel="peak parent memory rise (MiB, median)",
                             title="Memory held by the parent"))

# %%
# maxtasksperchild
# ----------------
# ``Pool(workers, maxtasksperchild=m)`` replaces a worker after ``m`` tasks (a cure for leaky
# functions). The experiment: 1 ms ``spin`` tasks at chunksize 1, timed whole, from creating
# the pool to its join, for ``m`` of none (the default: workers never replaced), 10 and 1
# (none and 1 in quick mode). It stays this experiment when you replace ``FUNC`` and
# ``ITEMS``.
from mpguide import workloads
from mpguide.chapters import task_duration
from mpguide.experiment import Experiment

limits = [None, 1] if config.quick_mode() else [None, 10, 1]
result = Experiment("tuning-maxtasks", workloads.spin, task_duration.spin_items, [
    executors.Pool(workers, chunksize=1, maxtasksperchild=m) for m in limits],
    params={"seconds": 1e-3, "count": config.scaled(60, 12)}, startup=True).run()
maxtasks = tuning.maxtasks_frame(result, task_us=1000)
mt = tuning.maxtasks_table(maxtasks)
show(mt, source=maxtasks)

# %%
fig = show(tuning.bar_figure(mt, x="maxtasksperchild", y="median", err="iqr", caption=maxtasks,
                             ylabel="seconds (median, IQR)", title="Cost of replacing workers"))

# %%
# What to copy
# ------------
# Stream long inputs with ``imap`` (or ``imap_unordered`` when order does not matter) and
# consume results as they come; keep ``maxtasksperchild`` unset unless workers leak memory.
# Plain ``multiprocessing``; every wait is bounded. Run as this script, each ``spawn`` worker
# re-imports this file and re-runs the cells above (they only read the cache).
if __name__ == "__main__":
    import multiprocessing
    import os

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with multiprocessing.get_context("spawn").Pool(cores) as workers_pool:
        results = workers_pool.imap_unordered(FUNC, items)
        count = 0
        for _ in range(len(items)):
            results.next(timeout=120)  # use the result here, then let it go
            count += 1
    print(count, "results streamed")
