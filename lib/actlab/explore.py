"""The interactive explorer: pick an activation, drag its parameters and the input window.

Design: the plot is drawn in the browser (anywidget front end in actlab/static/explorer.js, with the vendored uPlot
1.6.32, MIT licence in actlab/static/uPlot.LICENSE; nothing is loaded from a CDN). The kernel computes every curve
with the registry (torch, actlab.plot.curves) and sends float32 bytes: the curve at the current parameters and, for
each parameter, the curve at every step of its slider with the other parameters held, over the widest input
window. Parameter and input-range moves are then drawn by the browser itself; the kernel answers (in the
background) with the families for the other sliders, and only a change of activation, or two sliders apart from the
kernel's values at once, waits for it. The kernel keeps a matplotlib figure of the same state, rasterised only when
a PNG is asked for (the static figure viewers without widgets see, and `png()`). On the course website, with no
kernel, embedded_state gives the curves for every combination of slider values, drawn by the same explorer.js
through static/site_host.js (docs/site.md).
"""
from __future__ import annotations

import base64
import gzip
import itertools
import json
import sys
from io import BytesIO

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import style
from .checks import check_number, check_range
from .plot import DERIVATIVE_COLOUR, FUNCTION_COLOUR, REFERENCE_COLOUR, curves
from .activations import activation_names, lookup
from .web import STATIC, css_sizes, front_end, front_end_css  # noqa: F401  (STATIC: the site build reads it here)

WINDOW_LIMIT = 20.0
SWEEP_STEPS = 5
MIN_WINDOW = 1.0  # the narrowest input window (two steps of its slider): the range slider keeps its handles apart
# The browser's grid: the widest window (-20, 20) every 0.05, so the narrowest window (1 wide) gets 20 segments, and
# a curve's chord error (h^2/8 |f''|) stays near a pixel even for Swish at beta = 20 zoomed in (tests/test_explore).
GRID_POINTS = 801
FAMILY_SLOTS = 4  # parameters whose every slider step is sent; a fifth parameter's moves are answered by the kernel
SERIES = ("y", "dy", "dy_analytic")  # per curve, in this order: f, autograd f', analytic f' (float32, little-endian)
WINDOW_STEP = 0.5  # the input-range slider's step
# The course website's budget of explorer data per page (docs/site.md): bytes of the embedded state as served.
SITE_BYTES = 2_000_000
SITE_TOTAL_BYTES = 20_000_000  # ... and for the whole site


# Layout: widths follow the space JupyterLab gives (file browser open or not, projector or laptop); controls wrap
# to a new line rather than leave the screen; slider tracks are long (fine values are easy to hit).
def _box_layout() -> widgets.Layout:
    """The whole widget: the available width, up to a comfortable maximum (a Layout is a widget: one each)."""
    return widgets.Layout(width="100%", max_width="1100px")


def _row_layout() -> widgets.Layout:
    """A row of controls that wraps onto a new line when the width runs out."""
    return widgets.Layout(flex_flow="row wrap", align_items="center", width="100%")


def _slider_layout() -> widgets.Layout:
    """A parameter slider (one per line) with a long track: the available width, up to 44em."""
    return widgets.Layout(width="100%", max_width="44em")


def _row_slider_layout() -> widgets.Layout:
    """The input-range slider beside the dropdown: grows to 44em, and moves to a line of its own below 28em."""
    return widgets.Layout(width="auto", min_width="28em", max_width="44em", flex="1 1 28em")


def _image_layout() -> widgets.Layout:
    """The plot scales to the available width (never wider than 900 px)."""
    return widgets.Layout(width="100%", max_width="900px", height="auto")


SLIDER_STYLE = {"description_width": "5em"}


def _padded(low: float, high: float, pad: float = 0.08) -> tuple[float, float]:
    """Limits around [low, high] with a margin; a flat line gets a unit band."""
    if not np.isfinite([low, high]).all():
        low, high = -1.0, 1.0
    span = high - low
    if span < 1e-9:
        return low - 1.0, high + 1.0
    return low - pad * span, high + pad * span


