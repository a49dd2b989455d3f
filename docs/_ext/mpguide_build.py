"""Build plumbing for the mpguide site: caching, invalidation, time bounds, example hygiene.

``conf.py`` calls :func:`prepare` first thing. It

* points ``MPGUIDE_CACHE_DIR`` at ``docs/_build/.mpguide-cache`` unless the caller chose one, so
  measurements live and die with the build (``rm -rf docs/_build`` is a clean rebuild);
* gives the guide pages' Jupyter kernels an IPython profile (``IPYTHONDIR``) that prints
  numpy scalars as plain numbers, so ``{glue:text}`key:.1f``` works for numpy values;
* turns ``MPGUIDE_FRESH=1`` into ``MPGUIDE_FRESH_SINCE=<now>``: each experiment is re-measured
  once in this build, and every page that shows it then reads that one new record;
* computes the *build stamp* (mpguide's source hash, quick/full mode, start method, fresh mark).
  When it differs from the last successful build's (or the last build failed: Sphinx would not
  repeat the warnings of unchanged pages), the stale ``.md5`` files of sphinx-gallery are removed
  (it otherwise re-runs an example only when the script itself changes) and the stamp, a
  Sphinx config value with ``rebuild="env"``, makes Sphinx re-read, hence re-execute, every page;
* (with :func:`start_watchdog`) ends the whole build, with every thread's traceback, past
  ``MPGUIDE_BUILD_TIMEOUT`` seconds, and (with :func:`stop_with_the_build`) at the first
  Ctrl-C, every process it started included.

:func:`reset_example` runs before and after each gallery example (sphinx-gallery
``reset_modules``): it restores the default start method and the ``MPGUIDE_*`` environment,
bounds the example by ``MPGUIDE_EXAMPLE_TIMEOUT`` seconds, and reports child processes an
example left behind as build warnings (errors under ``-W``). ``/dev/shm`` is checked per script
by ``tests/test_gallery.py`` instead: other programs on the machine write there too.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import json
import logging as stdlib_logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from sphinx.util import logging

from mpguide import cache, config

logger = logging.getLogger("mpguide_build")

#: Default bounds in seconds (quick, full): one gallery example or notebook cell, whole build.
EXAMPLE_TIMEOUT = {"quick": 240, "full": 900}
BUILD_TIMEOUT = {"quick": 1800, "full": 3600}

_ENV_SNAPSHOT: dict[str, str] = {}
_PENDING: dict[str, Any] = {}
_BEFORE: dict[str, Any] = {}


def example_timeout() -> int:
    """Seconds one gallery example or one notebook cell may run (``MPGUIDE_EXAMPLE_TIMEOUT``)."""
    return int(os.environ.get("MPGUIDE_EXAMPLE_TIMEOUT") or EXAMPLE_TIMEOUT[config.mode()])


def build_timeout() -> int:
    """Seconds the whole ``sphinx-build`` may run (``MPGUIDE_BUILD_TIMEOUT``)."""
    return int(os.environ.get("MPGUIDE_BUILD_TIMEOUT") or BUILD_TIMEOUT[config.mode()])


def prepare(confdir: Path) -> str:
    """Set up the environment and invalidate stale gallery results.

    Returns the build stamp (a short hash) for the ``mpguide_build_stamp`` config value.
    """
    _STARTED["at"] = time.time()
    build_dir = confdir / "_build"
    os.environ.setdefault("MPGUIDE_CACHE_DIR", str(build_dir / ".mpguide-cache"))
    if os.environ.pop("MPGUIDE_FRESH", "") not in {"", "0"}:
        os.environ["MPGUIDE_FRESH_SINCE"] = str(time.time())
    config.start_method()  # a bad MPGUIDE_START_METHOD fails here, with its reason
    kernel_profile(build_dir)
    state = {"source": cache.source_hash(), "mode": config.mode(),
             "start_method": config.start_method(),
             "fresh_since": os.environ.get("MPGUIDE_FRESH_SINCE", "")}
    state_hash = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    stamp_file = build_dir / ".mpguide-stamp.json"
    try:
        last_ok = json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last_ok = {}
    if last_ok.get("state") == state_hash:
        stamp = last_ok["stamp"]
    else:
        # Settings changed, or the last build failed (Sphinx would not repeat its warnings
        # for unchanged pages): a new stamp makes Sphinx re-read, re-execute, every page.
        stamp = f"{state_hash}-{time.time_ns()}"
        stale = list((confdir / "auto_examples").rglob("*.py.md5"))
        for md5 in stale:
            md5.unlink()
        if stale:
            logger.info("[mpguide] settings %s differ from the last successful build's: "
                        "re-running %d gallery examples and every page", state, len(stale))
    _PENDING.update(file=stamp_file, record={"state": state_hash, "stamp": stamp})
    _ENV_SNAPSHOT.clear()
    _ENV_SNAPSHOT.update({k: v for k, v in os.environ.items() if k.startswith("MPGUIDE_")})
    return stamp


#: Pages that only sum up what the chapters measured: read (executed) after every other page,
#: so that each measurement runs in its own chapter's cells, under their per-cell timeout,
#: and these pages read the cache.
SUMMARY_PAGES = ("claims", "index")


def read_summaries_last(app: Any, env: Any, docnames: list[str]) -> None:
    """Sphinx ``env-before-read-docs`` hook: move :data:`SUMMARY_PAGES` to the end, in place.

    >>> names = ["api", "claims", "guide/01-overhead", "index"]
    >>> read_summaries_last(None, None, names)
    >>> names
    ['api', 'guide/01-overhead', 'claims', 'index']
    """
    summaries = [name for name in SUMMARY_PAGES if name in docnames]
    docnames[:] = [name for name in docnames if name not in summaries] + summaries


def build_finished(app: Any, exception: Exception | None) -> None:
    """Sphinx ``build-finished`` hook: remember the stamp only if the build succeeded."""
    succeeded = exception is None and app.statuscode == 0 and not getattr(app, "_warncount", 0)
    if succeeded and _PENDING:
        mark_success()
    report_costs()


#: How many of the costliest experiments the end of a build names.
COSTLIEST_SHOWN = 12


#: When this build started (:func:`prepare`): what the cache holds from before is not its cost.
_STARTED = {"at": 0.0}


def report_costs() -> None:
    """Log the seconds the experiments measured by this build took, costliest first
    (:func:`mpguide.cache.costs`): where a fresh build's time went. Silent when the build
    measured nothing."""
    spent = cache.costs(since=_STARTED["at"])
    if spent:
        total = sum(seconds for _, seconds in spent)
        shown = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent[:COSTLIEST_SHOWN])
        logger.info("[mpguide] measuring took %.0f s over %d experiments; costliest: %s",
                    total, len(spent), shown)


def mark_success() -> None:
    """Record that the build prepared last succeeded: the next one may skip what it did."""
    path: Path = _PENDING["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_PENDING["record"]), encoding="utf-8")


#: Runs at the start of every myst-nb kernel (an IPython startup file).
KERNEL_STARTUP = """\
# Written by docs/_ext/mpguide_build.py for the docs build's Jupyter kernels.
# numpy 2 writes scalars as np.float64(1.5); {glue:text}`key:.1f` needs plain 1.5.
import numpy

