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
# Measure
# -------
# A one-column int64 DataFrame goes into a warm ``spawn`` worker, the article's setting.
# Writing the file is part of each file-based time, as in the article. The memory-mapped
# variant reads one byte per page so the data really reaches the worker.
from mpguide.chapters import send_less

files = send_less.load_files()
send_less.files_table(files)

# %%
# Compare
# -------
# ``x_pickle`` is each way's time over pickling; ``published_x_pickle`` is the article's.
fig = send_less.plot_files(files)

# %%
# What to copy
# ------------
# A path is a few bytes to send; the worker reads the file itself, and the page cache keeps a
# file written a moment ago in memory. The reader function must be importable by workers.
if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    import numpy as np

    from mpguide import pools

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp, "column.npy"))
        np.save(path, np.arange(1_000_000))
        print(pools.bounded_map(send_less.memmap_rows, [path], workers=1, timeout=60))
