"""Result cache: JSON files keyed by experiment, parameters, machine and mpguide version.

A docs build measures each experiment once; every page that shows the number reads the same
record. The cache is data, never code: JSON only, written atomically (a crash leaves the old
file or none, never half a file). An entry that is corrupt, or that was measured on another
machine or another mpguide version, is re-measured with a :class:`CacheWarning`.

Several processes may share one cache (two docs builds at once): an entry is measured under
a lock (``flock`` on a file beside it, released by the kernel if its holder dies), so the
second process waits, bounded by :data:`LOCK_WAIT_S`, and reads what the first one measured
instead of measuring beside it. A folder that cannot be written (read-only, full, not ours)
raises a :class:`CacheError` that names it, before anything is measured; a temporary file
that a killed writer left is removed by the next write.

Entries are also keyed by a hash of mpguide's own source files (:func:`source_hash`), the
quick/full mode and the start method, so editing the package, or building in another mode,
measures anew instead of reading numbers produced by other code or settings.
``MPGUIDE_FRESH_SINCE`` (seconds since the epoch) re-measures every entry written before that
time, once: the docs build uses it so that a fresh build measures each experiment once and all
its pages then read that same record.

Examples
--------
>>> import tempfile
>>> from mpguide.cache import ResultCache
>>> cache = ResultCache(tempfile.mkdtemp())
>>> calls = []
>>> def experiment(n):
...     calls.append(n)
...     return {"n": n, "square": n * n}
>>> cache.get_or_measure("squares", {"n": 3}, experiment)
{'n': 3, 'square': 9}
>>> cache.get_or_measure("squares", {"n": 3}, experiment)  # read back, not re-measured
{'n': 3, 'square': 9}
>>> calls
[3]
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mpguide import config, machine
from mpguide._version import __version__

#: Where caches live unless told otherwise (``MPGUIDE_CACHE_DIR`` overrides).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "mpguide"


#: The longest a process waits for another that is measuring the same entry (seconds): the
#: docs build's own bound, after which something is wrong with the other process.
LOCK_WAIT_S = 3600.0
#: How often a waiting process tries the lock again (seconds).
LOCK_POLL_S = 0.2


class CacheWarning(UserWarning):
    """A cache entry was unusable and is being re-measured."""


class CacheError(RuntimeError):
    """The cache folder cannot be written, or another process holds an entry too long."""


def default_cache_dir() -> Path:
    """``MPGUIDE_CACHE_DIR`` if set, else ``~/.cache/mpguide``."""
    return Path(os.environ.get("MPGUIDE_CACHE_DIR") or DEFAULT_CACHE_DIR)


class ResultCache:
    """JSON result cache in a directory: one file per experiment and parameter set.

    Parameters
    ----------
    root
        Directory for the cache files (created when first written).
    fingerprint
        Machine fingerprint stored with each entry (default: :func:`machine.fingerprint`).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 fingerprint: str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.fingerprint = fingerprint or machine.fingerprint()

    def path(self, experiment: str, params: Mapping[str, Any]) -> Path:
        """File holding ``experiment`` measured with ``params``."""
        if not experiment or "/" in experiment or experiment.startswith("."):
            raise ValueError(f"experiment name {experiment!r} must be a plain file-name part")
        located = {"params": json.loads(_canonical(params)), **_context()}
        digest = hashlib.sha256(_canonical(located).encode()).hexdigest()[:16]
        return self.root / experiment / f"{digest}.json"

    def load(self, experiment: str, params: Mapping[str, Any]) -> Any | None:
        """The cached result, or ``None`` (with a :class:`CacheWarning` if one was unusable)."""
        path = self.path(experiment, params)
        if not path.exists() or path.stat().st_mtime < fresh_since():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            key = entry["key"]
            result = entry["result"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"cache entry {path} is corrupt ({exc}); re-measuring.", CacheWarning,
                          stacklevel=2)
            return None
        expected = self._key(experiment, params)
        if key != expected:
            why = ", ".join(f"{k} {key.get(k)!r} != {v!r}" for k, v in expected.items()
                            if key.get(k) != v)
            warnings.warn(f"cache entry {path} belongs elsewhere ({why}); re-measuring.",
                          CacheWarning, stacklevel=2)
            return None
        return result

    def store(self, experiment: str, params: Mapping[str, Any], result: Any,
              measured_s: float | None = None) -> Path:
        """Write ``result`` (JSON-ready) atomically and return its path.

        ``measured_s``, the seconds measuring it took, is kept beside it for :func:`costs`.
        Raises :class:`CacheError` when the folder cannot be written (the file is then
        unchanged).
        """
        path = self.path(experiment, params)
        entry = {"key": self._key(experiment, params), "result": result,
                 "measured_s": measured_s}
        text = json.dumps(entry, indent=1, sort_keys=True, allow_nan=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_abandoned(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{os.getpid()}-",
                                       suffix=".json")
        except OSError as exc:
            raise unwritable(path.parent, exc) from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise unwritable(path.parent, exc) from exc
            raise
        return path

    def check_writable(self, experiment: str) -> None:
        """Raise :class:`CacheError` unless the folder of ``experiment`` can be written."""
        folder = self.root / experiment
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder, prefix=f".tmp-{os.getpid()}-"):
                pass
        except OSError as exc:
            raise unwritable(folder, exc) from exc

    @contextlib.contextmanager
    def locked(self, experiment: str, params: Mapping[str, Any],
               wait_s: float | None = None) -> Iterator[None]:
        """Hold the entry's lock: other processes asking for the same entry wait meanwhile.

        The wait is bounded by ``wait_s`` (default :data:`LOCK_WAIT_S`); a holder that dies
        frees the lock at once.
        """
        path = self.path(experiment, params)
        lock = path.with_name(f".{path.stem}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise unwritable(path.parent, exc) from exc
        try:
            deadline = time.monotonic() + (LOCK_WAIT_S if wait_s is None else wait_s)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise CacheError(
                            f"another process has held {lock} for longer than "
                            f"{LOCK_WAIT_S if wait_s is None else wait_s:.0f} s while "
                            f"measuring {experiment!r}; end it (see `fuser {lock}`) or point "
                            f"MPGUIDE_CACHE_DIR elsewhere.") from None
                    time.sleep(LOCK_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def get_or_measure(self, experiment: str, params: Mapping[str, Any],
                       measure: Callable[..., Any], *, fresh: bool = False) -> Any:
        """Cached result of ``measure(**params)``, measuring and storing it when needed.

        ``fresh=True`` (or ``MPGUIDE_FRESH=1``) ignores the cache and re-measures.
        """
        fresh = fresh or os.environ.get("MPGUIDE_FRESH", "") not in {"", "0"}
        if not fresh:
            cached = self.load(experiment, params)
            if cached is not None:
                return cached
        self.check_writable(experiment)  # before minutes of measuring, not after
        waited_since = time.time()
        with self.locked(experiment, params):
            path = self.path(experiment, params)
            if path.exists() and path.stat().st_mtime >= waited_since:
                # Another process measured it while this one waited for the lock.
                cached = self.load(experiment, params)
                if cached is not None:
                    return cached
            started = time.perf_counter()
            result = measure(**params)
            self.store(experiment, params, result, time.perf_counter() - started)
        return result

    def _key(self, experiment: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"experiment": experiment, "params": json.loads(_canonical(params)),
                "fingerprint": self.fingerprint, "mpguide_version": __version__,
                **_context()}


def costs(root: str | os.PathLike[str] | None = None,
          since: float = 0.0) -> list[tuple[str, float]]:
    """Seconds each experiment of the cache at ``root`` took to measure, summed over its
    entries written at ``since`` (seconds since the epoch) or later, the costliest first:
    where a fresh docs build spends its time.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> _ = cache.get_or_measure("nap", {"s": 0.01}, lambda s: time.sleep(s))
    >>> [(name, seconds >= 0.01) for name, seconds in costs(cache.root)]
    [('nap', True)]
    """
    totals: dict[str, float] = {}
    for path in Path(root if root is not None else default_cache_dir()).glob("*/*.json"):
        with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
            if path.stat().st_mtime < since:
                continue
            seconds = json.loads(path.read_text(encoding="utf-8")).get("measured_s")
            if seconds is not None:
                totals[path.parent.name] = totals.get(path.parent.name, 0.0) + float(seconds)
    return sorted(totals.items(), key=lambda pair: -pair[1])


def unwritable(folder: Path, exc: OSError) -> CacheError:
    """The :class:`CacheError` for a cache folder that cannot be written."""
    return CacheError(
        f"mpguide cannot write its result cache in {folder} ({exc.strerror or exc}): free "
        f"some disk space or make that folder writable, or point MPGUIDE_CACHE_DIR at a "
        f"writable folder.")


def _remove_abandoned(folder: Path) -> None:
    """Remove the temporary files of writers that died before renaming them."""
    import psutil

    for tmp in folder.glob(".tmp-*"):
        pid = tmp.name.split("-")[1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def fresh_since() -> float:
    """``MPGUIDE_FRESH_SINCE`` as seconds since the epoch: older entries are re-measured."""
    value = os.environ.get("MPGUIDE_FRESH_SINCE", "").strip()
    try:
        return float(value) if value else 0.0
    except ValueError:
        raise config.ConfigError(f"MPGUIDE_FRESH_SINCE={value!r} is not a time in seconds "
                                 "since the epoch; unset it or use e.g. $(date +%s).") from None


@functools.cache
def source_hash() -> str:
    """Short hash of every ``.py`` file of the mpguide package (names and contents).

    Part of every cache key, so a change to mpguide's code re-measures what it produces.

    Examples
    --------
    >>> len(source_hash())
    16
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _context() -> dict[str, str]:
    """Settings that change what an experiment measures, beyond its parameters."""
    return {"source": source_hash(), "mode": config.mode(),
            "start_method": config.start_method()}


def _canonical(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)
