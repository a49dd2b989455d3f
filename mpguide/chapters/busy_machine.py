"""Chapter 3, part 1 continued: how many workers when another program keeps one core busy.

:mod:`mpguide.chapters.tuning` declares the chapter. The seed's ``processes = cores - 1``
("leave a core for the OS and I/O") is a rule for a busy machine, so it is measured on one:
:func:`spinning` keeps one core busy with another program (a fresh Python spinning on
``while True: pass``) while ``Pool(usable - 1)`` and ``Pool(usable)`` map the pure-Python
items of the pool-size sweep (:mod:`mpguide.chapters.pool_size`), at chunksize 1 and at Pool's
default, interleaved and checked against the loop. It is not a plain map through executors
(the other program runs beside them), so it goes through :func:`mpguide.experiment.run_cached`
(fresh interpreter, cached), declared by :func:`busy_params`; :func:`load_busy` returns the
tidy frame. On a one-core machine nothing is measured: the frame has no rows.

Examples
--------
>>> from mpguide.chapters import busy_machine
>>> with busy_machine.spinning() as other:
...     other.is_running()
True
>>> other.is_running()
False
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpguide import claims, config, executors, machine, timing, workloads
from mpguide.chapters import pool_size
from mpguide.chapters.task_duration import spin_items
from mpguide.chapters.tuning import CHAPTER
from mpguide.experiment import REPEATS, code_hash, run_cached

if TYPE_CHECKING:
    import pandas as pd
    import psutil

#: The other program: a Python that spins on one core until it is killed.
OTHER_PROGRAM = "while True: pass"

#: CPU seconds the other program must have used before :func:`spinning` yields (it is busy).
SPUN_UP_CPU_S = 0.02

#: How much slower ``Pool(usable)`` may be than ``Pool(usable - 1)`` and still count as no
#: slower (the extra worker's turns on the shared cores are not free).
NO_SLOWER = 1.05


def _cpu_s(process: psutil.Process) -> float:
    """CPU seconds ``process`` has used: from the scheduler's nanosecond count on Linux
    (``/proc/<pid>/schedstat``), else from psutil (in clock ticks, often 10 ms)."""
    try:
        with open(f"/proc/{process.pid}/schedstat", encoding="ascii") as schedstat:
            return int(schedstat.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        times = process.cpu_times()
        return float(times.user + times.system)


@contextlib.contextmanager
def spinning(timeout: float = 10.0) -> Iterator[psutil.Process]:
    """Another program keeping one core busy for the block: yields it (a
    :class:`psutil.Process`) once it has spun :data:`SPUN_UP_CPU_S`, within ``timeout``
    seconds; it is always killed and reaped on exit."""
    import psutil

    program = subprocess.Popen([sys.executable, "-S", "-c", OTHER_PROGRAM],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        other = psutil.Process(program.pid)
        deadline = time.monotonic() + timeout
        while _cpu_s(other) < SPUN_UP_CPU_S:
            if program.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the spinning program did not start within {timeout} s "
                                   f"(exit code {program.poll()})")
            time.sleep(0.005)
        yield other
    finally:
        program.kill()
        program.wait(timeout)


def busy_params(func: Callable[[Any], Any] = workloads.spin,
                items: Callable[..., Sequence[Any]] | Sequence[Any] = spin_items,
                params: Mapping[str, Any] | None = None,
                start_method: str | None = None) -> dict[str, Any]:
    """The ``run_cached`` params, not run: ``func`` (importable) over ``items`` (a factory
    called with ``params`` where it runs, or a JSON-able list) through ``Pool(usable - 1)``
    and ``Pool(usable)`` at chunksize 1 and at Pool's default (none on a one-core machine), 5
    repeats (3 in quick mode). The defaults are the pure-Python items of
    :func:`~mpguide.chapters.pool_size.pool_size_params`.

    Examples
    --------
    >>> [p["workers"] for p in busy_params()["pools"]] == (
    ...     [machine.usable_cpus() - 1, machine.usable_cpus()] * 2
    ...     if machine.usable_cpus() >= 2 else [])
    True
    """
    usable = machine.usable_cpus()
    method = config.resolve_start_method(start_method)
    pools = [executors.Pool(w, chunksize=c, start_method=method)
             for c in (1, None) for w in ([usable - 1, usable] if usable >= 2 else [])]
    return {"func": executors.target_of(func), "func_hash": code_hash(func),
            "items": executors.target_of(items) if callable(items) else list(items),
            "items_params": dict(pool_size.pool_size_params() if params is None else params),
            "pools": [p.to_dict() for p in pools], "repeats": REPEATS}


def measure_busy(*, func: str, items: str | list[Any], items_params: Mapping[str, Any],
                 pools: list[dict[str, Any]], repeats: int,
                 func_hash: str | None = None) -> list[dict[str, Any]]:
    """Seconds of the loop and of each of ``pools`` (:class:`mpguide.executors.Pool` specs,
    maps on started pools) mapping ``func`` (``"module:function"``) over ``items`` (a
    ``"module:function"`` factory called with ``items_params``, or the list) while
    :func:`spinning` keeps one core busy, and the CPU share the spinning program got meanwhile
    (``other_share``, of one core). One round checks every pool against the loop, then
    ``repeats`` rounds time them, interleaved; each pool is started and stopped in its turn
    (one alive at a time). ``func_hash`` only keys the cache (an edited function is measured
    again)."""
    specs = [executors.from_dict(p) for p in pools]
    if not specs:
        return []
    task = executors.resolve_target(func)
    args = list(executors.resolve_target(items)(**items_params) if isinstance(items, str)
                else items)
    expected = [task(a) for a in args]
    timeout = config.DEFAULT_TIMEOUT
    records = []
    with spinning() as other:
        for rnd in range(repeats + 1):
            for spec in [executors.Loop(), *specs]:
                elapsed, other_cpu, out = _timed_map(other, spec, task, args, timeout)
                if rnd == 0:
                    timing.check_same(expected, out, f"the result of {spec.label}")
                    continue
                records.append({**spec.record(), "workers": _workers(spec), "repeat": rnd - 1,
                                "chunking": _chunking(spec, len(args)), "func": func,
                                "n_items": len(args), "seconds": elapsed,
                                "other_share": other_cpu / elapsed})
    method = str(specs[0].record()["start_method"])
    meta = {**machine.collect_metadata(), "measured_in": "fresh interpreter"}
    return [{**meta, **r, "start_method": method} for r in records]


def _chunking(spec: executors.Executor, n_items: int) -> str:
    if not isinstance(spec, executors.Pool):
        return "loop"
    if spec.chunksize is None:
        return f"default ({executors.default_chunksize(n_items, spec.parallelism)})"
    return f"chunksize {spec.chunksize}"


def _workers(spec: executors.Executor) -> int:
    return spec.parallelism if isinstance(spec, executors.Pool) else 0


def _timed_map(other: psutil.Process, spec: executors.Executor, func: Callable[[Any], Any],
               args: list[Any], timeout: float) -> tuple[float, float, list[Any]]:
    """Wall seconds of one map of ``func`` over ``args`` on ``spec`` started (every worker
    busy once before), the other program's CPU seconds meanwhile, and the results."""
    with spec.started(timeout) as run:
        run(func, args[: spec.parallelism])
        cpu, start = _cpu_s(other), time.perf_counter()
        out = run(func, args)
        return time.perf_counter() - start, _cpu_s(other) - cpu, out


