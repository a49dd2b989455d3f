"""Chapter 6, part 2: each error of :mod:`mpguide.chapters.troubleshooting` reproduced live.

:func:`run_snippet` runs one program in a child process of its own session (``python main.py``
in a temporary folder, or ``python -c``), with a time bound: a child that overruns it is
ended with its whole process group (SIGTERM, which multiprocessing's resource tracker
survives long enough to unlink the semaphores the child registered, then SIGKILL), and
nothing is left running. What the child printed is kept as it was printed;
:func:`exceptions` finds the exception messages in it (the first one is the root cause a
reader searches for; the last is where the traceback ends).

:func:`capture_case` runs every reproduction and the fix of one case under every start method
(:func:`mpguide.config.available_start_methods`); :func:`load_case` caches it through the
one lifecycle, :func:`mpguide.experiment.run_cached` (keyed on the machine, Python, mpguide's
source, the mode). The children are tiny: the whole chapter costs a few seconds plus the hang
bound of the reproductions that wait forever.

Examples
--------
>>> from mpguide.chapters import troubleshooting_runner as runs
>>> text = "Traceback (most recent call last):\\n  File ...\\nValueError: bad item 3\\n"
>>> runs.exceptions(text)
['ValueError: bad item 3']
>>> runs.heading("_pickle.PicklingError: Can't pickle <function <lambda> at 0x7f3a>: failed")
"_pickle.PicklingError: Can't pickle <function <lambda> at 0x…>: failed"
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpguide import config, leftovers, machine
from mpguide.chapters.troubleshooting import CASES, CHAPTER, Case, Snippet
from mpguide.experiment import run_cached
from mpguide.runner import GROUP_EXIT_GRACE, end_group, group_alive

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Seconds a killed child's group gets to exit after SIGTERM (its resource tracker unlinks
#: the semaphores the child left) before the rest is killed.
CLEANUP_GRACE = 20.0
#: Lines of a child's output kept in a record.
TAIL_LINES = 40
#: Seconds any child that should end by itself may run before it is killed.
LIMIT_S = config.DEFAULT_TIMEOUT
#: Seconds a program waits for its results, unless it ends by that wait running out (it
#: never needs them all: a loaded machine only takes longer to start workers).
WAIT_S = 30.0

#: A line that starts an exception message: a dotted name, then ``:`` or end of line.
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?::(?: .*)?)?$")
#: Names that end a traceback without being an exception's message.
_NOT_MESSAGES = ("RemoteTraceback", "_RemoteTraceback")
#: Lines that start something else after an exception message.
_NEW_BLOCK = ("Traceback (most recent call last)", "The above exception", "During handling",
              "  File ", "Process ", '"""')


#: A warning printed by :mod:`warnings` (``path:line: UserWarning: ...``): not part of a message.
_WARNING_LINE = re.compile(r"^\S.*:\d+: \w*Warning: ")


def _is_exception(line: str) -> bool:
    match = _EXCEPTION_LINE.match(line)
    if not match or match.group(1).endswith(_NOT_MESSAGES):
        return False
    name = match.group(1)
    return ":" in line or "." in name or name.endswith(("Error", "Exception", "Interrupt"))


def exceptions(text: str) -> list[str]:
    """The exception messages in ``text``, in order, each with its continuation lines.

    A message runs from its ``Type: text`` line until the next traceback, file line or
    exception (blank lines and indented text, as in the bootstrapping ``RuntimeError``,
    belong to it); trailing blank lines are dropped.
    """
    lines = text.splitlines()
    found, index = [], 0
    while index < len(lines):
        if not _is_exception(lines[index]):
            index += 1
            continue
        block = [lines[index]]
        index += 1
        while index < len(lines) and not lines[index].startswith(_NEW_BLOCK) \
                and not _is_exception(lines[index]) and not _WARNING_LINE.match(lines[index]):
            block.append(lines[index])
            index += 1
        found.append("\n".join(block).rstrip())
    return found


def heading(message: str) -> str:
    """A message as a reader pastes it into a search engine: one line (the first sentence of a
    message printed on several lines), object addresses (which change on every run) elided.

    Examples
    --------
    >>> heading("RuntimeError: \\n        An attempt has been made.\\n\\n        This probably")
    'RuntimeError: An attempt has been made.'
    >>> heading("TypeError: cannot pickle 'generator' object. Reason: why")
    "TypeError: cannot pickle 'generator' object. Reason: why"
    """
    text = " ".join(message.split())
    if "\n" in message.strip():
        kind, sep, rest = text.partition(": ")
        text = kind + sep + re.split(r"(?<=\.) (?=[A-Z])", rest, maxsplit=1)[0]
    return re.sub(r" at 0x[0-9a-fA-F]+", " at 0x…", text)


