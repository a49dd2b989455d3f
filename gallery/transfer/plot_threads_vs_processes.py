"""
Threads or processes for a big numpy array
==========================================

The seed article *Python's multiprocessing performance problem* sums a 1 GiB array once in a
thread pool and once in a ``spawn`` process pool and reports 0.31 s against 1.80 s: the
process has to receive the whole array as a pickle, while a thread just gets a pointer (and
``np.sum`` releases the GIL). This example repeats the experiment on this machine.
"""

# %%
# Measure
# -------
# Like the article, each pool has one worker and the clock starts right after the pool is
# created, so the process pool's first call also waits for its worker to finish starting.
# A second ("warm") call on the same pool shows the transfer alone. The array is 1 GiB in full
# mode and smaller in quick mode.
from mpguide.chapters import transfer

seed = transfer.load_seed003()
transfer.medians(seed, ["name"])

# %%
# Compare with the article
# ------------------------
# The published pair beside this machine's, and the process/thread ratio of each.
transfer.seed003_table(seed)

# %%
fig = transfer.plot_seed003(seed)

# %%
# What to copy
# ------------
# When the work is numpy (or anything else that releases the GIL), try a thread pool first:
# nothing is copied.
if __name__ == "__main__":
    from multiprocessing.pool import ThreadPool

    import numpy as np

    array = np.ones(64 * 2**20, dtype=np.uint8)
    with ThreadPool(2) as threads:
        halves = [array[: len(array) // 2], array[len(array) // 2 :]]
        print(sum(threads.map_async(np.sum, halves).get(timeout=60)))
