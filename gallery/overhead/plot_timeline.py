"""
A timeline of one Pool.map run, chunk by chunk
==============================================

mpire prints per-worker "insights" and Dask draws a task stream; for the standard library's
``Pool`` there is :func:`mpguide.trace`. It runs the real ``with Pool(...) as pool:
pool.map(func, items, chunksize)``, cut into the same chunks, with a few stamps carried by the
pool's own messages: when the parent pickled each chunk, when a worker started and finished
it, when its results were back, and when each worker was ready. Here it traces items whose
heavy ones come last, at ``Pool.map``'s default chunksize (the last chunk gets every heavy
item, and one worker finishes alone) and at chunksize 1.
"""

# %%
# Your function and items
# -----------------------
# Replace these lines with your own, imported from your module
# (``from mywork import parse, load_documents``): a function defined in this script cannot
# reach a ``spawn`` or ``forkserver`` worker. ``ITEMS`` is a function that returns the items,
# called with ``PARAMS`` where the trace runs, or a list of plain values (numbers, strings:
# the list travels as JSON). By default: 200 µs ``spin`` tasks whose last 5% last 40 times
# longer (:func:`~mpguide.chapters.task_duration.heavy_last_items`).
from mpguide import config, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.heavy_last_items  # a factory called with PARAMS, or a list
PARAMS = {"seconds": 2e-4, "count": config.scaled(800, 200), "heavy": 0.05, "factor": 40}

# %%
# Trace two runs
# --------------
# Each trace is one whole run on all usable cores, the first pool of a fresh interpreter (so
# start-up is what a script pays), cached per machine: ``Pool.map``'s default chunksize, about
# four chunks per worker, and chunksize 1. The record is JSON: a row per chunk (``sent``,
# ``started``, ``finished``, ``received``, seconds since the run began), a row per worker and
# the summary.
from mpguide import executors, machine, tracer
from mpguide.experiment import run_cached
from mpguide.report import show

workers = machine.usable_cpus()
items = executors.target_of(ITEMS) if callable(ITEMS) else list(ITEMS)
runs = {name: run_cached("overhead-timeline", "mpguide.tracer:measure_trace", {
            "func": executors.target_of(FUNC), "items": items, "params": PARAMS,
            "executor": executors.Pool(workers, chunksize=chunksize).to_dict()})
        for name, chunksize in (("default chunksize", None), ("chunksize 1", 1))}
traces = {name: tracer.Trace.from_dict(run) for name, run in runs.items()}
show(traces["default chunksize"].to_frame()[
    ["chunk", "worker", "items", "sent", "started", "finished", "received"]].round(4),
     source=traces["default chunksize"].metadata)

# %%
# Where the time went
# -------------------
# Each worker's timeline, from creating the pool to stopping it, is cut into start-up (until
# it was ready), sending (waiting for its next chunk: pickling, pipe, unpickling), computing,
# returning results, imbalance (idle while other workers finish) and stopping; the seconds are
# means over the workers, so each column adds up to its wall time.
import pandas as pd

show(pd.DataFrame({name: run.table().set_index("phase")["seconds"]
                   for name, run in traces.items()}).round(4),
     source=traces["default chunksize"].metadata)

# %%
# At the default chunksize the heavy items share the last chunk: one worker computes it while
# the others have run out of work (red).
fig = show(traces["default chunksize"].plot())

# %%
# At chunksize 1 the heavy items spread over the workers, for one message per item.
fig = show(traces["chunksize 1"].plot())

# %%
# What to copy
# ------------
# Trace your own run from the command line, which prints the same table and saves the chart
# (``--json`` prints the record)::
#
#     python -m mpguide trace mywork:parse --items mywork:load_documents --plot timeline.png
#
# or from Python, as below. When one worker finishes alone, send smaller chunks (or shuffle
# the items) so the heavy ones spread out. Run as this script, each ``spawn`` or
# ``forkserver`` worker re-imports this file and re-runs the cells above (they only read the
# cache, but the start-up this trace reports includes them); in your own script keep such
# work under the main guard as well.
if __name__ == "__main__":
    import mpguide

    work = ITEMS(**PARAMS) if callable(ITEMS) else list(ITEMS)
    timeline = mpguide.trace(FUNC, work, executors.Pool(workers))
    print(tracer.render_text(timeline))
