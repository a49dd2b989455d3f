"""
Your function on a Dask cluster, and projected to more machines
===============================================================

One machine's cores run out; Dask distributed spreads tasks over many machines. Here is your
function on a real Dask cluster: a scheduler and workers started as separate processes, as on
the machines of a cluster (``dask scheduler``, ``dask worker``), on this machine's loopback
interface unless you point the script at your own cluster. Beside it, a started ``Pool``, what
one task costs over the scheduler, and the cost model's projection of the same workload to
more machines.
"""

# %%
# Your function and items
# -----------------------
# ``FUNC`` is mapped over ``ITEMS``. Replace these lines with your own, imported from your
# module (``from mywork import parse, load_documents``; ``ITEMS`` may be a list or a function
# that returns one, called with ``PARAMS`` where the experiment runs): a function defined in
# this script reaches neither a ``spawn`` worker nor a Dask worker. The Dask workers import it
# by name too, so your module must be importable there: on this machine they get this
# script's ``sys.path``; on your own cluster, install it on every worker machine. The
# defaults are 5 ms pure-Python tasks, 16 per usable core (8 in quick mode).
from mpguide import config, machine, workloads
from mpguide.chapters import task_duration

FUNC = workloads.spin  # any importable function of one argument
ITEMS = task_duration.spin_items  # a list, or a factory called with PARAMS
PARAMS = {"seconds": 5e-3, "count": config.scaled(16, 8) * machine.usable_cpus()}

# %%
# Which cluster
# -------------
# Set ``MPGUIDE_DASK_ADDRESS=tcp://scheduler-host:8786`` before running this script to measure
# on your own cluster (the one your ``dask scheduler`` prints); it is left running as it was.
# Without it, a loopback cluster of as many workers as usable cores is started for the
# measurement and stopped afterwards (:func:`mpguide.cluster.loopback`), with the same two
# commands a user types:
import os

from mpguide import cluster, peers

ADDRESS = os.environ.get(peers.DASK_ADDRESS_ENV) or None
print(cluster.shell_commands(machine.usable_cpus(), "scheduler.json", "dask-work"))

# %%
# Your function on the cluster
# ----------------------------
# The plain loop, ``Pool.map`` at its default chunksize on a started pool, and the cluster:
# ``client.map`` with one task per item, and batched at ``Pool.map``'s chunksize (one task
# runs a whole chunk). Results are checked against the loop's before timing; everything runs
# in a fresh interpreter and is cached per machine.
# (``run_cached`` rather than ``Experiment``: the cluster must be up before the executors
# that use it are made.)
from mpguide.chapters import scale_out, scale_out_plots
from mpguide.experiment import run_cached
from mpguide.report import captioned, show

record = run_cached("scale-out-yours", "mpguide.chapters.scale_out_measure:measure_on_cluster",
                    scale_out.your_params(FUNC, ITEMS, PARAMS, ADDRESS),
                    timeout=20 * config.DEFAULT_TIMEOUT)
if record:
    show(scale_out.result_table(record["yours"], record["cluster"]).round(4),
         source=record["metadata"])

# %%
# What one task costs over the scheduler
# --------------------------------------
# From submitting one no-op task to holding its result, on the started ``Pool`` and on the
# cluster (the client, the scheduler and a worker each handle it, and messages cross the
# network between them), and the cost per task of a whole map of no-op tasks, one per item:
if record:
    show(scale_out.latency_table(record).round(3), source=record["metadata"])
    show(scale_out.throughput_table(record).round(5), source=record["metadata"])

# %%
# Projected to more machines
# --------------------------
# A projection from the cost model, not a measurement: your workload (as many tasks as items,
# each lasting the loop's time per item, each sending its pickled item) on ``N`` machines with
# as many cores as the cluster above, through one scheduler, every argument through a link of
# ``scale_out.NETWORK_BYTES_PER_S`` bytes per second (1 Gbit/s):
# ``T(N) = L + n o + n c / (N k) + n b / B`` (``scale_out.project``), with ``L`` and ``o``
# measured above.
if record:
    yours = scale_out.workload_of(record)
    projection = scale_out.projection_frame(
        record, tasks=yours["tasks"], task_ms=[yours["task_ms"]], arg_bytes=yours["arg_bytes"])
    show(captioned(projection.round(4), record["metadata"],
                   prefix="Projected from the loopback measurements of"))
    fig = show(scale_out_plots.plot_projection(
        projection, record["metadata"],
        title="Projection (cost model, not measured): your function on N machines"))

# %%
# What to copy
# ------------
# Connect a client to the scheduler's address, submit one task per item (or per batch, when
# tasks are short), and wait with a timeout; send a big object the tasks share once with
# ``client.scatter``, then pass the future it returns in its place. Without an address, a
# loopback cluster is started for the demonstration.
if __name__ == "__main__":
    import contextlib

    from distributed import Client, wait

    with contextlib.ExitStack() as stack:
        address = ADDRESS or stack.enter_context(cluster.loopback()).address
        with Client(address, timeout=60) as client:
            items = ITEMS(**PARAMS) if callable(ITEMS) else ITEMS
            futures = client.map(FUNC, items, pure=False)  # one task per item
            wait(futures, timeout=120)
            results = client.gather(futures)
            shared = client.scatter(bytes(1 << 20), timeout=60)  # sent to the cluster once
            uses = client.map(workloads.payload_length, [shared] * 4, pure=False)
            wait(uses, timeout=120)
            sizes = client.gather(uses)
        print(len(results), "results; every task saw", sizes[0], "bytes sent once")
