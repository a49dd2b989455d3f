"""
Will a Pool speed up this function? Ask the advisor
===================================================

:func:`mpguide.advise <mpguide.advisor.advise>` runs a function on a small sample of its items
(in a child process, with a timeout), combines that profile with this machine's overhead
figures (the machine card) and predicts the wall time of
``with ctx.Pool(w) as p: p.map(func, items, chunksize=c)``, start-up included, for a grid of
worker counts, chunksizes and start methods. Here it is asked about two workloads of
:mod:`mpguide.chapters.advisor`: a pure-Python task of about 2 ms per item, and tiny items
where a Pool can only lose. Swap in your own function in the last cell.
"""

# %%
# A compute-bound function
# ------------------------
# Each item spins for about two milliseconds, holding the GIL. The advisor's recommendation and
# its notes (the dominant cost, the guide page about it) come first, then every predicted
# configuration with the model's terms as columns, fastest first.
import mpguide
from mpguide import cli
from mpguide.chapters import advisor

compute = advisor.load_advice("compute")
print(cli.render_text(compute))

# %%
columns = ["tool", "workers", "chunksize", "start_method", "startup_s", "dispatch_s",
           "serialization_s", "compute_s", "imbalance_s", "predicted_s", "speedup"]
compute.to_frame()[columns].sort_values("predicted_s").head(10).round(4)

# %%
# Predicted time against chunksize
# --------------------------------
# One line per worker count for the recommended start method; the dashed line is the plain
# loop and the star the recommendation. Too small a chunksize pays the pool's per-chunk cost
# for every item, too large a one leaves workers idle at the end.
fig = compute.plot()

# %%
# Tiny items: keep the loop
# -------------------------
# ``square`` of small integers costs a fraction of a microsecond, less than sending the item
# to a worker. The advisor says so, and names the cost that decides.
tiny = advisor.load_advice("tiny")
print(cli.render_text(tiny))

# %%
fig = tiny.plot()

# %%
# Predicted against measured
# --------------------------
# Is the prediction right? Here the real ``Pool.map`` of the compute-bound workload is timed
# (in a fresh interpreter) for each worker count and chunksize of a sweep, beside Pool's
# default chunksize, joblib and the recommendation; each point is one configuration, the grey
# band is ±15%. Chapter 4 of the guide does this for every workload shape.
df = advisor.load_validation(["compute"])
fig = advisor.plot_validation(df)
df[["kind", "tool", "workers", "chunksize", "measured_s", "predicted_s", "error"]].round(4)

# %%
# What to copy
# ------------
# Run the advisor on your own function (defined with ``def`` in an importable module, not in
# this script or a notebook cell) from a shell::
#
#     python -m mpguide advise mymodule:process --items mymodule:load_items
#
# or from Python under a main guard, then paste the snippet it prints.
if __name__ == "__main__":
    from mpguide import workloads

    advice = mpguide.advise(workloads.spin, [workloads.iterations_for(1e-3)] * 300,
                            time_budget=1.0)
    print(advice.snippet())
