"""
Threads or processes for a big numpy array
==========================================

The seed article *Python's multiprocessing performance problem* sums a 1 GiB array once in a
thread pool and once in a ``spawn`` process pool, one worker each, and reports 0.31 s against
1.80 s: the process has to receive the whole array as a pickle, while a thread just gets a
pointer (and ``np.sum`` releases the GIL). This example repeats the experiment on this
machine, with the article's one worker and with every usable core.
"""

# %%
# Your function and items
# -----------------------
# The function is mapped over the items by every executor below. Replace these lines with
# your own, imported from your module (``from mywork import parse, load_documents``): a
# function defined in this script cannot reach a ``spawn`` or ``forkserver`` worker. ``ITEMS``
# is a list, or a function returning the items, called with ``PARAMS`` (use ``{}`` for none)
# in the fresh interpreter that runs the experiment. Here: the article's array of ones, cut
# into one slice per usable core.
from mpguide import machine
from mpguide.chapters import transfer

FUNC = transfer.array_sum  # int(np.sum(array))
ITEMS = transfer.seed003_items  # np.ones(nbytes, uint8), as `parts` slices
PARAMS = {"nbytes": transfer.seed003_nbytes(), "parts": machine.usable_cpus()}

# %%
# Measure
# -------
# The article's setting first (one thread, one ``spawn`` worker), then as many threads and
# processes as this machine has usable cores, with the start method of this run. Every map is
# timed whole, from creating the pool to closing it: the process pool's time includes starting
# its workers (the article's clock started once the pool object existed, while its worker was
# still booting). The array (its size is printed here and in the table below) is smaller than
# the article's 1 GiB, to keep a build within minutes. The sides do not grow alike with it:
# the process pays a fixed start-up cost (a ``spawn`` interpreter that imports numpy) before
# the copy that grows with the array, so the smaller the array, the larger the process/thread
# ratio of the whole maps; the started pools below show the copy alone.
from mpguide import config, executors
from mpguide.experiment import Experiment
from mpguide.report import show

if "nbytes" in PARAMS:  # the article's array
    print("array:", transfer.sizes_label(PARAMS["nbytes"]))
workers = machine.usable_cpus()
article = [executors.Threads(1), executors.Pool(1, chunksize=1, start_method="spawn")]
ours = [executors.Threads(workers), executors.Pool(workers, chunksize=1)]
plan = article + [e for e in ours if e not in article]
result = Experiment("transfer-seed003", FUNC, ITEMS, plan, params=PARAMS,
                    repeats=config.scaled(3, 2)).run()
show(result.table(), source=result.frame())

# %%
# The same maps on started pools
# ------------------------------
# ``startup=False`` times the map alone, on pools whose workers are already running: what is
# left is the transfer of the array (and the work).
warm = Experiment("transfer-seed003-warm", FUNC, ITEMS, plan, params=PARAMS,
                  repeats=config.scaled(3, 2), startup=False).run()
show(warm.table(), source=warm.frame())

# %%
# Compare with the article
# ------------------------
# The published pair beside this machine's (one thread against one process, start-up
# included), and the process/thread ratio of each.
seed = transfer.seed003_frame([result, warm], PARAMS.get("nbytes"))
show(transfer.seed003_table(seed), source=seed)

# %%
fig = show(transfer.plot_seed003(seed))

# %%
# What to copy
# ------------
# When the work is numpy (or anything else that releases the GIL), try a thread pool first:
# nothing is copied.
if __name__ == "__main__":
    import os
    from concurrent.futures import ThreadPoolExecutor

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    with ThreadPoolExecutor(os.cpu_count()) as threads:
        results = list(threads.map(FUNC, items, timeout=60))
    print(f"{len(results)} results, the first: {results[0]!r}")
