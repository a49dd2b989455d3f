"""Chapter 6, part 3, on the page: the table of dying and stuck workers, and its claims.

Everything here reads the one record of :func:`mpguide.chapters.dying_workers.load_dying`:
:func:`table` (tool by failure: what the call did, how fast, how many of the other results
came back, what it left behind), :func:`messages_markdown` (what each call printed, as
printed), :func:`programs_markdown` (the programs that ran), :func:`recipe_markdown` (the two
bounded recipes on one failure) and the claims, registered with the troubleshooting chapter.

Examples
--------
>>> from mpguide.chapters import dying_workers_page as page
>>> run = {"outcome": "raises", "error": "BrokenProcessPool", "seconds": 0.07,
...        "received": 4, "n_items": 8, "left_processes": [], "left_shm": [], "hang_s": 5.0}
>>> page.cell(run)
'raises BrokenProcessPool after 0.07 s; 4 of 7 other results'
>>> page.cell({**run, "outcome": "hangs", "received": 0,
...            "left_processes": ["forked worker", "forked worker"]})
'hangs (cut at 5 s); none of 7 other results; left 2 forked workers'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mpguide import claims, machine
from mpguide.chapters import dying_workers as dying
from mpguide.chapters.troubleshooting import CHAPTER
from mpguide.chapters.troubleshooting_runner import code_span

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHAPTER", "cell", "messages_markdown", "programs_markdown", "recipe_markdown",
           "runs_frame", "table"]

#: Seconds within which ProcessPoolExecutor, and mpguide's bounded_map, raise after a
#: worker's death: they watch their workers' exits (0.03 to 0.2 s measured here, loaded).
NOTICE_S = 1.0
#: Seconds within which joblib and mpire raise after a worker's death (0.3 to 0.5 s and 1.3
#: to 1.8 s measured here, loaded).
RAISE_S = 3.0
#: Seconds within which one Ctrl-C stops a plain call, Dask's aside (its nanny gives a
#: worker 4 s to stop before killing it).
CTRL_C_S = 2.0
#: The failures that end a worker process.
DEATHS = ("segfault", "exit", "sigkill")


def _plural(count: int, kind: str) -> str:
    return f"{count} {kind}{'' if count == 1 else 's'}"


def left_phrase(run: Mapping[str, Any]) -> str:
    """What a run left behind, in words (``""`` for nothing).

    Examples
    --------
    >>> left_phrase({"left_processes": ["loky worker", "resource tracker", "loky worker"],
    ...              "left_shm": ["sem.loky-1-a"]})
    '2 loky workers, 1 resource tracker, 1 /dev/shm entry'
    """
    parts = [_plural(n, kind) for kind, n in Counter(run["left_processes"]).items()]
    if run["left_shm"]:
        parts.append(_plural(len(run["left_shm"]), "/dev/shm entry").replace("entrys",
                                                                             "entries"))
    return ", ".join(parts)


def cell(run: Mapping[str, Any]) -> str:
    """One case in the table's words: the outcome, the seconds, the other results, and what
    it left behind (where it left anything)."""
    if run["outcome"] == "raises":
        what = f"raises {run['error']} after {run['seconds']:.2f} s"
    elif run["outcome"] == "hangs":
        what = f"hangs (cut at {run['hang_s']:g} s)"
    else:
        what = f"{run['outcome']} after {run['seconds']:.2f} s"
    others, got = run["n_items"] - 1, run["received"]
    back = "none of" if got == 0 else "all" if got >= others else f"{got} of"
    left = left_phrase(run)
    return f"{what}; {back} {others} other results" + (f"; left {left}" if left else "")


def runs_frame(capture: Mapping[str, Any]) -> pd.DataFrame:
    """One row per case: the record's fields and the machine metadata (for captions)."""
    import pandas as pd

    return pd.DataFrame([{**capture.get("meta", {}), **run} for run in capture["runs"]])


def table(capture: Mapping[str, Any]) -> pd.DataFrame:
    """Tool by failure: :func:`cell` of each case (``"not run"`` where the build skipped it).
    The last row is the recipe, mpguide's bounded map."""
    import pandas as pd

    rows: dict[str, dict[str, str]] = {}
    for name, tool in dying.TOOLS.items():
        runs = {r["failure"]: r for r in capture["runs"] if r["tool"] == name}
        if runs:
            rows[tool.label] = {dying.FAILURES[f].title: cell(runs[f]) if f in runs
                                else "not run" for f in dying.FAILURES}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "call"
    return frame


def caption(capture: Mapping[str, Any]) -> str:
    """Where the table was measured (:func:`mpguide.machine.caption`)."""
    return machine.caption(capture.get("meta", {}), start_method=capture.get("method"))