numpy.set_printoptions(legacy="1.25")
"""


#: The kernels' own configuration: their log shows errors only. ipykernel 7 warns at every
#: start that its loopback TCP sockets are unencrypted, a line per page of the build's log
#: that says nothing about the guide (a cell's own warnings are its output, not this log).
KERNEL_CONFIG = """\
# Written by docs/_ext/mpguide_build.py for the docs build's Jupyter kernels.
c.IPKernelApp.log_level = "ERROR"
"""


def kernel_profile(build_dir: Path) -> None:
    """Point the guide pages' kernels at an IPython profile whose startup prints numpy scalars
    as plain numbers, so that glued numpy values format in prose, and whose kernel logs
    errors only (:data:`KERNEL_CONFIG`)."""
    ipython_dir = build_dir / ".ipython"
    profile = ipython_dir / "profile_default"
    for path, text in ((profile / "startup" / "00-mpguide.py", KERNEL_STARTUP),
                       (profile / "ipython_kernel_config.py", KERNEL_CONFIG)):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    os.environ["IPYTHONDIR"] = str(ipython_dir)


def offline_inventory(build_dir: Path) -> str:
    """Write an empty intersphinx inventory and return its path: the offline fallback."""
    path = build_dir / ".offline-objects.inv"
    if not path.exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        header = (b"# Sphinx inventory version 2\n# Project: offline\n# Version: 0\n"
                  b"# The remainder of this file is compressed using zlib.\n")
        path.write_bytes(header + zlib.compress(b""))
    return str(path)


def allow_empty_glob(pattern: str) -> None:
    """Drop Sphinx's "toctree glob pattern didn't match" warning for ``pattern`` only."""

    class _EmptyGlob(stdlib_logging.Filter):
        def filter(self, record: stdlib_logging.LogRecord) -> bool:
            return not (str(record.msg).startswith("toctree glob pattern")
                        and record.args == (pattern,))

    stdlib_logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyGlob())


