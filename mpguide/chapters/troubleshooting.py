"""Chapter 6, "When it goes wrong": the classic multiprocessing errors, as a catalogue.

The most-read multiprocessing questions are about errors and hangs, not speed. Each entry of
:data:`CASES` is one of them: the reproductions (small plain programs that need nothing but
the standard library, or joblib), the fix, where the error occurs (which start methods) and
the fragment its message is expected to contain (checked by the tests, never shown: the page
shows what this build's Python printed). :mod:`mpguide.chapters.troubleshooting_runner` runs
each reproduction and each fix in a bounded child process under every start method and
caches what it printed; the page and the gallery read those captures.

A source is a :class:`string.Template`: ``$method`` is the start method the child runs under,
``$wait`` the seconds its own bounded wait (``get(timeout=...)``) allows (short for a
program that ends by that wait running out, generous for the others). Nothing here is a
performance claim: these are demonstrations, and this module registers no claim (the
chapter's claims are those of its dying-workers table, :mod:`mpguide.chapters.dying_workers`).

Examples
--------
>>> from mpguide.chapters import troubleshooting
>>> troubleshooting.CHAPTER.page
'guide/06-troubleshooting'
>>> case = troubleshooting.CASES["global-name"]
>>> case.occurs
('spawn', 'forkserver')
>>> print(case.fix.render("spawn", 2.0).splitlines()[-2].strip())
with ctx.Pool(initializer=set_factor, initargs=(3,)) as pool:
"""

from __future__ import annotations

import dataclasses
import string

from mpguide import claims

CHAPTER = claims.Chapter(
    name="troubleshooting", page="guide/06-troubleshooting", title="When it goes wrong",
    summary="The classic errors (Can't pickle local object, Can't get attribute on __main__, "
            "the bootstrapping RuntimeError, BrokenProcessPool...), each reproduced under "
            "every start method with the message this Python printed, and its fix shown "
            "working.")

#: ``occurs`` of a case whose error shows under every start method.
EVERY_METHOD: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Snippet:
    """One small program, run in a child process of its own.

    Parameters
    ----------
    label
        What it does, as the tables name it (``"Pool.map"``).
    source
        A :class:`string.Template` of the program (``$method``, ``$wait``).
    how
        ``"script"``: saved as ``main.py`` and run as ``python main.py`` (a reader's script);
        ``"c"``: run as ``python -c SOURCE``, whose ``__main__`` has no file behind it, as in
        a notebook cell or the interactive interpreter.
    files
        ``(name, text)`` of modules written beside it (the reader's own module).
    hangs
        Whether it is expected to wait forever where the error occurs: the child is then
        killed after the runner's hang bound.
    expect
        Regular expression the captured message matches where the error occurs (tests only).
    fails
        Whether it fails where its case's error occurs (``False``: a look-alike that works,
        shown for contrast).
    times_out
        Whether it ends (where the error occurs) by its own bounded wait running out: it is
        given the runner's short wait; every other program a generous one.
    """

    label: str
    source: str
    how: str = "script"
    files: tuple[tuple[str, str], ...] = ()
    hangs: bool = False
    expect: str = ""
    fails: bool = True
    times_out: bool = False

    def render(self, method: str | None, wait_s: float) -> str:
        """The program as run under ``method`` with a wait bound of ``wait_s`` seconds."""
        return string.Template(self.source).substitute(method=method or "", wait=f"{wait_s:g}")

    @property
    def command(self) -> str:
        """How it is started, as a reader would type it."""
        return "python main.py" if self.how == "script" else "python -c SOURCE"


@dataclasses.dataclass(frozen=True)
class Case:
    """One error: its reproductions, its fix, and where it occurs.

    ``occurs`` lists the start methods under which the reproductions fail
    (:data:`EVERY_METHOD`: all of them); ``per_method=False`` runs the programs once, for a
    tool with its own way of starting workers (joblib's loky).
    """

    name: str
    title: str
    reproductions: tuple[Snippet, ...]
    fix: Snippet
    occurs: tuple[str, ...] = EVERY_METHOD
    per_method: bool = True

    def occurs_under(self, method: str | None) -> bool:
        """Whether the reproductions are expected to fail under ``method``."""
        return not self.occurs or method in self.occurs


# ---------------------------------------------------------------------------------------------
# The programs
# ---------------------------------------------------------------------------------------------

_LOCAL = '''import multiprocessing


def make_scaler(factor):
    def scale(x):
        return x * factor
    return scale


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(make_scaler(3), range(5)).get(timeout=$wait))
'''

