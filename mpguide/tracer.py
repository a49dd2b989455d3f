"""A timeline of one real ``Pool.map`` run: when each chunk was sent, computed and returned.

:func:`trace` runs ``with ctx.Pool(workers) as pool: pool.map(func, items, chunksize)`` the way
a script does, cut into the same chunks, with light stamps carried by the messages themselves:

* the parent's task-handler thread notes when it takes each chunk to pickle it and write it
  to the pipe (``sent``), and when it takes the next one, by then done with it (``queued``);
* the worker notes when it started and finished the chunk (``started``, ``finished``) and
  returns, after the results, a marker that pickles as the moment the results were pickled
  (``returned``) and unpickles, in the parent's result-handler thread, by noting the moment
  they arrived (``received``);
* a pool initializer notes when each worker was ready for work (after your initializer, if
  the spec has one).

The chunks go to the pool as one ``map_async`` of one task per chunk, taken lazily by the
task-handler thread in ``Pool.map``'s order, each carrying ``(func, chunk)`` as ``Pool.map``'s
tasks do; no callback runs per chunk, and what the stamps add to each message is a few floats
on the way back.
Every time is ``time.perf_counter()``, which on Linux reads ``CLOCK_MONOTONIC``: one clock
for the whole machine (checked here under fork, spawn and forkserver: a child's reading falls
between the parent's readings before it started and after it answered), so a worker's stamps
and the parent's compare directly. macOS
(``mach_absolute_time``) and Windows (``QueryPerformanceCounter``) are system-wide as well.
Times in a :class:`Trace` are seconds since the run began: the moment before the pool was
created.

:meth:`Trace.summary` splits the wall time: each worker's timeline from the start to the pool's
stop is cut into start-up, sending, computing, returning results, imbalance (idle while others
finish) and stopping; their means over the workers add up to the wall time. Waiting in the
queue is a chunk's view, not a slice of the wall (the workers are computing other chunks
meanwhile): it is in the per-chunk medians beside the phases.

Examples
--------
>>> from mpguide import executors, tracer, workloads
>>> run = tracer.trace(workloads.square, range(20), executors.Pool(2, chunksize=5))
>>> len(run.chunks), [c["items"] for c in run.chunks]
(4, [5, 5, 5, 5])
>>> all(c["sent"] <= c["started"] <= c["finished"] <= c["received"] for c in run.chunks)
True
>>> sorted(run.to_dict())
['chunks', 'summary', 'workers']
>>> phases = run.summary()["phases"]
>>> abs(sum(phases.values()) - run.summary()["wall_s"]) < 1e-9
True
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import config, executors, machine, pools

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: The phases of :meth:`Trace.summary`, in timeline order, and what each holds.
PHASES = {
    "startup": "pool start-up (until each worker was ready)",
    "sending": "sending (pickling, pipe, unpickling: worker waits)",
    "computing": "computing",
    "returning": "returning results (pickled in the worker)",
    "imbalance": "imbalance (idle while others finish)",
    "stopping": "stopping (last result back, pool stopped)",
}
#: The fields of a chunk's record, in order (seconds since the run began from ``sent`` on).
CHUNK_FIELDS = ["chunk", "worker", "pid", "first", "items", "sent", "queued", "started",
                "finished", "returned", "received"]
#: The per-chunk steps of :meth:`Trace.summary` (medians over the chunks), and their names.
STEPS = {
    "pickling": "pickling and writing",
    "queue": "waiting in the queue",
    "to_worker": "reaching the worker",
    "computing": "computing",
    "returning": "result back",
}
#: The tail is pointed out (chart, text) when one worker computed alone for this share of the
#: wall time or more.
TAIL_SHARE = 0.05
#: Colours of the phases in :meth:`Trace.plot`.
COLORS = {"startup": "0.72", "sending": "tab:orange", "computing": "tab:green",
          "returning": "tab:purple", "imbalance": "#f4b6b6", "stopping": "0.88"}


# --- in the worker and on the wire ---------------------------------------------------------


#: In a worker: its pid, noted once by :func:`_ready` (each chunk reports it).
_WORKER: dict[str, int] = {}


def _ready(slots: Any, initializer: Callable[..., object] | None,
           initargs: Sequence[Any]) -> None:
    """Pool initializer: run the spec's own initializer, then write ``(pid, now)`` into the
    next free pair of ``slots`` (a shared array; ``slots[0]`` counts the pairs written)."""
    if initializer is not None:
        initializer(*initargs)
    now = time.perf_counter()
    _WORKER["pid"] = os.getpid()
    with slots.get_lock():
        written = int(slots[0])
        if 2 * written + 2 < len(slots):
            slots[2 * written + 1], slots[2 * written + 2] = _WORKER["pid"], now
            slots[0] = written + 1


def _arrived(returned: float) -> tuple[float, float]:
    """Called by the parent's unpickler: when the worker pickled the results, and now."""
    return returned, time.perf_counter()