def _finite_span(values: np.ndarray) -> tuple[float, float]:
    """(least, greatest) of the finite values (NaN and infinities cannot be drawn); (nan, nan) if there are none."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)


def _holds(limits: tuple[float, float], *arrays: np.ndarray) -> bool:
    """Whether every finite value of the arrays lies within limits (low, high)."""
    low, high = _finite_span(np.concatenate(arrays))
    return not np.isfinite(low) or (limits[0] <= low and high <= limits[1])


def _shown(value) -> str:
    """A control's value as the caption shows it: numbers with :g, ranges as (low, high)."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


class _Guarded:
    """Widget callbacks that never raise: a value that cannot be drawn is put back, and the caption says why.

    An exception in an observer goes to JupyterLab's log console, which nobody reads, and would leave the plot
    showing other values than the controls. Subclasses provide self.caption (a Label).
    """

    _reverting = False

    def _guarded(self, draw, change=None) -> None:
        """Run draw(); on failure restore change's control to its old value (re-drawing that) and explain."""
        try:
            draw()
        except Exception as exc:  # noqa: BLE001 - reported in the caption instead of lost in the log console
            if change is None or self._reverting:
                self.caption.value = f"Could not draw: {exc}"
                return
            self._reverting = True
            try:
                change["owner"].value = change["old"]
            finally:
                self._reverting = False
            name = change["owner"].description or "value"
            self._refuse(f"{name}={_shown(change['new'])} refused: {exc}")

    def _refuse(self, message: str) -> None:
        """Say in the caption why a value was put back."""
        self.caption.value += f" ({message})"


class _StaticFallback:
    """Adds a PNG of the current plot to a widget's display data, for viewers that do not run widgets."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "image/png": base64.b64encode(self.png()).decode("ascii")}, metadata


def slider_steps(param) -> np.ndarray:
    """Every value a registry parameter's slider can take: low, low + step, ..., high (shape (steps,))."""
    count = int(round((param.high - param.low) / param.step)) + 1
    return np.clip(np.round(param.low + param.step * np.arange(count), 12), param.low, param.high)


def curve_values(name: str, **params) -> tuple[np.ndarray, str]:
    """The registry's f, autograd f' and analytic f' on the browser's grid, as float32 of shape (3, GRID_POINTS)
    (order SERIES), and the curve's label. Raises ValueError for parameters the registry refuses."""
    c = curves(name, (-WINDOW_LIMIT, WINDOW_LIMIT), GRID_POINTS, **params)
    return np.stack([c.y, c.dy, c.dy_analytic]).astype("<f4"), c.label


def family(name: str, held: dict, param) -> tuple[bytes, dict]:
    """The curves at every step of param's slider, the other parameters at held: float32 bytes of shape
    (steps, 3, GRID_POINTS), and what the browser needs to pick one (values, labels, refusals by the constraint)."""
    entry, values = lookup(name), slider_steps(param)
    arrays, labels, refused = [], [], []
    for value in values:
        trial = {**held, param.name: float(value)}
        problem = entry.constraint(**trial)
        if problem:
            arrays.append(np.full((len(SERIES), GRID_POINTS), np.nan, dtype="<f4"))
            labels.append("")
            refused.append(f"{entry.name}: {problem}")
            continue
        array, label = curve_values(name, **trial)
        arrays.append(array)
        labels.append(label)
        refused.append(None)
    meta = {"param": param.name, "low": param.low, "step": param.step, "values": values.tolist(),
            "labels": labels, "refused": refused}
    return np.stack(arrays).tobytes(), meta


def initial_window(x_range) -> tuple[float, float]:
    """x_range (low, high) checked within [-20, 20] and, if narrower than MIN_WINDOW, widened to it (as the explorer
    shows it). Raises ValueError naming x_range for anything else."""
    low, high = check_range("x_range", x_range, -WINDOW_LIMIT, WINDOW_LIMIT)
    if high - low < MIN_WINDOW:
        high = min(WINDOW_LIMIT, low + MIN_WINDOW)
        low = high - MIN_WINDOW
    return low, high


def _plot_style() -> dict:
    """The course's colours and font sizes (style.py) in CSS pixels (web.css_sizes)."""
    return {**css_sizes(), "function": FUNCTION_COLOUR, "derivative": DERIVATIVE_COLOUR, "reference": REFERENCE_COLOUR}


