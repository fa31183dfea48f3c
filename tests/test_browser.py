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
LATENCIES: dict[str, float] = {}
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the notebook in the visible tab

pytestmark = pytest.mark.browser


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


def errors_in(page) -> list[str]:
    """Text of every error output in the notebook."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
                        ".jp-OutputArea-output:has-text('Traceback (most recent call last)')").all_text_contents()


def wait_for_change(page, locator, before: str, timeout_ms: int = HANG_GUARD_MS) -> str:
    """Wait until the locator's text differs from before; return the new text."""
    deadline = time.time() + timeout_ms / 1000
    while time.time() < deadline:
        text = locator.text_content()
        if text != before:
            return text
        page.wait_for_timeout(50)
    raise AssertionError(f"the plot did not update within {timeout_ms} ms (still {before!r})")


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


def number_after(name: str, caption: str) -> float:
    """The value of a parameter in the explorer's caption, e.g. alpha in 'ELU (alpha=1.05) ...'."""
    match = re.search(rf"\b{name}=(-?[\d.e+-]+)", caption)
    assert match, f"{name} not in {caption!r}"
    return float(match.group(1))


@pytest.mark.parametrize("notebook", EXPLORER_NOTEBOOKS)
def test_explorer_in_jupyterlab(lab, browser, notebook):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own, reset: no tabs restored from another test
        page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={token}")
        run_all_cells(page)
        assert errors_in(page) == [], f"{notebook}: a cell shows an error"
        caption = page.locator(".widget-label", has_text=re.compile(r"^Plot of ")).last
        caption.wait_for(timeout=HANG_GUARD_MS)
        explorer = page.locator(".widget-vbox", has=caption).last
        image = explorer.locator(".widget-image").last
        explorer.scroll_into_view_if_needed()

        def shot() -> bytes:
            return image.screenshot()

        # 1. a parameter slider, with the keyboard (if this activation has parameters, else pick one that does)
        sliders = explorer.locator(".widget-hslider", has_not=page.locator("label", has_text="x range"))
        if sliders.count() == 0:
            before = caption.text_content()
            explorer.locator(".widget-dropdown select").select_option(label="Leaky ReLU")
            wait_for_change(page, caption, before)
        slider = sliders.first
        name = slider.locator("label").text_content().strip()
        handle = slider.locator(".noUi-handle")
        before_text, before_png = caption.text_content(), shot()
        handle.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        wait_for_change(page, caption, before_text)
        readout = as_float(slider.locator(".widget-readout").text_content())
        wait_until(page, lambda: abs(number_after(name, caption.text_content()) - readout) <= 1e-6 + 0.01 * abs(readout),
                   f"the plot did not show the slider's value {name}={readout}")
        assert number_after(name, caption.text_content()) != number_after(name, before_text)
        assert shot() != before_png, "the parameter moved but the image did not change"

        # 2. the input-range slider: its lower handle, with the keyboard
        window = explorer.locator(".widget-hslider", has=page.locator("label", has_text="x range"))
        before_text, before_png = caption.text_content(), shot()
        window.locator(".noUi-handle-lower").focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        wait_for_change(page, caption, before_text)
        shown_low = lambda: float(re.search(r"on \[(-?[\d.]+),", caption.text_content()).group(1))  # noqa: E731
        readout_low = lambda: as_float(window.locator(".widget-readout").text_content().split()[0])  # noqa: E731
        wait_until(page, lambda: shown_low() == readout_low(), "the plot did not show the slider's input range")
        assert shown_low() > float(re.search(r"on \[(-?[\d.]+),", before_text).group(1))
        assert shot() != before_png, "the input range moved but the image did not change"

        # 3. the activation dropdown: to Swish (or to ELU when Swish is already shown)
        before_text, before_png = caption.text_content(), shot()
        target, param = ("ELU", "alpha") if before_text.startswith("Plot of Swish") else ("Swish", "beta")
        explorer.locator(".widget-dropdown select").select_option(label=target)
        wait_until(page, lambda: caption.text_content().startswith(f"Plot of {target} ({param}="),
                   f"the plot did not switch to {target}")
        assert explorer.locator(".widget-hslider label", has_text=param).count() == 1
        assert shot() != before_png, "the activation changed but the image did not"

        # 4. latency, measured in the browser: keydown to the image's new src, over a series of moves
        beta = explorer.locator(".widget-hslider", has=page.locator("label", has_text=param)).locator(".noUi-handle")
        img = image.locator("img") if image.locator("img").count() else image
        latencies = page.evaluate(
            """async ([handle, img]) => {
                const times = [];
                for (let i = 0; i < 20; i++) {
                    const changed = new Promise(resolve => {
                        const obs = new MutationObserver(() => { obs.disconnect(); resolve(performance.now()); });
                        obs.observe(img, {attributes: true, attributeFilter: ['src']});
                    });
                    const start = performance.now();
                    handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
                    const end = await Promise.race([changed, new Promise(r => setTimeout(() => r(null), 5000))]);
                    if (end === null) return null;
                    times.push(end - start);
                    await new Promise(r => setTimeout(r, 30));
                }
                return times;
            }""", [beta.element_handle(), img.element_handle()])
        assert latencies is not None, "a slider move did not update the image within 5 s"
        LATENCIES[notebook] = statistics.median(latencies)
        print(f"\n{notebook}: browser latency slider -> new image, median of {len(latencies)}: "
              f"{LATENCIES[notebook]:.0f} ms (min {min(latencies):.0f}, max {max(latencies):.0f})")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}.png"), full_page=False)

        # 5. a projector: 1024x768 with the file browser open, and the same at 125% zoom (819x614 CSS pixels),
        #    with the input range at its widest readout (-20.0 - 20.0)
        before_text = caption.text_content()
        window.locator(".noUi-handle-lower").focus()
        page.keyboard.press("Home")
        window.locator(".noUi-handle-upper").focus()
        page.keyboard.press("End")
        wait_until(page, lambda: "on [-20, 20]" in caption.text_content(), "the input range did not reach [-20, 20]")
        for width, height, zoom in PROJECTOR_VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            open_file_browser(page)
            page.wait_for_timeout(300)  # JupyterLab re-lays out the panels after a resize
            explorer.scroll_into_view_if_needed()
            outside = controls_outside_viewport(page, explorer, width, min_track_px=finest_slider_steps() / zoom)
            page.screenshot(path=str(ARTIFACTS / f"{Path(notebook).stem}-{width}x{height}.png"), full_page=False)
            assert outside == [], f"{notebook} at {width}x{height} with the file browser open: {outside}"
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


