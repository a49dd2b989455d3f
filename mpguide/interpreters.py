"""The Python interpreters of this machine, and the standard-library probe run under each.

:func:`discover` finds CPython 3.10 and later, free-threaded ``t`` builds included: the
``python3.X`` and ``python3.Xt`` commands on ``PATH``, and every ``bin/python3*`` of the pyenv
versions folder (``$PYENV_ROOT/versions``, else ``~/.pyenv/versions``); ``MPGUIDE_PYTHONS``
(paths or commands, separated by ``os.pathsep``) replaces that search with a list of your own.
Each candidate is asked what it is (a bounded ``python -I -c``); one interpreter per
:attr:`Interpreter.label` is kept, the running one always, first.

:func:`run_probe` runs :mod:`mpguide._stdlib_probes` under one of them as a file
(``python -I -S _stdlib_probes.py PARAMS``): that file imports only the standard library, so
it runs under an interpreter with nothing installed, and ``-S`` (no ``site``, in its pool
workers too) keeps what is installed in each interpreter out of what it measures. The run has a session of its own; on a
timeout it is killed with every process it started, and the semaphores it left in
``/dev/shm`` are removed (:mod:`mpguide.leftovers`). :func:`measure` is the same through the
result cache (:func:`mpguide.experiment.run_cached`), one entry per interpreter.

At import this module needs only the standard library (the cache is imported when
:func:`measure` runs), so the noxfile can import it before anything is installed.

Examples
--------
>>> import sys
>>> from mpguide import interpreters
>>> here = interpreters.current()
>>> here.current, here.version == ".".join(map(str, sys.version_info[:3]))
(True, True)
>>> interpreters.label_of((3, 13), free_threaded=True)
'3.13t'
>>> here in interpreters.discover()
True
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpguide import config, leftovers, runner

#: What the guide looks for, in reading order: the supported versions (``requires-python``)
#: and the free-threaded builds, by :func:`label_of`.
LABELS = ("3.10", "3.11", "3.12", "3.13", "3.13t", "3.14", "3.14t")
#: The oldest version counted (older ones are skipped: mpguide requires 3.10).
OLDEST = (3, 10)
#: Environment variable: the interpreters to use instead of searching.
ENV_VAR = "MPGUIDE_PYTHONS"
#: Seconds a candidate gets to say what it is.
DESCRIBE_TIMEOUT = 20.0
#: The probe file, run by path under each interpreter, with these flags: isolated (no
#: ``PYTHON*`` variables, no user site, not its own folder on ``sys.path``) and without
#: ``site``, so that the packages installed in an interpreter do not slow its start-up.
PROBE_FILE = Path(__file__).with_name("_stdlib_probes.py")
PROBE_FLAGS = ("-I", "-S")

#: Asked of every candidate (``-I``: no environment, no user site, no script folder).
_DESCRIBE = (
    "import json, platform, sys, sysconfig; print(json.dumps({"
    "'implementation': platform.python_implementation(), "
    "'version': list(sys.version_info[:3]), 'executable': sys.executable, "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


class ProbeError(RuntimeError):
    """An interpreter could not run the probe: it failed, timed out or printed no record."""


@dataclasses.dataclass(frozen=True)
class Interpreter:
    """One Python interpreter found on this machine.

    Parameters
    ----------
    label
        ``"3.12"``, or ``"3.13t"`` for a free-threaded build (:func:`label_of`).
    version
        The full version, e.g. ``"3.12.1"``.
    executable
        The path it was found at (what is run).
    free_threaded
        Whether it is a free-threaded build (``Py_GIL_DISABLED``).
    implementation
        ``"CPython"``, ``"PyPy"``, ...
    current
        Whether it is the interpreter running this code.
    """

    label: str
    version: str
    executable: str
    free_threaded: bool = False
    implementation: str = "CPython"
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready fields (what the probe's cache entry is keyed by)."""
        return dataclasses.asdict(self)


def label_of(version: Sequence[int], free_threaded: bool = False,
             implementation: str = "CPython") -> str:
    """``"3.12"`` for CPython 3.12, ``"3.13t"`` for its free-threaded build,
    ``"pypy3.10"`` for another implementation.

    Examples
    --------
    >>> label_of((3, 12, 1)), label_of((3, 14), True), label_of((3, 10), False, "PyPy")
    ('3.12', '3.14t', 'pypy3.10')
    """
    prefix = "" if implementation == "CPython" else implementation.lower()
    return f"{prefix}{version[0]}.{version[1]}{'t' if free_threaded else ''}"