_LOCAL_FIX = '''import functools
import multiprocessing


def scale(x, factor):
    return x * factor


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        triple = functools.partial(scale, factor=3)  # picklable: a module-level function
        print(pool.map_async(triple, range(5)).get(timeout=$wait))
'''

_LAMBDA = '''import multiprocessing

if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(lambda x: x * 3, range(5)).get(timeout=$wait))
'''

_LAMBDA_FIX = '''import multiprocessing


def triple(x):
    return x * 3


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(triple, range(5)).get(timeout=$wait))
'''

#: A notebook cell: no main guard is needed there (nothing re-imports a notebook).
_NOTEBOOK = '''import multiprocessing


def square(x):
    return x * x


ctx = multiprocessing.get_context("$method")
with ctx.Pool() as pool:
    print(pool.map(square, range(5)))
'''

_NOTEBOOK_BOUNDED = _NOTEBOOK.replace("pool.map(square, range(5))",
                                      "pool.map_async(square, range(5)).get(timeout=$wait)")

_NOTEBOOK_EXECUTOR = '''import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


ctx = multiprocessing.get_context("$method")
with ProcessPoolExecutor(mp_context=ctx) as executor:
    print(list(executor.map(square, range(5), timeout=$wait)))
'''

_MYWORK = '''def square(x):
    return x * x
'''

_NOTEBOOK_FIX = '''import multiprocessing

from mywork import square  # mywork.py, beside the notebook, defines square

ctx = multiprocessing.get_context("$method")
with ctx.Pool() as pool:
    print(pool.map_async(square, range(5)).get(timeout=$wait))
'''

_NO_GUARD = '''import multiprocessing

ctx = multiprocessing.get_context("$method")
with ctx.Pool() as pool:
    print(pool.map_async(abs, range(-2, 3)).get(timeout=$wait))
'''

_GUARD = '''import multiprocessing

if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(abs, range(-2, 3)).get(timeout=$wait))
'''

_GLOBAL = '''import multiprocessing


def scaled(x):
    return x * FACTOR


if __name__ == "__main__":
    FACTOR = 3  # set in the parent only: a spawn or forkserver worker never runs this line
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(scaled, range(5)).get(timeout=$wait))
'''

_GLOBAL_FIX = '''import multiprocessing

FACTOR = None


def set_factor(factor):
    global FACTOR
    FACTOR = factor


def scaled(x):
    return x * FACTOR


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool(initializer=set_factor, initargs=(3,)) as pool:
        print(pool.map_async(scaled, range(5)).get(timeout=$wait))
'''

_ARGUMENT = '''import multiprocessing
import socket
import sqlite3
import threading


def describe(obj):
    return type(obj).__name__


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(describe, [$argument]).get(timeout=$wait))
'''

_RESULT = '''import multiprocessing


def squares(n):
    return (x * x for x in range(n))


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ctx.Pool() as pool:
        print(pool.map_async(squares, [3]).get(timeout=$wait))
'''

_UNPICKLABLE_FIX = '''import multiprocessing

LOCK = None


def share_lock(lock):
    global LOCK
    LOCK = lock


def locked_square(x):
    with LOCK:  # a multiprocessing lock, handed to each worker when it starts
        return x * x


def count_lines(path):
    with open(path) as handle:  # send the file's name; open it (or a socket) in the worker
        return sum(1 for _ in handle)


def squares(n):
    return [x * x for x in range(n)]  # a list, not a generator


if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    lock = ctx.Lock()
    with ctx.Pool(initializer=share_lock, initargs=(lock,)) as pool:
        print(pool.map_async(locked_square, range(3)).get(timeout=$wait))
        print(pool.map_async(count_lines, [__file__]).get(timeout=$wait))
        print(pool.map_async(squares, [3]).get(timeout=$wait))
'''

_RISKY = '''def risky(x):
    if x == 3:  # stands for a segfault in a C extension, or the OOM killer
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x
'''

_BROKEN = '''import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor


''' + _RISKY + '''

if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    with ProcessPoolExecutor(mp_context=ctx) as executor:
        print(list(executor.map(risky, range(8), timeout=$wait)))
'''

_BROKEN_FIX = '''import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool


''' + _RISKY + '''

if __name__ == "__main__":
    ctx = multiprocessing.get_context("$method")
    results, lost, crashed = {}, [], []
    with ProcessPoolExecutor(mp_context=ctx) as executor:
        futures = {x: executor.submit(risky, x) for x in range(8)}
        for x, future in futures.items():
            try:
                results[x] = future.result(timeout=$wait)
            except BrokenProcessPool:  # the pool is broken: every pending task fails with it
                lost.append(x)
    for x in lost:  # run each lost item again, alone in a fresh pool, to find the culprit
        with ProcessPoolExecutor(mp_context=ctx) as executor:
            try:
                results[x] = executor.submit(risky, x).result(timeout=$wait)
            except BrokenProcessPool:
                crashed.append(x)
    print("results:", dict(sorted(results.items())))
    print("items that kill their worker:", crashed)
'''

