"""
What pickling costs
===================

A pool moves every argument and every result as a pickle. This example times ``dumps`` and
``loads`` for four kinds of payload (bytes, a numpy array, a list of small dicts, a DataFrame)
with pickle protocol 4 (what ``multiprocessing`` uses before Python 3.14), protocol 5 in-band
and with out-of-band buffers, and cloudpickle (what joblib and loky use), all against one
``memcpy`` of the same number of bytes. Then it sends one big argument and one big result
through a warm pool.
"""

# %%
# Measure
# -------
# The experiment runs in a fresh interpreter and is cached per machine (``MPGUIDE_FRESH=1``
# re-measures). The table gives medians of dumps and loads, their sum as a multiple of the
# memcpy floor, and the throughput.
from mpguide.chapters import transfer

pickling = transfer.load_pickling()
transfer.pickling_summary(pickling).round(5)

# %%
# Compare
# -------
# Arrays and DataFrames can pickle close to memory speed because their data is one buffer; a
# list of small dicts is pickled object by object. Out-of-band buffers skip the copy altogether,
# which is why that line can pass the memcpy floor: the buffers still have to be sent.
fig = transfer.plot_pickling(pickling)

# %%
# Big arguments and big results
# -----------------------------
# One ``apply`` with a big argument (the result is its length) and one whose result is big
# (the time to build the payload in the worker is subtracted). Both directions cost the same
# kind of pickling; results are as expensive to return as arguments are to send.
pool_transfer = transfer.load_pool_transfer()
transfer.pool_transfer_summary(pool_transfer).round(4)

# %%
fig = transfer.plot_pool_transfer(pool_transfer)

# %%
# What to copy
# ------------
# Measure what your own payload costs to pickle before you parallelize: if ``dumps`` plus
# ``loads`` is a sizeable part of the work per task, send less (indices, paths, shared
# memory) or return less.
if __name__ == "__main__":
    import pickle
    import time

    import numpy as np

    payload = np.ones(4_000_000)
    start = time.perf_counter()
    pickle.loads(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"dumps + loads: {time.perf_counter() - start:.4f} s for {payload.nbytes:,} bytes")
