"""The live playground in JupyterLab (headless Chromium): start, watch it redraw, pause, change an activation, resume.

Uses test_browser.py's server and browser fixtures; the notebook (NOTEBOOK_CELLS) is uploaded into that server. Records the redraw rate and the pause latency seen in the browser and prints them in the summary;
asserts no timing except that a pause takes effect (a generous bound: 5 s).
"""
import json
import urllib.request
import pytest

from test_browser import HANG_GUARD_MS, NOTEBOOK, ARTIFACTS, browser, errors_in, lab, run_all_cells, shutdown_kernels, wait_until  # noqa: F401

pytestmark = pytest.mark.browser
NOTEBOOK_NAME = "playground_browser.ipynb"
NOTEBOOK_CELLS = [  # (cell type, source)
    ("markdown", "# The live playground in the browser\n\nOpened by `tests/test_browser_playground.py`."),
    ("code", 'from actlab.playground import playground\n\npg = playground(dataset="spirals", depth=4, width=16, seed=0)\npg'),
    ("code", 'print("the kernel answered", 6 * 7)'),
]
PLAYGROUND_TIMINGS: dict[str, float] = {}
PAUSE_BOUND_MS = 120_000  # a hang guard, not a speed limit: the view must stop; the latency is reported, never asserted


class _Summary:
    """Prints the playground's browser measurements in the pytest terminal summary."""

    def pytest_terminal_summary(self, terminalreporter):
        if PLAYGROUND_TIMINGS:
            terminalreporter.write_sep("-", "playground in the browser (JupyterLab, headless Chromium)")
            for name, value in PLAYGROUND_TIMINGS.items():
                terminalreporter.write_line(f"{name:44s} {value:8.1f}")


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    if not request.config.pluginmanager.has_plugin("actlab-playground-summary"):
        request.config.pluginmanager.register(_Summary(), "actlab-playground-summary")


def notebook() -> dict:
    """The test notebook as nbformat 4 JSON."""
    cells = []
    for i, (kind, source) in enumerate(NOTEBOOK_CELLS):
        cell = {"cell_type": kind, "id": f"playground-{i}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    kernel = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}


def upload(base: str, token: str, name: str) -> None:
    """Put the test notebook into the server's root through the contents API."""
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook()})
    request = urllib.request.Request(f"{base}/api/contents/{name}?token={token}", data=body.encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30)


COUNT_CHANGES = """async ([img, ms]) => {
    let n = 0;
    const obs = new MutationObserver(() => { n += 1; });
    obs.observe(img, {attributes: true, attributeFilter: ['src']});
    await new Promise(r => setTimeout(r, ms));
    obs.disconnect();
    return n;
}"""

PAUSE_LATENCY = """async ([button, status]) => {
    const done = new Promise(resolve => {
        const obs = new MutationObserver(() => {
            if (status.textContent.includes('paused')) { obs.disconnect(); resolve(performance.now()); }
        });
        obs.observe(status, {childList: true, subtree: true, characterData: true});
    });
    const start = performance.now();
    button.click();
    const end = await Promise.race([done, new Promise(r => setTimeout(() => r(null), %d))]);
    return end === null ? null : end - start;
}""" % PAUSE_BOUND_MS


