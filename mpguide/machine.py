"""Machine metadata: one flat record of scalars attached to every measurement.

Filled by small ``collect_*`` functions, as pyperf does. The record says where a number came
from (CPU, usable cores, memory, OS, Python, numpy and its BLAS, start methods, load, mpguide
version, date, quick/full mode); :func:`fingerprint` hashes the fields that make a result
belong to one machine, for the result cache.

Examples
--------
>>> from mpguide.machine import collect_metadata, fingerprint
>>> meta = collect_metadata()
>>> meta["usable_cpus"] <= meta["cpu_count"]
True
>>> sorted(set(meta["start_methods"].split(","))) <= ["fork", "forkserver", "spawn"]
True
>>> len(fingerprint(meta))
16
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mpguide import config
from mpguide._version import __version__

Metadata = dict[str, Any]

#: Fields that identify the machine and software a cached result was measured on.
FINGERPRINT_FIELDS = ("cpu_model", "cpu_count", "usable_cpus", "memory_total_gib", "platform",
                      "python_implementation", "python", "numpy", "blas")


def collect_cpu(meta: Metadata) -> None:
    """CPU model, logical cores and cores usable by this process (affinity / cgroup)."""
    meta["cpu_model"] = _cpu_model()
    meta["cpu_count"] = os.cpu_count() or 1
    meta["usable_cpus"] = usable_cpus()
    meta["usable_cpus_from"] = usable_cpus_source()


#: Where the cgroup file systems are mounted on Linux.
CGROUP_ROOT = "/sys/fs/cgroup"


def affinity_cpus() -> int:
    """Cores in this process's affinity mask where the OS has one, else ``cpu_count``."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_cpu_quota(root: str | os.PathLike[str] = CGROUP_ROOT) -> float | None:
    """CPUs a cgroup CPU quota allows (quota / period, e.g. ``1.5``), ``None`` without one.

    Reads cgroup v2's ``cpu.max`` (``"150000 100000"``; ``"max 100000"`` is no quota) under
    ``root``, else cgroup v1's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota ``-1`` is
    none) under ``root/cpu``, ``root/cpu,cpuacct`` or ``root``. A container runtime's
    ``--cpus`` sets this quota; the affinity mask does not show it. ``root`` is a parameter so
    tests can point it at a fake directory.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> fake = Path(tempfile.mkdtemp())
    >>> _ = (fake / "cpu.max").write_text("150000 100000")
    >>> cgroup_cpu_quota(fake)
    1.5
    >>> _ = (fake / "cpu.max").write_text("max 100000")
    >>> cgroup_cpu_quota(fake) is None
    True
    """
    base = Path(root)
    text = _read(base / "cpu.max")
    if text is not None:
        quota, _, period = text.partition(" ")
    else:
        for folder in (base / "cpu", base / "cpu,cpuacct", base):
            quota = _read(folder / "cpu.cfs_quota_us") or ""
            period = _read(folder / "cpu.cfs_period_us") or ""
            if quota and period:
                break
        else:
            return None
    try:
        q, p = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    return q / p if q > 0 and p > 0 else None


def usable_cpus(cgroup_root: str | os.PathLike[str] = CGROUP_ROOT) -> int:
    """Cores this process may use: its affinity mask (:func:`affinity_cpus`), capped by a
    cgroup CPU quota rounded up (:func:`cgroup_cpu_quota`, read under ``cgroup_root``).

    The one source of worker counts in mpguide: a container limited to 1.5 CPUs on a 4-core
    host gets 2, not 4.
    """
    cpus = affinity_cpus()
    quota = cgroup_cpu_quota(cgroup_root)
    return cpus if quota is None else max(1, min(cpus, math.ceil(quota)))


def usable_cpus_source(cgroup_root: str | os.PathLike[str] = CGROUP_ROOT) -> str:
    """What :func:`usable_cpus` was decided by, for the machine card: ``"affinity mask"``,
    or the cgroup quota when it is the smaller (``"cgroup CPU quota 1.5"``)."""
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None and math.ceil(quota) < affinity_cpus():
        return f"cgroup CPU quota {quota:g}"
    return "affinity mask"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def collect_memory(meta: Metadata) -> None:
    """Total and available memory in GiB (psutil)."""
    import psutil

    memory = psutil.virtual_memory()
    meta["memory_total_gib"] = round(memory.total / 2**30, 1)
    meta["memory_available_gib"] = round(memory.available / 2**30, 1)


