"""Compare executors on *your* function: ``python -m mpguide compare``.

:func:`lineup` derives the configurations worth measuring from this machine's usable cores
and the number of items, never from typed-in numbers: the loop, a thread pool, ``Pool`` at
half and all of the usable cores crossed with chunksize 1, Pool's default and one chunk per
worker, and ``ProcessPoolExecutor`` at chunksize 1 and at Pool's default value. Tools are
picked by their registry names (:func:`mpguide.executors.register`), so a tool registered
later joins with no change here.

:func:`compare` first runs the function once over every item in a bounded child process
(:func:`check_serially`): a function that raises, never returns, kills its process or returns
something that cannot be pickled becomes one :class:`CompareError` naming the item, before any
pool starts. Then the experiment verb (:class:`mpguide.experiment.Experiment`) measures every
configuration in this process (``fresh=False``: the command's own ``__main__`` is clean) with
``startup=True``, so each time is the whole ``with ctx.Pool(w) as p: p.map(func, items,
chunksize=c)``, start and stop included, as a user's script pays, and each parallel result is
checked against the loop's before it is timed. :func:`records` gives the JSON records of the
``compare`` contract (DESIGN.md).

From a shell::

    python -m mpguide compare mymodule:work --items mymodule:make_items
    python -m mpguide compare mymodule:work --items mymodule:make_items \\
        --tools loop,pool --workers 2,4 --chunksizes 1,default,100 --json

Progress goes to stderr as a tqdm bar that is shown only when stderr is a terminal
(``disable=None``): CI logs and redirected output stay clean, and an error is then exactly one
paragraph.

Examples
--------
>>> from mpguide import compare, workloads
>>> [s.label for s in compare.lineup(100, tools=["loop", "threads", "pool"], workers=[2],
...                                  chunksizes=[1, None], start_methods=["fork"])]
['loop', 'Threads(2)', 'Pool(2, chunksize=1, fork)', 'Pool(2, default chunksize, fork)']
>>> specs = compare.lineup(100, tools=["loop", "threads"], workers=[2])
>>> result = compare.compare(workloads.square, list(range(100)), specs, repeats=2)
>>> [(r["label"], r["chunksize"], r["repeats"]) for r in compare.records(result)]
[('loop', None, 2), ('Threads(2)', None, 2)]
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import shlex
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import config, executors, machine, pools, timing

if TYPE_CHECKING:
    import pandas as pd

    from mpguide.experiment import Result

#: Tools measured by default, when registered: the four of :mod:`mpguide.executors`.
DEFAULT_TOOLS = ("loop", "threads", "pool", "processpool")
#: Columns of the text table.
TEXT_COLUMNS = ("label", "median_s", "iqr_s", "speedup")
#: Columns of ``--csv`` and keys of each ``--json`` record (``--json`` adds ``samples_s``).
RECORD_COLUMNS = ("label", "tool", "workers", "chunksize", "chunksize_used", "start_method",
                  "median_s", "iqr_s", "speedup", "vs_best", "n_items", "repeats")


class CompareError(pools.PoolError, ValueError):
    """The function or its items cannot be compared; the message says why and what to do."""


# --- the line-up ----------------------------------------------------------------------------


def registered_tools() -> list[str]:
    """Names of the executor tools known to :func:`mpguide.executors.from_dict`, in the order
    they were registered.

    Examples
    --------
    >>> registered_tools()[:4]
    ['loop', 'threads', 'pool', 'processpool']
    """
    return list(executors.registered())


def tool_class(name: str) -> type[executors.Executor]:
    """The executor class registered as ``name``; :class:`CompareError` naming the known ones.

    Examples
    --------
    >>> tool_class("pool").__name__
    'Pool'
    """
    try:
        return executors.registered()[name]
    except KeyError:
        raise CompareError(f"unknown tool {name!r} in --tools; the tools known here are "
                           f"{', '.join(registered_tools())}.") from None


def pool_workers(usable: int) -> list[int]:
    """Worker counts of ``Pool`` in the default line-up: half the usable cores and all.

    Examples
    --------
    >>> pool_workers(8), pool_workers(2), pool_workers(1)
    ([4, 8], [1, 2], [1])
    """
    return sorted({usable // 2, usable} - {0})


def chunksizes_for(cls: type[executors.Executor], n_items: int, workers: int,
                   requested: Sequence[int | None] | None = None) -> list[int | None]:
    """Chunksizes of ``cls`` to measure for ``workers`` over ``n_items``.

    ``None`` in ``requested`` is "default": the tool's own default where that is Pool's rule
    (a ``chunksize`` field defaulting to ``None``), Pool's default value otherwise
    (``ProcessPoolExecutor`` defaults to 1). Without ``requested``: 1, the default and one
    chunk per worker (``ceil(n / workers)``) for a tool whose default is Pool's; its own default
    and Pool's default value for the others. Values a derived list repeats are dropped.

    Examples
    --------
    >>> from mpguide import executors
    >>> chunksizes_for(executors.Pool, 1000, 4), chunksizes_for(executors.ProcessPool, 1000, 4)
    ([1, None, 250], [1, 63])
    >>> chunksizes_for(executors.ProcessPool, 1000, 4, [1, None, 100])
    [1, 63, 100]
    >>> chunksizes_for(executors.Loop, 1000, 4)
    [None]
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if "chunksize" not in fields:
        return [None]
    default = fields["chunksize"].default
    own = default if isinstance(default, int) else None
    pool_default = executors.default_chunksize(n_items, workers)
    if requested:
        values = [(own if own is None else pool_default) if c is None else c for c in requested]
    elif own is None:
        values = [c for c in (1, None, math.ceil(n_items / workers)) if c != pool_default]
    else:
        values = [own, pool_default]
    return list(dict.fromkeys(values))


