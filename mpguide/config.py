"""Run-time settings read from the environment: quick mode, start method, timeouts.

``MPGUIDE_QUICK=1`` shrinks every sweep and probe (CI, quick docs builds).
``MPGUIDE_START_METHOD`` picks the start method experiments use; it defaults to the
platform's own default (``forkserver`` on Linux from Python 3.14, ``fork`` before it,
``spawn`` on macOS and Windows).

Examples
--------
>>> from mpguide import config
>>> config.start_method() in {"fork", "spawn", "forkserver"}
True
>>> isinstance(config.quick_mode(), bool)
True
"""

from __future__ import annotations

import multiprocessing
import os
from typing import TypeVar

_T = TypeVar("_T")

START_METHODS = ("fork", "spawn", "forkserver")

#: Seconds any single wait on a pool, process or queue may take before it is abandoned.
DEFAULT_TIMEOUT = 60.0


class ConfigError(ValueError):
    """An environment variable holds a value mpguide cannot use."""


def quick_mode() -> bool:
    """Whether ``MPGUIDE_QUICK`` asks for shrunken sweeps.

    Examples
    --------
    >>> import os
    >>> os.environ["MPGUIDE_QUICK"] = "1"; quick_mode()
    True
    >>> os.environ["MPGUIDE_QUICK"] = "0"; quick_mode()
    False
    >>> del os.environ["MPGUIDE_QUICK"]
    """
    value = os.environ.get("MPGUIDE_QUICK", "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ConfigError(f"MPGUIDE_QUICK={value!r} is not a boolean; use MPGUIDE_QUICK=1 or unset it.")


def mode() -> str:
    """``"quick"`` or ``"full"``, as written in every record and figure caption."""
    return "quick" if quick_mode() else "full"


def available_start_methods() -> list[str]:
    """Start methods this platform supports, the default first."""
    return list(multiprocessing.get_all_start_methods())


def default_start_method() -> str:
    """The platform's default start method, without fixing the global context."""
    return multiprocessing.get_start_method(allow_none=True) or available_start_methods()[0]


def start_method() -> str:
    """The start method experiments use: ``MPGUIDE_START_METHOD`` or the platform default."""
    requested = os.environ.get("MPGUIDE_START_METHOD", "").strip()
    if not requested:
        return default_start_method()
    return validate_start_method(requested)


def resolve_start_method(method: str | None = None) -> str:
    """``method`` checked by :func:`validate_start_method`; ``None`` means :func:`start_method`.

    Examples
    --------
    >>> resolve_start_method("spawn")
    'spawn'
    >>> resolve_start_method() == start_method()
    True
    """
    return validate_start_method(method) if method else start_method()


def validate_start_method(method: str) -> str:
    """Return ``method`` if this platform supports it, else raise a :class:`ConfigError`.

    Examples
    --------
    >>> validate_start_method("spawn")
    'spawn'
    >>> validate_start_method("fork-please")
    Traceback (most recent call last):
    ...
    mpguide.config.ConfigError: start method 'fork-please' is not available here; ...
    """
    available = available_start_methods()
    if method not in available:
        raise ConfigError(
            f"start method {method!r} is not available here; "
            f"choose one of {', '.join(available)} (MPGUIDE_START_METHOD or start_method=)."
        )
    return method


def scaled(full: _T, quick: _T) -> _T:
    """``quick`` in quick mode, ``full`` otherwise: how sweeps shrink for CI.

    Examples
    --------
    >>> scaled(1000, 10) in (1000, 10)
    True
    """
    return quick if quick_mode() else full
