"""
Starting and stopping a Pool
============================

A pool costs time before it runs a single task: its workers must be created, and under
``spawn`` and ``forkserver`` each one starts a new interpreter that re-imports your script.
This example times ``with Pool(n) as pool: pool.map(noop, range(n))`` under ``fork``,
``spawn`` and ``forkserver``, from two plain scripts: one whose ``__main__`` imports only the
standard library and one that imports numpy and pandas at the top.
"""

# %%
# Measure
# -------
# Each script runs in a fresh interpreter and starts a few pools in turn. The first pool of a
# script also pays one-off costs (``forkserver`` starts its server), so the first pool and the
# later ones are reported apart. Results are cached per machine; ``MPGUIDE_FRESH=1``
# re-measures.
from mpguide.chapters import overhead

startup = overhead.load_startup()
overhead.startup_summary(startup)

# %%
# Compare
# -------
# The bars are medians (error bars: half the interquartile range). Under ``fork`` the child is
# a copy of the parent, so what the script imported is already there. Under ``spawn`` every
# worker imports the script's modules again, which is why the numpy+pandas main is so much
# slower to start.
fig = overhead.plot_startup(startup)

# %%
# Per start method, how much slower the heavy main makes the first pool:
summary = overhead.startup_summary(startup)
first = summary[summary["pool"] == "first"].pivot(index="start_method", columns="main",
                                                  values="median_ms")
first["heavy / light"] = first["numpy+pandas"] / first["light"]
first

# %%
# What to copy
# ------------
# Start one pool and reuse it for all your work rather than one pool per batch; under
# ``spawn`` keep heavy imports that workers do not need out of the top of your script (import
# them inside the functions that use them). Every wait is bounded.
#
# Run as a script under ``spawn`` or ``forkserver``, each worker re-imports this file and
# re-runs the cells above (they only read the cache here); in your own script keep such work
# under the main guard as well.
if __name__ == "__main__":
    import multiprocessing

    from mpguide import workloads

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        print(pool.map_async(workloads.square, range(8)).get(timeout=120))
