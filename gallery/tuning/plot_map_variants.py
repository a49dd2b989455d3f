"""
map, imap, imap_unordered and maxtasksperchild
==============================================

``Pool.map`` returns a list when every task is done; ``imap`` hands results over one by one,
in order; ``imap_unordered`` hands them over as they finish. On a long input whose results are
big, that changes when you see the first result and how much memory the parent holds. And
``maxtasksperchild`` replaces workers as they go, which costs a process start each time.
"""

# %%
# First result, total time, peak memory, order
# --------------------------------------------
# Each task spins an uneven time and returns a block of bytes. ``map`` keeps all results (it
# returns them as a list); the ``imap`` loops look at each result and drop it. Peak memory is
# the highest rise of the parent's resident set during the call.
from mpguide import timing
from mpguide.chapters import tuning

variants = tuning.load_map_variants()
table = variants.groupby("method")[["first_result_s", "seconds", "peak_rss_mib",
                                     "out_of_order"]].median()
table.round(3)

# %%
fig = tuning.bar_figure(table.reset_index(), x="method", y="first_result_s",
                        caption=variants, ylabel="seconds to the first result (median)",
                        title="When the first result arrives")

# %%
fig = tuning.bar_figure(table.reset_index(), x="method", y="peak_rss_mib", caption=variants,
                        ylabel="peak parent memory rise (MiB, median)",
                        title="Memory held by the parent")

# %%
# maxtasksperchild
# ----------------
# ``Pool(2, maxtasksperchild=m)`` replaces a worker after ``m`` tasks (a cure for leaky
# functions). Wall time from creating the pool to the end of ``map`` over 1 ms tasks;
# "none" is the default, workers never replaced.
maxtasks = tuning.load_maxtasks()
maxtasks["maxtasksperchild"] = maxtasks["maxtasksperchild"].fillna(0).astype(int).astype(str)
maxtasks["maxtasksperchild"] = maxtasks["maxtasksperchild"].replace("0", "none")
mt = timing.summarize(maxtasks, ["maxtasksperchild"], value="seconds")
mt

# %%
fig = tuning.bar_figure(mt, x="maxtasksperchild", y="median", err="iqr", caption=maxtasks,
                        ylabel="seconds (median, IQR)", title="Cost of replacing workers")

# %%
# What to copy
# ------------
# Stream long inputs with ``imap`` (or ``imap_unordered`` when order does not matter) and
# consume results as they come; keep ``maxtasksperchild`` unset unless workers leak memory.
if __name__ == "__main__":
    import multiprocessing

    from mpguide import workloads

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        total = 0
        results = pool.imap_unordered(workloads.square, range(10_000))
        for _ in range(10_000):
            total += results.next(timeout=120)
    print(total)