def _fence(text: str, language: str = "text") -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def messages_markdown(capture: Mapping[str, Any]) -> str:
    """Each distinct message a call ended with, verbatim, once, with the calls and failures
    that printed it."""
    found: dict[str, dict[str, list[str]]] = {}
    for run in capture["runs"]:
        if run["outcome"] == "raises":
            found.setdefault(run["message"], {}).setdefault(run["label"], []).append(
                run["title"])
    parts = []
    for message, calls in found.items():
        who = "; ".join(f"*{label}* ({', '.join(titles)})" for label, titles in calls.items())
        parts.append(f"{who}:\n\n{_fence(message)}")
    return "\n\n".join(parts) or "No call raised on this machine."


def _statements(code: str) -> str:
    """The statements of a ``fail()`` body on one line, without their comments."""
    return "; ".join(line.split("  #")[0].strip() for line in code.splitlines())


def programs_markdown(method: str | None = None, wait_s: float = dying.WAIT_S) -> str:
    """``work.py`` (its ``fail()`` for each failure) and each call's ``main.py``, as run
    (under ``method``)."""
    work = dying.work_source("sigkill", dying.ITEMS_PER_CPU * machine.usable_cpus())
    bodies = "\n".join(f"| {f.title} | {code_span(_statements(f.code))} |"
                       for f in dying.FAILURES.values())
    mains = "\n\n".join(f"*{tool.label}*:\n\n{_fence(tool.render(method, wait_s), 'python')}"
                        for tool in dying.TOOLS.values())
    return (f"`work.py` (here with the body of `fail()` for SIGKILL):\n\n"
            f"{_fence(work, 'python')}\n\n| failure | body of `fail()` |\n|---|---|\n{bodies}"
            f"\n\nEach call's `main.py`, beside it:\n\n{mains}")


def recipe_markdown(capture: Mapping[str, Any], failure: str = "sigkill") -> str:
    """The two bounded recipes (``map_async(...).get(timeout)`` in a ``with Pool``, and
    ``pools.bounded_map``) on ``failure``: their programs and what they did in this build."""
    parts = []
    for name in ("map-async", "bounded-map"):
        tool = dying.TOOLS[name]
        run = next((r for r in capture["runs"] if r["tool"] == name
                    and r["failure"] == failure), None)
        did = (f"{cell(run)}; left {left_phrase(run) or 'nothing'}:\n\n"
               f"{_fence(run['message'])}" if run else "not run in this build")
        parts.append(f"*{tool.label}*, {dying.FAILURES[failure].title}:\n\n"
                     f"{_fence(tool.render(capture.get('method'), capture['wait_s']), 'python')}"
                     f"\n\nIn this build it {did}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

def _runs(tools: Iterable[str], failures: Iterable[str]) -> list[dict[str, Any]]:
    """The runs of the record for these tools and failures; a claim with none to read fails
    to evaluate (:class:`mpguide.claims.ClaimError`)."""
    tools, failures = set(tools), set(failures)
    runs = [r for r in dying.load_dying()["runs"]
            if r["tool"] in tools and r["failure"] in failures]
    if not runs:
        raise claims.ClaimError(f"no case of {sorted(tools)} x {sorted(failures)} was run")
    return runs


def _slowest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda r: r["seconds"])


def _listing(runs: Iterable[Mapping[str, Any]]) -> str:
    return "; ".join(f"{r['label']}, {r['title']}: {cell(r)}" for r in runs)


@claims.claim("dying-pool-map-hangs", chapter=CHAPTER,
              statement="When a worker segfaults, calls os._exit or is killed, Pool.map "
                        "{pool_verdict}, while ProcessPoolExecutor.map raises "
                        "BrokenProcessPool within {executor_s:.2f} s of the death (bound "
                        "{bound:g} s).")
def _pool_map_hangs() -> claims.Evidence:
    pool, executor = _runs(["pool-map"], DEATHS), _runs(["executor"], DEATHS)
    hangs = all(r["outcome"] == "hangs" for r in pool)
    broken = all(r["error"] == "BrokenProcessPool" for r in executor)
    slowest = _slowest(executor)["seconds"]
    verdict = (f"gives no error in {pool[0]['hang_s']:g} s (it waits forever)" if hangs
               else "raises in some of them")
    return claims.Evidence(hangs and broken and slowest <= NOTICE_S,
                           {"pool_verdict": verdict, "executor_s": slowest, "bound": NOTICE_S},
                           _listing([*pool, *executor]) + ".")


@claims.claim("dying-peers-raise", chapter=CHAPTER,
              statement="joblib and mpire raise within {slowest_s:.1f} s of a worker's death "
                        "(bound {bound:g} s; slowest: {slowest}).")
def _peers_raise() -> claims.Evidence:
    runs = _runs(["joblib", "mpire"], DEATHS)
    slowest = _slowest(runs)
    holds = all(r["outcome"] == "raises" for r in runs) and slowest["seconds"] <= RAISE_S
    dask = [r for r in dying.load_dying()["runs"] if r["tool"] == "dask"
            and r["failure"] in DEATHS]
    return claims.Evidence(holds, {"slowest_s": slowest["seconds"], "bound": RAISE_S,
                                   "slowest": f"{slowest['label']}, {slowest['title']}"},
                           _listing([*runs, *dask]) + ".")


