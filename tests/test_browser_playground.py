"""The live playground in JupyterLab (headless Chromium): start, watch it redraw, pause, change an activation, resume.

Uses test_browser.py's server and browser fixtures; the notebook (NOTEBOOK_CELLS) is uploaded into that server.
Records the browser's redraws of the board (the view drawn in the browser: board.py, playground.js), the frames it
received, and the pause latency, and prints them in the summary; asserts no timing (a pause must take effect within
a hang guard). Asserts what is drawn: the boundary grid and the last loss row the browser drew are the kernel's.
"""
import json
import urllib.request

import numpy as np
import pytest

from actlab.playground.board import LOSS_COLUMNS

from test_browser import (HANG_GUARD_MS, NOTEBOOK, ARTIFACTS, browser, errors_in, lab, open_and_run,  # noqa: F401
                          recorded_errors, shutdown_kernels, wait_until)

pytestmark = pytest.mark.browser
NOTEBOOK_NAME = "playground_browser.ipynb"
NOTEBOOK_CELLS = [  # (cell type, source)
    ("markdown", "# The live playground in the browser\n\nOpened by `tests/test_browser_playground.py`."),
    ("code", 'from actlab.playground import playground\n\npg = playground(dataset="spirals", depth=4, width=16, seed=0)\npg'),
    ("code", 'print("the kernel answered", 6 * 7)'),
    ("code", 'import json\nfrom actlab.playground.board import boundary_bytes\n\n'
             'print(json.dumps({"grid": boundary_bytes(pg.engine.boundary()).hex(), "rows": len(pg.engine.history),\n'
             '                  "last": pg.engine.history[-1]}))'),
    ("code", 'pg.board  # a second view of the board: opened after training, it asks the kernel for the history'),
]
PLAYGROUND_TIMINGS: dict[str, float] = {}
PAUSES = 8  # pauses measured (the first while another cell's output is fresh, the rest after a few frames each)
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


COUNT_DRAWS = """async ([root, ms]) => {
    const drawn = Number(root.dataset.drawn), received = Number(root.dataset.received);
    await new Promise(r => setTimeout(r, ms));
    return [Number(root.dataset.drawn) - drawn, Number(root.dataset.received) - received];
}"""

DRAWN = """root => ({drawn: Number(root.dataset.drawn || 0), frame: Number(root.dataset.frame || -1),
              received: Number(root.dataset.received || -2), rows: root.actlab.rows(), last: root.actlab.last()})"""

PAUSE_LATENCY = """async ([button, status, board]) => {
    // [click to 'paused' in the status line, click to the frozen frame drawn (the board's last step is the step
    // the status names and it has drawn every frame it received)], in ms; null for a part not seen within the bound
    const bound = %d;
    const start = performance.now();
    const paused = new Promise(resolve => {
        const obs = new MutationObserver(() => {
            if (status.textContent.includes('paused')) { obs.disconnect(); resolve(performance.now()); }
        });
        obs.observe(status, {childList: true, subtree: true, characterData: true});
    });
    button.click();
    const end = await Promise.race([paused, new Promise(r => setTimeout(() => r(null), bound))]);
    if (end === null) return [null, null];
    const step = Number(status.textContent.trim().split(/\\s+/).pop());
    const frozen = () => board.actlab.last().step === step && board.dataset.frame === board.dataset.received;
    while (!frozen() && performance.now() - start < bound) await new Promise(r => requestAnimationFrame(r));
    return [end - start, frozen() ? performance.now() - start : null];
}""" % PAUSE_BOUND_MS


def run_cell(page, index: int) -> str:
    """Run the notebook's code cell number `index` (0-based among all cells) and return its output text."""
    cell = page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.text_content()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    wait_until(page, lambda: prompt.text_content() not in (before, "[*]:"), f"cell {index} did not run")
    return cell.locator(".jp-OutputArea-output").last.text_content()


