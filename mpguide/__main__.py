"""Command line: ``python -m mpguide COMMAND`` (also installed as the ``mpguide`` script).

``python -m mpguide machine [--json] [--fresh]`` prints the machine card (:mod:`mpguide.card`):
a readable table by default, the JSON object with ``--json``. While probing, one progress line
per step goes to stderr (plain lines rather than a tqdm or rich bar: the card has a handful of
uneven steps, lines stay readable in CI logs and redirected output, and no dependency is
added). Errors (a bad ``MPGUIDE_START_METHOD``, a failing probe) print one ``mpguide: error:``
paragraph on stderr and exit with status 2, without a traceback.

Each subcommand is a function ``add_NAME(subparsers)`` listed in :data:`COMMANDS`; it adds its
parser and sets ``run`` (a function of the parsed arguments returning the exit status) with
``set_defaults``. Import heavy modules inside ``run`` so ``--help`` stays fast.

Examples
--------
>>> parser = build_parser()
>>> args = parser.parse_args(["machine", "--json"])
>>> args.command, args.json, args.fresh
('machine', True, False)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from mpguide import config, pools, runner, timing
from mpguide._version import __version__

#: Exceptions reported as one clear message (exit status 2) instead of a traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    config.ConfigError, pools.PoolError, runner.FreshInterpreterError, timing.TimingError,
    OSError, ValueError,
)


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
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(card.format_card(result))
    return 0


def add_machine(subparsers: argparse._SubParsersAction) -> None:
    """``machine``: print the machine card."""
    parser = subparsers.add_parser(
        "machine", help="print this machine's card: metadata and overhead probes",
        description="Measure (or read from the cache) this machine's multiprocessing overhead "
                    "figures and print them with the machine's metadata.")
    parser.add_argument("--json", action="store_true", help="print the card as JSON")
    parser.add_argument("--fresh", action="store_true",
                        help="re-measure even if a cached card exists")
    parser.set_defaults(run=_run_machine)


def add_advise(subparsers: argparse._SubParsersAction) -> None:
    """``advise``: will a Pool speed up this function? (:mod:`mpguide.advise`)."""
    from mpguide import advise

    parser = subparsers.add_parser(
        "advise", help="profile a function and recommend how (or whether) to parallelize it",
        description="Profile MODULE:FUNC on a sample of the items MODULE:FACTORY returns, "
                    "predict Pool(workers).map(func, items, chunksize) for a grid of workers, "
                    "chunksizes and start methods, and recommend one.")
    advise.add_arguments(parser)
    parser.set_defaults(run=advise.run_cli)


#: Functions that each add one subcommand to the parser.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_machine, add_advise]


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
        return args.run(args)
    except EXPECTED_ERRORS as exc:
        message = str(exc) or type(exc).__name__
        print(f"mpguide: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mpguide: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
