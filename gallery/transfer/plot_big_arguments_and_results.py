"""
Big arguments and big results
=============================

A task's argument reaches its worker as a pickle sent through a pipe, and its result comes
back the same way. This example maps a task over a few items on a warm pool of every usable
core: first your function and items beside the loop and a thread pool, then a sweep of payload
sizes where either the argument or the result is big, each against one ``memcpy`` of the same
bytes (:func:`mpguide.probes.memcpy`).
"""

# %%
# Your function and items
# -----------------------
# Replace these lines with your own function and items, imported from your module
# (``from mywork import parse, load_documents``): a function defined in this script cannot
# reach a ``spawn`` or ``forkserver`` worker. ``ITEMS`` is a list, or a function returning the
# items, called with ``PARAMS`` (use ``{}`` for none) in the fresh interpreter that runs the
# experiment. Here each item is the same 4 MiB numpy array and the task returns its length:
# the argument is big, the result tiny.
from mpguide import workloads
from mpguide.chapters import transfer

FUNC = workloads.payload_length  # len(payload)
ITEMS = transfer.fat_items  # `count` copies of make_payload(kind, nbytes)
PARAMS = {"kind": "ndarray", "nbytes": 4 * transfer.MIB, "count": 4}

# %%
# Measure
# -------
# The loop, a thread pool (nothing is copied) and a ``Pool`` of the usable cores with its
# default chunksize, what ``pool.map(FUNC, items)`` does. ``startup=False`` times the map on
# started pools, so the table shows what moving the items and results costs, per item, beyond
# the loop.
from mpguide import executors, machine
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
result = Experiment("transfer-fat", FUNC, ITEMS, [
    executors.Threads(workers), executors.Pool(workers)], params=PARAMS, startup=False).run()
show(transfer.per_item(result), source=result.frame())

# %%
fig = show(result.plot())

# %%
# A sweep over payload sizes
# --------------------------
# The same steady-state map, once with a big argument
# (:func:`~mpguide.workloads.payload_length` over :func:`~mpguide.chapters.transfer.fat_items`)
# and once with a big result (:func:`~mpguide.workloads.payload_task` over
# :func:`~mpguide.chapters.transfer.fat_result_items`), for numpy arrays and lists of small
# dicts of each size. ``run_cached`` runs
# :func:`~mpguide.chapters.transfer.measure_pool_transfer` with these parameters in one fresh
# interpreter; it declares one ``Experiment`` per kind, size and direction, with
# ``Pool(workers, chunksize=1)``. The time the workers need to build a result (the loop's) is
# taken out.
from mpguide import config
from mpguide.experiment import Result, run_cached

KIB, MIB = 1 << 10, 1 << 20
params = {"start_method": config.start_method(), "kinds": ["ndarray", "nested"],
          "sizes": config.scaled([MIB, 4 * MIB, 64 * MIB], [MIB, 4 * MIB]),
          "count": transfer.FAT_ITEMS, "workers": workers, "repeats": config.scaled(3, 2)}
record = run_cached("transfer-pool", "mpguide.chapters.transfer:measure_pool_transfer",
                    params, timeout=transfer.FRESH_TIMEOUT)
sweep = Result.from_dict(record).frame()
show(transfer.pool_transfer_summary(sweep).round(5), source=sweep)

# %%
# Both directions cost the same kind of pickling: a big result is as expensive to return as a
# big argument is to send.
fig = show(transfer.plot_pool_transfer(sweep))

# %%
# What to copy
# ------------
# Return a summary (a sum, a few rows, a path) instead of the data, and send indices or paths
# instead of big arguments; the map itself is plain ``multiprocessing``.
if __name__ == "__main__":
    import multiprocessing
    import os

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    with multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        print(pool.map_async(FUNC, items, chunksize=1).get(timeout=60))
