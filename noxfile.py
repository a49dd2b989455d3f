"""Sessions: ``tests`` (pytest + doctests), ``docs`` (build the guide), ``lint`` (ruff, mypy).

Run them with ``python3 -m pip install nox && python3 -m nox -s NAME``.
"""

from __future__ import annotations

import nox

nox.needs_version = ">=2024.10"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    """Install mpguide (editable) with the given dependency groups."""
    deps = [dep for group in groups for dep in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *deps)


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


@nox.session
def tests(session: nox.Session) -> None:
    """Run the tests and doctests, then a quick docs build and the browser check of the site.

    With arguments (``nox -s tests -- tests/test_x.py``) only pytest runs, with them.
    """
    install(session, "test", "docs")
    if session.posargs:
        session.run("pytest", *session.posargs)
        return
    session.run("pytest", "--ignore=tests/test_site.py")
    build_docs(session, quick=True)
    session.run("pytest", "tests/test_site.py", env={"MPGUIDE_SITE_DIR": SITE_DIR})


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
