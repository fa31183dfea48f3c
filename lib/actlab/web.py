"""What the course's browser views share (the explorer, the playground's board, the website's host): the vendored
front ends in actlab/static (uPlot 1.6.32, MIT licence in uPlot.LICENSE; nothing from a CDN) and the course's
font sizes in CSS pixels."""
from __future__ import annotations

from pathlib import Path

from . import style

STATIC = Path(__file__).resolve().parent / "static"


def front_end(script: str) -> str:
    """An anywidget ES module: the vendored uPlot (which defines `uPlot`) followed by static/<script>."""
    return (STATIC / "uPlot.iife.min.js").read_text() + "\n" + (STATIC / script).read_text()


def front_end_css(sheet: str) -> str:
    """An anywidget style sheet: uPlot's followed by static/<sheet>."""
    return (STATIC / "uPlot.min.css").read_text() + "\n" + (STATIC / sheet).read_text()


def css_sizes() -> dict:
    """The course's font sizes and line width (style.py, in points at its dpi) in CSS pixels: a point is dpi/72
    pixels. Keys font_px, small_px, title_px, line_px."""
    s, scale = (style.PRESENTATION if style.is_presentation() else style.NORMAL), style.dpi() / 72
    return {"font_px": round(s["font"] * scale), "small_px": round(s["small"] * scale),
            "title_px": round(s["title"] * scale), "line_px": round(s["line"] * scale, 1)}
