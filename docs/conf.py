"""Sphinx configuration of the mpguide site.

The build executes every gallery script (sphinx-gallery) and every MyST guide page (myst-nb);
both read measurements from mpguide's result cache, so a rebuild with nothing changed runs
nothing. ``_ext/mpguide_build.py`` holds the plumbing (cache location, invalidation when
mpguide's source or the build settings change, time bounds); ``_ext/topic_map.py`` draws the
landing page's cards. The chapters (their order, names and pages) come from
:mod:`mpguide.chapters`, never from a list typed here. Build with ``python3 -m nox -s docs``
(see the README).
"""

from __future__ import annotations

import sys
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(CONF_DIR / "_ext"))

import mpguide_build

import mpguide
from mpguide import chapters

mpguide_build_stamp = mpguide_build.prepare(CONF_DIR)
mpguide_build.start_watchdog()
mpguide_build.stop_with_the_build()
CHAPTERS = chapters.chapters()  # in reading order; each has a gallery/<name> folder

project = "mpguide"
author = "the mpguide authors"
project_copyright = "2026, the mpguide authors"
release = version = mpguide.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
    "topic_map",
]

exclude_patterns = [
    "_build",
    "_ext",
    "_templates",
    "jupyter_execute",
    "**.ipynb_checkpoints",
    "auto_examples/**.ipynb",  # sphinx-gallery's notebooks: downloads, not pages to execute
]
templates_path = ["_templates"]  # _templates/autosummary/module.rst: one page per module

# -- HTML: pydata-sphinx-theme, the theme of numpy, pandas, scikit-learn and matplotlib --------
html_theme = "pydata_sphinx_theme"
html_title = f"mpguide {release}"
html_static_path = ["_static"]
html_css_files = ["mpguide.css"]
html_show_sourcelink = False
html_favicon = "_static/favicon.svg"
html_context = {"default_mode": "auto"}  # light/dark from the reader's system setting
#: The first words of the banner of a quick build (tests/test_site.py looks for them).
QUICK_BANNER = "Quick build"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 3,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
}
if mpguide.config.mode() == "quick":  # every page says so, in the theme's banner
    html_theme_options["announcement"] = (
        f"{QUICK_BANNER}: the numbers on this page come from shrunken sweeps "
        "(<code>MPGUIDE_QUICK=1</code>), noisier than a full build's; "
        "<code>nox -s docs</code> measures them in full.")
html_sidebars = {"index": [], "claims": [], "guide/*": []}  # chapters: no empty section nav

# -- API reference: autodoc + autosummary + numpydoc ------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
# The kit's page lists its modules; the chapters package has its own section in api.rst.
autosummary_context = {"listed_apart": [chapters.__name__]}
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections say it, once
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Cross-references to Python, numpy and pandas ---------------------------------------------
# Each inventory falls back to an empty local one, so an offline build (CI here has no network)
# still passes under -W, without those outbound links.
_OFFLINE_INV = mpguide_build.offline_inventory(CONF_DIR / "_build")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (None, _OFFLINE_INV)),
    "numpy": ("https://numpy.org/doc/stable", (None, _OFFLINE_INV)),
    "pandas": ("https://pandas.pydata.org/docs", (None, _OFFLINE_INV)),
}
intersphinx_timeout = 10

# -- Gallery: sphinx-gallery executes gallery/<chapter>/plot_*.py -------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["../gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "subsection_order": [*(f"../gallery/{chapter.name}" for chapter in CHAPTERS), "*"],
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib", "mpguide_build.reset_example"),
    "reset_modules_order": "both",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("mpguide",),
    "download_all_examples": True,
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 1,
    "first_notebook_cell": ("# Runs as is; MPGUIDE_QUICK=1 shrinks the sweeps and "
                            "MPGUIDE_START_METHOD picks fork, spawn or forkserver.\n"
                            "%matplotlib inline"),
}

# -- Guide pages: myst-nb executes docs/guide/*.md ----------------------------------------------
# "force" executes a page whenever Sphinx reads it: after an edit of the page, or after the
# build stamp changed (mpguide's source, mode, start method, --fresh), which re-reads them all.
# Unchanged pages are not read again, so a rebuild with nothing changed executes nothing.
nb_execution_mode = "force"
nb_execution_timeout = mpguide_build.example_timeout()
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_excludepatterns = ["auto_examples/*", "jupyter_execute/*"]
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "substitution"]
myst_heading_anchors = 3


def setup(app: object) -> None:
    """Register the build stamp (when it changes, Sphinx re-reads, re-executes, every page) and
    read the summary pages last."""
    app.add_config_value("mpguide_build_stamp", "", "env")  # type: ignore[attr-defined]
    app.connect("build-finished", mpguide_build.build_finished)  # type: ignore[attr-defined]
    app.connect("env-before-read-docs",  # type: ignore[attr-defined]
                mpguide_build.read_summaries_last)
    if not any((CONF_DIR / "guide").glob("*.md")):
        mpguide_build.allow_empty_glob("guide/*")  # no chapter written yet: not an error