class _Returned:
    """Pickles (in the worker) as the moment it is pickled, and unpickles (in the parent) as
    that moment and the moment it is unpickled (:func:`_arrived`)."""

    def __reduce__(self) -> tuple[Callable[[float], tuple[float, float]], tuple[float]]:
        return _arrived, (time.perf_counter(),)


def _run_chunk(job: tuple[Callable[[Any], Any], Sequence[Any]]) -> tuple[Any, ...]:
    """In the worker: ``func`` over ``chunk`` (as ``Pool.map`` does), with the stamps that
    travel back; the trailing marker, after the results, stamps their way back."""
    func, chunk = job
    started = time.perf_counter()
    results = list(map(func, chunk))
    finished = time.perf_counter()
    return results, started, finished, _WORKER["pid"], _Returned()


class _Jobs:
    """``(func, chunk)`` per chunk, as the pool's task-handler thread takes them; ``taken``
    notes when it took each, and when it came back after the last (it pickles each job and
    writes it to the pipe before it takes the next)."""

    def __init__(self, func: Callable[[Any], Any], chunks: Sequence[Sequence[Any]]) -> None:
        self._func, self._chunks = func, chunks
        self.taken: list[float] = []

    def __len__(self) -> int:
        return len(self._chunks)

    def __iter__(self) -> Iterator[tuple[Callable[[Any], Any], Sequence[Any]]]:
        for chunk in self._chunks:
            self.taken.append(time.perf_counter())
            yield self._func, chunk
        self.taken.append(time.perf_counter())


# --- tracing a run -------------------------------------------------------------------------


def chunks_of(items: Sequence[Any], chunksize: int) -> list[tuple[Any, ...]]:
    """``items`` cut as ``Pool.map`` cuts them: consecutive tuples of ``chunksize``.

    Examples
    --------
    >>> chunks_of(list(range(5)), 2)
    [(0, 1), (2, 3), (4,)]
    """
    return [tuple(items[i:i + chunksize]) for i in range(0, len(items), chunksize)]


def _name(func: Callable[..., Any]) -> str:
    """``module:qualname`` of an importable function, else its repr (a partial, a callable
    object)."""
    if hasattr(func, "__qualname__") and hasattr(func, "__module__"):
        return executors.target_of(func)
    return repr(func)


def _pool_spec(executor: executors.Executor | None) -> executors.Pool:
    if executor is None:
        return executors.Pool()
    if not isinstance(executor, executors.Pool):
        label = getattr(executor, "label", repr(executor))
        raise TypeError(f"trace follows multiprocessing.Pool runs only, not {label}; pass an "
                        f"executors.Pool(workers, chunksize=..., start_method=...).")
    return executor


