"""Sessions: ``tests`` (pytest + doctests), ``docs`` (build the guide), ``lint`` (ruff, mypy),
and ``unit-3.X`` (the unit tests on another Python of this machine; ``tests`` runs them all).

Run them with ``python3 -m pip install "nox[uv]" && python3 -m nox -s NAME`` (uv makes each
session's environment in seconds; without it nox falls back to virtualenv and pip).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from mpguide import interpreters  # needs only the standard library at import

nox.needs_version = ">=2024.10"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    """Install mpguide (editable) with the given dependency groups, compiled to bytecode as
    pip does (uv does not by default: every fresh interpreter a build starts would then
    compile numpy and pandas anew where ``PYTHONDONTWRITEBYTECODE`` is set)."""
    deps = [dep for group in groups for dep in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *deps, env={"UV_COMPILE_BYTECODE": "1"})


#: Where ``nox -s docs`` (and the quick build of ``nox -s tests``) writes the site.
SITE_DIR = "docs/_build/html"


def build_docs(session: nox.Session, *sphinx_args: str, quick: bool = False,
               fresh: bool = False) -> None:
    """Run sphinx-build under -W --keep-going, executing every gallery script and guide page.

    The build bounds itself (docs/_ext/mpguide_build.py): each example and notebook cell by
    MPGUIDE_EXAMPLE_TIMEOUT, the whole build by MPGUIDE_BUILD_TIMEOUT; -T prints the full
    traceback of a failed example or cell.
    """
    env = {}
    if quick:
        env["MPGUIDE_QUICK"] = "1"
    if fresh:
        env["MPGUIDE_FRESH"] = "1"
    session.run("python", "-m", "sphinx", "-T", "-W", "--keep-going", "-b", "html", "docs",
                SITE_DIR, *sphinx_args, env=env)


#: The other Pythons of this machine, 3.10 or later, free-threaded builds included
#: (:func:`mpguide.interpreters.discover`: ``PATH``, pyenv, or ``MPGUIDE_PYTHONS``), by label:
#: one ``unit-<label>`` session each. A version that is not installed has no session, so a
#: missing interpreter is never an error, in CI or not.
OTHER_PYTHONS = {i.label: i.executable for i in interpreters.discover() if not i.current}

#: The kit modules whose tests and doctests are the unit tests: the layer that talks to the
#: interpreter (timing, pools, fresh interpreters, shared memory, probes, the cache, claims).
#: The command line, the advisor, the peers, the tracer and the chapters are left to the full
#: suite on the default Python: they are built on these, and take minutes, not seconds.
UNIT_MODULES = ("config", "timing", "cache", "machine", "runner", "leftovers", "pools",
                "executors", "shm", "pipe_peer", "probes", "experiment", "claims", "schedule",
                "gil", "model", "plotting", "interpreters")


def unit_tests() -> list[str]:
    """pytest's arguments for the unit tests: each module of :data:`UNIT_MODULES` and its
    test file, without the tests marked ``slow`` or ``docs``."""
    paths = [f"mpguide/{m}.py" for m in UNIT_MODULES]
    paths += [f"tests/test_{m}.py" for m in UNIT_MODULES if (HERE / f"tests/test_{m}.py").is_file()]
    return ["-m", "not slow and not docs", *paths]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the tests and doctests, then a quick docs build and the browser check of the site;
    then (queued after it) the unit tests on every other Python found (:data:`OTHER_PYTHONS`).

    With arguments (``nox -s tests -- tests/test_x.py``) only pytest runs, with them, here.
    """
    install(session, "test", "docs")
    if session.posargs:
        session.run("pytest", *session.posargs)
        return
    for label in OTHER_PYTHONS:
        session.notify(f"unit-{label}")
    session.run("pytest", "--ignore=tests/test_site.py")
    build_docs(session, quick=True)
    session.run("pytest", "tests/test_site.py", env={"MPGUIDE_SITE_DIR": SITE_DIR})


def unit(session: nox.Session) -> None:
    """Run the unit tests (:func:`unit_tests`) on one more Python; arguments go to pytest.

    The result cache is the session's own: an entry that another Python wrote in the shared
    ``~/.cache/mpguide`` belongs to another machine fingerprint, and its warning is an error.
    """
    install(session, "test")
    session.run("pytest", *unit_tests(), *session.posargs,
                env={"MPGUIDE_CACHE_DIR": str(Path(session.create_tmp()) / "mpguide-cache")})


for _label, _python in OTHER_PYTHONS.items():
    nox.session(unit, name=f"unit-{_label}", python=_python, default=False)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the guide into docs/_build/html, measuring on this machine (cached between builds).

    ``nox -s docs -- --quick`` shrinks the sweeps (MPGUIDE_QUICK=1); ``-- --fresh`` re-measures
    everything (MPGUIDE_FRESH=1); other arguments go to sphinx-build.
    """
    install(session, "docs")
    args = list(session.posargs)
    quick, fresh = "--quick" in args, "--fresh" in args
    args = [arg for arg in args if arg not in {"--quick", "--fresh"}]
    build_docs(session, *args, quick=quick, fresh=fresh)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff, and the kit's types with mypy (strict).

    mypy's settings are in pyproject.toml ``[tool.mypy]``; it needs mpguide's dependencies
    installed, for their types.
    """
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("mypy")


if __name__ == "__main__":
    nox.main()
