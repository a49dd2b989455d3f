"""
Chunksize: the U-curve, Pool's default and manual batching
==========================================================

The seed article "How to Optimize Python Multiprocessing Pool Performance and Cut IPC
Overhead" reports a U-shaped curve of time against ``chunksize``: too small and every item
pays a round trip to a worker, too large and some workers sit idle. Here is that curve on this
machine for several task durations, with ``Pool.map``'s default chunksize, manual batching
and ``ProcessPoolExecutor.map``'s default of 1 beside it.
"""

# %%
# Time against chunksize
# ----------------------
# Each task spins for a fixed time; the item count is chosen so the plain loop lasts about the
# same for every duration. Each point is one ``Pool(2).map`` on a started pool, divided by the
# plain loop's median time: below the dashed line the pool wins.
from mpguide import executors, plotting
from mpguide.chapters import tuning

df = tuning.load_chunksize()
fig = plotting.chunksize_plot(
    tuning.relative_to_serial(df), y="relative", hue="duration_us", reference=1.0, logy=True,
    ylabel="time / plain loop (median, IQR)", title="Pool.map time against chunksize")

# %%
# The best chunksize and the defaults
# -----------------------------------
# ``Pool.map`` without a chunksize uses about four chunks per worker
# (``executors.default_chunksize``); ``ProcessPoolExecutor.map`` and ``Pool.imap`` send one
# item per message. "batched" sends lists of items to a function that loops over them, which
# is what chunksize does for you. Ratios are to the best chunksize: 1.0 is as fast.
tuning.chunksize_choices(tuning.chunksize_summary(df)).round(2)

# %%
# What to copy
# ------------
# Let ``Pool.map`` choose (its default is close to the best unless tasks are very uneven), and
# give ``ProcessPoolExecutor.map`` an explicit chunksize of the same size.
if __name__ == "__main__":
    import concurrent.futures
    import multiprocessing

    from mpguide import workloads

    items = [2_000] * 10_000
    chunk = executors.default_chunksize(len(items), 2)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as executor:
        out = list(executor.map(workloads.spin, items, chunksize=chunk, timeout=120))
    print(len(out), "results with chunksize", chunk)