_JOBLIB = '''import os
import signal

from joblib import Parallel, delayed


''' + _RISKY + '''

if __name__ == "__main__":
    print(Parallel(n_jobs=-1, timeout=$wait)(delayed(risky)(x) for x in range(8)))
'''

_JOBLIB_FIX = '''import os
import signal

from joblib import Parallel, delayed
from joblib.externals.loky.process_executor import TerminatedWorkerError


''' + _RISKY + '''

if __name__ == "__main__":
    items, results, crashed = range(8), {}, []
    try:
        out = Parallel(n_jobs=-1, timeout=$wait)(delayed(risky)(x) for x in items)
        results = dict(zip(items, out))
    except TerminatedWorkerError:  # every result of the call is lost: rerun item by item
        for x in items:
            try:
                results[x] = Parallel(n_jobs=-1, timeout=$wait)([delayed(risky)(x)])[0]
            except TerminatedWorkerError:
                crashed.append(x)
    print("results:", results)
    print("items that kill their worker:", crashed)
'''


def _argument(label: str, expression: str, expect: str) -> Snippet:
    return Snippet(label, _ARGUMENT.replace("$argument", expression), expect=expect)


#: The errors, in the page's order.
CASES: dict[str, Case] = {case.name: case for case in (
    Case("pickle-local", "closure / nested function",
         (Snippet("Pool.map_async of a nested function", _LOCAL, expect=r"local object"),),
         Snippet("functools.partial of a module-level function", _LOCAL_FIX)),
    Case("pickle-lambda", "lambda",
         (Snippet("Pool.map_async of a lambda", _LAMBDA, expect=r"pickle.*lambda"),),
         Snippet("a module-level function", _LAMBDA_FIX)),
    Case("main-attribute", "function defined in a notebook",
         (Snippet("Pool.map", _NOTEBOOK, how="c", hangs=True,
                  expect=r"Can't get attribute 'square' on <module '__main__'"),
          Snippet("Pool.map_async(...).get(timeout)", _NOTEBOOK_BOUNDED, how="c",
                  times_out=True, expect=r"Can't get attribute 'square' on <module '__main__'"),
          Snippet("ProcessPoolExecutor.map", _NOTEBOOK_EXECUTOR, how="c",
                  expect=r"Can't get attribute 'square' on <module '__main__'")),
         Snippet("the function imported from a module", _NOTEBOOK_FIX, how="c",
                 files=(("mywork.py", _MYWORK),)),
         occurs=("spawn", "forkserver")),
    Case("bootstrap", "no main guard",
         (Snippet("a Pool started at the top of a script", _NO_GUARD, times_out=True,
                  expect=r"bootstrapping phase"),),
         Snippet("the same under if __name__ == \"__main__\":", _GUARD),
         occurs=("spawn", "forkserver")),
    Case("global-name", "global set under the main guard",
         (Snippet("a worker reading a global set in the parent", _GLOBAL,
                  expect=r"NameError: name 'FACTOR' is not defined"),),
         Snippet("the global set by an initializer", _GLOBAL_FIX),
         occurs=("spawn", "forkserver")),
    Case("unpicklable", "unpicklable argument or result",
         (_argument("a lock as argument", "threading.Lock()", r"pickle.*lock"),
          _argument("an open file as argument", "open(__file__)", r"pickle.*TextIOWrapper"),
          _argument("a database connection as argument", 'sqlite3.connect(":memory:")',
                    r"pickle.*sqlite3"),
          dataclasses.replace(_argument("a socket as argument", "socket.socket()", ""),
                              fails=False),
          _argument("a generator as argument", "(x for x in range(3))", r"pickle.*generator"),
          Snippet("a generator as result", _RESULT, expect=r"generator")),
         Snippet("a lock by initializer, a file by name, a list", _UNPICKLABLE_FIX)),
    Case("broken-pool", "a worker that dies (ProcessPoolExecutor)",
         (Snippet("ProcessPoolExecutor.map, one worker killed", _BROKEN,
                  expect=r"BrokenProcessPool"),),
         Snippet("keep the other results, isolate the item", _BROKEN_FIX)),
    Case("joblib-terminated", "a worker that dies (joblib)",
         (Snippet("joblib.Parallel, one worker killed", _JOBLIB,
                  expect=r"TerminatedWorkerError"),),
         Snippet("keep the other results, isolate the item", _JOBLIB_FIX),
         per_method=False),
)}
