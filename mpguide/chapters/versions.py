"""Chapter 9: what each Python version changes, measured under every interpreter found here.

:func:`mpguide.interpreters.discover` finds the interpreters of this machine (CPython 3.10
and later, free-threaded builds included); the standard-library probe
(:mod:`mpguide._stdlib_probes`: pool start+stop per start method, per-item overhead,
pickling, shared memory, threads) runs under each with the sizes of :func:`probe_params`,
through the result cache, one entry per interpreter (:func:`load_versions`).
:func:`versions_table` has one row per version of :data:`~mpguide.interpreters.LABELS`:
measured where that interpreter exists here, "not installed on this machine" and no number
where it does not. :data:`DOCUMENTED` is what the CPython documentation says the recent
versions change, with the source; :func:`documented_table` says beside each what this
machine measured of it, or that it could not.

Examples
--------
>>> from mpguide.chapters import versions
>>> record = {"python": "3.14.0", "error": "the probe failed"}
>>> versions.measured({"3.14": record, "3.12": None})
{}
>>> versions.versions_table({}).loc["3.14t", "status"]
'not installed on this machine'
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from mpguide import claims, config, interpreters, machine, plotting
from mpguide.card import format_value

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHAPTER = claims.Chapter(
    name="versions", page="guide/09-versions", title="What each Python version changes",
    summary="The same probes under every Python on this machine, 3.10 to 3.14 and the "
            "free-threaded builds: pool start-up per start method, per-item cost, pickling, "
            "shared memory; and what 3.13 and 3.14 change, with the sources.")

#: What a row of an interpreter that is not on this machine says (and nothing else).
ABSENT = "not installed on this machine"
#: Start methods in the order the table and the figure show them.
METHODS = ("fork", "spawn", "forkserver")
#: Claim ``fork-beats-forkserver-every-python``: fork starts a pool at least this many times
#: faster than forkserver on every interpreter.
FORK_ADVANTAGE = 2.0
#: Claims ``item-overhead-no-dearer-on-newer`` and ``spawn-start-no-slower-on-newer``: the
#: newest interpreter's cost is at most this factor times the oldest's.
NEWER_TOLERANCE = 1.25
#: Demonstration ``protocol-5-costs-nothing``: pickling at protocol 5 costs at most this factor
#: times the default protocol's (both write the same bytes for these payloads).
PROTOCOL_BAND = 1.25

class Change(NamedTuple):
    """A documented change: the version, what changes, the source, and what
    :func:`observed` looks up on this machine (``key``)."""

    version: str
    change: str
    source: str
    key: str


#: What the recent versions change for multiprocessing, as documented (the source of each).
DOCUMENTED = (
    Change("3.13", "`SharedMemory(..., track=True)` by default; `track=False` keeps the "
                   "resource tracker from unlinking a segment that other processes still use",
           "gh-82300; `multiprocessing.shared_memory` docs", "track"),
    Change("3.13", "pools and executors size themselves with `os.process_cpu_count()` (the "
                   "CPUs this process may use) instead of `os.cpu_count()`",
           "`concurrent.futures` and `os` docs (3.13)", "process_cpu_count"),
    Change("3.13t", "a free-threaded build, experimental; the HOWTO quotes about 40% "
                    "single-thread overhead on pyperformance",
           "free-threading HOWTO (Python 3.13)", "threads"),
    Change("3.14", "the default start method is `forkserver` on Linux and other POSIX systems "
                   "except macOS (`spawn` there and on Windows); the fork server's socket is "
                   "authenticated", "What's New in Python 3.14; gh-84559",
           "default_start_method"),
    Change("3.14", "pickle's default protocol is 5 (4 from 3.8 to 3.13); multiprocessing "
                   "pickles with the default", "What's New in Python 3.14; `pickle` docs",
           "protocol"),
    Change("3.14", "`concurrent.futures.InterpreterPoolExecutor` (PEP 734): workers are "
                   "interpreters of one process, each with its own GIL; calls and results are "
                   "pickled and functions of `__main__` cannot be used",
           "`concurrent.futures` docs; What's New in Python 3.14", "interpreter_pool"),
    Change("3.14t", "free threading officially supported (PEP 779), single-thread penalty "
                    "\"roughly 5-10%\"", "What's New in Python 3.14", "threads"),
)


def probe_params() -> dict[str, Any]:
    """The probe's sizes on this machine: as many workers as usable cores, the start method
    the build uses, repeats and payloads shrunk in quick mode.

    Examples
    --------
    >>> params = probe_params()
    >>> params["workers"] == machine.usable_cpus(), params["start_method"] == config.start_method()
    (True, True)
    """
    return {"workers": machine.usable_cpus(), "start_method": config.start_method(),
            "repeats": 3, "map_items": config.scaled(2000, 1000),
            "pickle_floats": config.scaled(1_000_000, 200_000),
            "pickle_bytes": config.scaled(4, 1) * 2**20,
            "shm_bytes": config.scaled(32, 16) * 2**20,
            "thread_task_s": config.scaled(0.03, 0.02), "timeout": config.DEFAULT_TIMEOUT}


@functools.cache
def found() -> tuple[interpreters.Interpreter, ...]:
    """The interpreters of this machine (:func:`mpguide.interpreters.discover`, once per
    process)."""
    return tuple(interpreters.discover())


def load_versions(params: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The probe's record for each interpreter found, by label (cached per interpreter); an
    interpreter whose probe failed gets ``{"python", "error"}`` instead, and nothing is cached
    for it, so the next build tries again."""
    params = probe_params() if params is None else params
    records = {}
    for interpreter in found():
        try:
            record = interpreters.measure_cached(interpreter, params)
        except interpreters.ProbeError as exc:  # one broken interpreter is a row, not a crash
            record = {"python": interpreter.version, "error": str(exc).split("\n")[0]}
        if record is not None:
            records[interpreter.label] = record
    return records


