"""The course website (`make site`, build/site) in headless Chromium: every page loads without a console error and
without asking any other host, shows every figure of its notebook (the explorer's static PNG included), and its math
is typeset by the local MathJax. `make test` runs this after building the site from the tests' saved outputs."""
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("ACTLAB_SITE", ROOT / "build" / "site"))
SOURCE = ROOT / "build" / "site-source"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = [pytest.mark.site, pytest.mark.browser]


@pytest.fixture(scope="module")
def site():
    """The built site, served on 127.0.0.1; built first (executing notebooks without saved outputs) if missing."""
    if not (SITE / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(SITE)], check=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def open_page(browser, url: str):  # noqa: F811
    """A page at url, recording console errors, page errors, failed requests and requests to any other host."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))

    def only_local(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", None) or route.request.url.startswith("data:"):
            return route.continue_()
        problems.append(f"asked another host: {route.request.url}")
        return route.abort()

    page.route("**/*", only_local)
    page.goto(url, wait_until="load")
    return page, problems


def has_math(stem: str) -> bool:
    """Whether the notebook's prose has a formula ($...$ or $$...$$)."""
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    return any("$" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def wait_for_math(page) -> None:
    """Wait until MathJax has processed the page (its queue has run)."""
    page.wait_for_function("() => window.MathJax && window.MathJax.Hub", timeout=30_000)
    page.evaluate("() => new Promise(resolve => MathJax.Hub.Queue(resolve))")


def math_state(page) -> dict:
    return page.evaluate("""() => {
        const maths = [...document.querySelectorAll('.math.notranslate')];  // Sphinx's math, not MathJax's own
        return {total: maths.length,
                typeset: maths.filter(m => m.querySelector('.MathJax, .MathJax_Display, .MathJax_CHTML')).length,
                errors: document.querySelectorAll('.MathJax_Error, merror, .merror').length};
    }""")


def image_outputs(stem: str) -> int:
    """How many PNG figures the notebook's saved outputs hold (what the page must show)."""
    nb = json.loads((SOURCE / "notebooks" / f"{stem}.ipynb").read_text())
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


def test_front_page_is_the_readme_with_the_course_as_navigation(site, browser):  # noqa: F811
    page, problems = open_page(browser, f"{site}/index.html")
    try:
        assert "activation functions, interactively" in page.locator("h1").first.text_content()
        links = page.locator(".sidebar-tree a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert [Path(h).stem for h in links if "notebooks/" in h] == NOTEBOOKS
        course_table = page.locator("table").first  # the README's course table; later tables (the guide) cite notebooks too
        table = course_table.locator("a[href^='notebooks/']").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert [Path(h).stem for h in table] == NOTEBOOKS, "the course table links every notebook's page"
        assert problems == [], problems
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "site-index.png"))
    finally:
        page.close()


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_notebook_page_loads_shows_figures_and_typesets_math(site, browser, stem):  # noqa: F811
    page, problems = open_page(browser, f"{site}/notebooks/{stem}.html")
    try:
        if has_math(stem):
            wait_for_math(page)
        expected = image_outputs(stem)
        images = page.locator(".cell_output img")
        loaded = images.evaluate_all("is => is.filter(i => i.complete && i.naturalWidth > 0).length")
        assert expected > 0 and images.count() == expected and loaded == expected, \
            f"{stem}: {loaded} of {images.count()} figures loaded, the notebook has {expected}"
        state = math_state(page)
        assert (state["total"] > 0) == has_math(stem), f"{stem}: formulas in the notebook, none on the page"
        assert state["typeset"] == state["total"] and state["errors"] == 0, state
        assert page.locator("text=Traceback (most recent call last)").count() == 0
        assert problems == [], problems
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-{stem}.png"))
    finally:
        page.close()
