"""
Sharing an array through shared memory
======================================

``multiprocessing.shared_memory`` lets workers map the same bytes instead of receiving a
pickle. :func:`mpguide.shm.shared_array` wraps it: it copies the array once into a new
segment, hands workers a tiny handle (name, shape, dtype), and always closes and unlinks the
segment, even when a worker crashes or the script is interrupted. This example measures what
handing an array to a worker costs that way, against pickling it and against one ``memcpy``.
"""

# %%
# Hand one array to a worker
# --------------------------
# Under each start method: create the segment and copy the array in, have a warm worker attach
# and read a byte of every page, do the same through a segment reused from the previous round
# (:func:`mpguide.shm.shared_arena`), and compare with pickling the array into the same worker
# and with one ``memcpy``. All are interleaved in one run. ``shared_array cleanup`` is the close
# and unlink afterwards.
from mpguide.chapters import send_less, transfer

handoff = send_less.load_shm_handoff()
send_less.handoff_summary(handoff).round(4)

# %%
fig = send_less.plot_shm_handoff(handoff)

# %%
# Work on slices by index
# -----------------------
# Summing a big array in slices on a warm pool: each slice pickled as an argument, or one
# shared segment and ``(handle, start, stop)`` per task (creating and unlinking the segment
# included).
shared = send_less.load_shared_vs_pickled()
transfer.medians(shared, ["name"])

# %%
# What to copy
# ------------
# Workers attach by name without registering the segment with a resource tracker (what
# ``track=False`` does on Python 3.13+), so no worker can unlink it early or warn about a
# leak; only the ``with`` block's owner unlinks it.
if __name__ == "__main__":
    import numpy as np

    from mpguide import pools, shm

    data = np.arange(1_000_000, dtype=np.float64)
    with shm.shared_array(data) as handle:
        tasks = [(handle, start, start + 250_000) for start in range(0, 1_000_000, 250_000)]
        print(sum(pools.bounded_map(shm.sum_slice, tasks, workers=2, timeout=60)))
