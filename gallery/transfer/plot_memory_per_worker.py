"""
Memory per worker
=================

Each worker is a process with its own memory. How much of it is really its own depends on the
start method: a ``fork`` worker starts as a copy-on-write view of its parent, while ``spawn``
and ``forkserver`` workers start from a fresh interpreter. This example reads RSS (resident
pages, shared ones included), PSS (shared pages divided among the processes sharing them) and
USS (pages only this process holds) of every worker, from a parent holding a big list.
"""

# %%
# Measure
# -------
# The parent imports numpy and pandas and builds a list of ints, then starts a pool under
# each start method; the memory of the parent and of each idle worker is read with psutil.
from mpguide.chapters import worker_memory
from mpguide.report import show

memory = worker_memory.load_worker_memory()
show(memory[["process", "start_method", "rss_mib", "pss_mib", "uss_mib"]].round(1), source=memory)

# %%
# Reading is writing under fork
# -----------------------------
# CPython keeps a reference count in every object, so merely reading an item writes to its
# page, and the kernel copies that page into the worker. The fork worker below reads more and
# more of the inherited list; its private memory (USS) grows while its RSS does not.
cow = worker_memory.load_cow()
show(cow[["fraction_read", "items_read", "rss_mib", "pss_mib", "uss_mib"]].round(1), source=cow)

# %%
fig = show(worker_memory.plot_memory(memory, cow))

# %%
# What to copy
# ------------
# Judge a worker's cost by its USS (or PSS), not its RSS. Under fork, big read-only data
# shared by inheritance stays shared only while nothing touches its objects; numpy arrays
# (one buffer, one object) stay shared, lists of Python objects do not.
if __name__ == "__main__":
    import multiprocessing
    import os

    import psutil

    ctx = multiprocessing.get_context("spawn")
    workers = os.cpu_count() or 1
    with ctx.Pool(workers) as pool:
        pool.map_async(abs, range(workers)).get(timeout=60)
        for worker in pool._pool:
            info = psutil.Process(worker.pid).memory_full_info()
            print(worker.pid, f"USS {info.uss / 2**20:.1f} MiB")