def measured(records: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The records that hold measurements (not ``None``, no ``error``), in the order of
    :data:`~mpguide.interpreters.LABELS`."""
    ok = {label: r for label, r in records.items() if r and "error" not in r}
    return dict(sorted(ok.items(), key=lambda item: _rank(item[0])))


def _rank(label: str) -> tuple[int, str]:
    labels = interpreters.LABELS
    return (labels.index(label) if label in labels else len(labels), label)


def row_labels(records: Mapping[str, Any]) -> list[str]:
    """The table's rows: every label of :data:`~mpguide.interpreters.LABELS`, then any other
    interpreter measured (a PyPy, say)."""
    return sorted({*interpreters.LABELS, *records}, key=_rank)


def found_markdown(records: Mapping[str, Any]) -> str:
    """A list of the interpreters found and what became of each, then the versions that are
    not on this machine."""
    lines = []
    for i in found():
        record = records.get(i.label)
        state = ("" if i.label in measured(records) else
                 f" (probe failed: {record['error']})" if record else " (not measured)")
        lines.append(f"- Python {i.version}{' (free-threaded)' if i.free_threaded else ''}: "
                     f"`{i.executable}`{', the one that built this page' if i.current else ''}"
                     f"{state}")
    absent = [label for label in row_labels(records) if label not in records]
    oldest = ".".join(map(str, interpreters.OLDEST))
    return (f"This build found {len(lines)} interpreter{'s' * (len(lines) != 1)}:\n\n"
            + "\n".join(lines) + "\n\n"
            + (f"Not on this machine: {', '.join(absent)}." if absent else
               "Every version the guide looks for is on this machine.")
            + f" Versions older than {oldest} are not looked for: mpguide requires {oldest} "
              "or later.")


# ---------------------------------------------------------------------------------------------
# Summaries (medians of each probe's samples)
# ---------------------------------------------------------------------------------------------

def _median(samples: Any) -> float:
    return float(statistics.median(samples))


def fastest_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The fastest sample of one probe over the fastest of another, both measured in the same
    rounds: a busy machine only ever adds time, so the fastest samples are the least disturbed
    (how every claim of this chapter compares).

    Examples
    --------
    >>> fastest_ratio([2.0, 4.0, 3.0], [1.0, 2.0, 5.0])
    2.0
    """
    return min(numerator) / min(denominator)


def _pickle_samples(record: Mapping[str, Any], kind: str, protocol: int) -> list[float]:
    """Seconds of ``dumps`` + ``loads`` of one payload at ``protocol``, per round."""
    cost = record["pickle"][kind][str(protocol)]
    return [d + lo for d, lo in zip(cost["dumps_s"], cost["loads_s"], strict=True)]


def summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """One interpreter's record, flat: the medians of each probe (seconds, bytes/s) and the
    ratios that the claims compare (:func:`fastest_ratio`)."""
    default = int(record["pickle_default_protocol"])
    starts = record["pool_start_stop_s"]
    row: dict[str, Any] = {
        "python": record["python"], "free_threaded": record["free_threaded"],
        "gil_enabled": record["gil_enabled"],
        "default_start_method": record["default_start_method"],
        "pickle_default_protocol": default,
        "item_overhead_s": _median(record["map_item_overhead_s"]),
        "item_overhead_fastest_s": min(record["map_item_overhead_s"]),
        "shm_round_trip_s": _median(record["shm_round_trip_s"]),
        "pickled_round_trip_s": _median(record["pickled_round_trip_s"]),
        "pickled_over_shm": fastest_ratio(record["pickled_round_trip_s"],
                                          record["shm_round_trip_s"]),
        "shm_bytes": record["shm_bytes"],
        "threads_speedup": fastest_ratio(record["threads"]["loop_s"],
                                         record["threads"]["threads_s"]),
        "workers": record["params"]["workers"], "repeats": record["params"]["repeats"],
        **{f"start_stop_{method}_s": _median(samples) for method, samples in starts.items()},
        **{f"start_stop_{method}_fastest_s": min(samples) for method, samples in starts.items()},
    }
    if {"spawn", "forkserver"} <= set(starts):
        row["spawn_over_forkserver"] = fastest_ratio(starts["spawn"], starts["forkserver"])
    if {"fork", "forkserver"} <= set(starts):
        row["forkserver_over_fork"] = fastest_ratio(starts["forkserver"], starts["fork"])
    for kind, costs in record["pickle"].items():
        seconds = _pickle_samples(record, kind, default)
        row[f"pickle_{kind}_bytes_per_s"] = costs[str(default)]["pickled_bytes"] \
            / _median(seconds)
        row[f"pickle_{kind}_protocol5_ratio"] = fastest_ratio(
            _pickle_samples(record, kind, 5), seconds)
    pool = record.get("interpreter_pool")
    if pool and "error" not in pool:
        row["interpreter_pool_start_stop_s"] = _median(pool["start_stop_s"])
        row["interpreter_pool_item_s"] = _median(pool["map_item_overhead_s"])
    return row


# ---------------------------------------------------------------------------------------------
# The page's tables
# ---------------------------------------------------------------------------------------------

def _cells(row: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, str]:
    """The displayed cells of one measured interpreter."""
    cells = {"status": "measured", "version": row["python"],
             "GIL": "on" if row["gil_enabled"] else "off",
             "default start method": row["default_start_method"],
             "pickle default protocol": str(row["pickle_default_protocol"])}
    for method in METHODS:
        seconds = row.get(f"start_stop_{method}_s")
        cells[f"Pool start+stop, {method}"] = "" if seconds is None else \
            format_value(seconds, "s")
    cells["per item, chunksize 1"] = format_value(row["item_overhead_s"], "s")
    cells["pickle a list of floats"] = format_value(row["pickle_floats_bytes_per_s"],
                                                    "bytes/s")
    cells["shared memory / pickled round trip"] = (
        f"{format_value(row['shm_round_trip_s'], 's')} / "
        f"{format_value(row['pickled_round_trip_s'], 's')}")
    cells["threads speedup"] = f"{row['threads_speedup']:.2f}x"
    pool = record.get("interpreter_pool")
    if pool is None:
        cells["InterpreterPoolExecutor"] = "not in this version"
    elif "error" in pool:
        cells["InterpreterPoolExecutor"] = f"failed: {pool['error']}"
    else:
        cells["InterpreterPoolExecutor"] = (
            f"start+stop {format_value(row['interpreter_pool_start_stop_s'], 's')}, "
            f"{format_value(row['interpreter_pool_item_s'], 's')} per item")
    return cells


def versions_table(records: Mapping[str, Any]) -> pd.DataFrame:
    """One row per version (:func:`row_labels`), every cell text: the medians of a measured
    interpreter; for a version not on this machine, :data:`ABSENT` and empty cells (no
    number, no NaN); for a failed probe, its error."""
    import pandas as pd

    ok = measured(records)
    rows = {}
    for label in row_labels(records):
        if label in ok:
            rows[label] = _cells(summary(ok[label]), ok[label])
        elif records.get(label) and "error" in records[label]:
            rows[label] = {"status": f"probe failed: {records[label]['error']}"}
        else:
            rows[label] = {"status": ABSENT}
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    return table.rename_axis("Python")


def _later(records: Mapping[str, Any], version: str) -> dict[str, dict[str, Any]]:
    """Measured interpreters of ``version`` or later (free-threaded builds included)."""
    oldest = tuple(int(p) for p in version.rstrip("t").split("."))
    return {label: r for label, r in measured(records).items()
            if tuple(r["version"][:2]) >= oldest}


def _track(later: Mapping[str, Any]) -> str:
    return ("the probe's workers attach segments with `track=False` on "
            + ", ".join(r["python"] for r in later.values()))


def _cpu_counts(later: Mapping[str, Any]) -> str:
    return "; ".join(f"{r['python']}: `process_cpu_count()` = {r['process_cpu_count']}, "
                     f"`cpu_count()` = {r['cpu_count']}" for r in later.values())


def _threads(row: Mapping[str, Any], record: Mapping[str, Any]) -> str:
    return (f"GIL {'on' if row['gil_enabled'] else 'off'}; {row['workers']} threads ran "
            f"pure-Python work {row['threads_speedup']:.2f}x as fast as the loop")


#: How :func:`observed` reads each documented change: from the records of that version or
#: later (first table), or from the summary and record of that very version (second).
_FROM_LATER: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "track": _track, "process_cpu_count": _cpu_counts}
_FROM_ONE: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], str]] = {
    "threads": _threads,
    "default_start_method": lambda row, record: (
        f"default start method `{row['default_start_method']}`"),
    "protocol": lambda row, record: (
        f"`pickle.DEFAULT_PROTOCOL` = {row['pickle_default_protocol']}"),
    "interpreter_pool": lambda row, record: _cells(row, record)["InterpreterPoolExecutor"],
}


