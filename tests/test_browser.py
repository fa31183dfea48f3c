"""The course in a real browser: JupyterLab in headless Chromium, every explorer's controls moved and checked.

Starts its own JupyterLab on 127.0.0.1 (free port, temporary copy of the notebooks) and stops it, and the browser,
also when a test fails. Screenshots go to artifacts/screenshots/. Skipped without Chromium, except under CI.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HANG_GUARD_MS = 120_000  # how long a wait may take before the test calls it a hang: a guard, never a speed limit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("ACTLAB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "screenshots"
EXPLORER_NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if "actlab.explore(" in p.read_text())
CHROME_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LATENCIES: dict[str, tuple[float, float]] = {}  # notebook -> (median, worst) ms, key press to new pixels
DRAGS: dict[str, dict[str, dict]] = {}  # notebook -> slider -> a continuous mouse drag's measurements (drag())
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook in the visible tab

pytestmark = pytest.mark.browser


class _Summary:
    """Prints the explorer's mouse-drag measurements in the pytest terminal summary, per notebook (never asserted;
    conftest.py prints the key-press latencies)."""

    def pytest_terminal_summary(self, terminalreporter):
        if not DRAGS:
            return
        terminalreporter.write_sep("-", "explorer in JupyterLab (headless Chromium): continuous mouse drags, printed "
                                        "only (targets: >= 50 distinct frames/s, last frame <= 50 ms after release)")
        for notebook, drags in DRAGS.items():
            for what, m in drags.items():
                terminalreporter.write_line(
                    f"{notebook} {what}: {m['fps']:5.1f} distinct frames/s ({m['frames']} frames, {m['draws']} "
                    f"drawings, {m['moves']} moves in {m['ms']:.0f} ms), longest gap {m['gap_ms']:.0f} ms; after the "
                    f"release: last new frame {m['release_ms']:.0f} ms, last drawing {m['last_draw_ms']:.0f} ms")


@pytest.fixture(scope="module", autouse=True)
def explorer_summary(request):
    if not request.config.pluginmanager.has_plugin("actlab-explorer-summary"):
        request.config.pluginmanager.register(_Summary(), "actlab-explorer-summary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60) -> None:
    """Poll url until it answers (any HTTP status)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing answered at {url} within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    """Terminate a process and its children (it was started in its own session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


NEEDED_FOR_EXPLORERS = re.compile(r"^(import |from \S+ import )|^(def|class) |actlab\.explore\(|custom_activation\(", re.M)


def explorers_only(path: Path) -> None:
    """Keep, up to a notebook copy's last explorer, its markdown and the code cells the explorers need (imports,
    definitions, registrations, the explorer cells): the browser checks the widgets, while nbval runs every
    notebook whole (running its experiments here again would double the suite's time)."""
    nb = json.loads(path.read_text())
    code = lambda c: "".join(c["source"]) if c["cell_type"] == "code" else ""
    ends = [i for i, c in enumerate(nb["cells"]) if "actlab.explore(" in code(c)]
    if ends:
        cells = nb["cells"][:ends[-1] + 1]
        nb["cells"] = [c for c in cells if c["cell_type"] != "code" or NEEDED_FOR_EXPLORERS.search(code(c))]
        path.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A private JupyterLab server on a copy of the notebooks; yields (base_url, token)."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    for path in (work / "notebooks").glob("*.ipynb"):
        explorers_only(path)
    settings = work / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"), "BROWSER": "true"}
    log = open(work / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work / 'notebooks'}", "--allow-root",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never `playwright install`)."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` (Debian/Ubuntu)"
        if os.environ.get("CI"):
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def run_all_cells(page, timeout_s: float = 900) -> None:
    """Run every cell through the command palette and wait until every code cell has executed (timeout_s guards
    against a hang only: a notebook's budget is 90 s on a quiet machine, and a loaded one may take many times that)."""
    page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for(timeout=HANG_GUARD_MS)
    page.get_by_text(re.compile(r"\| Idle")).first.wait_for(timeout=HANG_GUARD_MS)  # the kernel is up
    for _ in range(3):
        page.locator(NOTEBOOK).first.click()
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette input").wait_for(timeout=HANG_GUARD_MS)
        page.keyboard.type("Run All Cells")
        page.keyboard.press("Enter")
        try:
            page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
                                      .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""", timeout=10_000)  # retried
            break
        except Exception:
            page.keyboard.press("Escape")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
        }""", timeout=timeout_s * 1000)


def recorded_errors(page) -> list[str]:
    """A list that collects the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def errors_in(page) -> list[str]:
    """Text of every error output in the notebook."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
                        ".jp-OutputArea-output:has-text('Traceback (most recent call last)')").all_text_contents()


def open_and_run(page, url: str, widget: str):
    """Open a notebook in JupyterLab at url, run all its cells, check no cell shows an error, and return the last
    element matching the selector widget once it is shown."""
    page.goto(url)
    run_all_cells(page)
    assert errors_in(page) == [], f"a cell of {url.split('?')[0]} shows an error"
    shown = page.locator(widget).last
    shown.wait_for(timeout=HANG_GUARD_MS)
    return shown


def wait_until(page, check, what: str, timeout_ms: int = HANG_GUARD_MS) -> None:
    """Poll check() until it is true, or fail saying what did not happen (timeout_ms guards against a hang only: a
    loaded machine may be slow, and speed is reported, never asserted)."""
    deadline = time.time() + timeout_ms / 1000
    while time.time() < deadline:
        if check():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"{what} within {timeout_ms} ms")


def as_float(text: str) -> float:
    """A slider readout as a number (readouts use the Unicode minus sign)."""
    return float(text.strip().replace("\u2212", "-"))


def drawn_state(plot) -> dict:
    """What the explorer's plot shows, read from the browser: the activation's registry name, the slider values it
    drew, the window, the label, and the data and scales uPlot holds (x, f, autograd f', analytic f')."""
    return plot.evaluate("""root => {
        const [f, d] = root.actlab.plots;
        return {name: root.dataset.name, label: root.dataset.label, params: JSON.parse(root.dataset.params || '{}'),
                window: JSON.parse(root.dataset.window), drawn: Number(root.dataset.drawn),
                x: Array.from(f.data[0]), y: Array.from(f.data[1]), dy: Array.from(d.data[1]),
                dya: Array.from(d.data[2]), xscale: [f.scales.x.min, f.scales.x.max],
                yscale: [f.scales.y.min, f.scales.y.max], dscale: [d.scales.y.min, d.scales.y.max],
                message: root.querySelector('.actlab-message').textContent,
                description: root.querySelector('.actlab-description').textContent};
    }""")


def assert_drawn_is_the_registry(state: dict, where: str) -> None:
    """The curves drawn are the registry's (torch, computed here) at the slider values drawn, at sampled points, to
    float32's precision (the browser receives float32); and every drawn value in the window lies inside its axes."""
    import numpy as np
    import actlab

    x = np.asarray(state["x"])
    inside = (x >= state["window"][0]) & (x <= state["window"][1])
    for key, (low, high) in (("y", state["yscale"]), ("dy", state["dscale"]), ("dya", state["dscale"])):
        values = np.asarray(state[key], dtype=float)[inside]
        values = values[np.isfinite(values)]
        assert values.size == 0 or (low <= values.min() and values.max() <= high), (where, key, low, high)
    if state["name"] not in actlab.activation_names():
        return  # registered by the notebook in its kernel (11's squareplus): test_explore_view checks what kernels send
    c = actlab.curves(state["name"], (-20, 20), len(state["x"]), **state["params"])
    every = np.linspace(0, len(c.x) - 1, 41).astype(int)
    for key, expected in (("y", c.y), ("dy", c.dy), ("dya", c.dy_analytic)):
        drawn = np.asarray(state[key], dtype=float)[every]
        np.testing.assert_allclose(drawn, expected[every].astype(np.float32), rtol=2e-7, atol=1e-30,
                                   err_msg=f"{where}: the drawn {key} is not the registry's at {state['params']}")
    assert state["label"] == c.label, (where, state["label"], c.label)


KEY_TO_PIXELS = """async ([handle, plot, presses, guardMs]) => {
    // keydown on a slider handle -> the plot's next drawing -> the next animation frame (the new pixels on screen)
    // returns [to the drawing done, to the next frame] in ms per press, or null if a press was not drawn within
    // guardMs (HANG_GUARD_MS: a hang guard, never a speed limit)
    const times = [];
    for (let i = 0; i < presses; i++) {
        let drawnAt = null;
        const drawn = new Promise(resolve => plot.addEventListener('actlab-drawn', () => {
            drawnAt = performance.now(); resolve();
        }, {once: true}));
        const start = performance.now();
        handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
        const done = await Promise.race([drawn.then(() => new Promise(r => requestAnimationFrame(r))),
                                         new Promise(r => setTimeout(() => r(null), guardMs))]);
        if (done === null) return null;
        times.push([drawnAt - start, performance.now() - start]);
        await new Promise(r => setTimeout(r, 30));
    }
    return times;
}"""


DRAG_PROBE = """root => {
    // From now on, at every animation frame: if the plot drew since the frame before and what it shows changed (the
    // slider values, window, label or either panel's y axis), a distinct frame (its time, ms); also the times of
    // the drawings (a kernel's late message may redraw the same picture), of the moves made with a button held and
    // of the release.
    const [f, d] = root.actlab.plots;
    const shows = () => JSON.stringify([root.dataset.params, root.dataset.window, root.dataset.label,
                                        f.scales.y.min, f.scales.y.max, d.scales.y.min, d.scales.y.max]);
    const probe = {moves: [], up: null, frames: [], draws: [], last: root.dataset.drawn, shown: shows(), on: true};
    const move = e => { if (e.buttons) probe.moves.push(performance.now()); };
    const up = () => { probe.up = performance.now(); };
    const drawn = () => { probe.draws.push(performance.now()); };
    window.addEventListener('mousemove', move, true);
    window.addEventListener('mouseup', up, true);
    root.addEventListener('actlab-drawn', drawn);
    const tick = () => {
        if (!probe.on) return;
        if (root.dataset.drawn !== probe.last) {
            probe.last = root.dataset.drawn;
            if (shows() !== probe.shown) { probe.shown = shows(); probe.frames.push(performance.now()); }
        }
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    probe.stop = () => {
        probe.on = false;
        window.removeEventListener('mousemove', move, true);
        window.removeEventListener('mouseup', up, true);
        root.removeEventListener('actlab-drawn', drawn);
    };
    root.actlabProbe = probe;
}"""
PAGE_DRAG = """async ([handle, x0, x1, y, moves, everyMs]) => {
    // A drag made of mouse events dispatched in the page on a timer (noUiSlider listens to mousedown on the handle's
    // touch area, then mousemove and mouseup on the document): a hand's pace (a mouse reports at 125 Hz or more),
    // which Playwright's page.mouse cannot give (each move waits for the browser's acknowledgement, about 22 ms
    // even on a blank page).
    const at = (x, buttons) => ({clientX: x, clientY: y, bubbles: true, cancelable: true, composed: true, view: window,
                                 button: 0, buttons});
    (handle.querySelector('.noUi-touch-area') || handle).dispatchEvent(new MouseEvent('mousedown', at(x0, 1)));
    const start = performance.now();
    for (let i = 1; i <= moves; i++) {
        const wait = start + i * everyMs - performance.now();
        if (wait > 0) await new Promise(r => setTimeout(r, wait));
        document.documentElement.dispatchEvent(new MouseEvent('mousemove', at(x0 + (x1 - x0) * i / moves, 1)));
    }
    document.documentElement.dispatchEvent(new MouseEvent('mouseup', at(x1, 0)));
}"""
DRAG_MOVES, DRAG_EVERY_S, DRAG_SPAN = 90, 0.008, 0.6  # a hand's drag: 90 moves at 125 Hz over 60% of the track
QUIET_MS = 1000  # the drag has ended when the kernel is idle and no new drawing came for this long


def kernel_idle(page) -> bool:
    return page.get_by_text(re.compile(r"\| Idle")).count() > 0


def drag(page, plot, slider, handle, driver: str) -> dict:
    """Drag a slider's handle over DRAG_SPAN of its track (rightwards from the left part, else leftwards) in
    DRAG_MOVES small moves DRAG_EVERY_S apart, with driver 'mouse' (Playwright's page.mouse: the browser's own input
    path, but at most one move per acknowledgement) or 'events' (PAGE_DRAG: mouse events dispatched in the page at
    that pace). Measured in the browser (DRAG_PROBE), once the kernel is idle and nothing was drawn for QUIET_MS:
    fps, the distinct frames (a changed picture) per second between the first move and the release; gap_ms, the
    longest time without one; release_ms, from the release to the last one (0 when it came before the release);
    last_draw_ms, from the release to the last drawing (of a changed picture or not)."""
    handle.scroll_into_view_if_needed()
    track, grip = slider.locator(".slider-container").bounding_box(), handle.bounding_box()
    x0, y = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    where = (x0 - track["x"]) / track["width"]
    x1 = track["x"] + track["width"] * (where + DRAG_SPAN if where <= 1 - DRAG_SPAN else where - DRAG_SPAN)
    plot.evaluate(DRAG_PROBE)
    if driver == "events":
        page.evaluate(PAGE_DRAG, [handle.element_handle(), x0, x1, y, DRAG_MOVES, DRAG_EVERY_S * 1000])
    else:
        page.mouse.move(x0, y)
        page.mouse.down()
        start = time.perf_counter()
        for i in range(1, DRAG_MOVES + 1):
            time.sleep(max(0.0, start + i * DRAG_EVERY_S - time.perf_counter()))
            page.mouse.move(x0 + (x1 - x0) * i / DRAG_MOVES, y)
        page.mouse.up()
    quiet = "r => performance.now() - (r.actlabProbe.draws.at(-1) ?? 0)"
    wait_until(page, lambda: kernel_idle(page) and plot.evaluate(quiet) > QUIET_MS, "the plot did not settle")
    p = plot.evaluate("r => { r.actlabProbe.stop(); const p = r.actlabProbe; "
                      "return {moves: p.moves, up: p.up, frames: p.frames, draws: p.draws}; }")
    first, up = p["moves"][0], p["up"]
    during = [f for f in p["frames"] if first <= f <= up]
    marks = [first, *during, up]
    return {"fps": len(during) / (up - first) * 1000, "frames": len(during), "draws": len(p["draws"]),
            "moves": len(p["moves"]), "ms": up - first, "gap_ms": max(b - a for a, b in zip(marks, marks[1:])),
            "release_ms": max([f - up for f in p["frames"] if f > up], default=0.0),
            "last_draw_ms": max([d - up for d in p["draws"] if d > up], default=0.0)}


@pytest.mark.parametrize("notebook", EXPLORER_NOTEBOOKS)
def test_explorer_in_jupyterlab(lab, browser, notebook):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console_errors = recorded_errors(page)
    try:
        # a workspace of its own, reset: no tabs restored from another test
        page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={token}")
        run_all_cells(page)
        assert errors_in(page) == [], f"{notebook}: a cell shows an error"
        plot = page.locator(".actlab-plot").last
        plot.wait_for(timeout=HANG_GUARD_MS)
        explorer = page.locator(".actlab-widget", has=plot).last
        explorer.scroll_into_view_if_needed()
        wait_until(page, lambda: plot.get_attribute("data-drawn") is not None, "the plot was not drawn")

        # 1. a parameter slider, with the keyboard (if this activation has parameters, else pick one that does)
        sliders = explorer.locator(".widget-hslider", has_not=page.locator("label", has_text="x range"))
        if sliders.count() == 0:
            explorer.locator(".widget-dropdown select").select_option(label="Leaky ReLU")
            wait_until(page, lambda: drawn_state(plot)["name"] == "leaky_relu", "the plot did not switch to Leaky ReLU")
        slider = sliders.first
        name = slider.locator("label").text_content().strip()
        before = drawn_state(plot)
        slider.locator(".noUi-handle").focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        readout = as_float(slider.locator(".widget-readout").text_content())
        wait_until(page, lambda: abs(drawn_state(plot)["params"][name] - readout) <= 1e-6 + 1e-6 * abs(readout),
                   f"the plot did not show the slider's value {name}={readout}")
        after = drawn_state(plot)
        assert after["params"][name] != before["params"][name] and after["y"] != before["y"]
        assert_drawn_is_the_registry(after, f"{notebook}: {name} moved by the keyboard")
        assert f"({name}=" in after["description"] or f", {name}=" in after["description"], after["description"]

        # 2. the input-range slider: its lower handle, with the keyboard
        window = explorer.locator(".widget-hslider", has=page.locator("label", has_text="x range"))
        window.locator(".noUi-handle-lower").focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        readout_low = lambda: as_float(window.locator(".widget-readout").text_content().split()[0])  # noqa: E731
        readout_high = lambda: as_float(window.locator(".widget-readout").text_content().split()[-1])  # noqa: E731
        wait_until(page, lambda: drawn_state(plot)["window"][0] == readout_low(),
                   "the plot did not show the slider's input range")
        state = drawn_state(plot)
        assert state["window"][0] > before["window"][0] and state["xscale"] == state["window"]
        assert f"on [{state['window'][0]:g}, {state['window'][1]:g}]" in state["description"]
        assert_drawn_is_the_registry(state, f"{notebook}: the input range moved")

        # 3. the lower handle pushed onto the upper one: the window keeps its minimum width, nothing is refused
        for _ in range(100):
            page.keyboard.press("ArrowRight")
        wait_until(page, lambda: drawn_state(plot)["window"][1] - drawn_state(plot)["window"][0] >= 1 - 1e-9
                   and drawn_state(plot)["window"][0] == readout_low(), "the window did not settle")
        assert drawn_state(plot)["message"] == "" and "refused" not in explorer.text_content()
        window.locator(".noUi-handle-lower").focus()
        page.keyboard.press("Home")
        wait_until(page, lambda: drawn_state(plot)["window"][0] == -20, "the lower handle did not go to -20")

        # 4. the activation dropdown: to Swish (or to ELU when Swish is already shown), answered by the kernel
        label, target, param = ("ELU", "elu", "alpha") if drawn_state(plot)["name"] == "swish" else ("Swish", "swish", "beta")
        explorer.locator(".widget-dropdown select").select_option(label=label)
        wait_until(page, lambda: drawn_state(plot)["name"] == target, f"the plot did not switch to {target}")
        assert explorer.locator(".widget-hslider label", has_text=param).count() == 1
        assert_drawn_is_the_registry(drawn_state(plot), f"{notebook}: switched to {target}")

        # 5. latency, measured in the browser: key press to the new pixels, over a series of moves (printed only)
        handle = explorer.locator(".widget-hslider", has=page.locator("label", has_text=param)).locator(".noUi-handle")
        latencies = page.evaluate(KEY_TO_PIXELS, [handle.element_handle(), plot.element_handle(), 20, HANG_GUARD_MS])
        assert latencies is not None, f"a slider move did not redraw the plot within {HANG_GUARD_MS} ms"
        assert_drawn_is_the_registry(drawn_state(plot), f"{notebook}: after 20 key presses")
        drawn_ms, frame_ms = [t[0] for t in latencies], [t[1] for t in latencies]
        LATENCIES[notebook] = (statistics.median(frame_ms), max(frame_ms))
        print(f"\n{notebook}: key press -> new pixels (next frame after the drawing), {len(latencies)} presses: "
              f"median {statistics.median(frame_ms):.1f} ms, worst {max(frame_ms):.1f} ms; "
              f"key press -> drawing done: median {statistics.median(drawn_ms):.1f} ms, worst {max(drawn_ms):.1f} ms")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}.png"), full_page=False)

        # 5b. continuous drags (timings printed, never asserted): the parameter slider, then the input range's upper
        #     handle, each with Playwright's mouse and with mouse events at a hand's pace; after each, the plot
        #     shows the registry's curve for the value the slider shows
        slider = explorer.locator(".widget-hslider", has=page.locator("label", has_text=param))
        upper = window.locator(".noUi-handle-upper")
        for driver in ("mouse", "events"):
            before = slider.locator(".widget-readout").text_content()
            grip = slider.locator(".noUi-handle")
            DRAGS.setdefault(notebook, {})[f"{param}, {driver}"] = drag(page, plot, slider, grip, driver)
            readout = as_float(slider.locator(".widget-readout").text_content())
            assert slider.locator(".widget-readout").text_content() != before, f"the {driver} drag did not move {param}"
            wait_until(page, lambda: abs(drawn_state(plot)["params"][param] - readout) <= 1e-6 + 1e-6 * abs(readout),
                       f"after the {driver} drag the plot did not show the slider's value {param}={readout}")
            assert_drawn_is_the_registry(drawn_state(plot), f"{notebook}: {param} dragged ({driver})")
            before = window.locator(".widget-readout").text_content()
            DRAGS[notebook][f"x range, {driver}"] = drag(page, plot, window, upper, driver)
            assert window.locator(".widget-readout").text_content() != before, f"the {driver} drag did not move x range"
            wait_until(page, lambda: drawn_state(plot)["window"] == [readout_low(), readout_high()],
                       f"after the {driver} drag the plot did not show the slider's input range")
            state = drawn_state(plot)
            assert state["xscale"] == state["window"] and state["message"] == "", state["message"]
            assert_drawn_is_the_registry(state, f"{notebook}: the input range dragged ({driver})")
        # a late message that asks for what is already on screen (as the kernel's echoes after a drag do) repaints
        # nothing: the plot's drawing counter stays where it is
        painted = plot.evaluate("root => { const before = root.dataset.drawn; root.actlab.draw(); "
                                "return [before, root.dataset.drawn]; }")
        assert painted[0] == painted[1], f"{notebook}: drawing the same picture again repainted it ({painted})"

        # 6. a projector: 1024x768 with the file browser open, and the same at 125% zoom (819x614 CSS pixels),
        #    with the input range at its widest readout (-20.0 - 20.0)
        window.locator(".noUi-handle-lower").focus()
        page.keyboard.press("Home")
        window.locator(".noUi-handle-upper").focus()
        page.keyboard.press("End")
        wait_until(page, lambda: drawn_state(plot)["window"] == [-20, 20], "the input range did not reach [-20, 20]")
        for width, height, zoom in PROJECTOR_VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            open_file_browser(page)
            page.wait_for_timeout(300)  # JupyterLab re-lays out the panels after a resize
            explorer.scroll_into_view_if_needed()
            outside = controls_outside_viewport(page, explorer, width, min_track_px=finest_slider_steps() / zoom)
            page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}-{width}x{height}.png"), full_page=False)
            assert outside == [], f"{notebook} at {width}x{height} with the file browser open: {outside}"
        assert console_errors == [], f"{notebook}: errors in the browser's console: {console_errors}"
    finally:
        page.close()
        shutdown_kernels(base, token)


PROJECTOR_VIEWPORTS = ((1024, 768, 1.0), (819, 614, 1.25))  # (CSS width, height, browser zoom)


def finest_slider_steps() -> float:
    """The most steps any registry parameter's slider has ((high - low) / step): a track needs that many screen
    pixels for every value to be reachable with the mouse (swish's beta: 0 to 20 by 0.1, 200 pixels)."""
    import actlab

    return max((p.high - p.low) / p.step for n in actlab.activation_names() for p in actlab.lookup(n).params)


def open_file_browser(page) -> None:
    """Show JupyterLab's file browser in the left sidebar (as a student usually has it)."""
    if not page.locator(".jp-FileBrowser").first.is_visible():
        page.locator(".jp-SideBar [data-id='filebrowser']").first.click()
    page.locator(".jp-FileBrowser").first.wait_for(state="visible", timeout=HANG_GUARD_MS)


EXPLORER_PARTS = (".widget-dropdown select, .widget-hslider .widget-label, .widget-hslider .slider-container, "
                  ".widget-hslider .widget-readout, .actlab-plot .uplot, .actlab-plot .actlab-description")


def controls_outside_viewport(page, explorer, width: float, min_track_px: float, parts: str = EXPLORER_PARTS,
                              clippable: str = ".widget-readout") -> list[str]:
    """Every control of a widget (by default the explorer's: dropdown, slider labels, tracks and readouts, the plot;
    else those the CSS selector parts matches) that is not wholly within 0..width horizontally, whose text is clipped
    (one matching clippable, narrower than its text), or a track shorter than min_track_px CSS pixels."""
    return explorer.evaluate("""(root, [width, minTrack, selector, clippable]) => {
        const bad = [];
        const parts = root.querySelectorAll(selector);
        for (const el of parts) {
            const r = el.getBoundingClientRect();
            const name = (el.className || el.tagName) + ' ' + (el.textContent || '').trim().slice(0, 20);
            if (r.width === 0) continue;
            if (r.left < -0.5 || r.right > width + 0.5) bad.push(`${name}: spans ${r.left.toFixed(0)}..${r.right.toFixed(0)} px`);
            if (el.scrollWidth > el.clientWidth + 1 && el.matches(clippable))
                bad.push(`${name}: text clipped (${el.scrollWidth} px of text in ${el.clientWidth} px)`);
        }
        const track = [...root.querySelectorAll('.widget-hslider .slider-container')].map(e => e.getBoundingClientRect().width);
        if (track.some(w => w < minTrack))
            bad.push(`a slider track is only ${Math.min(...track).toFixed(0)} px wide (need ${minTrack.toFixed(0)})`);
        return bad;
    }""", [width, min_track_px, parts, clippable])


def shutdown_kernels(base: str, token: str) -> None:
    """Delete every session (and its kernel) on the test server."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30)


def test_make_lab_refuses_requests_without_the_token():
    """The server `make lab` starts binds to 127.0.0.1 and answers 403 without its token, 200 with it."""
    port = free_port()
    env = {**os.environ, "BROWSER": "true"}
    process = subprocess.Popen(["make", "-s", "lab", f"PORT={port}"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        token, deadline = None, time.time() + 90
        while token is None and time.time() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            match = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)", line)
            token = match.group(1) if match else None
        assert token, "make lab did not print a tokenised URL on 127.0.0.1"
        url = f"http://127.0.0.1:{port}/api/contents"
        wait_for_http(url)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403
        assert urllib.request.urlopen(f"{url}?token={token}", timeout=10).status == 200
    finally:
        stop(process)


CONTRAST = """root => {
    // WCAG contrast ratio of the explorer's description text against the background it is drawn on
    const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = c => {
        const [r, g, b] = rgb(c).map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let el = root, bg = 'rgba(0, 0, 0, 0)';
    while (el && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) { bg = getComputedStyle(el).backgroundColor; el = el.parentElement; }
    const fg = getComputedStyle(root.querySelector('.actlab-description')).color;
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return {ratio: (a + 0.05) / (b + 0.05), fg, bg};
}"""


def put_json(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_explorer_refuses_in_the_browser_and_reads_in_both_themes(lab, browser, theme):
    """Hardtanh's max_val pushed onto min_val with the keyboard: the browser puts the slider back and says why in the
    widget, the plot shows the registry's curve at the value kept; the description reads on the theme's background
    (contrast at least 4.5, WCAG AA); no console error."""
    base, token = lab
    themes = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:themes?token={token}"
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
                          for s in ("import actlab", "actlab.explore('hardtanh')")],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    put_json(f"{base}/api/contents/explorer_refusal.ipynb?token={token}", {"type": "notebook", "content": notebook})
    put_json(themes, {"raw": json.dumps({"theme": theme})})
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    console_errors = recorded_errors(page)
    try:
        page.goto(f"{base}/lab/workspaces/refusal/tree/explorer_refusal.ipynb?reset&token={token}")
        run_all_cells(page)
        plot = page.locator(".actlab-plot").last
        plot.wait_for(timeout=HANG_GUARD_MS)
        wait_until(page, lambda: plot.get_attribute("data-drawn") is not None, "the plot was not drawn")
        explorer = page.locator(".actlab-widget", has=plot).last
        explorer.scroll_into_view_if_needed()
        max_val = explorer.locator(".widget-hslider", has=page.locator("label", has_text="max_val"))
        max_val.locator(".noUi-handle").focus()
        for _ in range(25):  # 1.0 down by 0.1: -1.0 would equal min_val
            page.keyboard.press("ArrowLeft")
        shown_max = lambda: as_float(max_val.locator(".widget-readout").text_content())  # noqa: E731
        wait_until(page, lambda: shown_max() == -0.9 and abs(drawn_state(plot)["params"]["max_val"] + 0.9) < 1e-9,
                   "the kernel did not stop the slider at the nearest allowed value, -0.9, with the plot showing it")
        wait_until(page, lambda: "refused" in drawn_state(plot)["message"], "no refusal shown in the widget")
        state = drawn_state(plot)
        assert re.fullmatch(r"max_val=(-[\d.]+) refused: hardtanh: min_val=-1 must be below max_val=\1",
                            state["message"]), state["message"]
        assert_drawn_is_the_registry(state, "hardtanh after a refused max_val")
        contrast = plot.evaluate(CONTRAST)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"explorer-{theme.split()[-1].lower()}.png"), full_page=False)
        assert contrast["ratio"] >= 4.5, f"{theme}: description {contrast}"
        assert console_errors == [], f"errors in the browser's console: {console_errors}"
    finally:
        page.close()
        put_json(themes, {"raw": json.dumps({"theme": "JupyterLab Light"})})
        shutdown_kernels(base, token)