def trace(func: Callable[[Any], Any], items: Iterable[Any],
          executor: executors.Executor | None = None, *, timeout: float | None = None) -> Trace:
    """Run ``executor`` (an :class:`mpguide.executors.Pool` spec; default ``Pool()``: usable
    cores, Pool's default chunksize) over ``items`` and return its :class:`Trace`.

    The function and items are checked before any process starts; every wait is bounded by
    ``timeout`` (default :data:`mpguide.config.DEFAULT_TIMEOUT`); a worker that dies raises
    :class:`mpguide.pools.WorkerDiedError`, a function that raises
    :class:`mpguide.pools.WorkerError`; the pool is terminated on the way out, as leaving a
    ``with Pool(...)`` block does.
    """
    spec = _pool_spec(executor)
    items = list(items)
    if not items:
        raise ValueError("nothing to trace: the item list is empty; pass the items your "
                         "program maps the function over.")
    spec.check(func, items)
    limit = config.DEFAULT_TIMEOUT if timeout is None else timeout
    workers = int(spec.workers or 1)
    chunksize = spec.chunksize or executors.default_chunksize(len(items), workers)
    chunks = chunks_of(items, chunksize)
    # A private method of the spec, on purpose: its BLAS cap or initializer, as Pool.map gets it.
    initializer, initargs = spec._initializer()
    context = pools.get_context(spec.start_method)
    jobs = _Jobs(func, chunks)
    start = time.perf_counter()
    # One (pid, ready) pair per worker that can start: more with maxtasksperchild.
    slots = context.Array("d", 1 + 2 * (workers + (len(chunks) if spec.maxtasksperchild else 0)))
    with pools.bounded_pool(workers, spec.start_method, limit, join=False,
                            initializer=_ready, initargs=(slots, initializer, initargs),
                            maxtasksperchild=spec.maxtasksperchild) as pool:
        created = time.perf_counter()
        # One task per chunk, all handed to the task-handler thread at once, as Pool.map's.
        out = pools.wait_result(pool.map_async(_run_chunk, jobs, chunksize=1), pool, limit,
                                what=f"the traced {spec.label}")
        # Pool keeps its processes in the private list ``_pool`` (see mpguide.pools): the
        # only way to name a worker that was still starting when the work was done.
        pids = [p.pid for p in pool._pool if p.pid is not None]  # type: ignore[attr-defined]
    stopped = time.perf_counter()
    with slots.get_lock():
        written = int(slots[0])
        ready = [(int(slots[2 * i + 1]), slots[2 * i + 2] - start) for i in range(written)]
    # The task handler takes each job after writing the one before; after the last, it comes
    # back once more. Should it not have, the last chunk's send counts as instantaneous.
    taken = jobs.taken + jobs.taken[-1:] * (len(chunks) + 1 - len(jobs.taken))
    stamps = [(taken[i], taken[i + 1], *value[1:4], *value[4]) for i, value in enumerate(out)]
    run = {"function": _name(func), "label": spec.label,
           "executor": spec.to_dict(), "workers": workers, "start_method": spec.start_method,
           "chunksize": chunksize, "items": len(items), "chunks": len(chunks),
           "created_s": created - start, "wall_s": stopped - start}
    meta = {**machine.collect_metadata(), "start_method": spec.start_method,
            "measured_in": "this process"}
    return Trace.build(chunks, stamps, ready=ready, pids=pids, start=start, run=run,
                       metadata=meta)