def load_busy(params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Tidy frame of :func:`measure_busy` with ``params`` (default: :func:`busy_params`;
    fresh interpreter, cached); no rows on a one-core machine."""
    import pandas as pd

    params = busy_params() if params is None else params
    rows = run_cached("tuning-busy-core", f"{__name__}:measure_busy", params,
                      timeout=config.DEFAULT_TIMEOUT * 10)
    columns = ["label", "workers", "chunking", "repeat", "seconds", "other_share"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def busy_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per executor: median seconds, spread, ``speedup`` over the loop (timed beside the same
    spinning program) and the spinning program's median CPU share (of one core)."""
    out = timing.summarize(df, ["label", "workers", "chunking"], value="seconds")
    serial = float(out.loc[out.workers == 0, "median"].iloc[0]) if len(out) else 0.0
    out["speedup"] = serial / out["median"]
    share = df.groupby("label", sort=False)["other_share"].median()
    out["other_share"] = out["label"].map(share)
    return out


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------


@claims.claim("busy-core-still-wants-all-workers", chapter=CHAPTER,
              statement="With another program spinning on one of {usable} usable cores, "
                        "Pool({usable}) ran pure-Python tasks {gain} than Pool({fewer}) at "
                        "chunksize 1 and {default_gain} at Pool's default chunksize; the "
                        "other program got {share_all} of a core beside Pool({usable}) and "
                        "{share_fewer} beside Pool({fewer}).")
def _busy_core() -> claims.Evidence:
    df = load_busy()
    if df.empty:
        return claims.Evidence(holds=False, values=dict.fromkeys(
            ["fewer", "gain", "default_gain", "share_all", "share_fewer"],
            pool_size.NOT_MEASURED) | {"usable": machine.usable_cpus()},
            evidence="No core to leave free on this machine.")
    usable = int(df.usable_cpus.iloc[0])
    summary = busy_summary(df)
    pools = summary[summary.workers > 0]
    one = pools[pools.chunking == "chunksize 1"].set_index("workers")
    default = pools[pools.chunking != "chunksize 1"].set_index("workers")
    fewer = usable - 1
    gain = float(one.loc[fewer, "median"] / one.loc[usable, "median"])
    default_gain = float(default.loc[fewer, "median"] / default.loc[usable, "median"])
    return claims.Evidence(
        holds=min(gain, default_gain) >= 1 / NO_SLOWER,
        values={"usable": usable, "fewer": fewer, "gain": claims.ratio_phrase(gain, ".2f"),
                "default_gain": claims.ratio_phrase(default_gain, ".2f"),
                "share_all": f"{one.loc[usable, 'other_share']:.0%}",
                "share_fewer": f"{one.loc[fewer, 'other_share']:.0%}",
                "gain_ratio": gain, "default_gain_ratio": default_gain},
        evidence=f"Holds where Pool({usable}) is at most {NO_SLOWER:g}x as slow as "
                 f"Pool({fewer}) at both chunksizes. Median seconds of maps on started pools, "
                 f"interleaved{pool_size.load_note(df)}; the other program's share is its "
                 "CPU time over the map's.")