def current() -> Interpreter:
    """The interpreter running this code."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    implementation = platform.python_implementation()
    return Interpreter(label_of(sys.version_info[:2], free, implementation),
                       platform.python_version(), sys.executable, free, implementation, True)


def _names() -> list[str]:
    """The commands looked for on ``PATH``: ``python3.10`` ... ``python3.14t``."""
    return [f"python{label}" for label in LABELS]


def candidates(path: str | None = None, pyenv_root: str | os.PathLike[str] | None = None,
               listed: str | None = None) -> list[str]:
    """Executables to ask, in order, each file once.

    ``listed`` (default: ``MPGUIDE_PYTHONS``) replaces the search when set; otherwise the
    :data:`LABELS` commands on ``path`` (default: ``PATH``), then the ``python3.X`` of the
    pyenv versions under ``pyenv_root`` (default: ``$PYENV_ROOT``, else ``~/.pyenv``). Names
    of versions older than :data:`OLDEST` and pyenv's shims (scripts that run whichever
    version is active) are skipped without being asked.
    """
    listed = os.environ.get(ENV_VAR, "") if listed is None else listed
    root = Path(pyenv_root or os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if listed.strip():
        found = [shutil.which(entry) or entry for entry in listed.split(os.pathsep)
                 if entry.strip()]
    else:
        folders = [folder for folder in (os.environ.get("PATH", "") if path is None
                                         else path).split(os.pathsep)
                   if folder and Path(folder) != root / "shims"]
        found = [hit for folder in folders for label in LABELS
                 if (hit := shutil.which(f"python{label}", path=folder))]
        found += [hit for hit in sorted(glob.glob(str(root / "versions" / "*" / "bin" /
                                                      "python3.*")))
                  if _named_version(hit) is not None]
    seen: set[str] = set()
    unique = []
    for executable in found:
        real = os.path.realpath(executable)
        if real not in seen:
            seen.add(real)
            unique.append(executable)
    return unique


def _named_version(executable: str) -> tuple[int, int] | None:
    """``(3, 12)`` for ``.../python3.12`` or ``python3.12t``; ``None`` for any other name
    and for versions older than :data:`OLDEST`."""
    match = re.fullmatch(r"python(\d+)\.(\d+)t?", Path(executable).name)
    version = (int(match[1]), int(match[2])) if match else None
    return version if version and version >= OLDEST else None


def describe(executable: str, timeout: float = DESCRIBE_TIMEOUT) -> Interpreter | None:
    """What ``executable`` is, or ``None`` when it is not a Python that answers in time (a
    pyenv shim of a version that is not active, a broken link)."""
    try:
        done = subprocess.run([executable, "-I", "-c", _DESCRIBE], capture_output=True,
                              text=True, timeout=timeout, check=False)
        info = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    version = info["version"]
    return Interpreter(label_of(version, info["free_threaded"], info["implementation"]),
                       ".".join(map(str, version)), executable, info["free_threaded"],
                       info["implementation"])


def discover(path: str | None = None, pyenv_root: str | os.PathLike[str] | None = None,
             listed: str | None = None) -> list[Interpreter]:
    """One interpreter per label, 3.10 or later, the running one first and always included,
    the others in the order of :data:`LABELS` (arguments as in :func:`candidates`)."""
    here = current()
    found: dict[str, Interpreter] = {here.label: here}
    for executable in candidates(path, pyenv_root, listed):
        interpreter = describe(executable)
        if interpreter is not None and _counted(interpreter):
            found.setdefault(interpreter.label, interpreter)
    others = sorted((i for i in found.values() if not i.current), key=_order)
    return [here, *others]


def _counted(interpreter: Interpreter) -> bool:
    version = tuple(int(part) for part in interpreter.version.split(".")[:2])
    return version >= OLDEST


def _order(interpreter: Interpreter) -> tuple[int, str]:
    label = interpreter.label
    return (LABELS.index(label) if label in LABELS else len(LABELS), label)


def run_probe(interpreter: Interpreter, params: Mapping[str, Any],
              timeout: float) -> dict[str, Any]:
    """The probe's record (:mod:`mpguide._stdlib_probes`) measured under ``interpreter``.

    Raises :class:`ProbeError` when it fails or does not finish within ``timeout`` seconds;
    either way nothing it started is left running.
    """
    command = [interpreter.executable, *PROBE_FLAGS, str(PROBE_FILE), json.dumps(dict(params))]
    env = {**os.environ, runner.PARENT_PID_ENV: str(os.getpid())}
    before = leftovers.snapshot()
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, start_new_session=True)
    except OSError as exc:
        raise ProbeError(f"{interpreter.executable} could not be started: {exc}") from exc
    with child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            runner.end_group(child.pid, grace=0)
            child.communicate()
            raise ProbeError(f"the probe did not finish within {timeout:g} s under Python "
                             f"{interpreter.version}; it and its processes were killed") \
                from None
        finally:
            runner.end_group(child.pid, grace=runner.GROUP_EXIT_GRACE)
            leftovers.remove_orphans(before)
    lines = stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        raise ProbeError(f"the probe failed under Python {interpreter.version} (exit code "
                         f"{child.returncode}): {tail or 'no output'}")
    try:
        record: dict[str, Any] = json.loads(lines[-1])
    except ValueError as exc:
        raise ProbeError(f"the probe printed no record under Python {interpreter.version}") \
            from exc
    return record


def measure(interpreter: Mapping[str, Any], params: Mapping[str, Any],
            timeout: float) -> dict[str, Any]:
    """:func:`run_probe` of ``interpreter`` (an :meth:`Interpreter.to_dict`), JSON in and out,
    with this machine's metadata under ``"metadata"`` (its ``python`` and ``start_method``
    the probe's): the target that :func:`measure_cached` caches."""
    from mpguide import machine

    record = run_probe(Interpreter(**interpreter), params, timeout)
    record["metadata"] = {**machine.collect_metadata(), "python": record["python"],
                          "start_method": record["params"]["start_method"],
                          "measured_in": f"{PROBE_FILE.name} under {interpreter['executable']}"}
    return record


def measure_cached(interpreter: Interpreter, params: Mapping[str, Any],
                   timeout: float | None = None) -> dict[str, Any] | None:
    """:func:`measure` through the result cache, keyed by the interpreter and ``params``
    (``None`` in a worker re-importing its parent's script, on a cache miss)."""
    from mpguide.experiment import run_cached

    timeout = 2 * config.DEFAULT_TIMEOUT if timeout is None else timeout
    record: dict[str, Any] | None = run_cached(
        "interpreter-probe", f"{__name__}:measure",
        {"interpreter": interpreter.to_dict(), "params": dict(params), "timeout": timeout},
        fresh=False)
    return record

