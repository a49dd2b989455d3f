"""The built site in a real browser: every page loads its images and logs no console error.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``; ``.ci/run`` installs them)
driven by Selenium through the system chromedriver, so nothing is downloaded. The site is
served over HTTP on 127.0.0.1, as a reader's browser would fetch it. The pages: the landing
page, the claims page, the API index, the gallery index and every gallery example, and every
guide page. Gallery examples and the first chapter must show at least one figure.

Without a built site (``MPGUIDE_SITE_DIR``, default ``docs/_build/html``) or without Chromium
these tests skip, except in CI (``CI=true``), where they fail: CI must prove the site works.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpguide import config

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / os.environ.get("MPGUIDE_SITE_DIR", "docs/_build/html")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

#: Seconds a page may take to load all its images.
PAGE_TIMEOUT = 60


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the site check must run, not skip)")
    pytest.skip(reason)


def _pages() -> list[str]:
    if not (SITE / "index.html").is_file():
        return []
    pages = ["index.html", "claims.html", "api.html", "auto_examples/index.html"]
    pages += sorted(p.relative_to(SITE).as_posix() for p in SITE.glob("auto_examples/*/plot_*.html"))
    pages += sorted(p.relative_to(SITE).as_posix() for p in SITE.glob("guide/*.html"))
    return pages


PAGES = _pages()


def _needs_figure(page: str) -> bool:
    """Gallery examples and the first chapter measure and plot; other pages may be text."""
    return "/plot_" in page or page.startswith("guide/01-")


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    """The built site served on 127.0.0.1 (a free port) for the module's tests."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean; failures show up as browser console errors."""


@pytest.fixture
def browser() -> Iterator[object]:
    """A fresh headless Chromium with an empty profile, quit after the test."""
    if not CHROMIUM or not CHROMEDRIVER:
        _unavailable("Chromium or chromedriver not installed "
                     "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mpguide-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,1024", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_site_was_built() -> None:
    """The landing page exists, and so do the pages the guide promises."""
    if not PAGES:
        _unavailable(f"no built site at {SITE} (python3 -m nox -s docs)")
    for page in ("index.html", "claims.html", "api.html", "auto_examples/index.html"):
        assert (SITE / page).is_file(), page


#: Where a measured table says where it came from (:func:`mpguide.report.captioned`).
_PROVENANCE = '<caption class="mpguide-provenance">'


def _uncaptioned_tables(html: str, gallery: bool) -> list[str]:
    """The start of each pandas table in ``html`` that carries no provenance caption: on a
    guide page, the tables a cell shows without its code (``remove-input``: results, not
    declarations); on a gallery page, every one."""
    if not gallery:
        cells = re.split(r'(?=<div class="cell )', html)
        html = "".join(c for c in cells if c.startswith('<div class="cell tag_remove-input'))
    found = []
    for match in re.finditer(r'<table[^>]*class="dataframe[^>]*>', html):
        if not html[match.end():].lstrip().startswith(_PROVENANCE):
            found.append(html[match.start():match.start() + 300])
    return found


@pytest.mark.parametrize("page", [p for p in PAGES if p.startswith(("guide/", "auto_examples/"))
                                  or p == "index.html"] or ["index.html"])
def test_measured_tables_say_where_they_came_from(page: str) -> None:
    """Every measured table is captioned with its machine, Python, start method and mode."""
    if not PAGES:
        _unavailable(f"no built site at {SITE} (python3 -m nox -s docs)")
    html = (SITE / page).read_text(encoding="utf-8")
    missing = _uncaptioned_tables(html, gallery=page.startswith("auto_examples/"))
    assert not missing, f"{page}: tables without a provenance caption: {missing}"


_LOAD_IMAGES = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach((img) => { img.loading = "eager"; });
Promise.all(images.map((img) => img.complete ? null : new Promise((resolve) => {
    img.addEventListener("load", resolve); img.addEventListener("error", resolve);
}))).then(() => done(images.map((img) => [img.currentSrc || img.src, img.naturalWidth])));
"""


@pytest.mark.docs
@pytest.mark.parametrize("page", PAGES or ["index.html"])
def test_page_loads_images_without_console_errors(page: str, site_url: str,
                                                  browser: object) -> None:
    if not PAGES:
        _unavailable(f"no built site at {SITE} (python3 -m nox -s docs)")
    browser.get(site_url + page)  # type: ignore[attr-defined]
    browser.set_script_timeout(PAGE_TIMEOUT)  # type: ignore[attr-defined]
    images = browser.execute_async_script(_LOAD_IMAGES)  # type: ignore[attr-defined]
    time.sleep(0.5)  # let late scripts log their errors
    broken = [src for src, width in images if not width]
    assert not broken, f"{page}: images that did not load: {broken}"
    if _needs_figure(page):
        assert images, f"{page}: shows no figure"
    errors = [entry["message"] for entry in browser.get_log("browser")  # type: ignore[attr-defined]
              if entry["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors: {errors}"
    assert "mpguide" in browser.title  # type: ignore[attr-defined]
    if config.mode() == "quick":
        from selenium.webdriver.common.by import By

        banner = browser.find_elements(  # type: ignore[attr-defined]
            By.CSS_SELECTOR, ".bd-header-announcement")
        assert banner, f"{page}: a quick build's page does not say so"
        assert "Quick build" in banner[0].text, f"{page}: banner reads {banner[0].text!r}"