def test_playground_trains_live_pauses_and_resumes(lab, browser):
    base, token = lab
    name = NOTEBOOK_NAME
    upload(base, token, name)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(f"{base}/lab/workspaces/playground/tree/{name}?reset&token={token}")
        run_all_cells(page)
        assert errors_in(page) == [], "the playground cell shows an error"
        widget = page.locator(".actlab-playground").last
        widget.wait_for(timeout=HANG_GUARD_MS)
        widget.scroll_into_view_if_needed()
        images = widget.locator("img.widget-image")
        boundary, loss = images.nth(0), images.nth(1)
        status, readout = widget.locator(".actlab-status"), widget.locator(".actlab-readout")
        wait_until(page, lambda: boundary.get_attribute("src") and loss.get_attribute("src"), "the images did not appear")

        # 1. start: the boundary and the loss curve change several times; count redraws over 3 s
        widget.locator(".actlab-start").click()
        seen_boundary, seen_loss = {boundary.get_attribute("src")}, {loss.get_attribute("src")}
        wait_until(page, lambda: (seen_boundary.add(boundary.get_attribute("src")),
                                  seen_loss.add(loss.get_attribute("src")),
                                  len(seen_boundary) > 4 and len(seen_loss) > 4)[-1],
                   "the boundary and the loss curve did not change 4 times", timeout_ms=HANG_GUARD_MS)
        redraws = page.evaluate(COUNT_CHANGES, [boundary.element_handle(), 3000])
        PLAYGROUND_TIMINGS["redraws per second (boundary image)"] = redraws / 3
        step_text = readout.text_content()
        assert "step" in step_text and "steps/s" in step_text, step_text

        # 1b. the kernel stays responsive: another cell runs while the playground trains
        other = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(1)
        prompt = other.locator(".jp-InputArea-prompt")
        before_prompt = prompt.text_content()
        other.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        wait_until(page, lambda: prompt.text_content() not in (before_prompt, "[*]:"),
                   "another cell did not run while the playground trained", timeout_ms=HANG_GUARD_MS)
        step_after = int(readout.locator(".actlab-step").text_content().split()[-1])
        wait_until(page, lambda: int(readout.locator(".actlab-step").text_content().split()[-1]) > step_after,
                   "training stopped when another cell ran")
        widget.scroll_into_view_if_needed()

        # 2. pause: the click reaches the kernel while it trains; then nothing changes any more
        latency = page.evaluate(PAUSE_LATENCY, [widget.locator(".actlab-pause").element_handle(),
                                                status.element_handle()])
        assert latency is not None, f"the pause did not take effect within {PAUSE_BOUND_MS} ms"
        PLAYGROUND_TIMINGS["pause latency, click to 'paused' (ms)"] = latency
        frozen = (boundary.get_attribute("src"), loss.get_attribute("src"), readout.text_content())
        changes_after = page.evaluate(COUNT_CHANGES, [boundary.element_handle(), 1500])
        assert changes_after == 0, f"the boundary changed {changes_after} times after the pause"
        assert (boundary.get_attribute("src"), loss.get_attribute("src"), readout.text_content()) == frozen
        paused_step = int(readout.locator(".actlab-step").text_content().split()[-1])

        # 3. change an activation while paused: layer 2 to tanh; shown in the configuration line, applied on resume
        widget.locator(".widget-dropdown", has=page.locator("label", has_text="layer")).locator("select").select_option(label="2")
        widget.locator(".widget-dropdown", has=page.locator("label", has_text="activation")).locator("select").select_option(label="tanh")
        code = widget.locator(".actlab-code textarea")
        wait_until(page, lambda: "'tanh'" in code.input_value(), "the configuration line did not show tanh")
        assert "activation=['relu', 'tanh', 'relu', 'relu']" in code.input_value()
        assert "applied on resume" in status.text_content()

        # 4. resume: training continues from where it paused
        widget.locator(".actlab-start").click()
        wait_until(page, lambda: int(readout.locator(".actlab-step").text_content().split()[-1]) > paused_step,
                   "training did not resume", timeout_ms=HANG_GUARD_MS)
        before = boundary.get_attribute("src")
        wait_until(page, lambda: boundary.get_attribute("src") != before, "the boundary did not change after resuming")
        widget.locator(".actlab-pause").click()
        wait_until(page, lambda: "paused" in status.text_content(), "the second pause did not take effect")
        assert errors_in(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=False)
        print(f"\nplayground in the browser: {PLAYGROUND_TIMINGS}")
    finally:
        page.close()
        shutdown_kernels(base, token)