class PlotView(anywidget.AnyWidget):
    """The explorer's plot, drawn in the browser from the curves the kernel computed (see the module docstring).

    meta: the grid, the parameters, the current values and label, and per family its slot, slider values, labels
    and refusals. current: float32 bytes (3, GRID_POINTS); family0..family3: float32 bytes (steps, 3, GRID_POINTS).
    slider_refs, window_ref: the ipywidgets sliders the browser listens to. error: a refusal to show.
    """

    _esm = front_end("explorer.js")
    _css = front_end_css("explorer.css")
    meta = traitlets.Dict().tag(sync=True)
    current = traitlets.Bytes().tag(sync=True)
    family0 = traitlets.Bytes().tag(sync=True)
    family1 = traitlets.Bytes().tag(sync=True)
    family2 = traitlets.Bytes().tag(sync=True)
    family3 = traitlets.Bytes().tag(sync=True)
    slider_refs = traitlets.List(traitlets.Unicode()).tag(sync=True)
    window_ref = traitlets.Unicode().tag(sync=True)
    error = traitlets.Unicode().tag(sync=True)

    def sent_bytes(self) -> int:
        """Bytes of curve data and description the view holds (what a new activation sends, widget code aside)."""
        arrays = [self.current] + [getattr(self, f"family{i}") for i in range(FAMILY_SLOTS)]
        return sum(len(a) for a in arrays) + len(json.dumps(self.meta))

    def curve(self, param: str | None = None, step: int = 0) -> dict[str, np.ndarray]:
        """The arrays sent, as the browser reads them: the current curve, or param's curve at slider step number
        step; a dict of SERIES name -> float32 array (GRID_POINTS,), plus "x". ValueError for a param without a
        family sent or a step outside [0, steps - 1]."""
        if param is None:
            data = np.frombuffer(self.current, dtype="<f4").reshape(len(SERIES), GRID_POINTS)
        else:
            sent = {f["param"]: f for f in self.meta["families"]}
            if param not in sent:
                raise ValueError(f"param must be one of {sorted(sent)} (the families sent), got {param!r}")
            block = np.frombuffer(getattr(self, f"family{sent[param]['slot']}"), dtype="<f4")
            block = block.reshape(-1, len(SERIES), GRID_POINTS)
            data = block[check_number("step", step, 0, len(block) - 1, integer=True)]
        x = np.linspace(-WINDOW_LIMIT, WINDOW_LIMIT, GRID_POINTS)
        return {"x": x, **dict(zip(SERIES, data))}


