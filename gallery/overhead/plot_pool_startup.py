"""
Starting and stopping a Pool
============================

A pool costs time before it runs a single task: its workers must be created, and under
``spawn`` and ``forkserver`` each one starts a new interpreter that re-imports your script.
This example times ``with Pool(n) as pool: pool.map(noop, range(n))``, ``n`` the usable cores
of this machine, under ``fork``, ``spawn`` and ``forkserver``, from two plain scripts: one
whose ``__main__`` imports only the standard library and one that imports numpy and pandas
at the top.
"""

# %%
# Measure
# -------
# Start-up is not a function mapped over items, so the experiment is declared with
# ``run_cached``: for each start method and kind of main, ``measure_startup`` writes a plain
# script whose ``__main__`` imports what ``overhead.MAINS[main]`` says, runs it ``runs``
# times with ``python main.py`` (a fresh interpreter each time, so nothing of this process
# leaks into the numbers), and each run starts and stops ``pools_per_run`` pools in turn. The
# first pool of a script also pays one-off costs (``forkserver`` starts its server), so the
# first pool and the later ones are reported apart. Results are cached per machine;
# ``MPGUIDE_FRESH=1`` re-measures.
from mpguide.chapters import overhead
from mpguide.experiment import run_cached
from mpguide.report import show

# One plan per start method and main ("light": the stdlib only; "numpy+pandas"), on the usable
# cores: the chapter's own (overhead.plan_startup), so this script and the guide share one
# measurement.
plans = overhead.plan_startup()
runs = [run_cached("overhead-startup", "mpguide.chapters.overhead:measure_startup", plan,
                   fresh=False) for plan in plans]
startup = overhead.startup_frame(runs)
show(overhead.startup_summary(startup), source=startup)

# %%
# Compare
# -------
# The bars are medians (error bars: half the interquartile range). Under ``fork`` the child is
# a copy of the parent, so what the script imported is already there. Under ``spawn`` every
# worker imports the script's modules again, which is why the numpy+pandas main is so much
# slower to start.
fig = show(overhead.plot_startup(startup))

# %%
# Per start method, how much slower the heavy main makes the first pool:
summary = overhead.startup_summary(startup)
first = summary[summary["pool"] == "first"].pivot(
    index="start_method", columns="main", values="median_ms").reindex(columns=list(overhead.MAINS))
first["heavy / light"] = first["numpy+pandas"] / first["light"]
show(first, source=startup)

# %%
# What to copy
# ------------
# Start one pool and reuse it for all your work rather than one pool per batch; under
# ``spawn`` keep heavy imports that workers do not need out of the top of your script (import
# them inside the functions that use them). Plain ``multiprocessing``; every wait is bounded.
#
# Run as this script, each ``spawn`` or ``forkserver`` worker re-imports this file and re-runs
# the cells above (they only read the cache, but what it prints includes that time); in your
# own script keep such work under the main guard as well.
if __name__ == "__main__":
    import math
    import multiprocessing
    import os
    import time

    processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:  # one pool...
        for batch in (range(100), range(100, 200), range(200, 300)):  # ...for every batch
            pool.map_async(math.factorial, batch).get(timeout=120)
    print(f"one Pool({processes}), three batches: {time.perf_counter() - start:.3f} s")
