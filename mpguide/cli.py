"""Command line: ``python -m mpguide COMMAND`` (also installed as the ``mpguide`` script).

``python -m mpguide machine [--json] [--fresh]`` prints the machine card (:mod:`mpguide.card`):
a readable table by default, the JSON object with ``--json``. While probing, one progress line
per step goes to stderr (plain lines rather than a tqdm or rich bar: the card has a handful of
uneven steps, lines stay readable in CI logs and redirected output, and no dependency is
added). Errors (a bad ``MPGUIDE_START_METHOD``, a failing probe) print one ``mpguide: error:``
paragraph on stderr and exit with status 2, without a traceback.

``python -m mpguide advise MODULE:FUNC --items MODULE:FACTORY [--json]`` asks the advisor
(:func:`mpguide.advisor.advise`) whether a Pool speeds the function up; bad input is one
``mpguide advise:`` paragraph on stderr and exit status 2; its text report ends with the
``compare`` command line that measures the recommendation. A failure the guide explains (a
lambda, a closure, a function of ``__main__``, an unpicklable item, a worker that dies, a task
that never returns, the function raising) ends with the guide's why and fix and the section
that shows it (:mod:`mpguide.failures`).

``python -m mpguide compare MODULE:FUNC --items MODULE:FACTORY [--json|--csv] [--plot FILE]``
measures the function across executors (:mod:`mpguide.compare`); same bad-input contract, as
``mpguide compare:`` paragraphs. ``--tools joblib,mpire,dask`` adds the peers
(:mod:`mpguide.peers`); ``--address tcp://HOST:PORT`` points Dask at a running scheduler.

``python -m mpguide trace MODULE:FUNC --items MODULE:FACTORY [--json] [--plot FILE]`` runs the
real ``Pool.map`` with light instrumentation (:mod:`mpguide.tracer`) and prints where each
worker's time went: start-up, sending, computing, returning, imbalance.

Each subcommand is a function ``add_NAME(subparsers)`` listed in :data:`COMMANDS`; it adds its
parser and sets ``run`` (a function of the parsed arguments returning the exit status) with
``set_defaults``. Import heavy modules inside ``run`` so ``--help`` stays fast.

Examples
--------
>>> parser = build_parser()
>>> args = parser.parse_args(["machine", "--json"])
>>> args.command, args.json, args.fresh
('machine', True, False)
>>> parser.parse_args(["advise", "m:f", "--items", "m:items"]).time_budget
3.0
"""


from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import cache, compare, config, executors, failures, pools, runner, timing
from mpguide._version import __version__
from mpguide.profiler import (
    DEFAULT_PROFILE_TIMEOUT,
    DEFAULT_TIME_BUDGET,
    AdviceError,
    check_input,
)

if TYPE_CHECKING:
    from mpguide.advisor import Advice

#: Exceptions reported as one clear message (exit status 2) instead of a traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    config.ConfigError, pools.PoolError, runner.FreshInterpreterError, timing.TimingError,
    cache.CacheError, OSError, ValueError,
)


def report(command: str, exc: BaseException) -> int:
    """Print ``exc`` as the one ``mpguide COMMAND:`` paragraph on stderr, ending with the
    guide's why, fix and section for its failure (:func:`mpguide.failures.explain`); return
    the exit status, 2.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     report("compare", pools.WorkerDiedError("a worker of Pool(2) exited."))
    2
    >>> print(err.getvalue())
    mpguide compare: a worker of Pool(2) exited. A worker that dies ...#trouble-broken-pool).
    """
    message = str(exc.args[0]) if len(exc.args) == 1 else str(exc) or type(exc).__name__
    print(f"mpguide {command}: {failures.explain(exc, message)}", file=sys.stderr)
    return 2


# --- machine --------------------------------------------------------------------------------


