"""The course website (`make site`, build/site) in headless Chromium: every page loads without a console error and
without asking any other host, shows every figure of its notebook, and its math is typeset by the local MathJax;
every explorer is live with no kernel: each slider moved with the keyboard and with the mouse draws the registry's
curve for the values shown, within the explorer data's budget. Key press to new pixels on the site and the bytes of
explorer data are printed in the terminal summary (never asserted). `make test` runs this after building the site
from the tests' saved outputs."""
import functools
import html.parser
import http.server
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from test_browser import (ARTIFACTS, assert_drawn_is_the_registry, browser,  # noqa: F401  (the Chromium fixture)
                          drawn_state, wait_until)

explore = importlib.import_module("actlab.explore")  # the module (actlab.explore is the function)

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("ACTLAB_SITE", ROOT / "build" / "site"))
SOURCE = ROOT / "build" / "site-source"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
EXPLORER_PAGES = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if "actlab.explore(" in p.read_text())
SITE_LATENCIES: dict[str, tuple[float, float, float, int]] = {}  # page -> ms key press to new pixels (median, worst),
# to the drawing done (median), and the number of presses
SITE_BYTES_SEEN: dict[str, int] = {}  # page -> bytes of explorer data embedded

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


def notebook_code(stem: str) -> str:
    """The notebook's code cells, joined."""
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


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
    """How many PNG figures the page shows from the notebook's saved outputs: those with no HTML, which the site
    shows before a PNG (the explorers' outputs, whose picture the live view replaces)."""
    nb = json.loads((SOURCE / "notebooks" / f"{stem}.ipynb").read_text())
    return sum("image/png" in o.get("data", {}) and "text/html" not in o["data"]
               for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])


class _States(html.parser.HTMLParser):
    """The text of every <script class="actlab-explorer-state"> in a page."""

    def __init__(self):
        super().__init__()
        self.states, self._inside = [], False

    def handle_starttag(self, tag, attrs):
        self._inside = tag == "script" and "actlab-explorer-state" in (dict(attrs).get("class") or "")
        if self._inside:
            self.states.append("")

    def handle_endtag(self, tag):
        self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.states[-1] += data


def embedded_states(stem: str) -> list[str]:
    """The explorer states a built page embeds (the JSON text, as served)."""
    parser = _States()
    parser.feed((SITE / "notebooks" / f"{stem}.html").read_text())
    return parser.states


class _Summary:
    """Prints the site's explorer data and key-press latency in the pytest terminal summary (never asserted)."""

    def pytest_terminal_summary(self, terminalreporter):
        if SITE_BYTES_SEEN:
            terminalreporter.write_sep("-", f"site: explorer data per page (budget {explore.SITE_BYTES:,d} bytes a "
                                            f"page, {explore.SITE_TOTAL_BYTES:,d} in all)")
            for stem, size in SITE_BYTES_SEEN.items():
                terminalreporter.write_line(f"{stem:32s} {size:>12,d} bytes")
            terminalreporter.write_line(f"{'in all':32s} {sum(SITE_BYTES_SEEN.values()):>12,d} bytes")
        if SITE_LATENCIES:
            terminalreporter.write_sep("-", "site latency, no kernel: slider key press -> new pixels (target median "
                                            "<= 8 ms)")
            terminalreporter.write_line(f"{'page':32s} {'median':>9s} {'worst':>9s}  {'drawn (median)':>14s}  presses")
            for stem, (median, worst, drawn, presses) in SITE_LATENCIES.items():
                terminalreporter.write_line(f"{stem:32s} {median:6.1f} ms {worst:6.1f} ms  {drawn:11.1f} ms  {presses}")
            medians = [median for median, _, _, _ in SITE_LATENCIES.values()]
            terminalreporter.write_line(f"{'median over pages':32s} {statistics.median(medians):6.1f} ms")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    if not request.config.pluginmanager.has_plugin("actlab-site-summary"):
        request.config.pluginmanager.register(_Summary(), "actlab-site-summary")


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
        if stem in EXPLORER_PAGES:
            wait_live(page, problems, stem)
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


# --- the explorers, live without a kernel ---------------------------------------------------------------------------

def wait_live(page, problems: list, stem: str) -> None:
    """Wait until every explorer on the page draws live (its static picture replaced); fail at once on a recorded
    problem (a missing script is a console error) or a host that failed."""
    explorers = page.locator(".actlab-site-explorer")
    assert explorers.count() >= 1, f"{stem}: no explorer on the page"
    live = lambda: problems or explorers.evaluate_all(  # noqa: E731
        "es => es.every(e => e.dataset.live === 'true') || es.some(e => e.dataset.live === 'failed')")
    wait_until(page, live, f"{stem}: the explorer did not draw live")
    assert problems == [], problems
    assert explorers.evaluate_all("es => es.map(e => e.dataset.live)") == ["true"] * explorers.count()
    assert page.locator(".actlab-site-explorer img.actlab-static").count() == 0, "the static picture stayed"