def code_span(text: str) -> str:
    """``text`` as a Markdown code span (typographic quotes never replace its own).

    Examples
    --------
    >>> code_span("NameError: name 'x' is not defined")
    "`NameError: name 'x' is not defined`"
    >>> code_span("a ` tick")
    '`` a ` tick ``'
    """
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_snippet(snippet: Snippet, method: str | None, *, wait_s: float, hang_s: float,
                limit_s: float = LIMIT_S) -> dict[str, Any]:
    """Run ``snippet`` under ``method`` in a bounded child process; what it printed.

    The child runs in a temporary folder (its files beside it) in a session of its own. It
    gets ``hang_s`` seconds when the snippet is expected to hang, ``limit_s`` otherwise;
    past that it is ended with its whole group (:func:`_terminate`), and the record says
    ``"killed"``. Returns
    ``outcome`` (``"error"``, ``"killed"`` or ``"ok"``), ``message`` (the first exception
    message), ``final`` (the last one), ``count`` (how many times the first was printed),
    ``seconds``, ``returncode``, ``left_running`` and the tails of ``stdout`` and ``stderr``.
    """
    bound = hang_s if snippet.hangs else limit_s
    source = snippet.render(method, wait_s)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="mpguide-trouble-") as folder:
        for name, text in snippet.files:
            Path(folder, name).write_text(text, encoding="utf-8")
        if snippet.how == "script":
            Path(folder, "main.py").write_text(source, encoding="utf-8")
            command = [sys.executable, "main.py"]
        else:
            command = [sys.executable, "-c", source]
        killed, start = False, time.perf_counter()
        with subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) as child:
            try:
                stdout, stderr = child.communicate(timeout=bound)
                seconds = time.perf_counter() - start
            except subprocess.TimeoutExpired:
                seconds, killed = time.perf_counter() - start, True
                stdout, stderr = _terminate(child)
            finally:
                end_group(child.pid, grace=GROUP_EXIT_GRACE)
            left = group_alive(child.pid)
    found = exceptions(stderr)
    message = found[0] if found else ""
    outcome = "killed" if killed else "error" if found or child.returncode else "ok"
    return {"label": snippet.label, "method": method or "loky", "command": snippet.command,
            "outcome": outcome, "message": message, "heading": heading(message) if message
            else "", "final": found[-1] if found else "",
            "count": sum(heading(m) == heading(message) for m in found) if message else 0,
            "seconds": seconds, "bound_s": bound, "wait_s": wait_s, "hang_s": hang_s,
            "returncode": child.returncode, "left_running": left,
            "stdout": _tail(stdout), "stderr": _tail(stderr)}