def start_watchdog(seconds: int | None = None) -> None:
    """End this process, with every thread's traceback, after ``seconds`` (the build bound)."""
    seconds = build_timeout() if seconds is None else seconds

    def expire() -> None:
        sys.stderr.write(f"\n[mpguide] the docs build ran past MPGUIDE_BUILD_TIMEOUT={seconds} s "
                         "and is stopped. Where every thread was:\n")
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(124)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def stop_with_the_build() -> None:
    """One Ctrl-C (SIGINT) or SIGTERM ends the whole build, its descendants included.

    Not every descendant hears the terminal's Ctrl-C: a notebook's Jupyter kernel and each
    experiment's fresh interpreter run in sessions of their own, and ``nox`` follows the
    Ctrl-C with SIGTERM then SIGKILL of sphinx within half a second. So the handler first
    sends SIGTERM to every descendant, without waiting (pool workers die at once; the
    resource trackers ignore it and clean up once their programs are gone), then stops
    sphinx: ``KeyboardInterrupt`` for SIGINT, exit status 143 for SIGTERM. A SIGKILLed build
    cannot do this; the experiments' interpreters end themselves then
    (:func:`mpguide.runner.end_with_parent`).
    """
    def stop(signum: int, frame: object) -> None:
        end_descendants()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def end_descendants() -> int:
    """Send SIGTERM to every descendant of this process; how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    return len(children)


class ExampleTimeout(Exception):
    """A gallery example ran past ``MPGUIDE_EXAMPLE_TIMEOUT``."""


def reset_example(gallery_conf: dict[str, Any], fname: str | None, when: str) -> None:
    """sphinx-gallery ``reset_modules`` hook, called before and after every example."""
    multiprocessing.set_start_method(None, force=True)
    for key in [k for k in os.environ if k.startswith("MPGUIDE_")]:
        if key not in _ENV_SNAPSHOT:
            del os.environ[key]
    os.environ.update(_ENV_SNAPSHOT)
    if fname is None:
        return
    if when == "before":
        _arm_alarm(fname, example_timeout())
    else:
        _disarm_alarm()
        _check_leftovers(fname)


def _arm_alarm(fname: str, seconds: int) -> None:
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        return  # no alarms here: the build's watchdog still bounds the example

    def expired(signum: int, frame: object) -> None:
        signal.alarm(5)  # later blocks of this example get 5 s each, so it ends soon
        raise ExampleTimeout(f"gallery example {fname} ran past MPGUIDE_EXAMPLE_TIMEOUT="
                             f"{seconds} s and was interrupted")

    _BEFORE["handler"] = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


def _disarm_alarm() -> None:
    if "handler" in _BEFORE:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, _BEFORE.pop("handler"))


def _check_leftovers(fname: str) -> None:
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
        child.join(5)
    if children:
        logger.warning("[mpguide] gallery example %s left %d child processes running (killed "
                       "now); use mpguide.pools.bounded_pool or a with-block", fname,
                       len(children))