def assert_drawn_is_embedded(state: dict, meta: dict, curves: np.ndarray, where: str) -> None:
    """The curves drawn are the page's embedded curves for the slider values drawn (the combination found in the
    grid by value); for an activation the registry here does not know (11's squareplus, registered by its notebook)
    this is the check, beside assert_drawn_is_the_registry for every other."""
    index = 0
    for p in meta["params"]:
        steps = np.asarray(p["values"])
        at = int(np.argmin(np.abs(steps - state["params"][p["name"]])))
        assert abs(steps[at] - state["params"][p["name"]]) <= 1e-9, (where, p["name"], state["params"])
        index = index * len(steps) + at
    block = curves[meta["combos"]["index"][index]]
    for key, row in (("y", 0), ("dy", 1), ("dya", 2)):
        np.testing.assert_array_equal(np.asarray(state[key], dtype=np.float32), block[row], err_msg=f"{where}: {key}")
    assert state["label"] == meta["combos"]["labels"][index], (where, state["label"])


def slider(page, label: str):
    """The site explorer's range input labelled label."""
    return page.locator(".actlab-site-controls .actlab-site-slider", has=page.locator("label", has_text=re.compile(
        rf"^{re.escape(label)}$"))).locator("input[type=range]")


def drag(page, handle, fraction: float) -> None:
    """Drag a range input's thumb with the mouse, in small moves, to fraction (0..1) of its track."""
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    low, high, value = (float(handle.evaluate(f"i => i.{a}")) for a in ("min", "max", "value"))
    thumb = 8  # half of Chromium's range thumb (16 px): the track's usable length is the width less a thumb
    at = lambda f: box["x"] + thumb + f * (box["width"] - 2 * thumb)  # noqa: E731
    y = box["y"] + box["height"] / 2
    start = (value - low) / (high - low)
    page.mouse.move(at(start), y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(at(start + (fraction - start) * i / 10), y)
    page.mouse.up()


def check_move(page, plot, meta, curves, before: dict, where: str) -> dict:
    """After a move: the plot shows the controls' values (parameters and window) and the right curves."""
    def shown() -> tuple[dict, list]:
        params = {p["name"]: p["values"][int(slider(page, p["name"]).input_value())] for p in meta["params"]}
        return params, [float(slider(page, "x from").input_value()), float(slider(page, "x to").input_value())]

    wait_until(page, lambda: (drawn_state(plot)["params"], drawn_state(plot)["window"]) == shown(),
               f"{where}: the plot did not show the sliders' values {shown()}")
    state = drawn_state(plot)
    assert (state["params"], state["window"]) != (before["params"], before["window"]), f"{where}: nothing moved"
    if state["params"] != before["params"]:
        assert state["y"] != before["y"] or state["dy"] != before["dy"], f"{where}: the curve did not change"
    assert state["xscale"] == state["window"], (where, state["xscale"], state["window"])
    assert_drawn_is_embedded(state, meta, curves, where)
    assert_drawn_is_the_registry(state, where)
    return state


KEY_TO_PIXELS = """() => {
    // keydown (a real key press: its timeStamp) -> the plot's drawing -> the next animation frame (the new pixels on
    // screen); per press [to the drawing done, to the next frame] in ms
    window.actlabLatencies = [];
    let pressed = null;
    document.addEventListener('keydown', e => { pressed = e.timeStamp; }, true);
    document.querySelector('.actlab-site-explorer .actlab-plot').addEventListener('actlab-drawn', () => {
        if (pressed === null) return;
        const start = pressed, drawn = performance.now();
        pressed = null;
        requestAnimationFrame(() => window.actlabLatencies.push([drawn - start, performance.now() - start]));
    });
}"""


def key_to_pixels(page, handle, presses: int = 20) -> list[list[float]]:
    """Per arrow press on handle, [to the drawing done, to the new pixels] in milliseconds from the key press:
    presses presses, half towards the middle of its track, half back (every press moves it)."""
    page.evaluate(KEY_TO_PIXELS)
    low, high, value = (float(handle.evaluate(f"i => i.{a}")) for a in ("min", "max", "value"))
    there, back = ("ArrowLeft", "ArrowRight") if value > (low + high) / 2 else ("ArrowRight", "ArrowLeft")
    handle.focus()
    for i in range(presses):
        page.keyboard.press(there if i < presses // 2 else back)
        wait_until(page, lambda: page.evaluate("window.actlabLatencies.length") == i + 1,
                   f"key press {i + 1} was not drawn")
        page.wait_for_timeout(30)
    return page.evaluate("window.actlabLatencies")


@pytest.mark.parametrize("stem", EXPLORER_PAGES)
def test_explorer_is_live_on_the_site(site, browser, stem):  # noqa: F811
    """Every slider of the page's explorer, moved with the keyboard and with the mouse, draws the registry's curve
    for the values shown (and the page's embedded one); with two parameters, a move of one after the other draws
    the curve at both new values; no console error, no request off 127.0.0.1; key press to pixels printed."""
    states = embedded_states(stem)
    assert len(states) == 1, f"{stem}: {len(states)} embedded explorer states"
    meta, curves = explore.embedded_curves(json.loads(states[0]))
    page, problems = open_page(browser, f"{site}/notebooks/{stem}.html")
    try:
        if has_math(stem):
            wait_for_math(page)  # typesetting moves the page: the mouse must find the sliders where they stay
        wait_live(page, problems, stem)
        plot = page.locator(".actlab-site-explorer .actlab-plot")
        plot.scroll_into_view_if_needed()
        state = drawn_state(plot)
        assert state["window"] == meta["window"] and state["name"] == meta["name"], (state["window"], meta["window"])
        defaults = {p["name"]: p["values"][int(np.argmin(np.abs(np.asarray(p["values"]) - p["default"])))]
                    for p in meta["params"]}
        assert state["params"] == defaults, (state["params"], defaults)
        assert_drawn_is_embedded(state, meta, curves, f"{stem}: first drawing")
        assert_drawn_is_the_registry(state, f"{stem}: first drawing")

        for p in meta["params"]:
            handle = slider(page, p["name"])
            handle.focus()
            start = int(handle.input_value())
            key = "ArrowRight" if start + 3 < len(p["values"]) else "ArrowLeft"
            for _ in range(3):
                page.keyboard.press(key)
            state = check_move(page, plot, meta, curves, state, f"{stem}: {p['name']} by the keyboard")
            drag(page, handle, 0.3 if start / max(1, len(p["values"]) - 1) > 0.5 else 0.8)
            state = check_move(page, plot, meta, curves, state, f"{stem}: {p['name']} by the mouse")

        for end, key, fraction in (("x from", "ArrowRight", 0.1), ("x to", "ArrowLeft", 0.9)):
            handle = slider(page, end)
            handle.focus()
            for _ in range(2):
                page.keyboard.press(key)
            state = check_move(page, plot, meta, curves, state, f"{stem}: {end} by the keyboard")
            drag(page, handle, fraction)
            state = check_move(page, plot, meta, curves, state, f"{stem}: {end} by the mouse")

        handle = slider(page, meta["params"][0]["name"] if meta["params"] else "x from")
        latencies = key_to_pixels(page, handle)
        drawn_ms, frame_ms = [t[0] for t in latencies], [t[1] for t in latencies]
        SITE_LATENCIES[stem] = (statistics.median(frame_ms), max(frame_ms), statistics.median(drawn_ms), len(frame_ms))
        print(f"\n{stem} on the site: key press -> new pixels (next frame after the drawing), {len(frame_ms)} "
              f"presses: median {statistics.median(frame_ms):.1f} ms, worst {max(frame_ms):.1f} ms; key press -> "
              f"drawing done: median {statistics.median(drawn_ms):.1f} ms, worst {max(drawn_ms):.1f} ms")
        assert_drawn_is_the_registry(drawn_state(plot), f"{stem}: after {len(frame_ms)} key presses")
        assert problems == [], problems
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-explorer-{stem}.png"))
    finally:
        page.close()


def test_a_refused_value_is_put_back_on_the_site(site, browser):  # noqa: F811
    """Hardtanh (notebook 10): max_val pushed onto min_val with the keyboard stops at the nearest value allowed,
    says why in the widget, and draws the registry's curve there."""
    stem = next(s for s in EXPLORER_PAGES if 'actlab.explore("hardtanh"' in notebook_code(s))
    meta, curves = explore.embedded_curves(json.loads(embedded_states(stem)[0]))
    assert meta["name"] == "hardtanh", meta["name"]
    page, problems = open_page(browser, f"{site}/notebooks/{stem}.html")
    try:
        wait_live(page, problems, stem)
        plot = page.locator(".actlab-site-explorer .actlab-plot")
        slider(page, "max_val").focus()
        for _ in range(40):
            page.keyboard.press("ArrowLeft")
        wait_until(page, lambda: "refused" in drawn_state(plot)["message"], "no refusal shown")
        state = drawn_state(plot)
        low = state["params"]["min_val"]
        step = meta["params"][1]["step"] * meta["every"]
        assert abs(state["params"]["max_val"] - (low + step)) < 1e-9, state["params"]
        assert re.fullmatch(r"max_val=(-?[\d.]+) refused: hardtanh: min_val=-1 must be below max_val=\1",
                            state["message"]), state["message"]
        assert_drawn_is_embedded(state, meta, curves, "hardtanh after a refusal")
        assert_drawn_is_the_registry(state, "hardtanh after a refusal")
        assert problems == [], problems
    finally:
        page.close()


def test_explorer_data_within_budget(site):
    """Every explorer page embeds one state, at most explore.SITE_BYTES bytes, and the site at most
    explore.SITE_TOTAL_BYTES in all (sizes are deterministic); printed in the terminal summary."""
    for stem in NOTEBOOKS:
        states = embedded_states(stem)
        assert len(states) == (stem in EXPLORER_PAGES), f"{stem}: {len(states)} explorer states"
        if states:
            SITE_BYTES_SEEN[stem] = sum(len(s.encode()) for s in states)
    over = {stem: size for stem, size in SITE_BYTES_SEEN.items() if size > explore.SITE_BYTES}
    assert over == {}, f"pages over {explore.SITE_BYTES} bytes of explorer data: {over}"
    assert sum(SITE_BYTES_SEEN.values()) <= explore.SITE_TOTAL_BYTES, SITE_BYTES_SEEN
    for name in ("uPlot.iife.min.js", "explorer.js", "site_host.js", "uPlot.LICENSE"):
        assert (SITE / "_static" / "actlab" / name).read_bytes() == (explore.STATIC / name).read_bytes(), name


def test_embedded_state_is_the_registry():
    """embedded_state holds the registry's curves for every combination of two sliders (Hardtanh), refuses the
    constrained ones, and within a small budget thins every slider from its default (which stays a step)."""
    meta, curves = explore.embedded_curves(explore.embedded_state("hardtanh", (-3, 3)))
    names = [p["name"] for p in meta["params"]]
    assert names == ["min_val", "max_val"] and meta["every"] == 1 and meta["window"] == [-3, 3]
    lows, highs = (meta["params"][k]["values"] for k in (0, 1))
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, [len(lows), len(highs)], size=(20, 2)):
        combo = i * len(highs) + j
        if lows[i] >= highs[j]:
            assert meta["combos"]["index"][combo] == -1 and "must be below" in meta["combos"]["refused"][combo]
            continue
        expected, label = explore.curve_values("hardtanh", min_val=lows[i], max_val=highs[j])
        np.testing.assert_array_equal(curves[meta["combos"]["index"][combo]], expected)
        assert meta["combos"]["labels"][combo] == label
        # and, independently of the registry, Hardtanh is the clip of x to [min_val, max_val] (PyTorch's
        # nn.Hardtanh doc) with slope 1 inside and 0 outside (points on the kinks left out)
        x = np.linspace(meta["grid"]["low"], meta["grid"]["high"], meta["grid"]["points"])
        inside, off_kinks = (x > lows[i]) & (x < highs[j]), ~np.isclose(x, lows[i]) & ~np.isclose(x, highs[j])
        y, dy = curves[meta["combos"]["index"][combo]][:2]
        np.testing.assert_allclose(y, np.clip(x, lows[i], highs[j]), atol=1e-6)
        np.testing.assert_array_equal(dy[off_kinks], inside[off_kinks].astype(np.float32))
    small = explore.embedded_state("swish", budget=200_000)
    meta, curves = explore.embedded_curves(small)
    beta = meta["params"][0]
    assert meta["every"] > 1 and 1.0 in beta["values"] and len(curves) == len(beta["values"])
    assert len(explore.embedded_json(small).encode()) <= 200_000
    np.testing.assert_allclose(np.diff(beta["values"]), beta["step"] * meta["every"], rtol=1e-9)
    with pytest.raises(ValueError, match="budget"):
        explore.embedded_state("swish", budget=1000)
    with pytest.raises(ValueError, match="x_range"):
        explore.embedded_state("swish", x_range=(-30, 3))


@pytest.mark.parametrize("stem", EXPLORER_PAGES)
def test_explorer_shows_its_picture_without_javascript(site, browser, stem):  # noqa: F811
    """A reader without JavaScript sees each explorer's static picture (the PNG the notebook's run saved)."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{site}/notebooks/{stem}.html", wait_until="load")
        picture = page.locator(".actlab-site-explorer img.actlab-static")
        assert picture.count() == 1, f"{stem}: {picture.count()} static pictures"
        picture.scroll_into_view_if_needed()
        box = picture.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, (stem, box)
    finally:
        context.close()