class Explorer(_Guarded, _StaticFallback, widgets.VBox):
    """Dropdown of every activation, a slider per parameter, an input-window slider, and the plot, drawn in the
    browser (PlotView); the kernel keeps the same plot as a matplotlib figure for the static PNG (png()).

    name: a registry name (ReLU by default); x_range: the input window (low, high) within [-20, 20], at least
    MIN_WINDOW wide once shown (a narrower window is widened); points: samples of the static figure's curves (>= 2).
    Raises ValueError for an unknown name or a window outside [-20, 20].
    """

    def __init__(self, name: str | None = None, x_range=(-6, 6), points: int = 301):
        name = lookup(name or "relu").name
        low, high = initial_window(x_range)
        self.points = int(check_number("points", points, 2, integer=True))
        self.figure = Figure(figsize=(8.4, 3.0), dpi=style.dpi())
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.18)
        self.canvas = FigureCanvasAgg(self.figure)
        self.ax_f, self.ax_d = self.figure.subplots(1, 2)
        self.line_f = self.ax_f.plot([], [], color=FUNCTION_COLOUR, lw=2)[0]
        self.line_d = self.ax_d.plot([], [], color=DERIVATIVE_COLOUR, lw=2, label="autograd")[0]
        self.line_a = self.ax_d.plot([], [], color=REFERENCE_COLOUR, lw=1, ls="--", label="analytic")[0]
        self.ax_d.legend(loc="upper left")
        style.origin_axes(self.ax_f, "")
        style.origin_axes(self.ax_d, "derivative f'(x)")
        self.view = PlotView(layout=widgets.Layout(width="100%"))
        self.dropdown = widgets.Dropdown(
            options=[(lookup(n).display, n) for n in activation_names()], value=name, description="activation",
            layout=widgets.Layout(width="auto", min_width="16em"),
        )
        self.window = widgets.FloatRangeSlider(
            value=(low, high), min=-WINDOW_LIMIT, max=WINDOW_LIMIT, step=WINDOW_STEP, description="x range",
            continuous_update=True, readout_format=".1f", layout=_row_slider_layout(), style=SLIDER_STYLE,
        )
        self.view.window_ref = f"anywidget:{self.window.model_id}"
        self.formula = widgets.HTMLMath()
        self.caption = widgets.Label()  # the plot in words, kept by the kernel (the browser shows its own, live)
        self.sliders = widgets.VBox()
        self.dropdown.observe(self._on_name, names="value")
        self.window.observe(self._on_window, names="value")
        super().__init__([widgets.HBox([self.dropdown, self.window], layout=_row_layout()), self.sliders, self.formula,
                          self.view, widgets.HTML(style.WIDGET_CSS)], layout=_box_layout())
        self.add_class("actlab-widget")
        self._show_activation()

    @property
    def name(self) -> str:
        """The activation shown."""
        return self.dropdown.value

    def params(self) -> dict[str, float]:
        """Current slider values by parameter name."""
        return {s.description: s.value for s in self.sliders.children}

    def _make_sliders(self) -> list[widgets.FloatSlider]:
        """One slider per registry parameter, range and step from the registry."""
        return [
            widgets.FloatSlider(
                value=p.default, min=p.low, max=p.high, step=p.step, description=p.name,
                tooltip=p.doc, continuous_update=True, readout_format=".3g",
                layout=_slider_layout(), style=SLIDER_STYLE,
            )
            for p in lookup(self.name).params
        ]

    def _on_name(self, change=None) -> None:
        self._guarded(self._show_activation, change)

    def _show_activation(self) -> None:
        """New sliders and formula for the chosen activation, a full redraw, and every curve sent to the browser."""
        entry = lookup(self.name)
        sliders = self._make_sliders()
        for slider in sliders:
            slider.observe(self._on_param, names="value")
        self.sliders.children = sliders
        self.formula.value = f"$${entry.latex}$$ <i>{entry.note}</i>"
        self.redraw(full=True)
        self.send()

    def _on_window(self, change=None) -> None:
        """The input range moved: a window narrower than MIN_WINDOW is widened (as the browser does), not refused."""
        wider = self._widened(change) if change else None
        if wider is not None:
            self.window.value = wider
            return
        self._guarded(lambda: self.redraw(full=True), change)

    def _widened(self, change) -> tuple[float, float] | None:
        """The window at least MIN_WINDOW wide, pushing the handle that did not move; None if it is wide enough."""
        low, high = change["new"]
        if high - low >= MIN_WINDOW - 1e-9:
            return None
        if low != change["old"][0]:
            high = min(WINDOW_LIMIT, low + MIN_WINDOW)
            return high - MIN_WINDOW, high
        low = max(-WINDOW_LIMIT, high - MIN_WINDOW)
        return low, low + MIN_WINDOW

    def _on_param(self, change=None) -> None:
        """A slider moved: update the kernel's plot and send the other sliders' curves at the new value; a value the
        parameters' constraint refuses (Hardtanh min_val above max_val) is put back, with the reason shown."""
        moved = change["owner"].description if change else None
        allowed = self._nearest_allowed(change) if change else None
        if allowed is not None:
            problem = lookup(self.name).constraint(**{**self.params(), moved: change["new"]})
            change["owner"].value = allowed  # observed again: drawn and sent at the allowed value
            self._refuse(f"{moved}={_shown(change['new'])} refused: {self.name}: {problem}")
            return
        self._guarded(lambda: (self.redraw(full=False), self.send(keep=moved)), change)

    def _nearest_allowed(self, change) -> float | None:
        """For a value the constraint refuses, the slider step nearest to it on the way back to the old value that
        the constraint allows (a key held past Hardtanh's max_val = min_val stops just above min_val, rather than
        jumping back to wherever the kernel last heard from the slider); None if the value is allowed."""
        entry, held = lookup(self.name), self.params()
        name, new, old = change["owner"].description, change["new"], change["old"]
        if entry.constraint(**held) is None:
            return None
        param = next(p for p in entry.params if p.name == name)
        between = [float(v) for v in slider_steps(param) if min(new, old) <= v <= max(new, old)]
        for value in sorted(between, key=lambda v: abs(v - new)):
            if entry.constraint(**{**held, name: value}) is None:
                return value
        return old

    def _refuse(self, message: str) -> None:
        """Show why a value was put back, in the caption and in the browser's plot."""
        super()._refuse(message)
        self.view.error = message
        self._refused_at = self.params()

    _refused_at: dict | None = None

    def _at_refusal(self) -> bool:
        """Whether the sliders are still where a refusal put them (the browser's slider echoes the value it was set
        to in its own float arithmetic, -0.9000000000000004 for -0.9: that is no new value, the refusal stays)."""
        params, where = self.params(), self._refused_at
        return where is not None and where.keys() == params.keys() and all(
            abs(params[k] - where[k]) <= 1e-9 * max(1.0, abs(where[k])) for k in params)

    def send(self, keep: str | None = None) -> None:
        """Send the browser the curve at the current values and every slider's family (all but keep's, whose curves
        do not depend on its own value), in one message."""
        entry, held = lookup(self.name), self.params()
        current, label = curve_values(self.name, **held)
        families, arrays = [], {}
        for slot, param in enumerate(entry.params[:FAMILY_SLOTS]):
            sent = self.view.meta.get("families", []) if self.view.meta.get("name") == self.name else []
            old = next((f for f in sent if f["param"] == param.name), None)
            if param.name == keep and old is not None and old["slot"] == slot:
                families.append(old)
                continue
            arrays[f"family{slot}"], meta = family(self.name, held, param)
            families.append({**meta, "slot": slot})
        for slot in range(len(families), FAMILY_SLOTS):
            arrays[f"family{slot}"] = b""
        meta = {"name": self.name, "grid": {"low": -WINDOW_LIMIT, "high": WINDOW_LIMIT, "points": GRID_POINTS},
                "min_width": MIN_WINDOW, "window": list(self.window.value), "style": _plot_style(),
                "params": [{"name": p.name, "low": p.low, "high": p.high, "step": p.step} for p in entry.params],
                "current": {"values": held, "label": label}, "families": families,
                "version": self.view.meta.get("version", 0) + 1}
        with self.view.hold_sync():
            self.view.current = current.tobytes()
            for key, value in arrays.items():
                setattr(self.view, key, value)
            self.view.slider_refs = [f"anywidget:{s.model_id}" for s in self.sliders.children]
            self.view.meta = meta

    def _limits(self, shown) -> tuple[tuple[float, float], tuple[float, float]]:
        """Y limits that hold the shown curves (a Curves) and those for every value of each slider, so the axes stay
        still while one slider is dragged; redraw draws again with new limits when a curve would leave them."""
        entry, current = lookup(self.name), self.params()
        ys, ds = [shown.y], [shown.dy, shown.dy_analytic]
        for p in entry.params:
            for value in np.linspace(p.low, p.high, SWEEP_STEPS):
                trial = {**current, p.name: float(value)}
                if entry.constraint(**trial) is None:
                    c = curves(self.name, self.window.value, 101, **trial)
                    ys.append(c.y)
                    ds += [c.dy, c.dy_analytic]
        return _padded(*_finite_span(np.concatenate(ys))), _padded(*_finite_span(np.concatenate(ds)))

    def _fits(self, c) -> bool:
        """Whether the curves c lie within the axes' current y limits."""
        return _holds(self.ax_f.get_ylim(), c.y) and _holds(self.ax_d.get_ylim(), c.dy, c.dy_analytic)

    def redraw(self, full: bool = False) -> None:
        """Update the kernel's figure (rasterised only by png()) and caption; full=True recomputes the axes' limits,
        as does a curve that would leave them. Raises ValueError for values the registry refuses."""
        c = curves(self.name, self.window.value, self.points, **self.params())
        self.line_f.set_data(c.x, c.y)
        self.line_d.set_data(c.x, c.dy)
        self.line_a.set_data(c.x, c.dy_analytic)
        if full or not self._fits(c):
            ylim_f, ylim_d = self._limits(c)
            for ax, ylim in ((self.ax_f, ylim_f), (self.ax_d, ylim_d)):
                ax.set_xlim(*self.window.value)
                ax.set_ylim(*ylim)
        self.ax_f.set_title(c.label)
        low, high = self.window.value
        self.caption.value = f"Plot of {c.label} and its derivative on [{low:g}, {high:g}]"
        if not self._at_refusal():
            self.view.error = ""

    def png(self) -> bytes:
        """The kernel's figure of the current state as PNG bytes (drawn now, fast compression)."""
        self.canvas.draw()
        buffer = BytesIO()
        rgba = np.asarray(self.canvas.buffer_rgba())
        Image.fromarray(rgba[..., :3]).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def _pyplot_figures() -> set:
    """Numbers of the figures pyplot holds open (none if pyplot was never imported)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot else set()


def _close_pyplot_figures_since(before: set) -> None:
    """Close the pyplot figures opened since before was taken: they are shown as PNG, pyplot need not keep them."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    for number in _pyplot_figures() - before:
        pyplot.close(number)