def collect_system(meta: Metadata) -> None:
    """Operating system and the 1-minute load average (how busy the machine was)."""
    meta["platform"] = platform.platform(terse=True)
    meta["os"] = sys.platform
    meta["load_avg_1m"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def collect_python(meta: Metadata) -> None:
    """Python version and implementation."""
    meta["python"] = platform.python_version()
    meta["python_implementation"] = platform.python_implementation()


def collect_numpy(meta: Metadata) -> None:
    """numpy version, its BLAS library and that library's thread count (threadpoolctl)."""
    try:
        import numpy as np
        from threadpoolctl import threadpool_info
    except ImportError:
        meta["numpy"] = meta["blas"] = None
        meta["blas_threads"] = None
        return
    meta["numpy"] = np.__version__
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    meta["blas"] = ",".join(f"{b['internal_api']} {b['version']}" for b in blas) or None
    meta["blas_threads"] = max((b["num_threads"] for b in blas), default=None)


def collect_multiprocessing(meta: Metadata) -> None:
    """Start methods available here, the platform default, and the one experiments use."""
    meta["start_methods"] = ",".join(config.available_start_methods())
    meta["default_start_method"] = config.default_start_method()
    meta["start_method"] = config.start_method()


def collect_run(meta: Metadata) -> None:
    """mpguide version, date and quick/full mode."""
    meta["mpguide_version"] = __version__
    meta["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    meta["mode"] = config.mode()


COLLECTORS: tuple[Callable[[Metadata], None], ...] = (
    collect_cpu, collect_memory, collect_system, collect_python, collect_numpy,
    collect_multiprocessing, collect_run,
)


def collect_metadata() -> Metadata:
    """Run every collector and return the flat metadata record."""
    meta: Metadata = {}
    for collect in COLLECTORS:
        collect(meta)
    return meta


def fingerprint(meta: Metadata | None = None) -> str:
    """Short stable hash of the fields in :data:`FINGERPRINT_FIELDS`."""
    meta = collect_metadata() if meta is None else meta
    key = json.dumps({f: meta.get(f) for f in FINGERPRINT_FIELDS}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def caption(meta: Metadata, start_method: str | None = None) -> str:
    """One line saying where a figure came from, for plot captions.

    Examples
    --------
    >>> caption({"cpu_model": "Xeon", "usable_cpus": 2, "python": "3.11.7",
    ...          "start_method": "fork", "date": "2026-11-23T10:00:00+00:00",
    ...          "mpguide_version": "0.1.0", "mode": "quick"})
    'Xeon, 2 usable cores, Python 3.11.7, start method fork, 2026-11-23, mpguide 0.1.0, quick mode'
    """
    method = start_method or meta.get("start_method", "?")
    return (f"{meta.get('cpu_model', '?')}, {meta.get('usable_cpus', '?')} usable cores, "
            f"Python {meta.get('python', '?')}, start method{'s' * (',' in method)} {method}, "
            f"{str(meta.get('date', '?'))[:10]}, mpguide {meta.get('mpguide_version', '?')}, "
            f"{meta.get('mode', '?')} mode")


def caption_for(source: Any, start_method: str | None = None) -> str:
    """The caption of ``source``: a caption string as it is, a metadata dict through
    :func:`caption`, or a tidy frame through the metadata columns of its first row (and every
    start method its rows name; an empty frame is captioned with this machine); ``start_method``
    overrides the one in the metadata.

    Examples
    --------
    >>> caption_for("my laptop")
    'my laptop'
    >>> caption_for({"cpu_model": "Xeon", "usable_cpus": 2}, "spawn")[:40]
    'Xeon, 2 usable cores, Python ?, start me'
    """
    if isinstance(source, str):
        return source
    if hasattr(source, "iloc"):  # a tidy frame: its metadata columns
        if source.empty:  # nothing measured (a case this machine cannot run): the machine now
            return caption(collect_metadata(), start_method)
        if "cpu_model" not in source.columns:
            raise ValueError("the frame carries no machine metadata columns to caption with; "
                             "pass a metadata dict or a caption string instead")
        if start_method is None and "start_method" in source.columns:
            methods = source["start_method"].dropna().astype(str).unique()
            start_method = ", ".join(methods) if len(methods) else None
        source = source.iloc[0].to_dict()
    if isinstance(source, Mapping):
        return caption(dict(source), start_method)
    raise TypeError(f"a caption comes from a string, a metadata dict or a tidy frame, not "
                    f"{type(source).__name__}")