def observed(change: Change, records: Mapping[str, Any]) -> str:
    """What this machine shows of a documented ``change``: measured where an interpreter of
    its version was measured, else a sentence that says it was not (no number)."""
    if change.key in _FROM_LATER:
        later = _later(records, change.version)
        if not later:
            return f"not measured: no Python {change.version} or later on this machine"
        return _FROM_LATER[change.key](later)
    record = measured(records).get(change.version)
    if record is None:
        return f"not measured: no Python {change.version} on this machine"
    row = summary(record)
    return f"{row['python']}: " + _FROM_ONE[change.key](row, record)


def documented_table(records: Mapping[str, Any]) -> pd.DataFrame:
    """:data:`DOCUMENTED`, with what this machine measured of each change (:func:`observed`)."""
    import pandas as pd

    return pd.DataFrame([{"version": c.version, "change": c.change, "source": c.source,
                          "on this machine": observed(c, records)} for c in DOCUMENTED])


# ---------------------------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------------------------

def caption(records: Mapping[str, Any]) -> str:
    """The machine caption, naming every interpreter measured instead of one Python."""
    ok = measured(records)
    if not ok:
        return "no interpreter measured"
    meta = dict(next(iter(ok.values()))["metadata"])
    meta["python"] = ", ".join(r["python"] for r in ok.values())
    return machine.caption(meta)


