"""The classic failures, explained once: why each happens, its fix, and its guide section.

Chapter 6 of the guide ("When it goes wrong", ``docs/guide/06-troubleshooting.md``) shows
each failure reproduced with the message this Python printed; its **Why** and **The fix**
paragraphs open with the sentences of :data:`FAILURES`, glued from here. The kit's errors
(:mod:`mpguide.pools`, :mod:`mpguide.profiler`) end with the same sentences, and the command
line (``python -m mpguide advise|compare|trace``) adds the section they come from
(:func:`explain`), so a reader meets one wording in the terminal and on the page.

A kit exception names its failure in its ``failure`` attribute (a key of :data:`FAILURES`);
:func:`kind_of` also finds it on the exception an error was raised from or while handling.
Sentences are Markdown (the page renders them); :func:`plain` is what a terminal shows.

Examples
--------
>>> from mpguide import failures
>>> failure = failures.FAILURES["pickle-lambda"]
>>> failure.anchor, failure.key
('trouble-pickle-lambda', 'pickle_lambda')
>>> print(failure.link)
see the guide, When it goes wrong > Can't pickle <lambda>: \
docs/guide/06-troubleshooting.md#trouble-pickle-lambda
>>> class Refused(ValueError):
...     failure = "pickle-lambda"
>>> text = failures.explain(Refused("the worker function <lambda> is a lambda."))
>>> text.startswith("the worker function <lambda> is a lambda. A pool sends"), text.endswith(
...     "#trouble-pickle-lambda).")
(True, True)
"""

from __future__ import annotations

import dataclasses

#: The chapter every failure belongs to: its title and its page, from the repository's root.
CHAPTER_TITLE = "When it goes wrong"
PAGE = "docs/guide/06-troubleshooting.md"


@dataclasses.dataclass(frozen=True)
class Failure:
    """One kind of failure: ``why`` it happens and its ``fix`` (a sentence or two each, in
    Markdown), and the section of the chapter that shows it: its ``title`` (what the link
    names; a glued heading changes with the Python version, so this is a stable short form)
    and ``anchor`` (the MyST target above the heading, which Sphinx makes the section's id)."""

    kind: str
    title: str
    anchor: str
    why: str
    fix: str

    @property
    def key(self) -> str:
        """The kind as a glue key (``"pickle_local"``)."""
        return self.kind.replace("-", "_")

    @property
    def advice(self) -> str:
        """``why`` and ``fix`` as plain text, for an error message."""
        return plain(f"{self.why} {self.fix}")

    @property
    def link(self) -> str:
        """Where the chapter shows this failure, in a form a reader can follow."""
        return f"see the guide, {CHAPTER_TITLE} > {self.title}: {PAGE}#{self.anchor}"


def plain(markdown: str) -> str:
    """``markdown`` as a terminal shows it: without the backticks of code spans.

    >>> plain("use `functools.partial`")
    'use functools.partial'
    """
    return markdown.replace("`", "")


_PICKLED = ("A pool sends the function to its workers pickled, and pickle stores a function as "
            "a reference: its module and its qualified name, which the worker imports and "
            "looks up.")
_TOP_LEVEL = ("Define the function with `def` at the top level of an importable module and "
              "import it from there")

