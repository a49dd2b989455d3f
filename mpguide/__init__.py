"""mpguide: measure, explain and predict Python multiprocessing performance.

Public names are imported lazily, so ``import mpguide`` (and every ``spawn`` worker that
unpickles a function from :mod:`mpguide.workloads`) stays as cheap as a stdlib import.
:data:`_PUBLIC` is the one list of them: each name maps to the kit module that defines it, and
a module maps to itself. ``__all__`` and ``dir(mpguide)`` are derived from it.

The guide's chapters (the ``chapters`` subpackage) are not part of it: the kit never imports them.

Examples
--------
>>> import mpguide
>>> mpguide.__version__ == mpguide._version.__version__
True
>>> mpguide.bounded_map is mpguide.pools.bounded_map
True
>>> mpguide.advise is mpguide.advisor.advise
True
>>> "executors" in mpguide.__all__ and "advise" in dir(mpguide)
True
"""

from __future__ import annotations

import importlib
from typing import Any

from mpguide._version import __version__

#: Public name -> kit module (``mpguide.<module>``) that defines it; a module maps to itself.
_PUBLIC = {
    # modules
    "advisor": "advisor",
    "blas": "blas",
    "cache": "cache",
    "card": "card",
    "claims": "claims",
    "cli": "cli",
    "cluster": "cluster",
    "compare": "compare",
    "config": "config",
    "executors": "executors",
    "experiment": "experiment",
    "machine": "machine",
    "model": "model",
    "peers": "peers",
    "plotting": "plotting",
    "pools": "pools",
    "probes": "probes",
    "profiler": "profiler",
    "report": "report",
    "runner": "runner",
    "shm": "shm",
    "timing": "timing",
    "tracer": "tracer",
    "workloads": "workloads",
    # functions and classes
    "Advice": "advisor",
    "AdviceError": "profiler",
    "advise": "advisor",
    "ConfigError": "config",
    "Experiment": "experiment",
    "Result": "experiment",
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
    "show": "report",
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
    "MachineCosts": "model",
    "Prediction": "model",
    "Profile": "model",
    "trace": "tracer",
    "Trace": "tracer",
}

__all__ = ["__version__", *_PUBLIC]  # noqa: PLE0604 (keys are strings)


def __getattr__(name: str) -> Any:
    try:
        module_name = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'mpguide' has no attribute {name!r}") from None
    module = importlib.import_module(f"mpguide.{module_name}")
    return module if module_name == name else getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