def lineup(n_items: int, *, tools: Sequence[str] | None = None,
           workers: Sequence[int] | None = None,
           chunksizes: Sequence[int | None] | None = None,
           start_methods: Sequence[str] | None = None,
           blas_threads: int | None = None,
           address: str | None = None) -> list[executors.Executor]:
    """The executors to measure over ``n_items``, derived from this machine.

    Parameters
    ----------
    n_items
        Number of items (sets the chunksizes).
    tools
        Registry names (default: :data:`DEFAULT_TOOLS`; the peers of :mod:`mpguide.peers`
        only when named); the loop is always measured, as the reference.
    workers
        Worker counts of every parallel tool (default: :func:`pool_workers` for ``pool``, the
        usable cores for the others).
    chunksizes
        Chunksizes of the tools that have one, ``None`` for "default"
        (:func:`chunksizes_for`).
    start_methods
        Start methods of the tools that start processes (default:
        :func:`mpguide.config.start_method`).
    blas_threads
        BLAS threads per worker, for the tools that can cap them (``Pool``).
    address
        A running cluster's scheduler, for the tools that connect to one (Dask); their worker
        count is then the cluster's, unless ``workers`` is given.

    Returns
    -------
    list of Executor
        One spec per configuration, in the order given (tool, start method, workers,
        chunksize), each label once.

    Examples
    --------
    >>> [s.label for s in lineup(10, tools=["processpool"], workers=[2],
    ...                          start_methods=["spawn"])]
    ['loop', 'ProcessPoolExecutor(2, chunksize=1, spawn)', \
'ProcessPoolExecutor(2, chunksize=2, spawn)']
    """
    if n_items < 1:
        raise CompareError("the item list is empty: there is nothing to compare; pass the "
                           "items the function will really run on.")
    usable = machine.usable_cpus()
    names = list(tools) if tools else list(DEFAULT_TOOLS)
    if "loop" not in names:
        names.insert(0, "loop")
    methods = [config.validate_start_method(m)
               for m in (start_methods or [config.start_method()])]
    specs: dict[str, executors.Executor] = {}
    for name in names:
        cls = tool_class(name)
        fields = {f.name for f in dataclasses.fields(cls)}
        remote = address is not None and "address" in fields
        counts: list[int | None] = [None]
        if "workers" in fields and (workers or not remote):
            counts = list(workers) if workers else \
                list(pool_workers(usable) if name == "pool" else [usable])
        for method in methods if "start_method" in fields else [None]:
            for count in counts:
                for chunksize in chunksizes_for(cls, n_items, count or usable, chunksizes):
                    kwargs: dict[str, Any] = {}
                    if method is not None:
                        kwargs["start_method"] = method
                    if count is not None:
                        kwargs["workers"] = count
                    if "chunksize" in fields:
                        kwargs["chunksize"] = chunksize
                    if blas_threads is not None and "blas_threads" in fields:
                        kwargs["blas_threads"] = blas_threads
                    if remote:
                        kwargs["address"] = address
                    spec = cls(**kwargs)
                    specs.setdefault(spec.label, spec)
    return list(specs.values())


