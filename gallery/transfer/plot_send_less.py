"""
Send state once per worker, then only indices
=============================================

Tasks often need the same big object: a lookup table, a model, a config. Passing it with every
task pickles it every time; a pool *initializer* installs it once per worker, and each task
then carries only an index or a key (the pattern of the seed article *How to Optimize Python
Multiprocessing Pool Performance and Cut IPC Overhead*). This example measures both as the
state grows.
"""

# %%
# Declare and measure
# -------------------
# For each state size, two experiments on a ``Pool`` of the usable cores, one task per chunk:
# :func:`~mpguide.chapters.send_less.lookup_in` over ``(state, index)`` tasks (the state
# pickled with every task), and :func:`~mpguide.chapters.send_less.lookup_index` over bare
# indices with :func:`~mpguide.chapters.send_less.install_state` as the initializer. Each run
# starts a pool, maps the tasks and stops the pool, because the initializer's cost is paid at
# start-up. Tasks do almost nothing, so the difference is pure transfer. ``run_cached`` runs
# :func:`~mpguide.chapters.send_less.measure_send_less` with these parameters in a fresh
# interpreter and caches the record.
from mpguide import config, machine
from mpguide.chapters import send_less, transfer
from mpguide.experiment import Result, run_cached
from mpguide.report import show

KIB, MIB = 1 << 10, 1 << 20
params = {"start_method": config.start_method(),
          "sizes": config.scaled([64 * KIB, MIB, 16 * MIB], [64 * KIB, 2 * MIB]),
          "tasks": config.scaled(32, 16), "workers": machine.usable_cpus(),
          "repeats": config.scaled(3, 2)}
record = run_cached("transfer-send-less", "mpguide.chapters.send_less:measure_send_less",
                    params, timeout=transfer.FRESH_TIMEOUT)
state = Result.from_dict(record).frame()
show(transfer.medians(state, ["name", "nbytes"]), source=state)

# %%
# Compare
# -------
# Sending the state with every task grows with ``tasks x state size``; the initializer grows
# only with ``workers x state size``.
fig = show(send_less.plot_send_less(state))

# %%
# What to copy
# ------------
# The initializer and the task function must live in an importable module, so that ``spawn``
# and ``forkserver`` workers can find them. These two are ten lines of
# ``mpguide/chapters/send_less.py``; put their like in your own module (``mywork.py``)::
#
#     STATE = {}
#
#     def install_state(state):
#         STATE["state"] = state
#
#     def lookup_index(index):
#         return float(STATE["state"][index])
if __name__ == "__main__":
    import multiprocessing
    import os

    import numpy as np

    table = np.arange(1_000_000, dtype=np.float64)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(os.cpu_count(), initializer=send_less.install_state,
                  initargs=(table,)) as pool:
        print(pool.map_async(send_less.lookup_index, range(8)).get(timeout=60))