def _end_progress() -> None:
    """Clear the progress line that :func:`_progress` rewrites on a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _progress(line: str) -> None:
    """One progress line on stderr; rewritten in place on a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[Kprobing {line}")
    else:
        sys.stderr.write(f"probing {line}\n")
    sys.stderr.flush()


def _run_machine(args: argparse.Namespace) -> int:
    from mpguide import card

    result = card.machine_card(fresh=args.fresh, progress=_progress)
    _end_progress()
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(card.format_card(result))
    return 0


def add_machine(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``machine``: print the machine card."""
    parser = subparsers.add_parser(
        "machine", help="print this machine's card: metadata and overhead probes",
        description="Measure (or read from the cache) this machine's multiprocessing overhead "
                    "figures and print them with the machine's metadata.")
    parser.add_argument("--json", action="store_true", help="print the card as JSON")
    parser.add_argument("--fresh", action="store_true",
                        help="re-measure even if a cached card exists")
    parser.set_defaults(run=_run_machine)


# --- advise ---------------------------------------------------------------------------------


def resolve(target: str, what: str) -> Any:
    """Import ``"module:name"`` and return the attribute; :class:`AdviceError` if impossible
    (the messages of :func:`mpguide.executors.resolve_target`).

    Examples
    --------
    >>> resolve("mpguide.workloads:square", "function").__name__
    'square'
    >>> resolve("mpguide.workloads:cube", "function")
    Traceback (most recent call last):
    ...
    mpguide.profiler.AdviceError: the function 'cube' is not defined in module ...
    """
    try:
        return executors.resolve_target(target, what)
    except ValueError as exc:
        raise AdviceError(str(exc)) from None


def load_items(target: str) -> Any:
    """Call the item factory ``"module:name"`` (no arguments) and return what it returns;
    :class:`AdviceError` if it cannot be found, is not callable or raises (``advise`` and
    ``compare`` both load their items here).

    Examples
    --------
    >>> load_items("mpguide.workloads:square")
    Traceback (most recent call last):
    ...
    mpguide.profiler.AdviceError: the item factory mpguide.workloads:square raised TypeError: ...
    """
    factory = resolve(target, "item factory")
    if not callable(factory):
        raise AdviceError(f"the item factory {target} is not callable; it must be a "
                          f"function that returns the list of items.")
    try:
        return factory()
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one paragraph
        raise AdviceError(f"the item factory {target} raised {type(exc).__name__}: "
                          f"{exc}; it must return the list of items without arguments."
                          ) from None


def _run_advise(args: argparse.Namespace) -> int:
    """Run the ``advise`` subcommand; print the advice, or one error paragraph on stderr.

    Returns the exit status: 0 on success, 2 when the input cannot be advised on.
    """
    try:
        func = resolve(args.function, "function")
        items = load_items(args.items)
        probes = None
        if args.card:
            with open(args.card, encoding="utf-8") as handle:
                probes = json.load(handle).get("probes")
            if not isinstance(probes, dict):
                raise AdviceError(f"{args.card} holds no machine card (no 'probes' object); "
                                  f"write one with `python -m mpguide machine --json > "
                                  f"{args.card}`.")
        from mpguide.advisor import advise

        methods = args.start_methods or config.available_start_methods()
        items = check_input(func, items, methods)
        try:
            advice = advise(func, items, start_methods=methods, max_workers=args.max_workers,
                            time_budget=args.time_budget, timeout=args.timeout, probes=probes,
                            progress=_progress)
        finally:
            _end_progress()
    except (pools.PoolError, config.ConfigError, OSError, KeyError, ValueError) as exc:
        return report("advise", exc)
    if args.json:
        print(json.dumps(advice.to_json(), indent=2))
    else:
        from mpguide.compare import verify_command

        rec = advice.recommendation
        timeline = trace_command(args.function, args.items, workers=rec.workers,
                                 chunksize=rec.chunksize, start_method=rec.start_method) \
            if rec.tool == "pool" and rec.blas_threads is None else None
        print(render_text(advice, verify_command(
            args.function, args.items, rec.tool, workers=rec.workers, chunksize=rec.chunksize,
            start_method=rec.start_method, blas_threads=rec.blas_threads), timeline))
    return 0


def trace_command(function: str, items: str, *, workers: int, chunksize: int | None,
                  start_method: str | None) -> str:
    """The ``trace`` command line that draws the timeline of a Pool configuration.

    >>> trace_command("mymod:work", "mymod:items", workers=4, chunksize=25, start_method="fork")
    'python -m mpguide trace mymod:work --items mymod:items --workers 4 --chunksize 25 \
--start-method fork --plot timeline.png'
    """
    parts = ["python -m mpguide trace", function, "--items", items, "--workers", str(workers)]
    if chunksize is not None:
        parts += ["--chunksize", str(chunksize)]
    if start_method is not None:
        parts += ["--start-method", start_method]
    return " ".join([*parts, "--plot", "timeline.png"])


def render_text(advice: Advice, verify: str | None = None, timeline: str | None = None) -> str:
    """The :class:`~mpguide.advisor.Advice` as a few lines of plain text for the terminal,
    ending with ``verify`` (the ``compare`` command line that measures the recommendation) and
    ``timeline`` (the ``trace`` command line that shows where its time goes)."""
    rec = advice.recommendation
    if rec.tool == "serial":
        head = "Recommendation: keep the plain loop (no parallel configuration wins)."
    else:
        chunks = "automatic batches" if rec.chunksize is None else f"chunksize {rec.chunksize}"
        head = (f"Recommendation: {rec.tool}, {rec.workers} workers, {chunks}"
                + (f", start method {rec.start_method}" if rec.start_method else "")
                + (f", BLAS capped to {rec.blas_threads} thread(s) per worker"
                   if rec.blas_threads else "")
                + f": predicted {rec.predicted_s:.3g} s, {rec.predicted_speedup:.2f}x the loop.")
    lines = [f"{advice.function}", head, "", *[f"- {note}" for note in advice.notes], "",
             advice.snippet()]
    if verify:
        lines += ["", "Measure it against the loop on this machine:", f"    {verify}"]
    if timeline:
        lines += ["", "See where its time goes, worker by worker:", f"    {timeline}"]
    return "\n".join(lines)



def add_advise(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``advise``: will a Pool speed up this function? (:mod:`mpguide.advisor`)."""
    parser = subparsers.add_parser(
        "advise", help="profile a function and recommend how (or whether) to parallelize it",
        description="Profile MODULE:FUNC on a sample of the items MODULE:FACTORY returns, "
                    "predict Pool(workers).map(func, items, chunksize) for a grid of workers, "
                    "chunksizes and start methods, and recommend one.")
    parser.add_argument("function", metavar="MODULE:FUNC",
                        help="the function to parallelize, e.g. mypackage.work:process")
    parser.add_argument("--items", required=True, metavar="MODULE:FACTORY",
                        help="a function returning the list of items (called with no argument)")
    parser.add_argument("--json", action="store_true", help="print the advice as JSON")
    parser.add_argument("--start-method", action="append", dest="start_methods",
                        choices=config.START_METHODS,
                        help="start method to consider (repeatable; default: all available)")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="largest pool to consider (default: usable cores)")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET,
                        help="seconds of profiling (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_PROFILE_TIMEOUT,
                        help="seconds before a stuck function is abandoned "
                             "(default %(default)s)")
    parser.add_argument("--card", metavar="PATH",
                        help="machine card JSON (from `python -m mpguide machine --json`) to "
                             "use instead of measuring or reading the cached one")
    parser.set_defaults(run=_run_advise)


