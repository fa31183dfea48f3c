"""Sphinx configuration of the course website (built by tools/build_site.py; `make site`).

Sphinx with MyST-NB, because it builds offline: every theme file and script ships inside the Python packages, and
MathJax is served from the copy in jupyter-server-mathjax (MathJax 2.7, STIX web fonts) instead of a CDN. Jupyter
Book 2 (mystmd) fetches its theme at build time. Notebooks are not executed here: tools/build_site.py merges the
outputs saved by the tests (or executes the notebooks lacking them) before Sphinx runs.
"""
import importlib.util
import os

project = "actlab"
html_title = "actlab: activation functions, interactively"
author = "the actlab course"
extensions = ["myst_nb"]
html_theme = "furo"
root_doc = "index"
exclude_patterns = ["_build", "_extra_static", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

# Notebooks: already executed; widgets show their static PNG (no widget JavaScript from a CDN), except the explorers,
# whose output tools/build_site.py makes live (text/html, chosen before the PNG) with the front end in _static/actlab.
nb_execution_mode = "off"
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]
nb_merge_streams = True

# MathJax from the local copy that tools/build_site.py puts in _extra_static/mathjax.
html_static_path = [os.path.join(os.environ.get("ACTLAB_SITE_SOURCE", "."), "_extra_static")]
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web", "webFont": "STIX-Web",
                 "imageFont": None,
                 # MathJax measures web fonts against a blank font at url('about:blank'), which Chromium refuses
                 # with a console error (CORS); a local() source that never exists serves the same purpose.
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
    "MathMenu": {"showFontMenu": False},
    # MyST marks pages tex2jax_ignore and its math with the class "math" (MathJax 3's way): process those.
    "tex2jax": {"processClass": "tex2jax_process|mathjax_process|math|output_area"},
    "messageStyle": "none",
}
html_favicon = os.path.join(os.environ.get("ACTLAB_SITE_SOURCE", "."), "_extra_static", "favicon.png")


# The course's repository: pyproject.toml's [project.urls] Repository, the one setting the Colab links and cell read
# too (through tools/colab.py, which also knows the placeholder). Every page's footer links it once it is published.
_COLAB_TOOLS = importlib.util.spec_from_file_location(
    "colab_tools", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "colab.py"))
_colab = importlib.util.module_from_spec(_COLAB_TOOLS)
_COLAB_TOOLS.loader.exec_module(_colab)
html_theme_options = ({"footer_icons": [{"name": "The course's repository", "url": _colab.repository(),
                                         "html": "Source on GitHub", "class": ""}]} if _colab.published() else {})


# The explorers' front end, on the pages that have one: the vendored uPlot (a classic script defining uPlot), then the
# host (an ES module importing explorer.js beside it), and their styles. tools/build_site.py puts them in _static/actlab.
EXPLORER_CSS = ("actlab/uPlot.min.css", "actlab/explorer.css", "actlab/site_host.css")


def add_explorer_front_end(app, pagename, templatename, context, doctree):
    """Add the explorer's scripts and styles to a page that holds an explorer (only to that page)."""
    if "actlab-site-explorer" not in context.get("body", ""):
        return
    for css in EXPLORER_CSS:
        app.add_css_file(css)
    app.add_js_file("actlab/uPlot.iife.min.js")
    app.add_js_file("actlab/site_host.js", type="module")


def setup(app):
    app.connect("html-page-context", add_explorer_front_end)
