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
# Measure
# -------
# Each run starts a pool, maps the tasks and stops the pool, because the initializer's cost is
# paid at start-up. Tasks do almost nothing, so the difference is pure transfer.
from mpguide.chapters import send_less, transfer

state = send_less.load_send_less()
transfer.medians(state, ["name", "nbytes"])

# %%
# Compare
# -------
# Sending the state with every task grows with ``tasks x state size``; the initializer grows
# only with ``workers x state size``.
fig = send_less.plot_send_less(state)

# %%
# What to copy
# ------------
# The initializer and the task function must live in an importable module (here
# ``mpguide.chapters.send_less``), so that ``spawn`` and ``forkserver`` workers can find them.
if __name__ == "__main__":
    import multiprocessing

    import numpy as np

    table = np.arange(1_000_000, dtype=np.float64)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2, initializer=send_less.install_state, initargs=(table,)) as pool:
        print(pool.map_async(send_less.lookup_index, range(8)).get(timeout=60))