# --- the record ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Trace:
    """One traced run: a record per chunk and per worker, seconds since the run began.

    ``chunks``: ``chunk``, ``worker`` (0, 1, ... in the order the workers were ready),
    ``pid``, ``first`` (index of its first item), ``items`` (how many), ``sent`` (the parent
    began pickling it), ``queued`` (by then it was pickled and written to the pipe: the parent
    took the next chunk; it can lag behind ``started`` by a thread switch), ``started`` and
    ``finished`` (in the worker), ``returned`` (its results were pickled in the
    worker), ``received`` (they arrived in the parent). ``workers``: ``worker``, ``pid``,
    ``ready`` (``None``: still starting when the pool stopped), ``chunks``, ``items``.
    ``run``: what ran (``function``, ``label``, ``executor``, ``workers``, ``start_method``,
    ``chunksize``, ``items``, ``chunks``), ``created_s`` (the pool was created) and ``wall_s``
    (it was stopped). ``metadata``: the machine (:func:`mpguide.machine.collect_metadata`).
    """

    chunks: tuple[dict[str, Any], ...]
    workers: tuple[dict[str, Any], ...]
    run: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def build(cls, chunks: Sequence[Sequence[Any]], stamps: Sequence[Sequence[float]], *,
              ready: Sequence[tuple[int, float]], pids: Iterable[int] = (), start: float,
              run: dict[str, Any], metadata: dict[str, Any]) -> Trace:
        """The trace of ``chunks`` from raw ``stamps`` (per chunk: sent, queued, started,
        finished, pid, returned, received, on the shared clock), ``ready`` pairs (pid,
        seconds since ``start``) and the ``pids`` of the pool's workers at the end (one still
        starting has no ready pair and no chunk, and is a worker all the same)."""
        order: dict[int, float | None] = {}
        for pid, at in sorted(ready, key=lambda pair: pair[1]):
            order.setdefault(pid, at)
        for stamp in sorted(stamps, key=lambda s: s[2]):
            order.setdefault(int(stamp[4]), None)  # a worker whose ready pair did not fit
        for pid in pids:
            order.setdefault(pid, None)
        index = {pid: i for i, pid in enumerate(order)}
        records, first = [], 0
        for i, (chunk, stamp) in enumerate(zip(chunks, stamps, strict=True)):
            sent, queued, started, finished, worker_pid, returned, received = stamp
            pid = int(worker_pid)
            records.append({"chunk": i, "worker": index[pid], "pid": pid,
                            "first": first, "items": len(chunk),
                            **{name: value - start for name, value in (
                                ("sent", sent), ("queued", queued), ("started", started),
                                ("finished", finished), ("returned", returned),
                                ("received", received))}})
            first += len(chunk)
        workers = [{"worker": index[pid], "pid": pid, "ready": at,
                    "chunks": sum(1 for r in records if r["pid"] == pid),
                    "items": sum(r["items"] for r in records if r["pid"] == pid)}
                   for pid, at in order.items()]
        return cls(tuple(records), tuple(workers), dict(run), dict(metadata))

    # --- the decomposition -----------------------------------------------------------------

    def segments(self) -> dict[int, list[tuple[str, float, float]]]:
        """Each worker's timeline from 0 to the wall time as ``(phase, start, end)`` pieces
        of :data:`PHASES`, in order; they tile ``[0, wall_s]`` exactly."""
        wall = float(self.run["wall_s"])
        by_worker: dict[int, list[dict[str, Any]]] = {w["worker"]: [] for w in self.workers}
        for record in self.chunks:
            by_worker[record["worker"]].append(record)
        pieces: dict[int, list[tuple[str, float, float]]] = {}
        ends: dict[int, float] = {}
        for worker in self.workers:
            own = sorted(by_worker[worker["worker"]], key=lambda r: r["started"])
            ready = worker["ready"]
            if own:
                ready = own[0]["started"] if ready is None else min(ready, own[0]["started"])
            cursor = min(wall, wall if ready is None else ready)
            line = [("startup", 0.0, cursor)]
            for record in own:
                started = max(cursor, record["started"])
                finished = max(started, record["finished"])
                returned = max(finished, record["returned"])
                line += [("sending", cursor, started), ("computing", started, finished),
                         ("returning", finished, returned)]
                cursor = returned
            pieces[worker["worker"]], ends[worker["worker"]] = line, cursor
        # The work ends when the last worker that had any is done: an idle worker that became
        # ready later only started up.
        busy = max([ends[w["worker"]] for w in self.workers if by_worker[w["worker"]]] or [0.0])
        for number, line in pieces.items():
            cursor = ends[number]
            line += [("imbalance", cursor, max(cursor, busy)),
                     ("stopping", max(cursor, busy), max(wall, cursor, busy))]
        return pieces

    def _steps(self) -> dict[str, list[float]]:
        """Per chunk: pickling, waiting in the queue, reaching the worker, computing, result
        back (they add up to ``received - sent``)."""
        steps: dict[str, list[float]] = {name: [] for name in STEPS}
        free = {w["worker"]: w["ready"] or 0.0 for w in self.workers}
        for record in sorted(self.chunks, key=lambda r: r["started"]):
            worker, started = record["worker"], record["started"]
            queued = min(record["queued"], started)
            picked = min(max(queued, free[worker]), started)
            steps["pickling"].append(queued - record["sent"])
            steps["queue"].append(picked - queued)
            steps["to_worker"].append(record["started"] - picked)
            steps["computing"].append(record["finished"] - record["started"])
            steps["returning"].append(record["received"] - record["finished"])
            free[worker] = max(free[worker], record["returned"])
        return steps

    def _alone(self) -> tuple[float, float]:
        """When the last worker with work began to compute alone, and when it was done: from
        the end of the next-to-last worker's work (or, if only one worker got any, from its
        first chunk) to the end of its own; ``(0, 0)`` for a pool of one worker."""
        if len(self.workers) < 2:
            return 0.0, 0.0
        ends: dict[int, float] = {}
        for record in self.chunks:
            ends[record["worker"]] = max(ends.get(record["worker"], 0.0), record["returned"])
        last = sorted(ends.values())
        if len(last) > 1:
            return last[-2], last[-1]
        return min(r["started"] for r in self.chunks), last[-1]

    def summary(self) -> dict[str, Any]:
        """What ran, the wall time and where it went, JSON-ready.

        ``phases``: seconds per :data:`PHASES` entry, the mean over the workers of their
        :meth:`segments` (they add up to ``wall_s``); ``per_chunk``: the median seconds of
        each :data:`STEPS` entry; ``compute_s``: the sum of every chunk's computing span;
        ``map_s``: from creating the pool's first task to the last result; ``alone_s``: how
        long one worker computed alone at the end (the tail); ``metadata``: the machine.
        """
        segments = self.segments()
        phases = dict.fromkeys(PHASES, 0.0)
        for line in segments.values():
            for phase, start, end in line:
                phases[phase] += (end - start) / len(segments)
        steps = self._steps()
        alone, until = self._alone()
        received = max(r["received"] for r in self.chunks)
        return {**self.run, "phases": phases,
                "per_chunk": {name: statistics.median(values) for name, values in steps.items()},
                "compute_s": sum(steps["computing"]),
                "map_s": received - float(self.run["created_s"]),
                "alone_s": until - alone,
                "metadata": self.metadata}

    # --- views -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"chunks": [...], "workers": [...], "summary": {...}}``, JSON-ready;
        :meth:`from_dict` reads it back."""
        return {"chunks": [dict(c) for c in self.chunks],
                "workers": [dict(w) for w in self.workers], "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Trace:
        """The trace :meth:`to_dict` wrote (e.g. read back from the result cache); for ``None``
        (what a ``spawn`` worker re-running a gallery script reads on a cache miss) an empty
        trace, whose views are empty."""
        if not data:
            return cls((), (), {}, {})
        summary = dict(data["summary"])
        metadata = summary.pop("metadata", {})
        run = {k: v for k, v in summary.items()
               if k not in {"phases", "per_chunk", "compute_s", "map_s", "alone_s"}}
        return cls(tuple(dict(c) for c in data["chunks"]),
                   tuple(dict(w) for w in data["workers"]), run, dict(metadata))

    def to_frame(self) -> pd.DataFrame:
        """One row per chunk, with the run's columns (label, workers, ...) on every row."""
        import pandas as pd

        run = {k: v for k, v in self.run.items() if k not in {"executor", "items", "chunks"}}
        frame: pd.DataFrame = pd.DataFrame([{**c, **run} for c in self.chunks],
                                           columns=None if self.chunks else CHUNK_FIELDS)
        return frame

    def table(self) -> pd.DataFrame:
        """The phases as a table: ``phase``, ``seconds`` (mean per worker), ``share`` of the
        wall time; the last row is the wall time."""
        import pandas as pd

        if not self.chunks:
            empty: pd.DataFrame = pd.DataFrame(columns=["phase", "seconds", "share"])
            return empty
        summary = self.summary()
        wall = float(summary["wall_s"])
        rows = [{"phase": PHASES[name].split(" (")[0], "seconds": seconds,
                 "share": seconds / wall} for name, seconds in summary["phases"].items()]
        rows.append({"phase": "wall", "seconds": wall, "share": 1.0})
        table: pd.DataFrame = pd.DataFrame(rows)
        return table

    def plot(self, title: str | None = None) -> Figure:
        """Gantt chart, one row per worker: start-up, sending, computing (one bar per chunk),
        returning, the idle tail and the pool's stop, captioned with the machine."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        from mpguide import plotting

        fig, ax = plt.subplots(figsize=(9, 1.9 + 0.42 * len(self.workers)), layout="constrained")
        if not self.chunks:
            return fig
        segments = self.segments()
        summary = self.summary()
        wall = float(summary["wall_s"])
        scale, unit = (1e3, "ms") if wall < 2 else (1.0, "s")
        rows = len(segments)
        edge = "white" if len(self.chunks) <= 60 * rows else "none"
        for worker, line in segments.items():
            for phase in PHASES:
                spans = [(start * scale, (end - start) * scale)
                         for name, start, end in line if name == phase and end > start]
                ax.broken_barh(spans, (worker - 0.38, 0.76), color=COLORS[phase],
                               edgecolor=edge if phase == "computing" else "none", lw=0.6)
        alone, until = self._alone()
        tail = summary["alone_s"] >= TAIL_SHARE * wall
        if tail:
            ax.axvspan(alone * scale, until * scale, color="tab:red", alpha=0.08, lw=0)
            ax.text(until * scale, -0.45, f"one worker alone: {_duration(summary['alone_s'])} ",
                    ha="right", va="bottom", fontsize=8, color="tab:red")
        ax.axvline(float(summary["created_s"]) * scale, color="0.3", lw=1, ls="--")
        ax.axvline((summary["map_s"] + summary["created_s"]) * scale, color="0.3", lw=1, ls=":")
        ax.set_xlim(0, wall * scale)
        ax.set_ylim(rows - 0.5, -0.5 - (0.6 if tail else 0.1))
        ax.set_yticks(range(rows), [f"worker {w['worker']}\npid {w['pid']}"
                                    for w in self.workers], fontsize=8)
        ax.set_xlabel(f"{unit} since the run began (dashed: pool created; dotted: last result "
                      f"back)")
        handles = [Patch(color=COLORS[p], label=PHASES[p].split(" (")[0]) for p in PHASES]
        ax.legend(handles=handles, ncol=len(handles), fontsize=8, loc="lower center",
                  bbox_to_anchor=(0.5, 1.0), frameon=False, handlelength=1.2)
        ax.set_title(title or f"{summary['label']}: {summary['items']} items in "
                              f"{summary['chunks']} chunks, wall {_duration(wall)}",
                     fontsize=10, pad=22)
        return plotting.add_caption(fig, self.metadata, str(self.run["start_method"]))


def _duration(seconds: float) -> str:
    """``1.23 s``, ``45.6 ms`` or ``78 µs``.

    Examples
    --------
    >>> _duration(1.234), _duration(0.0456), _duration(7.8e-5)
    ('1.23 s', '45.6 ms', '78 µs')
    """
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def render_text(run: Trace) -> str:
    """The decomposition as a few lines of plain text for the terminal."""
    summary = run.summary()
    wall = float(summary["wall_s"])
    lines = [(f"{summary['function']} through {summary['label']}: {summary['items']} items "
              f"in {summary['chunks']} chunks of {summary['chunksize']}"),
             (f"wall time {_duration(wall)}; where each worker's time went (mean over "
              f"{len(run.workers)} workers, adds up to the wall time):"), ""]
    width = max(len(text) for text in PHASES.values())
    for name, seconds in summary["phases"].items():
        lines.append(f"  {PHASES[name]:<{width}}  {seconds:9.4f} s  {seconds / wall:6.1%}")
    lines += [f"  {'wall':<{width}}  {wall:9.4f} s  {1:6.1%}", "",
              "per chunk (median): " + ", ".join(
                  f"{STEPS[name]} {_duration(value)}"
                  for name, value in summary["per_chunk"].items())]
    if summary["alone_s"] >= TAIL_SHARE * wall:
        lines.append(f"one worker computed alone for the last {_duration(summary['alone_s'])}"
                     f" ({summary['alone_s'] / wall:.0%} of the wall time)")
    return "\n".join(lines)


# --- for the result cache, and the cost of tracing ------------------------------------------


def _work(func: str, items: str | Sequence[Any],
          params: Mapping[str, Any] | None) -> tuple[Callable[[Any], Any], list[Any]]:
    function = executors.resolve_target(func, "function")
    made = executors.resolve_target(items, "item factory")(**(params or {})) \
        if isinstance(items, str) else items
    return function, list(made)


def measure_trace(*, func: str, items: str | Sequence[Any],
                  params: Mapping[str, Any] | None = None,
                  executor: Mapping[str, Any] | None = None,
                  timeout: float | None = None) -> dict[str, Any]:
    """:meth:`Trace.to_dict` of :func:`trace`, for :func:`mpguide.experiment.run_cached`:
    ``func`` is ``"module:function"``, ``items`` an items factory ``"module:function"``
    called with ``params`` or the (JSON-ready) items, ``executor`` a Pool spec's
    :meth:`~mpguide.executors.Executor.to_dict` (default: ``Pool()``)."""
    function, work = _work(func, items, params)
    spec = executors.from_dict(executor) if executor else None
    record = trace(function, work, spec, timeout=timeout).to_dict()
    record["summary"]["metadata"]["measured_in"] = "fresh interpreter"
    return record


def overhead(func: Callable[[Any], Any], items: Iterable[Any],
             executor: executors.Executor | None = None, *, repeats: int = 5,
             timeout: float | None = None) -> dict[str, Any]:
    """What tracing adds to the wall time of the same run: ``repeats`` pairs of a plain run
    (``with Pool(...)``: start, ``map``, stop) and a :func:`trace`, in alternating order.

    Returns ``plain_s`` and ``traced_s`` (each run's wall time, from creating the pool to
    stopping it), their medians, ``overhead``: the median over the pairs of
    ``traced / plain - 1``, with ``overhead_iqr``, its spread, and ``overhead_best``: the
    fastest traced run against the fastest plain one (the runs least disturbed by other
    processes, on a shared machine).
    """
    spec = _pool_spec(executor)
    items = list(items)
    spec.check(func, items)
    plain: list[float] = []
    traced: list[float] = []

    def plain_run() -> None:
        start = time.perf_counter()
        with spec.started(timeout) as run:
            run(func, items)
        plain.append(time.perf_counter() - start)

    def traced_run() -> None:
        traced.append(float(trace(func, items, spec, timeout=timeout).run["wall_s"]))

    for repeat in range(repeats):
        for step in (plain_run, traced_run) if repeat % 2 == 0 else (traced_run, plain_run):
            step()
    ratios = [t / p - 1 for t, p in zip(traced, plain, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"label": spec.label, "items": len(items), "repeats": repeats,
            "plain_s": plain, "traced_s": traced,
            "plain_median_s": statistics.median(plain),
            "traced_median_s": statistics.median(traced),
            "overhead": statistics.median(ratios), "overhead_iqr": quartiles[2] - quartiles[0],
            "overhead_best": min(traced) / min(plain) - 1}


def measure_overhead(*, func: str, items: str | Sequence[Any],
                     params: Mapping[str, Any] | None = None,
                     executor: Mapping[str, Any] | None = None, repeats: int = 5,
                     timeout: float | None = None) -> dict[str, Any]:
    """:func:`overhead` from names, as :func:`measure_trace` takes them, for
    :func:`mpguide.experiment.run_cached`; with the machine's metadata."""
    function, work = _work(func, items, params)
    spec = executors.from_dict(executor) if executor else None
    result = overhead(function, work, spec, repeats=repeats, timeout=timeout)
    return {**result, "metadata": {**machine.collect_metadata(),
                                   "start_method": _pool_spec(spec).start_method,
                                   "measured_in": "fresh interpreter"}}


__all__ = ["CHUNK_FIELDS", "PHASES", "STEPS", "Trace", "chunks_of", "measure_overhead", "measure_trace",
           "overhead", "render_text", "trace"]
