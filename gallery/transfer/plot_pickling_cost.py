"""
What pickling costs
===================

A pool moves every argument and every result as a pickle. This example times ``dumps`` and
``loads`` for four kinds of payload (bytes, a numpy array, a list of small dicts, a DataFrame)
with pickle protocol 4 (what ``multiprocessing`` uses before Python 3.14), protocol 5 in-band
and with out-of-band buffers, and cloudpickle (what joblib and loky use), all against one
``memcpy`` of the same number of bytes (:func:`mpguide.probes.memcpy`). The pool itself comes
next, in :doc:`plot_big_arguments_and_results`.
"""

# %%
# Declare and measure
# -------------------
# The payload sizes and repeats below are the whole declaration: ``run_cached`` calls
# :func:`mpguide.chapters.transfer.measure_pickling` with them in a fresh interpreter and
# caches the record per machine (``MPGUIDE_FRESH=1`` re-measures). Quick mode
# (``MPGUIDE_QUICK=1``) uses the smaller sizes.
from mpguide import config
from mpguide.chapters import transfer
from mpguide.experiment import REPEATS, Result, run_cached
from mpguide.report import show

KIB, MIB = 1 << 10, 1 << 20
params = {"sizes": config.scaled([64 * KIB, MIB, 16 * MIB], [64 * KIB, MIB]),
          "repeats": REPEATS}
record = run_cached("transfer-pickling", "mpguide.chapters.transfer:measure_pickling", params,
                    timeout=transfer.FRESH_TIMEOUT)
pickling = Result.from_dict(record).frame()

# %%
# The table gives medians of dumps and loads, their sum as a multiple of the memcpy floor, and
# the throughput.
show(transfer.pickling_summary(pickling).round(5), source=pickling)

# %%
# Compare
# -------
# Arrays and DataFrames can pickle close to memory speed because their data is one buffer; a
# list of small dicts is pickled object by object. Out-of-band buffers skip the copy altogether,
# which is why that line can pass the memcpy floor: the buffers still have to be sent.
fig = show(transfer.plot_pickling(pickling))

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
