"""The interactive explorer: pick an activation, drag its parameters and the input window.

Design (measured by `make bench`): the figure is drawn once per activation or input
window, its static parts are cached, and a parameter move only restores that cache,
draws the three moving lines and the title, and encodes a fast PNG into an Image
widget. Re-creating the whole figure per move, as plain `interact` does, is several
times slower.
"""
from __future__ import annotations

import base64
import sys
from io import BytesIO

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import style
from .checks import check_number, check_range
from .plot import DERIVATIVE_COLOUR, FUNCTION_COLOUR, REFERENCE_COLOUR, curves
from .activations import activation_names, lookup

WINDOW_LIMIT = 20.0
SWEEP_STEPS = 5


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
            self.caption.value += f" ({name}={_shown(change['new'])} refused: {exc})"


class _StaticFallback:
    """Adds a PNG of the current plot to a widget's display data, for viewers that do not run widgets."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "image/png": base64.b64encode(self.image.value).decode("ascii")}, metadata


class Explorer(_Guarded, _StaticFallback, widgets.VBox):
    """Dropdown of every activation, a slider per parameter, an input-window slider, and the live plot."""

    def __init__(self, name: str | None = None, x_range=(-6, 6), points: int = 301):
        name = lookup(name or "relu").name
        low, high = check_range("x_range", x_range, -WINDOW_LIMIT, WINDOW_LIMIT)
        self.points = int(check_number("points", points, 2, integer=True))
        self.figure = Figure(figsize=(8.4, 3.0), dpi=style.dpi())
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.18)
        self.canvas = FigureCanvasAgg(self.figure)
        self.ax_f, self.ax_d = self.figure.subplots(1, 2)
        self.line_f = self.ax_f.plot([], [], color=FUNCTION_COLOUR, lw=2, animated=True)[0]
        self.line_d = self.ax_d.plot([], [], color=DERIVATIVE_COLOUR, lw=2, animated=True, label="autograd")[0]
        self.line_a = self.ax_d.plot([], [], color=REFERENCE_COLOUR, lw=1, ls="--", animated=True, label="analytic")[0]
        self.ax_d.legend(loc="upper left")
        self.ax_f.title.set_animated(True)  # the title changes with the parameters: drawn over the cached background
        style.origin_axes(self.ax_f, "")
        style.origin_axes(self.ax_d, "derivative f'(x)")
        self.background = None
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.dropdown = widgets.Dropdown(
            options=[(lookup(n).display, n) for n in activation_names()], value=name, description="activation",
            layout=widgets.Layout(width="auto", min_width="16em"),
        )
        self.window = widgets.FloatRangeSlider(
            value=(low, high), min=-WINDOW_LIMIT, max=WINDOW_LIMIT, step=0.5, description="x range",
            continuous_update=True, readout_format=".1f", layout=_row_slider_layout(), style=SLIDER_STYLE,
        )
        self.formula = widgets.HTMLMath()
        self.caption = widgets.Label()  # what the plot shows, in words: for screen readers and browser tests
        self.sliders = widgets.VBox()
        self.dropdown.observe(self._on_name, names="value")
        self.window.observe(self._on_window, names="value")
        super().__init__([widgets.HBox([self.dropdown, self.window], layout=_row_layout()), self.sliders, self.formula,
                          self.image, self.caption, widgets.HTML(style.WIDGET_CSS)], layout=_box_layout())
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
        """New sliders and formula for the chosen activation, then a full redraw."""
        entry = lookup(self.name)
        sliders = self._make_sliders()
        for slider in sliders:
            slider.observe(self._on_param, names="value")
        self.sliders.children = sliders
        self.formula.value = f"$${entry.latex}$$ <i>{entry.note}</i>"
        self.redraw(full=True)

    def _on_window(self, change=None) -> None:
        self._guarded(lambda: self.redraw(full=True), change)

    def _on_param(self, change=None) -> None:
        """A slider moved: redraw; a value the parameters' constraint refuses (Hardtanh min_val above max_val) is
        put back, with the reason in the caption."""
        self._guarded(lambda: self.redraw(full=False), change)

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
        """Update the plot; full=True re-draws axes and ticks, otherwise only the moving artists (and the axes too
        when a curve would leave them: every curve is always inside its axes)."""
        c = curves(self.name, self.window.value, self.points, **self.params())
        self.line_f.set_data(c.x, c.y)
        self.line_d.set_data(c.x, c.dy)
        self.line_a.set_data(c.x, c.dy_analytic)
        if full or self.background is None or not self._fits(c):
            ylim_f, ylim_d = self._limits(c)
            for ax, ylim in ((self.ax_f, ylim_f), (self.ax_d, ylim_d)):
                ax.set_xlim(*self.window.value)
                ax.set_ylim(*ylim)
            self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self.background)
        self.ax_f.set_title(c.label)
        for artist in (self.line_f, self.line_d, self.line_a, self.ax_f.title):
            self.figure.draw_artist(artist)
        self.image.value = self.png()
        low, high = self.window.value
        self.caption.value = f"Plot of {c.label} and its derivative on [{low:g}, {high:g}]"

    def png(self) -> bytes:
        """The current canvas as PNG, encoded with fast compression."""
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
