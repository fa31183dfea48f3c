"""The playground's layout in JupyterLab (headless Chromium) at a laptop's and a projector's size, file browser open.

Every control must be readable and usable: slider tracks of at least MIN_TRACK_PX CSS pixels (a 1-512 width slider
or five decades of learning rate need that many pixels to be set with the mouse), button and description labels not
cut short, nothing beyond the notebook's visible area; at the laptop size the controls, the start button, the readout
and the picture fit on one screen. Uses test_browser.py's server and browser fixtures; screenshots go to ARTIFACTS.
"""
import json
import urllib.request

import pytest

from test_browser import (ARTIFACTS, HANG_GUARD_MS, browser, controls_outside_viewport, lab, open_and_run,  # noqa: F401
                          open_file_browser, recorded_errors, shutdown_kernels, wait_until)

pytestmark = pytest.mark.browser
NOTEBOOK_NAME = "playground_layout.ipynb"
SOURCE = 'from actlab.playground import playground\n\npg = playground(activation="hardtanh")\npg'  # two param sliders
LAPTOP = (1366, 768, 1.0)  # (CSS width, height, the browser zoom they stand for)
PROJECTOR = (819, 614, 1.25)  # 1024x768 at 125% zoom lays out as 819x614 CSS pixels: the size tested
MIN_TRACK_PX = 150
# Every control of the playground, measured: labels, tracks, readouts, buttons, inputs, the readout and status lines.
PARTS = (".widget-dropdown select, .widget-label, .widget-hslider .slider-container, .widget-readout, .widget-button, "
         ".widget-text input, .widget-checkbox, .actlab-readout, .actlab-status, .actlab-picture")
CLIPPABLE = ".widget-readout, .widget-button, .widget-label"  # text these may not cut short (ellipsis or overflow)
# What must be on screen together at the laptop size: the start button, the readout and the picture (the boundary and
# the loss curves: the first row of the picture; with a single drawn widget, its picture).
TOGETHER = (".actlab-start", ".actlab-readout", ".actlab-picture > :first-child")