class SliderPlot(_Guarded, _StaticFallback, widgets.VBox):
    """Controls plus a figure re-made by make_figure(**values) whenever a control moves (on release).

    make_figure may build its figure with matplotlib.figure.Figure or with pyplot (plt.subplots()): figures it
    opens in pyplot are closed once drawn, so moves do not pile them up. A value make_figure fails on is put
    back, with the error in the caption; the constructor raises it.
    """

    def __init__(self, make_figure, **controls: widgets.ValueWidget):
        if not controls:
            raise ValueError("SliderPlot needs at least one control, e.g. depth=IntSlider(...)")
        self.make_figure = make_figure
        self.controls = controls
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.caption = widgets.Label()
        for name, control in controls.items():
            control.description = control.description or name
            control.continuous_update = False
            control.observe(self.redraw, names="value")
        super().__init__([widgets.HBox(list(controls.values()), layout=_row_layout()), self.image, self.caption,
                          widgets.HTML(style.WIDGET_CSS)], layout=_box_layout())
        self.add_class("actlab-widget")
        self.draw()

    def png(self) -> bytes:
        """The current figure as PNG bytes."""
        return self.image.value

    def values(self) -> dict:
        """Current value of every control by name."""
        return {name: control.value for name, control in self.controls.items()}

    def draw(self) -> None:
        """Re-make the figure and show it; raises what make_figure raises."""
        before = _pyplot_figures()
        try:
            buffer = BytesIO()
            self.make_figure(**self.values()).savefig(buffer, format="png", dpi=style.dpi())
        finally:
            _close_pyplot_figures_since(before)
        self.image.value = buffer.getvalue()
        self.caption.value = ""

    def redraw(self, change=None) -> None:
        """Re-make the figure and show it (the controls' observer: never raises)."""
        self._guarded(self.draw, change)