def plot_versions(records: Mapping[str, Any]) -> Figure:
    """Pool start+stop per start method (left) and the per-item cost of ``Pool.map`` at
    chunksize 1 (right), per version: medians with IQR bars; a version not on this machine
    keeps its place on the axis, marked :data:`ABSENT`, without a bar."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.transforms import blended_transform_factory

    labels, ok = row_labels(records), measured(records)
    x = np.arange(len(labels))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    width = 0.8 / len(METHODS)
    for i, method in enumerate(METHODS):
        present = [j for j, label in enumerate(labels)
                   if method in ok.get(label, {}).get("pool_start_stop_s", {})]
        samples = [np.array(ok[labels[j]]["pool_start_stop_s"][method]) * 1e3 for j in present]
        _bars(left, x[present] + (i - 1) * width, samples, width, label=method)
    items = [j for j, label in enumerate(labels) if label in ok]
    _bars(right, x[items], [np.array(ok[labels[j]]["map_item_overhead_s"]) * 1e6
                            for j in items], 0.6, label=None, color="0.45")
    for ax, ylabel, title in ((left, "ms", "Pool start+stop"),
                              (right, "µs per item", "Pool.map per item, chunksize 1")):
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        along_x = blended_transform_factory(ax.transData, ax.transAxes)
        for j, label in enumerate(labels):
            if label not in ok:
                ax.text(x[j], 0.03, ABSENT, rotation=90, ha="center", va="bottom",
                        fontsize=7, color="0.45", transform=along_x)
    left.legend(title="start method", fontsize=8)
    return plotting.add_caption(fig, caption(records))


def _bars(ax: Any, x: Any, samples: list[Any], width: float, **style: Any) -> None:
    """Bars at the medians of ``samples`` with IQR error bars."""
    import numpy as np

    if not samples:
        return
    q1, median, q3 = (np.array([np.percentile(s, q) for s in samples]) for q in (25, 50, 75))
    ax.bar(x, median, width, yerr=[median - q1, q3 - median], capsize=2, **style)


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

def _extreme(values: Mapping[str, float], pick: Callable[..., Any] = min) -> tuple[float, str]:
    """The smallest (or ``pick``) value and its interpreter's version."""
    label = pick(values, key=values.__getitem__)
    return values[label], label


