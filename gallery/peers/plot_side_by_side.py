"""
Other tools side by side: Pool, ProcessPoolExecutor, joblib, mpire, Dask
========================================================================

The tools a reader tries after ``multiprocessing.Pool``, on the same function and the same
items, on this machine: each at its own default and with the chunks ``Pool.map`` would cut by
itself, as many workers as usable cores, under the start method of this run. Then the guide's
workload shapes through all of them, and the code to copy for the fastest one.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS`` where the experiment runs): a function defined in
# this script cannot reach a ``spawn`` or ``forkserver`` worker (nor a loky or Dask worker,
# which start the same way). The defaults are the guide's ``side_by_side.MS_SHAPE`` shape:
# pure-Python tasks of ``side_by_side.MS_TASK_S`` seconds each, as many as the plain loop runs
# in ``side_by_side.loop_seconds()`` here.
from mpguide import workloads
from mpguide.chapters import side_by_side, task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = dict(side_by_side.shapes()[side_by_side.MS_SHAPE].params)  # keyword arguments of ITEMS

# %%
# Every tool on your function
# ---------------------------
# The experiment, in plain sight: the line-up of the chapter (``side_by_side.lineup``), each
# executor started once and its maps timed back to back (``startup=False``: a Dask local
# cluster takes seconds to start, which the chapter measures on its own). The plain loop is
# added as the reference and every result is checked against it first.
from mpguide import machine
from mpguide.experiment import Experiment
from mpguide.report import show

workers = machine.usable_cpus()
n_items = len(ITEMS(**PARAMS)) if callable(ITEMS) else len(ITEMS)
lineup = side_by_side.lineup(n_items, workers)
result = Experiment("peers-yours", FUNC, ITEMS, list(lineup.values()), params=PARAMS,
                    startup=False).run()
show(result.table().round(4), source=result.frame())

# %%
# Below the dashed line (the loop), the tool wins.
fig = show(result.plot("Your function through every tool, map on a started executor"))

# %%
# Every shape
# -----------
# The chapter's measurement (``side_by_side.load_side_by_side``): the guide's workload shapes,
# sized for this machine, through the same line-up. It stays this measurement when you
# replace ``FUNC`` and ``ITEMS``.
from mpguide.chapters import side_by_side_plots, side_by_side_tables

side = side_by_side.load_side_by_side()
fig = show(side_by_side_plots.plot_speedups(side))

# %%
# The fastest row of each shape, and Pool's default beside it.
show(side_by_side_tables.best_ways(side.table()).round(2), source=side.metadata())

# %%
# What each tool costs per item (the no-op shape: a function that returns its argument) and
# in memory (the peak of the USS summed over the tool's own processes).
fig = show(side_by_side_plots.plot_overhead(side))

# %%
fig = show(side_by_side_plots.plot_memory(side))

# %%
# What to copy
# ------------
# The code of the fastest row for your function, as it stands in
# ``side_by_side_snippets.SNIPPETS`` (every snippet there is run by the tests, its waits
# bounded). It expects ``func``, ``items`` and ``workers``.
from mpguide.chapters import side_by_side_snippets

ways = {spec.label: way for way, spec in lineup.items()}
table = result.table()
runs = table[table["tool"] != "loop"]
fastest = str(runs.loc[runs["median_s"].idxmin(), "label"]) if len(runs) else "Pool(...)"
print(f"fastest for {FUNC.__name__}: {fastest}\n")
print(side_by_side_snippets.snippet(ways.get(fastest, "Pool")))
