"""Docs build plumbing (docs/_ext/mpguide_build.py): cache location, fresh builds, invalidation
of sphinx-gallery's MD5 cache when mpguide's source or the build settings change, and the
per-example time bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="needs the docs dependency group")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import mpguide_build

from mpguide import cache, workloads


@pytest.fixture
def confdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A docs folder with one executed example (its .md5 written by sphinx-gallery)."""
    for name in ("MPGUIDE_FRESH", "MPGUIDE_FRESH_SINCE", "IPYTHONDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPGUIDE_START_METHOD", "fork")
    (tmp_path / "auto_examples" / "overhead").mkdir(parents=True)
    return tmp_path


def _md5(confdir: Path) -> Path:
    path = confdir / "auto_examples" / "overhead" / "plot_x.py.md5"
    path.write_text("0123")
    return path


def test_unchanged_settings_keep_gallery_results(confdir: Path) -> None:
    first = mpguide_build.prepare(confdir)
    mpguide_build.mark_success()
    md5 = _md5(confdir)
    assert mpguide_build.prepare(confdir) == first
    assert md5.exists()


def test_failed_build_reruns_everything(confdir: Path) -> None:
    first = mpguide_build.prepare(confdir)  # and the build fails: no mark_success()
    md5 = _md5(confdir)
    assert mpguide_build.prepare(confdir) != first
    assert not md5.exists()


@pytest.mark.parametrize("change", ["source", "mode", "start_method", "fresh"])
def test_changed_settings_rerun_gallery(confdir: Path, monkeypatch: pytest.MonkeyPatch,
                                        change: str) -> None:
    first = mpguide_build.prepare(confdir)
    mpguide_build.mark_success()
    md5 = _md5(confdir)
    if change == "source":
        monkeypatch.setattr(cache, "source_hash", lambda: "edited")
    elif change == "mode":
        monkeypatch.setenv("MPGUIDE_QUICK", "0")
    elif change == "start_method":
        monkeypatch.setenv("MPGUIDE_START_METHOD", "spawn")
    else:
        monkeypatch.setenv("MPGUIDE_FRESH", "1")
    assert mpguide_build.prepare(confdir) != first
    assert not md5.exists()


def test_fresh_becomes_fresh_since(confdir: Path) -> None:
    os.environ["MPGUIDE_FRESH"] = "1"  # the fixture's monkeypatch restores it
    before = time.time()
    mpguide_build.prepare(confdir)
    assert "MPGUIDE_FRESH" not in os.environ  # else every page would re-measure again
    assert float(os.environ["MPGUIDE_FRESH_SINCE"]) >= before


def test_kernels_print_numpy_scalars_plainly(confdir: Path) -> None:
    """A glued numpy float must format in prose: {glue:text}`key:.1f` parses its repr."""
    mpguide_build.prepare(confdir)
    shown = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "-c",
         "import numpy; print(repr(numpy.float64(1.5)))"],
        capture_output=True, text=True, timeout=120, check=True, env=dict(os.environ),
    ).stdout
    assert shown.strip().splitlines()[-1] == "1.5"


def test_kernels_log_errors_only(confdir: Path) -> None:
    """A page's kernel starts without ipykernel's warning about its loopback TCP sockets,
    one line per page in the build's log otherwise."""
    from jupyter_client.manager import start_new_kernel

    mpguide_build.prepare(confdir)
    log = confdir / "kernel.log"
    with log.open("w") as stderr:
        manager, client = start_new_kernel(kernel_name="python3", stderr=stderr,
                                           startup_timeout=120)
        try:
            client.execute_interactive("print(1)", timeout=60)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    assert "WARNING" not in log.read_text()


def test_cache_defaults_to_the_build_folder(confdir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPGUIDE_CACHE_DIR")
    mpguide_build.prepare(confdir)
    assert os.environ["MPGUIDE_CACHE_DIR"] == str(confdir / "_build" / ".mpguide-cache")


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="no SIGALRM on this platform")
def test_example_past_its_timeout_is_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPGUIDE_EXAMPLE_TIMEOUT", "1")
    monkeypatch.setattr(mpguide_build, "_ENV_SNAPSHOT",
                        {k: v for k, v in os.environ.items() if k.startswith("MPGUIDE_")})
    mpguide_build.reset_example({}, "plot_slow.py", "before")
    try:
        with pytest.raises(mpguide_build.ExampleTimeout, match=r"plot_slow\.py ran past"):
            time.sleep(30)
    finally:
        mpguide_build.reset_example({}, "plot_slow.py", "after")
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.alarm(0) == 0  # nothing left armed


#: A stand-in for sphinx: installs the build's signal handling, starts a child in a session of
#: its own (as a Jupyter kernel or an experiment's fresh interpreter is), then waits.
_BUILD = '''
import subprocess, sys, time
sys.path.insert(0, {ext!r})
import mpguide_build
mpguide_build.stop_with_the_build()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         start_new_session=True)
try:  # the test signals as soon as it reads the pid: be ready for it before printing
    print(child.pid, flush=True)
    time.sleep(120)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
'''


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_one_signal_ends_the_build_and_what_it_started(signum: int) -> None:
    """One Ctrl-C (or nox's SIGTERM after it) ends the build and the children that the
    terminal's Ctrl-C does not reach, within seconds."""
    import psutil

    ext = str(Path(mpguide_build.__file__).parent)
    with subprocess.Popen([sys.executable, "-c", _BUILD.format(ext=ext)],
                          stdout=subprocess.PIPE, text=True) as build:
        assert build.stdout is not None
        child = psutil.Process(int(build.stdout.readline()))
        start = time.monotonic()
        build.send_signal(signum)
        status = build.wait(15)
        assert time.monotonic() - start < 15
    assert status == (130 if signum == signal.SIGINT else 128 + signum)
    deadline = time.monotonic() + 15
    while child.is_running() and child.status() != psutil.STATUS_ZOMBIE \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    running = child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    if running:
        child.kill()
    assert not running, "a child in its own session outlived the interrupted build"


def test_the_summary_pages_are_read_after_the_chapters() -> None:
    """The claims page and the landing page only read what the chapters measured: executed
    last, they never run a chapter's measurements under one cell's timeout."""
    names = ["api", "claims", "guide/01-overhead", "guide/09-versions", "index"]
    mpguide_build.read_summaries_last(None, None, names)
    assert names == ["api", "guide/01-overhead", "guide/09-versions", "claims", "index"]


def test_the_build_ends_by_naming_its_costliest_experiments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a fresh build's time went: each experiment's measuring seconds, costliest first."""
    monkeypatch.setenv("MPGUIDE_CACHE_DIR", str(tmp_path))
    results = cache.ResultCache(tmp_path)
    results.get_or_measure("slow-one", {"seconds": 0.05}, workloads.sleep_task)
    results.get_or_measure("quick-one", {"seconds": 0.0}, workloads.sleep_task)
    logged: list[str] = []
    monkeypatch.setattr(mpguide_build.logger, "info", lambda fmt, *args: logged.append(fmt % args))
    monkeypatch.setitem(mpguide_build._STARTED, "at", 0.0)
    mpguide_build.report_costs()
    assert len(logged) == 1
    assert "over 2 experiments; costliest: slow-one" in logged[0]
    assert logged[0].index("slow-one") < logged[0].index("quick-one")
    # A rebuild that reads every record and measures nothing names nothing.
    monkeypatch.setitem(mpguide_build._STARTED, "at", time.time() + 1)
    mpguide_build.report_costs()
    assert len(logged) == 1
