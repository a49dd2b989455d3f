"""The failures the guide explains (mpguide.failures), as ``advise`` and ``compare`` report them:
each bad input exits with status 2 and one paragraph that ends with the chapter's why and fix
and the section that shows them, quickly, leaving no process behind; and every section the
command line names exists in the chapter's page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from mpguide import failures, pools
from mpguide.chapters import troubleshooting

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / failures.PAGE
SITE = ROOT / os.environ.get("MPGUIDE_SITE_DIR", "docs/_build/html")
#: A command runner: ``run(*args) -> CompletedProcess``.
Run = Callable[..., subprocess.CompletedProcess[str]]

#: A module whose worker function is defined in ``__main__`` by ``exec``, as a notebook cell or
#: sphinx-gallery block defines it: a fork child inherits it, a spawn or forkserver child that
#: imports the main script again does not find it.
MAIN_MODULE = textwrap.dedent('''
    import sys

    _MAIN = sys.modules["__main__"]
    exec("def work(x):\\n    return x * x\\n", vars(_MAIN))
    work = _MAIN.work

    def items():
        return list(range(20))
''')

#: Options that keep ``compare`` tiny: one Pool, one timed run, a short bound.
TINY = ("--tools", "pool", "--workers", "2", "--chunksizes", "1", "--repeats", "1",
        "--timeout", "3")


def _targets() -> dict[str, str]:
    """Each section anchor of the page, with the heading line that follows its target."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    return {match[1]: lines[i + 1] for i, line in enumerate(lines[:-1])
            if (match := re.fullmatch(r"\(([\w-]+)\)=", line)) and lines[i + 1].startswith("#")}


@pytest.fixture
def cli(user_dir: Path, run_alone: Run) -> Run:
    """``cli(command, *args)``: ``python -m mpguide COMMAND`` in ``user_dir``, alone."""
    (user_dir / "mainmod.py").write_text(MAIN_MODULE, encoding="utf-8")

    def run(command: str, *args: str) -> subprocess.CompletedProcess[str]:
        extra = ("--card", "card.json", "--time-budget", "0.5", "--timeout", "3") \
            if command == "advise" else TINY
        return run_alone([sys.executable, "-m", "mpguide", command, *args, *extra], user_dir,
                         timeout=120)

    return run


def _assert_explained(result: subprocess.CompletedProcess[str], command: str,
                      kind: str) -> None:
    """Exit status 2 and one paragraph that ends with the chapter's words for ``kind``."""
    failure = failures.FAILURES[kind]
    err = result.stderr
    assert result.returncode == 2, (result.stdout, err)
    assert "Traceback" not in err
    assert err.startswith(f"mpguide {command}: "), err
    assert err.strip().count("\n") == 0, err
    assert failure.advice in err, err
    assert err.rstrip().endswith(f"({failure.link})."), err


# --- the words and the sections ---------------------------------------------------------------


def test_every_section_named_exists_in_the_page() -> None:
    targets = _targets()
    for failure in failures.FAILURES.values():
        assert failure.anchor in targets, failure.kind
        assert f"{{glue:md}}`why_{failure.key}`" in PAGE.read_text(encoding="utf-8")
        assert f"{{glue:md}}`fix_{failure.key}`" in PAGE.read_text(encoding="utf-8")
        heading = targets[failure.anchor].lstrip("# ")
        # A glued heading is the message this Python printed; a typed one is the title.
        assert heading.startswith("{glue:md}`heading_") or heading == failure.title, heading


def test_the_link_names_the_chapter() -> None:
    assert troubleshooting.CHAPTER.title == failures.CHAPTER_TITLE
    assert f"docs/{troubleshooting.CHAPTER.page}.md" == failures.PAGE
    assert PAGE.is_file()


@pytest.mark.docs
def test_every_section_named_exists_in_the_built_site() -> None:
    page = SITE / "guide" / "06-troubleshooting.html"
    if not page.is_file():
        pytest.skip(f"no built site at {SITE} (python3 -m nox -s docs)")
    ids = set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))
    assert {f.anchor for f in failures.FAILURES.values()} <= ids


def _serial_run() -> None:
    try:
        raise pools.WorkerDiedError("a worker exited")
    except pools.WorkerDiedError:
        raise ValueError("the serial run failed") from None


def test_a_kind_is_found_where_the_error_was_raised_from() -> None:
    with pytest.raises(ValueError, match="serial run") as caught:
        _serial_run()
    assert failures.kind_of(caught.value) == "worker-died"
    assert failures.explain(caught.value).endswith("#trouble-broken-pool).")
    assert failures.kind_of(ValueError("no kind")) is None
    assert failures.explain(ValueError("no kind")) == "no kind"


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["advise", "compare"])
@pytest.mark.parametrize(("target", "factory", "kind"), [
    ("usermod:as_lambda", "usermod:items", "pickle-lambda"),
    ("usermod:closure", "usermod:items", "pickle-local"),
    ("usermod:square", "usermod:with_lock", "unpicklable"),
    ("usermod:returns_lock", "usermod:few_items", "unpicklable"),
    ("usermod:boom", "usermod:few_items", "raised"),
    ("usermod:forever", "usermod:few_items", "timeout"),
])
def test_bad_input_gets_the_chapters_words(cli: Run, command: str, target: str, factory: str,
                                           kind: str) -> None:
    _assert_explained(cli(command, target, "--items", factory), command, kind)


@pytest.mark.parametrize("command", ["advise", "compare"])
def test_a_dying_worker_gets_the_chapters_words(cli: Run, command: str,
                                                start_method: str) -> None:
    option = "--start-method" if command == "advise" else "--start-methods"
    result = cli(command, "usermod:crash", "--items", "usermod:few_items", option, start_method)
    _assert_explained(result, command, "worker-died")


@pytest.mark.parametrize("command", ["advise", "compare"])
def test_a_main_function_gets_the_chapters_words(cli: Run, command: str,
                                                 start_method: str) -> None:
    option = "--start-method" if command == "advise" else "--start-methods"
    result = cli(command, "mainmod:work", "--items", "mainmod:items", option, start_method)
    if start_method == "fork" and command == "advise":
        # A fork child is a copy of the parent, function included: nothing to refuse.
        assert result.returncode == 0, result.stderr
        return
    _assert_explained(result, command, "main-attribute")
    assert "Can't get attribute 'work'" in result.stderr