# --- compare: its arguments and run ---------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give a comma-separated list")
    return names


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of whole numbers, e.g. 2,4") from None
    if min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every count must be at least 1")
    return counts


def _chunksizes(text: str) -> list[int | None]:
    values: list[int | None] = []
    for part in _names(text):
        if part.lower() == "default":
            values.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} in {text!r} is neither a whole number nor 'default'") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"chunksize {value} must be at least 1")
        values.append(value)
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` subcommand's arguments to ``parser``."""
    parser.add_argument("function", metavar="MODULE:FUNC",
                        help="the function to measure, e.g. mypackage.work:process")
    parser.add_argument("--items", required=True, metavar="MODULE:FACTORY",
                        help="a function returning the list of items (called with no argument)")
    parser.add_argument("--tools", type=_names, metavar="LIST",
                        help=f"executors by registry name, comma-separated (known: "
                             f"{','.join(compare.registered_tools())}; default: "
                             f"{','.join(compare.DEFAULT_TOOLS)}); the loop is always measured")
    parser.add_argument("--address", metavar="URL",
                        help="a running Dask scheduler for --tools dask, e.g. "
                             "tcp://127.0.0.1:8786 (default: $MPGUIDE_DASK_ADDRESS, else a "
                             "local cluster started and closed for the run); the scheduler "
                             "and its workers are left running")
    parser.add_argument("--workers", type=_counts, metavar="LIST",
                        help="worker counts, e.g. 2,4 (default: half and all of the usable "
                             "cores for Pool, all of them for the other tools)")
    parser.add_argument("--chunksizes", type=_chunksizes, metavar="LIST",
                        help="chunksizes, e.g. 1,default,100; 'default' is Pool's own "
                             "(ProcessPoolExecutor gets its value) (default: 1, default and one "
                             "chunk per worker for Pool; 1 and Pool's default for "
                             "ProcessPoolExecutor)")
    parser.add_argument("--start-methods", type=_names, metavar="LIST",
                        help="start methods, e.g. fork,spawn (default: MPGUIDE_START_METHOD "
                             "or the platform's)")
    parser.add_argument("--blas-threads", type=_positive_int, metavar="N",
                        help="cap BLAS to N threads in each Pool worker")
    parser.add_argument("--repeats", type=_positive_int, metavar="N",
                        help=f"timed runs per configuration after one warm-up (default "
                             f"{config.scaled(5, 3)})")
    parser.add_argument("--timeout", type=_positive_float, default=config.DEFAULT_TIMEOUT,
                        metavar="S", help="seconds each map may take (default %(default)g)")
    parser.add_argument("--cache", action="store_true",
                        help="read and write the result cache instead of measuring afresh")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="print a JSON list, one record per configuration")
    output.add_argument("--csv", action="store_true", help="print the records as CSV")
    parser.add_argument("--plot", metavar="FILE",
                        help="save a bar chart of the times (with the machine caption), e.g. "
                             "compare.png")


def _check_plot_path(path: str) -> None:
    from matplotlib.figure import Figure

    target = Path(path)
    if not target.parent.is_dir():
        raise compare.CompareError(f"cannot write the plot to {path}: the folder {target.parent} does "
                           f"not exist.")
    kinds = Figure().canvas.get_supported_filetypes()
    if target.suffix.lstrip(".").lower() not in kinds:
        raise compare.CompareError(f"cannot write the plot to {path}: give it one of the extensions "
                           f"{', '.join('.' + k for k in sorted(kinds))}.")


def load_compare(function: str, items: str) -> tuple[Callable[[Any], Any], list[Any]]:
    """The function and the items its factory returns, from ``MODULE:NAME`` strings, with
    the messages ``advise`` gives (:func:`mpguide.cli.resolve`, :func:`mpguide.cli.load_items`)
    for a missing module, a missing name or a failing factory."""
    from mpguide.cli import load_items, resolve

    func = resolve(function, "function")
    made = load_items(items)
    try:
        return func, list(made)
    except TypeError as exc:
        raise compare.CompareError(f"the item factory {items} returned {compare.article(type(made).__name__)}"
                           f", which is not iterable ({exc}); return a list of items.") from None


def run_compare(args: argparse.Namespace) -> int:
    """Run the ``compare`` subcommand; print the table (or JSON, CSV), or one error paragraph
    on stderr.

    Returns the exit status: 0 on success, 2 when the input cannot be compared.
    """
    from tqdm import tqdm

    bar: Any = None
    try:
        if args.plot:
            _check_plot_path(args.plot)
        func, items = load_compare(args.function, args.items)
        specs = compare.lineup(len(items), tools=args.tools, workers=args.workers,
                               chunksizes=args.chunksizes, start_methods=args.start_methods,
                               blas_threads=args.blas_threads, address=args.address)
        repeats = args.repeats or config.scaled(5, 3)
        bar = tqdm(total=len(specs) * repeats, desc="compare", unit="run", file=sys.stderr,
                   disable=None, leave=False, dynamic_ncols=True)

        def progress(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update()

        result = compare.compare(func, items, specs, repeats=repeats, timeout=args.timeout,
                         cache=args.cache, progress=progress)
        bar.close()
        if args.plot:
            import matplotlib.pyplot as plt

            from mpguide.plotting import add_caption

            fig = add_caption(result.plot(title=f"{args.function} over {len(items)} items"),
                              compare.caption(result))
            try:
                fig.savefig(args.plot, dpi=120)
            finally:
                plt.close(fig)
    except (pools.PoolError, config.ConfigError, timing.TimingError, OSError,
            ValueError) as exc:
        if bar is not None:
            bar.close()
        return report("compare", exc)
    if args.json:
        print(json.dumps(compare.records(result), indent=1))
    elif args.csv:
        print(compare.table(result).to_csv(index=False), end="")
    else:
        print(compare.render_text(result, args.function))
    return 0


# --- compare --------------------------------------------------------------------------------


def add_compare(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``compare``: measure the function across executors (:mod:`mpguide.compare`)."""
    parser = subparsers.add_parser(
        "compare", help="measure a function across executors (loop, threads, Pool, ...)",
        description="Measure MODULE:FUNC over the items MODULE:FACTORY returns through the "
                    "loop, threads, Pool at several worker counts and chunksizes and "
                    "ProcessPoolExecutor, each time the whole `with Pool(...) as p: p.map(...)` "
                    "with start and stop; print a table (or --json, --csv) and --plot it.")
    compare_arguments(parser)
    parser.set_defaults(run=run_compare)


# --- trace ----------------------------------------------------------------------------------


def _run_trace(args: argparse.Namespace) -> int:
    """Run the ``trace`` subcommand (:func:`mpguide.tracer.trace`): print the decomposition
    (or the JSON), save the Gantt chart; one ``mpguide trace:`` paragraph on bad input.

    Returns the exit status: 0 on success, 2 when the input cannot be traced.
    """
    from mpguide import tracer

    try:
        if args.plot:
            _check_plot_path(args.plot)
        func = resolve(args.function, "function")
        made = load_items(args.items)
        try:
            items = list(made)
        except TypeError:
            raise AdviceError(f"the item factory {args.items} returned "
                              f"{type(made).__name__}, which is not iterable; return a list "
                              f"of items.") from None
        spec = executors.Pool(args.workers, chunksize=args.chunksize,
                              start_method=args.start_method)
        run = tracer.trace(func, items, spec, timeout=args.timeout)
        if args.plot:
            import matplotlib.pyplot as plt

            fig = run.plot()
            try:
                fig.savefig(args.plot, dpi=120)
            finally:
                plt.close(fig)
    except (pools.PoolError, config.ConfigError, OSError, ValueError) as exc:
        return report("trace", exc)
    print(json.dumps(run.to_dict(), indent=1) if args.json else tracer.render_text(run))
    return 0


def add_trace(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``trace``: a timeline of one real ``Pool.map`` run (:mod:`mpguide.tracer`)."""
    parser = subparsers.add_parser(
        "trace", help="time one real Pool.map run chunk by chunk and show where its time went",
        description="Run `with Pool(workers) as p: p.map(MODULE:FUNC, items, chunksize)` over "
                    "the items MODULE:FACTORY returns, with light instrumentation: when each "
                    "chunk was sent, computed and returned, and when each worker was ready. "
                    "Print the decomposition of the wall time (or --json), --plot a per-worker "
                    "Gantt chart.")
    parser.add_argument("function", metavar="MODULE:FUNC",
                        help="the function to map, e.g. mypackage.work:process")
    parser.add_argument("--items", required=True, metavar="MODULE:FACTORY",
                        help="a function returning the list of items (called with no argument)")
    parser.add_argument("--workers", type=_positive_int, metavar="N",
                        help="worker processes (default: the usable cores)")
    parser.add_argument("--chunksize", type=_positive_int, metavar="C",
                        help="items per chunk (default: Pool.map's own, about four chunks per "
                             "worker)")
    parser.add_argument("--start-method", choices=config.START_METHODS,
                        help="start method (default: MPGUIDE_START_METHOD or the platform's)")
    parser.add_argument("--timeout", type=_positive_float, default=config.DEFAULT_TIMEOUT,
                        metavar="S", help="seconds the run may take (default %(default)g)")
    parser.add_argument("--plot", metavar="FILE",
                        help="save the per-worker Gantt chart (with the machine caption), e.g. "
                             "trace.png")
    parser.add_argument("--json", action="store_true",
                        help='print {"chunks": [...], "workers": [...], "summary": {...}}')
    parser.set_defaults(run=_run_trace)


# --- the parser -----------------------------------------------------------------------------


#: Functions that each add one subcommand to the parser.
COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    add_machine, add_advise, add_compare, add_trace]


def build_parser() -> argparse.ArgumentParser:
    """The ``mpguide`` argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="mpguide",
        description="Measure, explain and predict Python multiprocessing performance.",
        epilog="Settings: MPGUIDE_QUICK=1 shrinks every probe; MPGUIDE_START_METHOD picks the "
               "start method; MPGUIDE_CACHE_DIR, MPGUIDE_FRESH=1 control the cache.")
    parser.add_argument("--version", action="version", version=f"mpguide {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        config.start_method()
        status: int = args.run(args)
        return status
    except EXPECTED_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        print(f"mpguide: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mpguide: interrupted", file=sys.stderr)
        return 130