@claims.claim("dying-rlimit-memoryerror", chapter=CHAPTER,
              statement="A worker over its address-space limit (RLIMIT_AS) gets a MemoryError, "
                        "which {passed} of {total} plain calls hand to the caller (the slowest "
                        "after {slowest_s:.2f} s, its clean-up included): the worker lives on, "
                        "unlike one the OOM killer ends.")
def _rlimit() -> claims.Evidence:
    runs = _runs(dying.PLAIN, ["rlimit"])
    passed = [r for r in runs if r["outcome"] == "raises" and r["error"] == "MemoryError"]
    return claims.Evidence(len(passed) == len(runs),
                           {"passed": len(passed), "total": len(runs),
                            "slowest_s": _slowest(runs)["seconds"]}, _listing(runs) + ".")


@claims.claim("dying-ctrl-c-stops", chapter=CHAPTER,
              statement="One Ctrl-C stops {stopped} of {total} plain calls other than Dask "
                        "with KeyboardInterrupt within {slowest_s:.2f} s (bound {bound:g} s); "
                        "Dask: {dask}.")
def _ctrl_c() -> claims.Evidence:
    runs = _runs([t for t in dying.PLAIN if t != "dask"], ["ctrl-c"])
    stopped = [r for r in runs if r["error"] == "KeyboardInterrupt"]
    slowest = _slowest(runs)["seconds"]
    dask = [r for r in dying.load_dying()["runs"] if r["tool"] == "dask"
            and r["failure"] == "ctrl-c"]
    return claims.Evidence(len(stopped) == len(runs) and slowest <= CTRL_C_S,
                           {"stopped": len(stopped), "total": len(runs), "slowest_s": slowest,
                            "bound": CTRL_C_S, "dask": cell(dask[0]) if dask else "not run"},
                           _listing([*runs, *dask]) + ".")


@claims.demonstration("dying-stuck-needs-timeout", chapter=CHAPTER,
                      statement="A task that never returns hangs {hung} of {untimed} plain "
                                "calls given no timeout; map_async(...).get(timeout) and "
                                "bounded_map {timed} once their {wait_s:g} s are up.")
def _stuck() -> claims.Evidence:
    untimed = _runs([t for t in dying.PLAIN if t != "map-async"], ["stuck"])
    timed = _runs(["map-async", "bounded-map"], ["stuck"])
    hung = [r for r in untimed if r["outcome"] == "hangs"]
    raised = all(r["error"] in {"TimeoutError", "PoolTimeoutError"} for r in timed)
    return claims.Evidence(len(hung) == len(untimed) and raised,
                           {"hung": len(hung), "untimed": len(untimed),
                            "timed": "raise" if raised else "do not all raise",
                            "wait_s": timed[0]["wait_s"]}, _listing([*untimed, *timed]) + ".")


@claims.claim("dying-orphans-after-stop", chapter=CHAPTER,
              statement="Stopped the way timeout stops a command (SIGTERM to its main "
                        "process), a program whose Pool.map or ProcessPoolExecutor.map waits "
                        "on a stuck task leaves {left} behind, still running {grace:g} s "
                        "later.")
def _orphans() -> claims.Evidence:
    runs = _runs(["pool-map", "executor"], ["stuck"])
    counts = [len(r["left_processes"]) for r in runs]
    return claims.Evidence(all(counts), {"left": " and ".join(
        f"{left_phrase(r) or 'nothing'} ({r['label']})" for r in runs), "grace": dying.LEFT_S},
        _listing(runs) + ".")


@claims.claim("dying-bounded-map-bounds", chapter=CHAPTER,
              statement="mpguide's bounded_map ended {ended} of {total} cases with an error "
                        "within {slowest_s:.2f} s (bound: its {wait_s:g} s timeout + 1 s), a "
                        "dead worker within {dead_s:.2f} s (bound {notice:g} s), and left "
                        "{left}.")
def _bounded() -> claims.Evidence:
    runs = _runs(["bounded-map"], dying.FAILURES)
    wait_s = runs[0]["wait_s"]
    ended = [r for r in runs if r["outcome"] == "raises" and r["seconds"] <= wait_s + 1]
    dead = max((r["seconds"] for r in runs if r["failure"] in DEATHS), default=0.0)
    left = [r for r in runs if left_phrase(r)]
    return claims.Evidence(
        len(ended) == len(runs) and dead <= NOTICE_S and not left,
        {"ended": len(ended), "total": len(runs), "slowest_s": _slowest(runs)["seconds"],
         "wait_s": wait_s, "dead_s": dead, "notice": NOTICE_S,
         "left": "nothing behind" if not left else _listing(left)}, _listing(runs) + ".")
