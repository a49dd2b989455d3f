"""
Tiny tasks: the cost of sending work to a Pool
==============================================

The seed article "How to Optimize Python Multiprocessing Pool Performance and Cut IPC
Overhead" suggests a quick test: push a function that does almost nothing through
``Pool(4).map`` with ``chunksize=1`` over 50,000 items, and you have measured the raw cost of
pickling, IPC and scheduling. Here is that benchmark next to the plain loop, and the per-task
costs behind it.
"""

# %%
# The article's benchmark
# -----------------------
# ``with Pool(4) as pool: pool.map(noop, data, chunksize=1)``, timed whole (pool start and stop
# included, as in the article), against ``[noop(x) for x in data]`` and against Pool's default
# chunksize. The article publishes no timing for it, only the method.
from mpguide import timing
from mpguide.chapters import overhead, task_duration

tiny = task_duration.load_tiny_tasks()
table = timing.summarize(tiny, ["variant"])
table["x loop"] = table["median"] / table.loc[table["variant"] == "loop", "median"].iloc[0]
table

# %%
fig = task_duration.plot_tiny_tasks(tiny)

# %%
# Per task
# --------
# What one task costs: a plain call, one ``apply_async`` round trip (send, run, wait for the
# result), and the overhead per item that ``map`` adds at several chunksizes. ``map`` keeps
# many tasks in flight, so its per-item cost is below the round trip, and chunking divides it.
overhead.dispatch_summary(overhead.load_dispatch())

# %%
# What to copy
# ------------
# For many tiny tasks, batch them: let ``map`` pick its chunksize (the default) or pass a large
# one, so that each message to a worker carries milliseconds of work.
#
# Run as a script under ``spawn`` or ``forkserver``, each worker re-imports this file and
# re-runs the cells above (they only read the cache here); in your own script keep such work
# under the main guard as well.
if __name__ == "__main__":
    import multiprocessing

    from mpguide import workloads

    data = list(range(50_000))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        out = pool.map_async(workloads.noop, data, chunksize=1000).get(timeout=120)
    print(out == data)
