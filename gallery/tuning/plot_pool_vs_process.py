"""
Pool or Process, and I/O with CPU together
==========================================

The seed article "Python Multiprocessing: Pool vs Process – Comparative Analysis" found a
Pool better for many tasks and one ``Process`` per task better for a few tasks with long I/O
waits. And when each item both waits (a download) and computes, the seed article "How to
Optimize Python Multiprocessing Pool Performance and Cut IPC Overhead" suggests threads for
the waiting feeding a process pool for the computing. Both measured here; the I/O is served
by a small HTTP server on 127.0.0.1 that the experiment starts and stops.
"""

# %%
# Pool against one Process per task
# ---------------------------------
# The declaration: for each scenario, a number of tasks per usable core and a task duration;
# the plain loop, a ``Pool`` of all usable cores (``executors.Pool``, chunksize 1) and one
# ``Process`` per task, each timed whole, process start and stop included. One ``Process`` per
# task is no executor of the kit, so the experiment runs through ``run_cached`` (fresh
# interpreter, cached: ``mpguide.chapters.waiting:measure_pool_vs_process``).
from mpguide.chapters import waiting
from mpguide.report import show

params = waiting.pool_vs_process_params()
show(params)

# %%
# The article's published numbers: 6 s with a Pool against 10 s without for its full job; 4 s
# against 3 s for 100 small expressions; 0.6 s against 3 s after raising the arguments to 250.
from mpguide import timing
from mpguide.chapters import tuning

pvp = waiting.load_pool_vs_process(params)
pvp_table = timing.summarize(pvp, ["scenario", "way"], value="seconds")
show(pvp_table.round(3), source=pvp)

# %%
fig = show(tuning.bar_figure(pvp_table, x="scenario", y="median", hue="way", err="iqr",
                             caption=pvp, ylabel="seconds (median, IQR)",
                             title="Pool vs one Process per task"))

# %%
# Threads or asyncio feeding processes
# ------------------------------------
# Each item waits on the local server, then runs pure-Python work. Threads alone overlap the
# waits but compute one item at a time; processes alone compute in parallel but sit idle while
# waiting; threads that fetch and hand each answer to a process pool do both, and so does one
# asyncio event loop that fetches and hands each answer on with ``loop.run_in_executor``. The
# declaration: a process pool of the usable cores, four I/O threads per worker, the items,
# the server's delay and the work per item (``mpguide.chapters.waiting:measure_io_cpu``).
from mpguide.chapters import choosing

io_params = waiting.io_cpu_params()
show(io_params)

# %%
iocpu = waiting.load_io_cpu(io_params)
io_table = choosing.speedups(iocpu, ["n_items"], "way")
show(io_table.round(3), source=iocpu)

# %%
io_bars = io_table.assign(way=io_table["way"].str.wrap(9))  # five labels side by side
fig = show(tuning.bar_figure(io_bars, x="way", y="median", err="iqr", caption=iocpu,
                             ylabel="seconds (median, IQR)", title="Fetch then compute"))

# %%
# What to copy
# ------------
# Read or fetch with threads, compute with processes, and start the process pool before any
# thread of your own. Plain ``multiprocessing`` (files stand in for downloads, ``zlib`` for
# the work); every wait is bounded. Run as this script, each ``spawn`` worker re-imports this
# file and re-runs the cells above (they only read the cache).
if __name__ == "__main__":
    import multiprocessing
    import os
    import tempfile
    import zlib
    from multiprocessing.pool import ThreadPool
    from pathlib import Path

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder, f"part-{i}.bin") for i in range(4 * cores)]
        for path in paths:
            path.write_bytes(os.urandom(1 << 20))
        with multiprocessing.get_context("spawn").Pool(cores) as procs, \
                ThreadPool(4 * cores) as readers:
            arrived = readers.imap(Path.read_bytes, paths)
            pending = [procs.apply_async(zlib.compress, (arrived.next(timeout=120),))
                       for _ in paths]
            sizes = [len(p.get(timeout=120)) for p in pending]
    print(len(sizes), "parts compressed, first sizes", sizes[:3])
