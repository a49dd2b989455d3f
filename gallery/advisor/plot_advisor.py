"""
Will a Pool speed up this function? Ask the advisor
===================================================

:func:`mpguide.advise <mpguide.advisor.advise>` runs a function on a small sample of its items
(in a child process, with a timeout), combines that profile with this machine's overhead
figures (the machine card) and predicts the wall time of
``with ctx.Pool(w) as p: p.map(func, items, chunksize=c)``, start-up included, for a grid of
worker counts, chunksizes and start methods. Here it is asked about the function and items of
the first cell, then checked against the real ``Pool.map``.
"""

# %%
# Your function and items
# -----------------------
# Replace these lines with your own, imported from your module
# (``from mywork import parse, load_documents``): a function defined in this script cannot
# reach a ``spawn`` or ``forkserver`` worker. ``ITEMS`` is a function returning the items,
# called with ``PARAMS`` in the fresh interpreter that asks the advisor. Here: a pure-Python
# task of a few milliseconds per item that holds the GIL
# (:func:`mpguide.chapters.advisor.compute_items` says how long).
from mpguide import workloads
from mpguide.chapters import advisor

FUNC = workloads.spin
ITEMS = advisor.compute_items
PARAMS: dict = {}

# %%
# The advice
# ----------
# ``run_cached`` runs :func:`~mpguide.chapters.advisor.advice_record` (the advisor on
# ``FUNC`` over ``ITEMS(**PARAMS)``, every start method) in a fresh interpreter and caches
# it per machine; editing your function re-asks. The recommendation and its notes (the
# dominant cost, the guide page about it) come first, then every predicted configuration with
# the model's terms as columns, fastest first.
from mpguide import cli
from mpguide.advisor import Advice
from mpguide.experiment import run_cached
from mpguide.report import show

record = run_cached("advisor-advice", "mpguide.chapters.advisor:advice_record",
                    advisor.advice_params(FUNC, ITEMS, PARAMS), timeout=300)
advice = Advice.from_dict(record)
print(cli.render_text(advice))

# %%
columns = ["tool", "workers", "chunksize", "start_method", "startup_s", "dispatch_s",
           "serialization_s", "compute_s", "imbalance_s", "predicted_s", "speedup"]
show(advice.to_frame()[columns].sort_values("predicted_s").head(10).round(4),
     source=dict(advice.metadata))

# %%
# Predicted time against chunksize
# --------------------------------
# One line per worker count for the recommended start method; the dashed line is the plain
# loop and the star the recommendation. Too small a chunksize pays the pool's per-chunk cost
# for every item, too large a one leaves workers idle at the end.
fig = show(advice.plot())

# %%
# Tiny items: keep the loop
# -------------------------
# For contrast, ``square`` of small integers (:func:`mpguide.chapters.advisor.tiny_items`)
# costs a fraction of a microsecond, less than sending the item to a worker. The advisor says
# so, and names the cost that decides.
tiny = Advice.from_dict(run_cached(
    "advisor-advice", "mpguide.chapters.advisor:advice_record",
    advisor.advice_params(workloads.square, advisor.tiny_items), timeout=300))
print(cli.render_text(tiny))

# %%
# Predicted against measured
# --------------------------
# Is the prediction right? :func:`~mpguide.chapters.advisor_measure.measure_workload` times the real
# ``Pool.map`` of ``FUNC`` over the items (in a fresh interpreter) over a sweep of chunksizes
# on all usable cores (smaller pools at their best predicted chunksize), beside Pool's default chunksize, joblib and
# the recommendation; each point is one configuration, the grey band is ±15%. Chapter 4 of the
# guide does this for workloads of every shape.
validation = advisor.validation_params(FUNC, ITEMS, PARAMS)
df = advisor.validation_frame(run_cached("advisor-validation",
                                         advisor.MEASURE,
                                         validation, timeout=600))
fig = show(advisor.plot_validation(df))
show(df[["kind", "tool", "workers", "chunksize", "measured_s", "predicted_s", "error"]].round(4),
     source=advisor.validation_metadata(df))

# %%
# What to copy
# ------------
# Run the advisor on your own function from a shell::
#
#     python -m mpguide advise mymodule:process --items mymodule:load_items
#
# then follow its recommendation with plain ``multiprocessing``: here, the snippet it printed,
# run on the items of the first cell.
if __name__ == "__main__":
    import multiprocessing

    print(advice.snippet())
    rec = advice.recommendation
    items = ITEMS(**PARAMS)
    if rec.tool == "pool":
        with multiprocessing.get_context(rec.start_method).Pool(rec.workers) as pool:
            results = pool.map_async(FUNC, items, chunksize=rec.chunksize).get(timeout=600)
    elif rec.tool == "threads":
        from multiprocessing.pool import ThreadPool

        with ThreadPool(rec.workers) as pool:
            results = pool.map_async(FUNC, items, chunksize=rec.chunksize).get(timeout=600)
    else:
        results = [FUNC(item) for item in items]
    print(f"{len(results)} results")