def test_playground_trains_live_pauses_and_resumes(lab, browser):
    base, token = lab
    name = NOTEBOOK_NAME
    upload(base, token, name)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    console = recorded_errors(page)
    try:
        widget = open_and_run(page, f"{base}/lab/workspaces/playground/tree/{name}?reset&token={token}",
                              ".actlab-playground")
        widget.scroll_into_view_if_needed()
        board = widget.locator(".actlab-board")
        status, readout = widget.locator(".actlab-status"), widget.locator(".actlab-readout")
        state = lambda: board.evaluate(DRAWN)  # noqa: E731 - what the board has drawn, read in the browser
        wait_until(page, lambda: state()["drawn"] >= 1, "the board did not draw")
        box, picture = board.bounding_box(), board.locator(".actlab-board-picture").bounding_box()
        assert box["width"] <= 1000 and picture["height"] <= 300, (box, picture)  # fits a 1366x768 laptop

        # 1. start: the board draws new frames; count the browser's redraws and the kernel's frames over 3 s
        widget.locator(".actlab-start").click()
        first = state()["drawn"]
        wait_until(page, lambda: state()["drawn"] > first + 4 and state()["rows"] > 4,
                   "the board did not draw 4 new frames", timeout_ms=HANG_GUARD_MS)
        redraws, received = page.evaluate(COUNT_DRAWS, [board.element_handle(), 3000])
        PLAYGROUND_TIMINGS["browser redraws per second (board)"] = redraws / 3
        PLAYGROUND_TIMINGS["kernel frames received per second"] = received / 3
        PLAYGROUND_TIMINGS["browser draw of a frame, median (ms)"] = float(np.median(
            board.evaluate("root => root.actlab.drawMs()")))
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
        latency, to_frozen = page.evaluate(PAUSE_LATENCY, [widget.locator(".actlab-pause").element_handle(),
                                                           status.element_handle(), board.element_handle()])
        assert latency is not None, f"the pause did not take effect within {PAUSE_BOUND_MS} ms"
        PLAYGROUND_TIMINGS["pause latency, click to 'paused', first (ms)"] = latency
        PLAYGROUND_TIMINGS["pause latency, click to the frozen frame drawn, first (ms)"] = (
            float("nan") if to_frozen is None else to_frozen)
        paused_at = int(status.text_content().split()[-1])  # "paused at step N": the frozen frame follows it
        wait_until(page, lambda: state()["last"]["step"] == paused_at and state()["frame"] == state()["received"]
                   and f"step {paused_at} " in readout.text_content(), "the frozen frame was not drawn")
        frozen = (state(), readout.text_content())
        page.wait_for_timeout(1500)
        assert (state(), readout.text_content()) == frozen, "the board drew after the pause"

        # 2b. what the browser drew is what the kernel holds: the boundary grid, every loss row, the last one exactly
        kernel = json.loads(run_cell(page, 3))
        drawn = frozen[0]
        assert drawn["rows"] == kernel["rows"]
        assert {k: np.float32(v) for k, v in drawn["last"].items()} == {
            k: np.float32(kernel["last"][k]) for k in LOSS_COLUMNS}
        assert board.evaluate("root => root.actlab.gridHex()") == kernel["grid"]

        # 2c. a view opened now (the same board displayed again) gets the whole history and the same grid
        run_cell(page, 4)
        late = page.locator(f"{NOTEBOOK} .jp-Cell").nth(4).locator(".actlab-board")
        wait_until(page, lambda: late.evaluate(DRAWN)["rows"] == kernel["rows"],
                   "the late view did not get the whole history")
        assert late.evaluate("root => root.actlab.gridHex()") == kernel["grid"]
        widget.scroll_into_view_if_needed()
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
        before = board.evaluate("root => root.actlab.gridHex()")
        wait_until(page, lambda: board.evaluate("root => root.actlab.gridHex()") != before,
                   "the boundary did not change after resuming")
        widget.locator(".actlab-pause").click()
        wait_until(page, lambda: "paused" in status.text_content(), "the second pause did not take effect")

        # 5. more pauses, each after a few frames of training: the latency's median and worst
        latencies, frozen_latencies = [latency], [to_frozen]
        for _ in range(PAUSES - 1):
            widget.locator(".actlab-start").click()
            drawn_before = state()["drawn"]
            wait_until(page, lambda: "training" in status.text_content() and state()["drawn"] > drawn_before + 3,
                       "training did not restart")
            to_paused, to_frozen = page.evaluate(PAUSE_LATENCY, [widget.locator(".actlab-pause").element_handle(),
                                                                 status.element_handle(), board.element_handle()])
            assert to_paused is not None, f"the pause did not take effect within {PAUSE_BOUND_MS} ms"
            latencies.append(to_paused)
            frozen_latencies.append(to_frozen)
        PLAYGROUND_TIMINGS[f"pause latency, median of {PAUSES} (ms)"] = float(np.median(latencies))
        PLAYGROUND_TIMINGS[f"pause latency, worst of {PAUSES} (ms)"] = max(latencies)
        seen = [t for t in frozen_latencies if t is not None]  # printed only: a frame later than the bound is not timed
        PLAYGROUND_TIMINGS[f"pause to frozen frame drawn, median of {len(seen)} of {PAUSES} (ms)"] = (
            float(np.median(seen)) if seen else float("nan"))
        PLAYGROUND_TIMINGS["pause to frozen frame drawn, worst (ms)"] = max(seen) if seen else float("nan")
        assert errors_in(page) == []
        assert console == [], console  # no console error, none from the board's front end
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=False)
        print(f"\nplayground in the browser: {PLAYGROUND_TIMINGS}")
    finally:
        page.close()
        shutdown_kernels(base, token)
