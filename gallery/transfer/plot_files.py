"""
Pass a path, not the data
=========================

Instead of pickling a DataFrame into a worker, write it to a file and send the path: the
seed article *Python's multiprocessing performance problem* measured 0.24 s for pickling a
10,000,000-row DataFrame into a ``spawn`` worker and 0.17 s for an uncompressed parquet file
(written and read back). This example measures pickling, parquet (pyarrow), ``.npy`` and a
memory-mapped ``.npy`` on this machine.
"""

# %%
# Declare and measure
# -------------------
# A one-column int64 DataFrame goes into a warm ``spawn`` worker (of a pool of the usable
# cores), the article's setting. Writing the file is part of each file-based time, as in the
# article. The memory-mapped variant reads one byte per page so the data really reaches the
# worker. ``run_cached`` runs :func:`~mpguide.chapters.send_less.measure_files` with these
# parameters in a fresh interpreter and caches the record.
from mpguide import config, machine
from mpguide.chapters import send_less, transfer
from mpguide.experiment import REPEATS, Result, run_cached
from mpguide.report import show

params = {"start_method": "spawn", "rows": config.scaled(10_000_000, 500_000),
          "workers": machine.usable_cpus(), "repeats": config.scaled(REPEATS, 2)}
record = run_cached("transfer-files", "mpguide.chapters.send_less:measure_files", params,
                    timeout=transfer.FRESH_TIMEOUT)
files = Result.from_dict(record).frame()
show(send_less.files_table(files), source=files)

# %%
# Compare
# -------
# ``x_pickle`` is each way's time over pickling; ``published_x_pickle`` is the article's.
fig = show(send_less.plot_files(files))

# %%
# What to copy
# ------------
# A path is a few bytes to send; the worker reads the file itself, and the page cache keeps a
# file written a moment ago in memory. The reader function must be importable by workers:
# :func:`mpguide.chapters.send_less.npy_rows` is ``return len(np.load(path))``; put yours in
# your own module.
if __name__ == "__main__":
    import multiprocessing
    import os
    import tempfile
    from pathlib import Path

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp, \
            multiprocessing.get_context("spawn").Pool(os.cpu_count()) as pool:
        path = str(Path(tmp, "column.npy"))
        np.save(path, np.arange(1_000_000))
        print(pool.map_async(send_less.npy_rows, [path]).get(timeout=60))