#: Every failure the kit reports, by kind.
FAILURES: dict[str, Failure] = {f.kind: f for f in (
    Failure("pickle-local", "Can't pickle local object", "trouble-pickle-local",
            f"{_PICKLED} A function defined inside another function (a closure) has a name "
            f"such as `make_scaler.<locals>.scale`, which names nothing a worker could look "
            f"up, so pickling fails in the parent under every start method.",
            f"{_TOP_LEVEL}, and bind its extra arguments with `functools.partial`, which "
            f"pickles as a reference to the function plus the arguments."),
    Failure("pickle-lambda", "Can't pickle <lambda>", "trouble-pickle-lambda",
            f"{_PICKLED} A lambda has no name of its own (`<lambda>`), so there is nothing "
            f"for a worker to look up.",
            f"{_TOP_LEVEL} (or use `operator` and `functools` helpers, which pickle by name)."),
    Failure("main-attribute", "Can't get attribute on <module '__main__'>",
            "trouble-main-attribute",
            "Under `spawn` and `forkserver` a worker is a fresh interpreter that finds the "
            "functions of its parent's `__main__` by importing the main script again; a "
            "function defined in a notebook cell, the interactive interpreter or code run by "
            "`exec` is in no script, so it does not exist in the worker, which dies "
            "unpickling its task (a plain `Pool.map` then waits forever).",
            "Put the function in a module file beside the notebook or script and import it: "
            "a worker imports modules by name."),
    Failure("unpicklable", "cannot pickle ... object", "trouble-unpicklable",
            "Every argument and every result travels to and from a worker pickled, under "
            "every start method; locks, open files, connections and generators hold state of "
            "this process (a kernel object, a position in a file, a paused frame) that has no "
            "pickled form.",
            "Send what the worker needs to rebuild the object, and build it there: a file's "
            "name, a database's address, a list instead of a generator; a lock made by "
            "multiprocessing is handed over when the worker starts (`initializer`)."),
    Failure("worker-died", "BrokenProcessPool: a process was terminated abruptly",
            "trouble-broken-pool",
            "A worker that dies while it runs a task (the kernel's out-of-memory killer, a "
            "segfault in a C extension, `os._exit`) takes the task with it: a "
            "`ProcessPoolExecutor` marks the whole pool broken, and a `multiprocessing.Pool` "
            "replaces the worker and waits forever for the lost task.",
            "Find out why the worker dies (memory per worker is the usual cause: fewer "
            "workers, smaller items); meanwhile keep the results that came back and run each "
            "lost item again, alone in a fresh pool, to find the one that kills."),
    Failure("timeout", "The recipe that bounds every case", "trouble-recipe",
            "A task that never returns (an endless loop, a deadlock, a wait for something only "
            "the parent has) keeps its worker busy for ever, and `Pool.map` and "
            "`ProcessPoolExecutor.map` wait for it as long as no timeout is given.",
            "Give every wait a timeout and make sure the workers are ended on the way out: "
            "`pool.map_async(...).get(timeout=...)` inside `with Pool() as pool:`, or "
            "`mpguide.pools.bounded_map`; then run the function serially on the same items "
            "to find the task that never returns."),
    Failure("raised", "The function itself raises", "trouble-raised",
            "The function raised in a worker: the pool pickles the exception, raises it again "
            "in the parent from the call that waits for the results, and the other results of "
            "that call are lost.",
            "Call the function on that item in a plain loop, without a pool, to see its "
            "traceback and fix it there (multiprocessing attaches the worker's traceback to "
            "the exception it raises again, as its cause)."),
)}


def kind_of(exc: BaseException) -> str | None:
    """The failure ``exc`` reports: its own ``failure`` attribute, else that of the exception
    it was raised from or while handling (``raise ... from None`` keeps that one as
    ``__context__``), nearest first; ``None`` for an error of no kind in :data:`FAILURES`.

    >>> try:
    ...     try:
    ...         raise TimeoutError("stuck")
    ...     except TimeoutError as exc:
    ...         exc.failure = "timeout"
    ...         raise ValueError("the map did not finish") from None
    ... except ValueError as error:
    ...     kind_of(error)
    'timeout'
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = getattr(current, "failure", None)
        if kind in FAILURES:
            return str(kind)
        current = current.__cause__ or current.__context__
    return None


def explain(exc: BaseException, message: str | None = None) -> str:
    """``message`` (default: ``str(exc)``) followed by the chapter's why and fix for the
    failure ``exc`` reports (unless the message ends with them already) and the link to its
    section; the message alone for an error of no known kind."""
    text = (str(exc) if message is None else message).rstrip()
    kind = kind_of(exc)
    if kind is None:
        return text
    failure = FAILURES[kind]
    if not text.endswith(failure.advice):
        text = f"{text} {failure.advice}"
    return f"{text} ({failure.link})."


__all__ = ["CHAPTER_TITLE", "FAILURES", "PAGE", "Failure", "explain", "kind_of", "plain"]