# --- checking and measuring -----------------------------------------------------------------

#: Index of the item the serial check is running, shared with its child process.
_CURRENT: Any = None


def _init_check(current: Any) -> None:
    global _CURRENT  # noqa: PLW0603 - the child's one handle on the shared counter
    _CURRENT = current


def _serial_check(func: Callable[[Any], Any], items: Sequence[Any]) -> dict[str, Any] | None:
    """Child side of :func:`check_serially`: the first problem, or ``None``."""
    for index, item in enumerate(items):
        if _CURRENT is not None:
            _CURRENT.value = index
        try:
            result = func(item)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's failure, reported
            return {"index": index, "problem": "raised", "type": type(exc).__name__,
                    "message": str(exc), "where": _location(exc)}
        try:
            pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure of a result
            return {"index": index, "problem": "result", "type": type(result).__name__,
                    "message": str(exc), "where": ""}
    return None


def _location(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def _name(func: Callable[..., Any]) -> str:
    return executors.target_of(func) if hasattr(func, "__qualname__") else repr(func)


def check_serially(func: Callable[[Any], Any], items: Sequence[Any],
                   start_method: str | None = None, timeout: float | None = None) -> None:
    """Run ``func`` over every item once in a one-worker pool, bounded by ``timeout``.

    Every item is pickled first (an unpicklable one is named), then the child runs the items
    in order and pickles each result. A function that raises, exits, returns something a worker
    cannot send back, kills the child or runs past ``timeout`` raises :class:`CompareError`
    naming the item; the child is always terminated.

    Examples
    --------
    >>> from mpguide import workloads
    >>> check_serially(workloads.square, [1, 2, 3], "fork", timeout=30)
    >>> check_serially(workloads.square, [1, "a"], "fork", timeout=30)
    Traceback (most recent call last):
    ...
    mpguide.compare.CompareError: mpguide.workloads:square raised TypeError: ... on items[1] == 'a' ...
    """
    method = config.resolve_start_method(start_method)
    limit = config.DEFAULT_TIMEOUT if timeout is None else timeout
    items = list(items)
    pools.check_items(items, sample=len(items))
    name, n = _name(func), len(items)
    current = pools.get_context(method).RawValue("q", 0)
    try:
        with pools.bounded_pool(1, method, limit, initializer=_init_check,
                                initargs=(current,)) as pool:
            task = pool.apply_async(_serial_check, (func, items))
            problem = pools.wait_result(task, pool, limit, what=f"{name} run serially")
    except pools.PoolTimeoutError:
        item = current.value
        raise CompareError(
            f"{name} did not finish within {limit:g} s when run once over the {n} items in a "
            f"child process (before any timing; it was at items[{item}] == {_short(items[item])}); "
            f"the process was terminated. If one pass really takes that long, raise --timeout "
            f"(it bounds each map); if it never returns, call it on item {item} to see why."
        ) from None
    except pools.WorkerDiedError:
        item = current.value
        raise CompareError(
            f"{name} killed the process running it (a crash, os._exit, a signal, running out "
            f"of memory, or a function the child could not import) at items[{item}] == "
            f"{_short(items[item])} (of {n}), when run once over the items in a child process before "
            f"any timing. compare runs the loop in its own process, so it stops here; call the "
            f"function on that item in a plain interpreter to see why."
        ) from None
    except pools.WorkerError as exc:
        cause = exc.__cause__
        raise CompareError(
            f"{name} could not be run in a child process ({type(cause).__name__}: {cause}); "
            f"check that it and its items pickle and that its module imports without side "
            f"effects."
        ) from exc
    if problem is None:
        return
    index, where = problem["index"], problem["where"]
    at = f" ({where})" if where else ""
    if problem["problem"] == "result":
        raise CompareError(
            f"{name} returned {article(problem['type'])} for item {index} "
            f"({_short(items[index])}) that cannot be pickled ({problem['message']}), so no "
            f"worker process could send it back; return plain data (numbers, strings, lists, "
            f"arrays) instead.", failure="unpicklable",
        )
    raise CompareError(
        f"{name} raised {problem['type']}: {problem['message']} on items[{index}] == "
        f"{_short(items[index])} (of {n}){at}, when run once over the items before any timing. A "
        f"pool would fail the same way; fix the function (call it on that item to see the "
        f"traceback) before comparing executors.", failure="raised",
    )


def article(kind: str) -> str:
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _short(item: Any, width: int = 60) -> str:
    text = repr(item)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def compare(func: Callable[[Any], Any], items: Sequence[Any],
            specs: Sequence[executors.Executor] | None = None, *, repeats: int | None = None,
            timeout: float | None = None, cache: bool = False,
            progress: Callable[[str], None] | None = None, name: str | None = None) -> Result:
    """Measure ``func`` over ``items`` through each of ``specs`` in this process.

    Parameters
    ----------
    func
        An importable function of one argument (``def`` at the top level of a module).
    items
        Its arguments.
    specs
        Executors to compare (default: :func:`lineup`); the loop is added when missing.
    repeats
        Timed runs per configuration after one warm-up (default: the experiment's).
    timeout
        Bound on each map, in seconds (default :data:`mpguide.config.DEFAULT_TIMEOUT`).
    cache
        Read and write the result cache (off by default: a comparison measures now).
    progress
        Called with the label after each timed run.
    name
        Experiment name (default: ``compare-<function name>``).

    Returns
    -------
    Result
        One measurement per configuration, each the whole map with pool start and stop.

    Raises
    ------
    CompareError
        For anything wrong with the function or its items (see :func:`check_serially`), a
        parallel result that differs from the loop's, a worker that raises or dies, a map
        that runs past ``timeout``; :class:`mpguide.pools.UnpicklableError` for a lambda,
        a closure or an unpicklable item.
    """
    from mpguide.experiment import Experiment

    items = list(items)
    specs = list(specs) if specs is not None else lineup(len(items))
    if not items:
        lineup(0)  # raises the empty-items error
    pools.check_callable(func, "spawn")
    for spec in specs:
        spec.check(func, items)
    methods = [m for m in (getattr(s, "start_method", None) for s in specs) if m]
    check_serially(func, items, methods[0] if methods else None, timeout)
    experiment = Experiment(name or f"compare-{getattr(func, '__name__', 'func')}", func, items,
                            specs, repeats=repeats, startup=True, fresh=False, timeout=timeout,
                            cache=cache)
    target = _name(func)
    try:
        return experiment.run(progress=progress)
    except timing.TimingError as exc:
        raise CompareError(
            f"{target}: {exc} Its result depends on the process or thread that computes it "
            f"(random numbers without a seed, os.getpid(), the time, state changed at run "
            f"time), so the executors cannot be compared on it."
        ) from exc
    except pools.WorkerError as exc:
        cause = exc.__cause__
        raise CompareError(
            f"{target} raised {type(cause).__name__}: {cause} in a worker process, though it "
            f"ran without error in the loop: it depends on something a worker does not have "
            f"(a global set at run time, an open file or connection); pass what it needs "
            f"through its arguments or an initializer."
        ) from exc
    except pools.WorkerDiedError as exc:
        head = str(exc).split(" (", 1)[0]
        raise CompareError(
            f"{target}: {head}, though the function ran without error serially, in a child "
            f"process and in the loop: something ends it only in a pool's workers (running out "
            f"of memory with several at once, a signal, os._exit, a library that does not "
            f"survive being started this way); the lost tasks would never come back."
        ) from exc
    except pools.PoolTimeoutError as exc:
        head = str(exc).split(";", 1)[0]
        limit = config.DEFAULT_TIMEOUT if timeout is None else timeout
        raise CompareError(
            f"{target}: {head}, though the function ran once over the items serially within "
            f"{limit:g} s; the workers were stopped. If one map really takes that long, raise "
            f"--timeout; if a task never returns in a worker, it waits for something only the "
            f"parent has (a lock, a connection, a thread)."
        ) from exc
    except pools.PoolError:
        raise
    except Exception as exc:
        if not _raised_by(exc, func):
            raise
        raise CompareError(
            f"{target} raised {type(exc).__name__}: {exc} in a thread or worker process, "
            f"though it ran without error in the loop: it is not safe to run in parallel "
            f"(shared state, thread-unsafe library) or depends on something a worker does "
            f"not have."
        ) from exc


def _raised_by(exc: BaseException, func: Callable[..., Any]) -> bool:
    """Whether ``exc`` came out of ``func`` (in a thread: its frames; in a
    ``ProcessPoolExecutor`` worker: the remote traceback it chains)."""
    if type(exc.__cause__).__name__ == "_RemoteTraceback":
        return True
    code = getattr(func, "__code__", None)
    filename = getattr(code, "co_filename", None)
    return any(frame.filename == filename for frame in traceback.extract_tb(exc.__traceback__))


# --- views ----------------------------------------------------------------------------------


def records(result: Result) -> list[dict[str, Any]]:
    """One JSON-ready record per configuration: :data:`RECORD_COLUMNS` and ``samples_s``
    (the timed runs, seconds). ``chunksize`` is ``None`` for Pool's default (and for tools
    without one); ``chunksize_used`` is the value that default resolves to; ``start_method``
    is ``None`` for the tools that start no process."""
    measurements = {m.name: m for m in result.measurements}
    out = []
    for raw in result.table().to_dict(orient="records"):
        row = {str(key): _plain(value) for key, value in raw.items()}
        measurement = measurements[row["label"]]
        tool = str(row["tool"])
        workers = None if row["workers"] is None else int(row["workers"])  # None: a cluster's
        n_items = int(measurement.params["items"])
        chunksize = None if row["chunksize"] is None else int(row["chunksize"])
        out.append({
            "label": row["label"], "tool": tool, "workers": workers, "chunksize": chunksize,
            "chunksize_used": _chunksize_used(tool, workers, chunksize, n_items),
            "start_method": row["start_method"] if _starts_processes(tool) else None,
            "median_s": row["median_s"], "iqr_s": row["iqr_s"], "speedup": row["speedup"],
            "vs_best": row["vs_best"], "n_items": n_items,
            "repeats": len(measurement.samples), "samples_s": list(measurement.samples)})
    return out


def table(result: Result) -> pd.DataFrame:
    """:func:`records` as a frame (without ``samples_s``): the columns of
    :data:`RECORD_COLUMNS`, chunksizes as nullable integers."""
    import pandas as pd

    out: pd.DataFrame = pd.DataFrame(records(result), columns=list(RECORD_COLUMNS))
    for column in ("chunksize", "chunksize_used"):
        out[column] = out[column].astype("Int64")
    return out


def _starts_processes(tool: str) -> bool:
    cls = executors.registered().get(tool)
    return cls is not None and "start_method" in {f.name for f in dataclasses.fields(cls)}


def _chunksize_used(tool: str, workers: int | None, chunksize: int | None,
                    n_items: int) -> int | None:
    if chunksize is not None:
        return chunksize
    if tool == "pool" and workers is not None:
        return executors.default_chunksize(n_items, workers)
    return None


def _plain(value: Any) -> Any:
    """A JSON-ready Python value (numpy scalars unwrapped, NaN and NA as ``None``)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    return value.item() if hasattr(value, "item") else value


def render_text(result: Result, target: str) -> str:
    """The comparison as a readable table for the terminal, with the machine caption.

    Examples
    --------
    >>> from mpguide import workloads
    >>> result = compare(workloads.square, [1, 2, 3], lineup(3, tools=["loop"]), repeats=1)
    >>> print(render_text(result, "mpguide.workloads:square"))  # doctest: +ELLIPSIS
    mpguide.workloads:square over 3 items, 1 timed run each after a warm-up, ...
    label median_s iqr_s  speedup
    loop  ...
    """
    rows = records(result)
    out = table(result)
    n, repeats = rows[0]["n_items"], min(r["repeats"] for r in rows)
    width = max(len(r["label"]) for r in rows)
    seconds = "{:.4f}".format
    body = out[list(TEXT_COLUMNS)].to_string(
        index=False, justify="left",
        formatters={"label": lambda label: f"{label:<{width}}", "median_s": seconds,
                    "iqr_s": seconds, "speedup": "{:.2f}x".format})
    best = min(rows, key=lambda r: float(r["median_s"]))
    return "\n".join(line.rstrip() for line in [
        (f"{target} over {n} items, {repeats} timed run{'s' if repeats != 1 else ''} each "
         f"after a warm-up, pool start and stop included"),
        *body.splitlines(),
        f"fastest: {best['label']} ({float(best['speedup']):.2f}x the loop)",
        f"({caption(result)})",
    ])


def caption(result: Result) -> str:
    """The machine caption of ``result``, naming every start method it measured (the loop
    and threads start no process)."""
    methods = [r["start_method"] for r in records(result) if r["start_method"]]
    meta = {str(key): value for key, value in result.frame().iloc[0].to_dict().items()}
    return machine.caption(meta, ", ".join(dict.fromkeys(methods)) or "none (no processes)")


def verify_command(function: str, items: str, tool: str, *, workers: int | None = None,
                   chunksize: int | None = None, start_method: str | None = None,
                   blas_threads: int | None = None) -> str:
    """The ``python -m mpguide compare`` command line that measures a recommendation (as
    ``advise`` makes one) against the loop and Pool's default chunksize.

    Examples
    --------
    >>> verify_command("mymod:work", "mymod:items", "pool", workers=4, chunksize=25,
    ...                start_method="spawn")
    'python -m mpguide compare mymod:work --items mymod:items --tools loop,pool --workers 4 \
--chunksizes 25,default --start-methods spawn'
    >>> verify_command("mymod:work", "mymod:items", "serial")
    'python -m mpguide compare mymod:work --items mymod:items'
    """
    parts = ["python", "-m", "mpguide", "compare", function, "--items", items]
    if tool not in ("serial", "loop"):
        parts += ["--tools", f"loop,{tool}"]
        if workers is not None:
            parts += ["--workers", str(workers)]
        if tool == "pool":
            parts += ["--chunksizes", ",".join(dict.fromkeys(
                [*([str(chunksize)] if chunksize is not None else []), "default"]))]
        elif chunksize is not None and "chunksize" in {
                f.name for f in dataclasses.fields(tool_class(tool))}:
            parts += ["--chunksizes", str(chunksize)]
        if start_method:
            parts += ["--start-methods", start_method]
        if blas_threads:
            parts += ["--blas-threads", str(blas_threads)]
    return shlex.join(parts)


__all__ = ["CompareError", "check_serially", "chunksizes_for", "compare", "lineup",
           "pool_workers", "records", "registered_tools", "render_text",
           "table", "tool_class", "verify_command"]

