"""
Sharing an array through shared memory
======================================

``multiprocessing.shared_memory`` lets workers map the same bytes instead of receiving a
pickle. :func:`mpguide.shm.shared_array` wraps it: it copies the array once into a new
segment, hands workers a tiny handle (name, shape, dtype), and always closes and unlinks the
segment, even when a worker crashes or the script is interrupted. This example measures what
handing an array to a worker costs that way, against pickling it and against one ``memcpy``
(the best of three back-to-back copies, :func:`mpguide.probes.memcpy`).
"""

# %%
# Hand one array to a worker
# --------------------------
# Under each start method: create the segment and copy the array in, have a warm worker attach
# and read a byte of every page, do the same through a segment reused from the previous round
# (:func:`mpguide.shm.shared_arena`), and compare with pickling the array into the same worker
# and with one ``memcpy``. All are interleaved in one run
# (:func:`~mpguide.chapters.send_less.measure_shm_handoff`, one fresh interpreter per start
# method); ``shared_array cleanup`` is the close and unlink afterwards.
import pandas as pd

from mpguide import config, machine
from mpguide.chapters import send_less, transfer
from mpguide.experiment import REPEATS, Result, run_cached
from mpguide.report import show

MIB = 1 << 20
frames = []
for method in config.available_start_methods():
    # The chapter's plan: 256 MiB (16 MiB in quick mode), the usable cores, 3 rounds (2).
    params = send_less.handoff_params(method)
    record = run_cached("transfer-shm-handoff", "mpguide.chapters.send_less:measure_shm_handoff",
                        params, timeout=transfer.FRESH_TIMEOUT)
    frames.append(Result.from_dict(record).frame())
handoff = pd.concat(frames, ignore_index=True)
show(send_less.handoff_summary(handoff).round(4), source=handoff)

# %%
fig = show(send_less.plot_shm_handoff(handoff))

# %%
# Work on slices by index
# -----------------------
# Summing a big array in slices, four per worker, on a warm pool of the usable cores: each
# slice pickled as an argument, or one shared segment and ``(handle, start, stop)`` per task
# (creating and unlinking the segment included).
workers = machine.usable_cpus()
params = {"start_method": config.start_method(), "nbytes": config.scaled(256 * MIB, 16 * MIB),
          "parts": 4 * workers, "workers": workers, "repeats": REPEATS}
record = run_cached("transfer-shared-vs-pickled",
                    "mpguide.chapters.send_less:measure_shared_vs_pickled", params,
                    timeout=transfer.FRESH_TIMEOUT)
shared = Result.from_dict(record).frame()
show(transfer.medians(shared, ["name"]), source=shared)

# %%
# What to copy
# ------------
# Workers attach by name without registering the segment with a resource tracker (what
# ``track=False`` does on Python 3.13+), so no worker can unlink it early or warn about a
# leak; only the ``with`` block's owner unlinks it. The pool is plain ``multiprocessing``;
# :func:`mpguide.shm.sum_slice` is the worker side (attach, sum a slice, detach).
if __name__ == "__main__":
    import multiprocessing
    import os

    import numpy as np

    from mpguide import shm

    data = np.arange(1_000_000, dtype=np.float64)
    with shm.shared_array(data) as handle, \
            multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        tasks = [(handle, start, start + 250_000) for start in range(0, 1_000_000, 250_000)]
        print(sum(pool.map_async(shm.sum_slice, tasks).get(timeout=60)))