def upload(base: str, token: str) -> None:
    """Put a one-cell notebook showing the playground into the server's root through the contents API."""
    cell = {"cell_type": "code", "id": "playground", "metadata": {}, "source": SOURCE, "execution_count": None,
            "outputs": []}
    kernel = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    content = {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
    request = urllib.request.Request(f"{base}/api/contents/{NOTEBOOK_NAME}?token={token}", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30)


def track_widths(widget) -> dict[str, float]:
    """Each visible slider's description -> its track's width in CSS pixels."""
    return widget.evaluate("""root => Object.fromEntries([...root.querySelectorAll('.widget-hslider')]
        .filter(s => s.getBoundingClientRect().width > 0)
        .map(s => [s.querySelector('.widget-label').textContent.trim(),
                   s.querySelector('.slider-container').getBoundingClientRect().width]))""")


def not_on_one_screen(page, widget) -> list[str]:
    """With the playground's top scrolled to the top of the notebook's visible area: each control, and each of
    TOGETHER, that is not wholly inside that area (or not found)."""
    return widget.evaluate("""(root, [parts, together]) => {
        root.scrollIntoView({block: 'start'});
        const area = root.closest('.jp-WindowedPanel-outer, .jp-Notebook').getBoundingClientRect();
        const bad = [];
        const check = (el, name) => {
            const r = el.getBoundingClientRect();
            if (r.width === 0) return;
            if (r.top < area.top - 0.5 || r.bottom > area.bottom + 0.5)
                bad.push(`${name}: ${r.top.toFixed(0)}..${r.bottom.toFixed(0)} px, the screen shows `
                         + `${area.top.toFixed(0)}..${area.bottom.toFixed(0)}`);
        };
        for (const selector of together) {
            const el = root.querySelector(selector);
            if (!el) bad.push(`${selector}: not found`); else check(el, selector);
        }
        for (const el of root.querySelectorAll(parts)) if (!el.closest('.actlab-picture')) check(el, el.className);
        return bad;
    }""", [PARTS, list(TOGETHER)])


SETTLED = """async (root, guard) => {
    // until the widget's and the notebook area's boxes stay the same over three animation frames (JupyterLab
    // re-lays out its panels after a resize or a click), at most guard ms; true when they settled
    const box = () => JSON.stringify([root.getBoundingClientRect(),
                                      root.closest('.jp-WindowedPanel-outer, .jp-Notebook').getBoundingClientRect()]);
    const start = performance.now();
    let last = box(), same = 0;
    while (same < 3 && performance.now() - start < guard) {
        await new Promise(r => requestAnimationFrame(r));
        const now = box();
        same = now === last ? same + 1 : 0;
        last = now;
    }
    return same >= 3;
}"""


def settle(widget) -> None:
    """Wait until the playground and the notebook area stop moving (no fixed sleep: a loaded machine takes longer)."""
    assert widget.evaluate(SETTLED, HANG_GUARD_MS), "the layout did not settle"


def expand_all(widget) -> None:
    """Open every collapsed section of the widget (an accordion of rarely used settings, if any)."""
    for header in widget.locator(".jupyter-widget-Collapse-header, .lm-AccordionPanel-title").all():
        if header.is_visible() and header.get_attribute("aria-expanded") != "true":
            header.click()


def test_playground_layout_at_a_laptop_and_a_projector(lab, browser):
    base, token = lab
    upload(base, token)
    width, height, _ = LAPTOP
    page = browser.new_page(viewport={"width": width, "height": height})
    console_errors = recorded_errors(page)
    problems, tracks = [], {}
    try:
        widget = open_and_run(page, f"{base}/lab/workspaces/layout/tree/{NOTEBOOK_NAME}?reset&token={token}",
                              ".actlab-playground")
        wait_until(page, lambda: widget.locator(".actlab-readout").text_content().strip() != "", "no readout shown")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for width, height, zoom in (LAPTOP, PROJECTOR):
            size = f"{width}x{height}"
            page.set_viewport_size({"width": width, "height": height})
            open_file_browser(page)
            settle(widget)  # JupyterLab re-lays out the panels after a resize
            if (width, height, zoom) == LAPTOP:
                problems += [f"{size}, not on one screen: {p}" for p in not_on_one_screen(page, widget)]
                tall = widget.evaluate(f"r => (r.querySelector('{TOGETHER[-1]}') || r).getBoundingClientRect().bottom"
                                       " - r.getBoundingClientRect().top")
                shown = widget.evaluate("r => r.closest('.jp-WindowedPanel-outer, .jp-Notebook')"
                                        ".getBoundingClientRect().height")
                print(f"\n{size}: the playground's top to the picture's bottom: {tall:.0f} px of {shown:.0f} px shown")
                page.screenshot(path=str(ARTIFACTS / f"playground-layout-{size}.png"), full_page=False)
            expand_all(widget)
            settle(widget)
            widget.scroll_into_view_if_needed()
            tracks[size] = track_widths(widget)
            right = widget.evaluate("root => root.closest('.jp-WindowedPanel-outer, .jp-Notebook')"
                                    ".getBoundingClientRect().right")
            problems += [f"{size}: {p}" for p in controls_outside_viewport(
                page, widget, min(width, right), MIN_TRACK_PX, parts=PARTS, clippable=CLIPPABLE)]
            page.screenshot(path=str(ARTIFACTS / f"playground-layout-{size}-expanded.png"), full_page=True)
        print(f"\nplayground slider tracks (CSS px): {tracks}")
        assert problems == [], f"slider tracks {tracks}; problems:\n" + "\n".join(problems)
        assert console_errors == [], f"errors in the browser's console: {console_errors}"
    finally:
        page.close()
        shutdown_kernels(base, token)
