"""
The classic errors, reproduced under every start method
=======================================================

Each error of the guide's troubleshooting chapter, run live: a small plain program (standard
library, or joblib) in a child process of its own, under ``fork``, ``spawn`` and
``forkserver``, given a time bound and ended with everything it started if it overruns it.
What the child printed is kept as printed, so the messages below are this Python's own, in
its own wording (which changes between Python versions). Then the fix, run the same way, and
what it printed.
"""

# %%
# The errors and their programs
# -----------------------------
# The catalogue (``mpguide.chapters.troubleshooting.CASES``) holds, per error, the programs
# that reproduce it, the fix, and the start methods under which it is expected to occur. This
# is the program of the first one, as it runs under ``spawn``:
from mpguide.chapters import troubleshooting
from mpguide.chapters import troubleshooting_runner as runs

for name, case in troubleshooting.CASES.items():
    print(f"{name:18} {case.title:42} occurs under: {', '.join(case.occurs) or 'every method'}")
print()
print(troubleshooting.CASES["pickle-local"].reproductions[0].render("spawn", 2))

# %%
# Run them
# --------
# ``load_all`` runs every program of every case in its bounded child (the bounds below: a
# reproduction's own wait, a fix's, and how long a program that waits forever is given
# before it is killed), through ``run_cached``: measured once per machine, Python and mode,
# then read back. Each case prints the message its reproductions printed, under which start
# methods, and what the fix printed.
print(runs.capture_params("main-attribute"))
captures = runs.load_all()

for capture in captures.values():
    print(f"\n=== {runs.case_heading(capture)}")
    for entry in runs.messages(capture):
        print(f"--- {', '.join(entry['programs'])}, under {', '.join(entry['methods'])}:\n"
              f"{entry['message']}")
    for run in capture["runs"]:
        if run["role"] == "fix":
            print(f"--- the fix under {run['method']} ({run['outcome']}): {run['stdout']}")

# %%
# Every run, side by side
# -----------------------
# One row per program and start method: what happened (``error``, ``killed`` when it had to
# be ended at its bound, ``ok``), after how long, and the first message it printed.
from mpguide.report import captioned, show

frame = runs.runs_frame(captures)
show(captioned(frame[["case", "role", "label", "method", "outcome", "seconds", "heading"]], frame,
               ", ".join(frame["method"].unique())))

# %%
# How long each mistake takes to show itself: most fail at once; a ``Pool.map`` whose workers
# cannot find their function never returns, and is killed at the dashed bound.
fig = runs.time_to_error_figure(frame)

# %%
# What to copy
# ------------
# The habits that prevent or bound all of the above, in plain ``multiprocessing`` and
# ``concurrent.futures``: processes started only under the main guard, worker functions
# defined at the top of a module (here a standard-library one), every wait bounded, and a
# dead worker turned into an exception you can handle. Run as this script, each ``spawn`` or
# ``forkserver`` worker re-imports this file and re-runs the cells above (they only read the
# cache).
if __name__ == "__main__":
    import math
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with ctx.Pool(cores) as pool:
        print(pool.map_async(math.factorial, range(8)).get(timeout=120))
    with ProcessPoolExecutor(cores, mp_context=ctx) as executor:
        try:
            print(list(executor.map(math.factorial, range(8), timeout=120)))
        except BrokenProcessPool as exc:  # a worker died: the results of this map are lost
            print(f"a worker died ({exc}); rerun the items, or find the one that kills")
