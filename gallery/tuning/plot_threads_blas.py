"""
Threads or processes, and BLAS threads inside processes
=======================================================

Threads share memory, so nothing is pickled, but only one thread runs Python bytecode at a
time (the GIL). numpy releases the GIL inside its loops, so numpy work can run in parallel in
threads. And numpy's BLAS starts threads of its own, which a process pool multiplies.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS`` where the experiment runs): a function defined in
# this script cannot reach a ``spawn`` or ``forkserver`` worker. That is all it takes to get
# the first table and figure below for your function, under any start method. The defaults
# are 10 ms pure-Python tasks (4 ms in quick mode), 16 per usable core (6).
from mpguide import config, machine, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = {"seconds": config.scaled(10, 4) / 1e3,  # keyword arguments of ITEMS
          "count": config.scaled(16, 6) * machine.usable_cpus()}

# %%
# Threads against processes
# -------------------------
# The experiment, in plain sight: a thread pool and a process pool of as many workers as
# usable cores, each timed on a started pool; the plain loop is added as the reference and
# every result is checked against it. Above 1 in ``speedup`` is faster than the loop.
from mpguide import executors
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
result = Experiment("choosing-threads", FUNC, ITEMS, [
    executors.Threads(workers), executors.Pool(workers)], params=PARAMS, startup=False).run()
show(result.table().round(3), source=result.frame())

# %%
fig = show(result.plot("Your function: threads or processes"))

# %%
# Work that holds the GIL and work that releases it
# -------------------------------------------------
# The same declaration (``choosing.threads_experiments()``) for pure-Python work and for numpy
# work (``sqrt`` and a sum over an array). It stays this comparison when you replace ``FUNC``
# and ``ITEMS``.
from mpguide.chapters import choosing, tuning

threads = choosing.load_threads_vs_processes()
speed = choosing.speedups(threads, ["workload"], "executor")
show(speed.round(3), source=threads)

# %%
fig = show(tuning.bar_figure(speed, x="workload", y="speedup", hue="executor", caption=threads,
                             reference=1.0, ylabel="speedup over the plain loop (median)",
                             title="Threads need work that releases the GIL"))

# %%
# The seed article's ten sums
# ---------------------------
# The seed article "Python's multiprocessing performance problem" summed one large numpy array
# ten times, in a loop and through a ``ThreadPool`` of 4, and published the seconds of each.
# The same experiment here, with a smaller array: one array object ten times, through the
# article's 4 threads and one thread per usable core. The table sets the two side by side as
# parallel efficiency, the speedup per thread that can run at once (``parallel``).
from mpguide.chapters import transfer

ten_sums = Experiment("choosing-ten-sums", transfer.array_sum, choosing.ten_sums_items,
                      choosing.ten_sums_plan(), params=choosing.ten_sums_params(),
                      startup=False)
sums = ten_sums.run().frame().assign(nbytes=ten_sums.params["nbytes"])
show(choosing.ten_sums_table(sums).round(3), source=sums)

# %%
# BLAS oversubscription
# ---------------------
# Matrix products (256 x 256) in a pool of all usable cores: each worker's BLAS starts as many
# threads as there are cores, so workers times BLAS threads compete for the cores.
# ``blas_threads=1`` caps BLAS at one thread per worker (``mpguide.blas.limit_blas_threads``
# as the initializer: it imports numpy first, then calls ``threadpoolctl``). Each pool's
# workers are asked how many BLAS threads they really have.
pools = [executors.Pool(workers, chunksize=1),
         executors.Pool(workers, chunksize=1, blas_threads=1)]
matmuls = Experiment("choosing-blas", choosing.matmul_trace,
                     [256] * (config.scaled(20, 8) * workers), pools, startup=False).run()
blas = choosing.blas_frame(matmuls, choosing.worker_blas_threads(pools))
blas_table = choosing.blas_table(blas)
show(blas_table.round(3), source=blas)

# %%
fig = show(tuning.bar_figure(blas_table, x="variant", y="median", err="iqr", caption=blas,
                             ylabel="seconds (median, IQR)",
                             title="Matmul tasks: default BLAS threads vs capped"))

# %%
# What to copy
# ------------
# Threads for work that releases the GIL, processes for work that holds it; in a process pool
# of numpy work, cap BLAS at one thread per worker. Plain ``concurrent.futures`` and
# ``multiprocessing``; every wait is bounded. The BLAS variables reach ``spawn`` workers,
# which load numpy after they start (a ``fork`` worker inherits its parent's BLAS as it is).
# Run as this script, each ``spawn`` worker re-imports this file and re-runs the cells above
# (they only read the cache).
if __name__ == "__main__":
    import concurrent.futures
    import multiprocessing
    import os

    items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with concurrent.futures.ThreadPoolExecutor(cores) as thread_pool:
        in_threads = list(thread_pool.map(FUNC, items, timeout=120))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # one BLAS thread in each worker started from now on
    with multiprocessing.get_context("spawn").Pool(cores) as process_pool:
        in_processes = process_pool.map_async(FUNC, items).get(timeout=120)
    print(in_threads == in_processes)
