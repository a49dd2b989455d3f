"""mpguide: measure, explain and predict Python multiprocessing performance.

Public names are imported lazily, so ``import mpguide`` (and every ``spawn`` worker that
unpickles a function from :mod:`mpguide.workloads`) stays as cheap as a stdlib import.

Examples
--------
>>> import mpguide
>>> mpguide.__version__ == mpguide._version.__version__
True
>>> mpguide.bounded_map is mpguide.pools.bounded_map
True
"""

from __future__ import annotations

import importlib
from typing import Any

from mpguide._version import __version__

_EXPORTS = {
    "ConfigError": "config",
    "Measurement": "timing",
    "Stats": "timing",
    "TimingError": "timing",
    "measure": "timing",
    "measure_once": "timing",
    "check_same": "timing",
    "summarize": "timing",
    "bounded_map": "pools",
    "bounded_pool": "pools",
    "PoolError": "pools",
    "UnpicklableError": "pools",
    "WorkerDiedError": "pools",
    "WorkerError": "pools",
    "PoolTimeoutError": "pools",
    "run_fresh": "runner",
    "FreshInterpreterError": "runner",
    "collect_metadata": "machine",
    "ResultCache": "cache",
    "shared_array": "shm",
    "shared_arena": "shm",
    "SharedArrayHandle": "shm",
    "machine_card": "card",
    "card_frame": "card",
    "speedup_plot": "plotting",
    "chunksize_plot": "plotting",
    "throughput_plot": "plotting",
    "add_caption": "plotting",
    "Advice": "advise",
    "AdviceError": "advise",
    "MachineCosts": "model",
    "Prediction": "model",
    "Profile": "model",
}

_SUBMODULES = {
    "_version",
    "advise",
    "cache",
    "card",
    "choosing",
    "claims",
    "config",
    "machine",
    "model",
    "overhead",
    "plotting",
    "pools",
    "probes",
    "runner",
    "shm",
    "timing",
    "transfer",
    "tuning",
    "validate",
    "waiting",
    "workloads",
}

__all__ = ["__version__", *_EXPORTS.keys()]  # noqa: PLE0604 (keys are strings)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"mpguide.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"mpguide.{name}")
    raise AttributeError(f"module 'mpguide' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})