def controls_outside_viewport(page, explorer, width: int, min_track_px: float) -> list[str]:
    """Every explorer control (dropdown, slider labels, tracks and readouts, the plot) that is not wholly within
    0..width horizontally, whose text is clipped (a readout narrower than its text), or a track shorter than
    min_track_px CSS pixels."""
    return explorer.evaluate("""(root, [width, minTrack]) => {
        const bad = [];
        const parts = root.querySelectorAll('.widget-dropdown select, .widget-hslider .widget-label, '
            + '.widget-hslider .slider-container, .widget-hslider .widget-readout, .widget-image, img');
        for (const el of parts) {
            const r = el.getBoundingClientRect();
            const name = (el.className || el.tagName) + ' ' + (el.textContent || '').trim().slice(0, 20);
            if (r.width === 0) continue;
            if (r.left < -0.5 || r.right > width + 0.5) bad.push(`${name}: spans ${r.left.toFixed(0)}..${r.right.toFixed(0)} px`);
            if (el.scrollWidth > el.clientWidth + 1 && el.classList.contains('widget-readout'))
                bad.push(`${name}: readout clipped (${el.scrollWidth} px of text in ${el.clientWidth} px)`);
        }
        const track = [...root.querySelectorAll('.widget-hslider .slider-container')].map(e => e.getBoundingClientRect().width);
        if (track.some(w => w < minTrack))
            bad.push(`a slider track is only ${Math.min(...track).toFixed(0)} px wide (need ${minTrack.toFixed(0)})`);
        return bad;
    }""", [width, min_track_px])


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