def _summaries() -> dict[str, dict[str, Any]]:
    rows = {label: summary(r) for label, r in measured(load_versions()).items()}
    if not rows:
        raise claims.ClaimError("no interpreter was measured")
    return rows


def _pythons(rows: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(row["python"] for row in rows.values())


@claims.claim("forkserver-beats-spawn-every-python", chapter=CHAPTER,
              statement="On every Python measured here ({pythons}), a Pool({workers}) started "
                        "and stopped faster under forkserver than under spawn; at the least "
                        "{worst:.1f|faster|slower} (Python {worst_python}).")
def _forkserver_vs_spawn() -> claims.Evidence:
    rows = _summaries()
    ratios = {r["python"]: r["spawn_over_forkserver"] for r in rows.values()}
    worst, python = _extreme(ratios)
    return claims.Evidence(
        holds=worst > 1, values={"pythons": _pythons(rows), "worst": worst,
                                 "worst_python": python,
                                 "workers": next(iter(rows.values()))["workers"]},
        evidence="spawn / forkserver start+stop, fastest rounds: "
                 + ", ".join(f"{p} {v:.2f}x" for p, v in ratios.items()) + ".")


@claims.claim("fork-beats-forkserver-every-python", chapter=CHAPTER,
              statement="On every Python measured here ({pythons}), fork started and stopped a "
                        "Pool({workers}) at least {threshold:g}x as fast as forkserver, the "
                        "Linux default from Python 3.14; at the least {worst:.1f|faster|slower} "
                        "(Python {worst_python}).")
def _fork_vs_forkserver() -> claims.Evidence:
    rows = _summaries()
    ratios = {r["python"]: r["forkserver_over_fork"] for r in rows.values()}
    worst, python = _extreme(ratios)
    return claims.Evidence(
        holds=worst >= FORK_ADVANTAGE,
        values={"pythons": _pythons(rows), "threshold": FORK_ADVANTAGE, "worst": worst,
                "worst_python": python, "workers": next(iter(rows.values()))["workers"]},
        evidence="forkserver / fork start+stop, fastest rounds: "
                 + ", ".join(f"{p} {v:.1f}x" for p, v in ratios.items()) + ".")


def _newest_against_oldest(rows: Mapping[str, Mapping[str, Any]], key: str,
                           scale: float) -> dict[str, Any]:
    """The values of a claim that compares ``key`` (times ``scale``) on the newest and the
    oldest interpreter measured (the rows are in the order of the versions)."""
    values = {r["python"]: r[key] * scale for r in rows.values()}
    oldest, newest = next(iter(values)), list(values)[-1]
    return {"tolerance": NEWER_TOLERANCE, "newest": values[newest], "newest_python": newest,
            "oldest": values[oldest], "oldest_python": oldest, "all": values,
            "maps": min(r["repeats"] for r in rows.values()),
            "workers": next(iter(rows.values()))["workers"]}


@claims.claim("item-overhead-no-dearer-on-newer", chapter=CHAPTER,
              statement="Pool.map's cost per item at chunksize 1 was at most {tolerance:g}x "
                        "as high on the newest Python measured here as on the oldest: "
                        "{newest:.1f} µs on {newest_python} against {oldest:.1f} µs on "
                        "{oldest_python}, in the fastest of {maps} maps on each.")
def _item_overhead() -> claims.Evidence:
    values = _newest_against_oldest(_summaries(), "item_overhead_fastest_s", 1e6)
    return claims.Evidence(
        holds=values["newest"] <= NEWER_TOLERANCE * values["oldest"], values=values,
        evidence=f"A warm Pool({values['workers']}) mapping a no-op, the plain loop's time "
                 "subtracted; the fastest map of each Python: " + ", ".join(
                     f"{p} {v:.1f} µs" for p, v in values["all"].items()) + ".")


@claims.claim("spawn-start-no-slower-on-newer", chapter=CHAPTER,
              statement="Under spawn, a Pool({workers}) started and stopped at most "
                        "{tolerance:g}x as slowly on the newest Python measured here as on the "
                        "oldest: {newest:.0f} ms on {newest_python} against {oldest:.0f} ms on "
                        "{oldest_python}, in the fastest of {maps} rounds on each.")
def _spawn_start() -> claims.Evidence:
    values = _newest_against_oldest(_summaries(), "start_stop_spawn_fastest_s", 1e3)
    return claims.Evidence(
        holds=values["newest"] <= NEWER_TOLERANCE * values["oldest"], values=values,
        evidence="Each spawn worker starts a new interpreter, so this follows each version's "
                 "start-up time: " + ", ".join(f"{p} {v:.0f} ms"
                                               for p, v in values["all"].items()) + ".")


@claims.claim("shm-beats-pickle-every-python", chapter=CHAPTER,
              statement="On every Python measured here ({pythons}), {mib:g} MiB reached a "
                        "worker and its checksum came back faster through a shared-memory "
                        "segment than pickled; at the least {worst:.1f|faster|slower} (Python "
                        "{worst_python}).")
def _shm_vs_pickle() -> claims.Evidence:
    rows = _summaries()
    ratios = {r["python"]: r["pickled_over_shm"] for r in rows.values()}
    worst, python = _extreme(ratios)
    return claims.Evidence(
        holds=worst > 1, values={"pythons": _pythons(rows), "worst": worst,
                                 "worst_python": python,
                                 "mib": next(iter(rows.values()))["shm_bytes"] / 2**20},
        evidence="pickled / shared-memory round trip (the segment created once, filled each "
                 "time), fastest rounds: "
                 + ", ".join(f"{p} {v:.2f}x" for p, v in ratios.items()) + ".")


@claims.demonstration("protocol-5-costs-nothing", chapter=CHAPTER,
                      statement="Pickling at protocol 5, the default from Python 3.14, cost at "
                                "most {band:g}x what the default protocol of each Python "
                                "measured here cost, for a list of floats and for bytes: from "
                                "{low:.2f}x to {high:.2f}x.")
def _protocol_5() -> claims.Evidence:
    rows = _summaries()
    ratios = {f"{r['python']} {kind}": r[f"pickle_{kind}_protocol5_ratio"]
              for r in rows.values() if r["pickle_default_protocol"] != 5
              for kind in ("floats", "bytes")}
    if not ratios:
        return claims.Evidence(holds=True, values={"band": PROTOCOL_BAND, "low": 1.0,
                                                   "high": 1.0},
                               evidence="Every Python measured here already defaults to "
                                        "protocol 5: there is no other default to compare.")
    low, high = min(ratios.values()), max(ratios.values())
    return claims.Evidence(
        holds=high <= PROTOCOL_BAND,
        values={"band": PROTOCOL_BAND, "low": low, "high": high},
        evidence="dumps + loads at protocol 5 over the same at the default protocol, fastest "
                 "rounds (both write the same bytes but for the header): "
                 + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()) + ".")


@claims.demonstration("gil-threads-no-speedup", chapter=CHAPTER,
                      statement="With the GIL on, {workers} threads ran pure-Python work at "
                                "most {best:.2f}x as fast as a loop (Python {best_python}).")
def _gil_threads() -> claims.Evidence:
    rows = {label: r for label, r in _summaries().items() if r["gil_enabled"]}
    if not rows:
        raise claims.ClaimError("no interpreter with the GIL on was measured")
    best, python = _extreme({r["python"]: r["threads_speedup"] for r in rows.values()}, max)
    return claims.Evidence(
        holds=best < 1.5,
        values={"workers": next(iter(rows.values()))["workers"], "best": best,
                "best_python": python},
        evidence="Loop time over thread-pool time, fastest rounds; one thread holds the GIL at a "
                 "time.")