def _terminate(child: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM the child's whole group and wait, up to :data:`CLEANUP_GRACE` seconds, until
    every member has closed the output pipes: the resource tracker (which ignores SIGTERM and
    shares the child's stderr) exits only after unlinking what the child registered, however
    long a loaded machine makes that take. Whatever is still running then is killed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        return child.communicate(timeout=CLEANUP_GRACE)
    except subprocess.TimeoutExpired:
        end_group(child.pid, grace=0)
        return child.communicate()


def methods_of(case: Case, methods: Sequence[str] | None = None) -> list[str | None]:
    """The start methods ``case`` runs under: each one available (``[None]`` for a tool with
    its own way of starting workers)."""
    if not case.per_method:
        return [None]
    return list(methods or config.available_start_methods())


def capture_case(*, case: str, methods: Sequence[str], wait_s: float, timeout_wait_s: float,
                 hang_s: float) -> dict[str, Any]:
    """Every reproduction of ``case`` and its fix, under each of ``methods``: JSON-ready.

    ``runs`` has one record of :func:`run_snippet` per program and start method, with
    ``role`` (``"error"`` or ``"fix"``) and ``expected`` (whether the error should occur
    under that method). A program that ends by its own wait running out waits
    ``timeout_wait_s`` seconds for its results, every other one ``wait_s``. The start
    methods run side by side (one thread each, every child bounded on its own): most of the
    time is a hanging child waiting for its bound. Once every child has ended,
    ``semaphores_removed`` counts the semaphores CPython left behind that
    :func:`mpguide.leftovers.remove_orphans` removed (a pool terminating workers that were
    still starting up leaks them).
    """
    spec = CASES[case]

    def under(method: str | None) -> list[dict[str, Any]]:
        runs = []
        for role, snippet in [*(("error", s) for s in spec.reproductions), ("fix", spec.fix)]:
            wait = timeout_wait_s if snippet.times_out else wait_s
            record = run_snippet(snippet, method, wait_s=wait, hang_s=hang_s)
            runs.append({"case": case, "role": role, "expected": role == "error"
                         and snippet.fails and spec.occurs_under(method), **record})
        return runs

    chosen = methods_of(spec, methods)
    before = leftovers.snapshot()
    with ThreadPoolExecutor(len(chosen), thread_name_prefix="trouble") as threads:
        runs = [run for method_runs in threads.map(under, chosen) for run in method_runs]
    meta = machine.collect_metadata()
    return {"chapter": CHAPTER.name, "case": case, "python": meta.get("python"), "meta": meta,
            "default_start_method": config.default_start_method(), "runs": runs,
            "semaphores_removed": len(leftovers.remove_orphans(before))}


def capture_params(case: str) -> dict[str, Any]:
    """The ``run_cached`` params of one case, not run: its start methods and time bounds
    (a program's own wait ``wait_s``, or ``timeout_wait_s`` for one that ends by that wait
    running out; the kill bound of a reproduction that waits forever, ``hang_s``)."""
    return {"case": case, "methods": list(config.available_start_methods()),
            "wait_s": WAIT_S, "timeout_wait_s": 3.0, "hang_s": 4.0}


def load_case(case: str) -> dict[str, Any]:
    """:func:`capture_case` for ``case``, cached (an empty capture in a worker re-importing
    its parent's script, on a cache miss)."""
    params = capture_params(case)
    return run_cached(f"troubleshooting-{case}", f"{__name__}:capture_case", params,
                      fresh=False) or {"case": case, "runs": [], "meta": {}}


def load_all(cases: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`load_case` for every case (or those named), in the page's order."""
    return {name: load_case(name) for name in (cases or CASES)}


# ---------------------------------------------------------------------------------------------
# Views: what the page and the gallery show
# ---------------------------------------------------------------------------------------------

def runs_frame(captures: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per program run: ``case``, ``role``, ``label``, ``method``, ``outcome``,
    ``seconds``, ``message``... and the machine metadata (for captions)."""
    import pandas as pd

    rows = [{**capture.get("meta", {}), **run} for capture in captures.values()
            for run in capture["runs"]]
    return pd.DataFrame(rows)


def first_error(capture: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first run of ``capture`` whose error occurred (a reproduction, in order)."""
    return next((r for r in capture["runs"] if r["role"] == "error" and r["message"]), None)


def case_heading(capture: Mapping[str, Any]) -> str:
    """The section heading of a case: the first message it printed, as a reader searches it."""
    run = first_error(capture)
    return run["heading"] if run else f"{capture['case']}: no error on this machine"


def outcome_table(capture: Mapping[str, Any], role: str | None = None) -> pd.DataFrame:
    """One row per program and start method: outcome, seconds, the message it printed (the
    first, and the last where the traceback ends elsewhere), how many times."""
    import pandas as pd

    rows = []
    for run in capture["runs"]:
        if role is not None and run["role"] != role:
            continue
        what = ("killed after the bound" if run["outcome"] == "killed" else run["outcome"])
        rows.append({"start method": run["method"], "program": run["label"],
                     "role": run["role"], "outcome": what, "seconds": round(run["seconds"], 2),
                     "message": run["heading"] or _first_line(run["stdout"]),
                     "times printed": run["count"],
                     "traceback ends with": "" if run["final"] == run["message"]
                     else heading(run["final"])})
    table = pd.DataFrame(rows).set_index(["start method", "program"])
    return table if role is None else table.drop(columns="role")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def messages(capture: Mapping[str, Any], role: str = "error") -> list[dict[str, Any]]:
    """Each distinct first message of the ``role`` runs (the same up to object addresses), in
    order of appearance: ``message`` (as printed the first time), ``heading``, the
    ``programs`` and start ``methods`` that printed it."""
    found: dict[str, dict[str, Any]] = {}
    for run in capture["runs"]:
        if run["role"] == role and run["message"]:
            entry = found.setdefault(run["heading"], {"message": run["message"],
                                                      "heading": run["heading"],
                                                      "programs": [], "methods": []})
            for key, value in (("programs", run["label"]), ("methods", run["method"])):
                if value not in entry[key]:
                    entry[key].append(value)
    return list(found.values())


def _fence(text: str, language: str = "text") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text}\n{ticks}"


def _render(case: Case, snippet: Snippet, method: str | None) -> str:
    params = capture_params(case.name)
    wait = params["timeout_wait_s"] if snippet.times_out else params["wait_s"]
    shown = [m for m in methods_of(case) if case.occurs_under(m)] or methods_of(case)
    return snippet.render(method or shown[0], wait).rstrip()


def source_markdown(case: str, role: str = "error", method: str | None = None) -> str:
    """The programs of ``case`` (its reproductions, or its fix) as Markdown code blocks,
    rendered for ``method`` (default: the first one they fail under) with the build's bounds;
    a further reproduction shows only the lines in which it differs from the first."""
    spec = CASES[case]
    snippets = [spec.fix] if role == "fix" else list(spec.reproductions)
    first = _render(spec, snippets[0], method)
    filled = ", start method filled in" if spec.per_method else ""
    head = f"`{snippets[0].command}` ({snippets[0].label}{filled}):"
    parts = [f"{head}\n\n{_fence(first, 'python')}"]
    parts += [f"`{name}`, beside it:\n\n{_fence(text.rstrip(), 'python')}"
              for name, text in snippets[0].files]
    for snippet in snippets[1:]:
        parts.append(f"*{snippet.label}*: the same, with\n\n"
                     f"{_fence(_changed(first, _render(spec, snippet, method)), 'python')}")
    return "\n\n".join(parts)


def _changed(old: str, new: str) -> str:
    """The lines of ``new`` that differ from ``old``, ``...`` between separate places."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    blocks = ["\n".join(new_lines[j1:j2]).strip("\n") for tag, _, _, j1, j2
              in matcher.get_opcodes() if tag in {"replace", "insert"}]
    return "\n...\n".join(b for b in blocks if b.strip())


def messages_markdown(capture: Mapping[str, Any]) -> str:
    """What the reproductions printed, verbatim, one block per distinct message, with the
    programs and start methods that printed it, and the methods under which nothing failed."""
    found = messages(capture)
    parts = []
    for entry in found:
        programs = "" if len(CASES[capture["case"]].reproductions) == 1 \
            else f" by *{'*, *'.join(entry['programs'])}*"
        parts.append(f"Printed{programs} under **{', '.join(entry['methods'])}**:\n\n"
                     f"{_fence(entry['message'])}")
    ran = [r["method"] for r in capture["runs"] if r["role"] == "error"]
    clean = [m for m in dict.fromkeys(ran) if not any(m in e["methods"] for e in found)]
    if clean:
        parts.append(f"Under **{', '.join(clean)}** the same programs printed no error.")
    return "\n\n".join(parts) or "No reproduction printed an error on this machine."


def fix_markdown(capture: Mapping[str, Any]) -> str:
    """What the fix printed (its stdout) under each start method, and whether it ran clean."""
    lines = []
    for run in capture["runs"]:
        if run["role"] == "fix":
            state = "ran clean" if run["outcome"] == "ok" else f"**{run['outcome']}**"
            lines.append(f"- **{run['method']}** ({state}, {run['seconds']:.2f} s):\n\n"
                         f"{_indent(_fence(run['stdout'] or run['message']))}")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


def overview(captures: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per case, one column per start method: what its reproductions did there
    (``error`` if any printed one, ``killed`` if one had to be ended, ``ok``), and whether
    its fix ran clean everywhere."""
    import pandas as pd

    rows = []
    for name, capture in captures.items():
        row: dict[str, Any] = {"error": CASES[name].title}
        for run in capture["runs"]:
            if run["role"] == "error":
                seen = row.get(run["method"], "ok")
                row[run["method"]] = "killed" if "killed" in (seen, run["outcome"]) else \
                    "error" if "error" in (seen, run["outcome"]) else "ok"
        fixes = [r["outcome"] for r in capture["runs"] if r["role"] == "fix"]
        row["fix"] = "ran clean" if fixes and set(fixes) == {"ok"} else "failed"
        rows.append(row)
    return pd.DataFrame(rows).set_index("error").fillna("")


def time_to_error_figure(frame: pd.DataFrame) -> Figure:
    """Seconds until each reproduction that failed ended (its error, or the kill of one that
    waits forever), per start method, the kill bound as a dashed line. Runs where nothing
    failed (``fork`` for the errors of a re-imported main) have no bar."""
    from mpguide.chapters.tuning import bar_figure

    errors = frame[(frame["role"] == "error") & (frame["outcome"] != "ok")].copy()
    errors["program"] = [f"{CASES[c].title}\n{label}" if len(CASES[c].reproductions) > 1
                         else CASES[c].title for c, label in zip(errors["case"],
                                                                 errors["label"], strict=True)]
    meta = errors.iloc[0].to_dict() if len(errors) else {}
    caption = machine.caption(meta, start_method=", ".join(dict.fromkeys(errors["method"])))
    fig = bar_figure(errors, x="program", y="seconds", hue="method", caption=caption,
                     ylabel="seconds until the error (or the kill)",
                     title="Each failing reproduction, in its own bounded child process",
                     reference=float(errors["hang_s"].iloc[0]) if len(errors) else None)
    fig.set_size_inches(9, 5.2)
    for label in fig.axes[0].get_xticklabels():
        label.set_rotation(60)
        label.set_horizontalalignment("right")
        label.set_fontsize("x-small")
    return fig