def slider_plot(make_figure, **controls) -> SliderPlot:
    """An interactive figure: make_figure(**values) re-drawn whenever one of the named controls changes."""
    return SliderPlot(make_figure, **controls)


def explore(name: str | None = None, x_range=(-6, 6)) -> Explorer:
    """The interactive explorer, starting at the named activation (ReLU by default)."""
    return Explorer(name, x_range)


# The course website (tools/build_site.py): each explorer's curves, precomputed here with the registry, are embedded
# in its page and drawn by the same front end (explorer.js) through a static host (static/site_host.js) that plays
# the kernel's part. With no kernel, a move of one slider after another must find the curves at the new values of
# both: the page holds the product grid of every slider's steps (the activation's only; no dropdown), gzip-compressed.
def site_steps(param, every: int = 1) -> np.ndarray:
    """Every every-th value of param's slider (slider_steps), counted from the step nearest its default both ways,
    so the default stays a step: shape (k,). every must be an integer >= 1 (ValueError otherwise)."""
    every = int(check_number("every", every, 1, integer=True))
    steps = slider_steps(param)
    start = int(np.argmin(np.abs(steps - param.default)))
    return steps[start % every::every]


def _gzip64(data: bytes) -> str:
    """data gzip-compressed (level 9, no time stamp: the same bytes give the same text) and base64-encoded."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def _site_grid(name: str, every: int, computed: dict) -> tuple[dict, bytes]:
    """The product grid of every parameter's site_steps(param, every), in row-major order of entry.params: per
    combination its label (or its refusal by the constraint) and, for the combinations allowed, the curves
    (curve_values) as float32 bytes (allowed, 3, GRID_POINTS). computed: curve_values already computed, by
    combination (a thinner grid's combinations are among the finer one's: each is computed once)."""
    entry = lookup(name)
    values = [site_steps(p, every) for p in entry.params]
    labels, refused, index, arrays = [], [], [], []
    for combination in itertools.product(*values):
        trial = {p.name: float(v) for p, v in zip(entry.params, combination)}
        problem = entry.constraint(**trial)
        if problem:
            labels.append("")
            refused.append(f"{entry.name}: {problem}")
            index.append(-1)
            continue
        if combination not in computed:
            computed[combination] = curve_values(name, **trial)
        array, label = computed[combination]
        labels.append(label)
        refused.append(None)
        index.append(len(arrays))
        arrays.append(array)
    params = [{"name": p.name, "low": p.low, "high": p.high, "step": p.step, "default": p.default, "doc": p.doc,
               "values": v.tolist()} for p, v in zip(entry.params, values)]
    combos = {"labels": labels, "refused": refused, "index": index}
    return {"params": params, "every": every, "combos": combos}, np.stack(arrays).tobytes()


def embedded_state(name: str, x_range=(-6, 6), budget: int = SITE_BYTES) -> dict:
    """The explorer of one activation as the course website embeds it (a JSON-ready dict; embedded_json gives its
    text): "meta" and "curves", each base64 of gzip. meta (JSON): name, display, the parameters with the values
    their sliders take on the site, the product grid's per-combination labels, refusals and curve indices, the
    grid (-20, 20, GRID_POINTS), the window (x_range as the explorer shows it, initial_window), the input-range
    slider's limits and step, and the plot style. curves: float32 little-endian (allowed combinations, 3,
    GRID_POINTS) in the order of SERIES, every value from the registry (curve_values). The sliders take every
    step of the registry's slider when the state fits budget bytes (embedded_json's length in UTF-8); otherwise
    every k-th step counted from the default (site_steps), k the least that fits. Raises ValueError for an unknown
    name, a window outside [-20, 20], or a budget not even one step in 64 fits."""
    entry = lookup(name)
    window = initial_window(x_range)
    budget = int(check_number("budget", budget, 1, integer=True))
    fixed = {"name": entry.name, "display": entry.display, "window": list(window), "min_width": MIN_WINDOW,
             "grid": {"low": -WINDOW_LIMIT, "high": WINDOW_LIMIT, "points": GRID_POINTS},
             "window_slider": {"min": -WINDOW_LIMIT, "max": WINDOW_LIMIT, "step": WINDOW_STEP},
             "style": _plot_style(), "family_slots": FAMILY_SLOTS}
    computed = {}
    for every in range(1, 65 if entry.params else 2):
        grid, curves_bytes = _site_grid(entry.name, every, computed)
        state = {"format": "actlab-explorer/1", "meta": _gzip64(json.dumps({**fixed, **grid}).encode()),
                 "curves": _gzip64(curves_bytes)}
        if len(embedded_json(state).encode()) <= budget:
            return state
    coarsest = "with its sliders at every 64th step at least" if entry.params else "its one curve"
    raise ValueError(f"budget must hold the explorer of {entry.name} ({coarsest}), got {budget} bytes")


def embedded_json(state: dict) -> str:
    """The text a web page embeds for state (embedded_state): compact JSON, safe inside a <script> element."""
    return json.dumps(state, separators=(",", ":")).replace("<", "\\u003c")


def embedded_curves(state: dict) -> tuple[dict, np.ndarray]:
    """state (embedded_state) decoded as the page decodes it: the meta dict and the curves, float32 of shape
    (allowed combinations, 3, GRID_POINTS)."""
    meta = json.loads(gzip.decompress(base64.b64decode(state["meta"])))
    data = np.frombuffer(gzip.decompress(base64.b64decode(state["curves"])), dtype="<f4")
    return meta, data.reshape(-1, len(SERIES), GRID_POINTS)
