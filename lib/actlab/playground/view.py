"""The playground's Matplotlib view: figures and frames of an engine's state (no training, no widgets).

The live view is drawn in the browser (board.py); this one draws the same state in the kernel when asked: the
static figure (Playground.plot) and the PNG that viewers without widgets see (Playground.static_png). A new layout
(a rebuilt run, new activations) is built at the next draw, not at once: the live loop never waits for it.

Design for speed: the figures are drawn once with their static parts cached (matplotlib blitting); a frame
restores the cache, draws only the moving artists and encodes small JPEGs; the decision boundary is a
GRID x GRID forward pass upsampled by PIL under a fixed overlay of the data points. Titles and axis labels are
pinned after the first draw (no placement when the axes widen); a wider step axis redraws only that axis over a
cached base. The layer figure has one axes per diagnostic of panels.PANELS.
"""
from __future__ import annotations

import copy
import math
from io import BytesIO

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from ..style import BLUE, VERMILLION
from .engine import COLOURS, Engine, boundary_pixels
from .panels import PANELS

BOUNDARY_PX = 264  # side of the boundary image in pixels
JPEG_QUALITY = 92  # live frames are JPEG: 1-2 ms to encode where PNG takes 5-10 ms (measured), no visible loss
PANEL_WIDTH = 2.625  # inches of the layer figure per panel (four panels: 10.5 inches, 840 px at 80 dpi)


class _Canvas:
    """A figure whose static parts are cached; a frame draws only the animated artists and returns a JPEG.

    background = None makes the next frame draw the static parts again. A canvas with a layered axis
    (layered = (axis, artists above it)) keeps a base without them, so that new limits on that axis alone
    (background = None, base kept) redraw only the axis and the artists above it; base = None draws all.
    """

    def __init__(self, width: float, height: float, dpi: int = 80):
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.background = None
        self.base = None
        self.layered = None
        self.frozen = False
        self.full_draws = 0  # how often the whole figure was drawn
        self.axis_draws = 0  # how often only the layered axis (and the artists above it) was drawn

    def jpeg(self, artists) -> bytes:
        """Restore the cached background (drawing it first if stale), draw artists, encode a JPEG."""
        if self.background is None:
            self._draw_background()
        else:
            self.canvas.restore_region(self.background)
        for artist in artists:
            self.figure.draw_artist(artist)
        buffer = BytesIO()
        width, height = self.canvas.get_width_height()
        rgba = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        rgba.convert("RGB").save(buffer, format="jpeg", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def _draw_background(self) -> None:
        """Draw and cache the static parts: the whole figure, or the cached base with the layered axis and the
        artists above it. Grid lines of the two axes cross where they overlap: same colour and alpha, so the
        order does not change a pixel (alpha blending of equal layers commutes)."""
        if self.layered is None:
            self.canvas.draw()
            self.full_draws += 1
        else:
            layered = [self.layered[0], *self.layered[1]]
            if self.base is None:
                for artist in layered:
                    artist.set_visible(False)
                try:
                    self.canvas.draw()
                finally:
                    for artist in layered:
                        artist.set_visible(True)
                self.base = self.canvas.copy_from_bbox(self.figure.bbox)
                self.full_draws += 1
            else:
                self.canvas.restore_region(self.base)
                self.axis_draws += 1
            for artist in layered:
                self.figure.draw_artist(artist)
        if not self.frozen:
            self._freeze_labels()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _freeze_labels(self) -> None:
        """Pin every axis label where the first draw put it, so that later full draws (new axis limits) skip
        matplotlib's label placement from tick-label bounding boxes (a third of a full draw; measured)."""
        for ax in self.figure.axes:
            for axis in (ax.xaxis, ax.yaxis):  # an empty label is placed too: the cost is the same
                where = axis.label.get_transform().transform(axis.label.get_position())
                axis.set_label_coords(*ax.transAxes.inverted().transform(where))
        self.frozen = True


class View:
    """The three images: decision boundary with points, loss curves, and the per-layer panel (drawn when asked)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._build()

    def layout(self) -> None:
        """Mark the figures stale after a rebuild or new activations: the next frame (or panel) builds them again."""
        self.stale = True

    def _fresh(self) -> None:
        """Build the figures if a layout is pending."""
        if self.stale:
            self._build()

    def _build(self) -> None:
        """Build the figures for the engine's current network and data."""
        with matplotlib.rc_context({"axes.titley": 1.0}):  # titles at a fixed height: no placement per full draw
            self._build_figures()
        self.stale = False

    def _build_figures(self) -> None:
        """The loss figure and the layer figure: one axes per panel of PANELS (each its own copy for this view)."""
        self.points = self._points_overlay()
        self._build_loss_figure()
        self.panels = [copy.copy(panel) for panel in PANELS]  # build() keeps this view's artists on the copy
        self.layers = _Canvas(PANEL_WIDTH * len(self.panels), 2.7)
        fig = self.layers.figure
        fig.subplots_adjust(left=0.04, right=0.99, bottom=0.17, top=0.86, wspace=0.3)
        axes = np.atleast_1d(fig.subplots(1, len(self.panels)))
        self.artists = [artist for panel, ax in zip(self.panels, axes) for artist in panel.build(ax, self.engine)]
        self.curve, self.curve_rows, self.curve_of, self.lowest = np.empty((256, 3)), 0, None, math.inf
        self.layers_jpeg, self.layers_for = None, None

    def panel(self, name: str):
        """This view's panel of that name (KeyError naming the panels otherwise)."""
        self._fresh()
        for panel in self.panels:
            if panel.name == name:
                return panel
        raise KeyError(f"no panel {name!r}; panels: {', '.join(p.name for p in self.panels)}")

    def _build_loss_figure(self) -> None:
        """Train and test loss over steps, log scale; the step axis is the part that widens most often."""
        self.loss = _Canvas(4.2, 3.3)
        self.loss_ax = self.loss.figure.add_axes((0.15, 0.14, 0.8, 0.76))
        self.loss_ax.set(yscale="log", ylim=(1e-2, 5), xlim=(0, 128), xlabel="step", ylabel="cross-entropy loss",
                         title="loss (train: full set, test: held out)")
        self.loss_ax.grid(alpha=0.3)
        self.train_line = self.loss_ax.plot([], [], color=BLUE, lw=1.5, label="train", animated=True)[0]
        self.test_line = self.loss_ax.plot([], [], color=VERMILLION, lw=1.5, label="test", animated=True)[0]
        legend = self.loss_ax.legend(loc="upper right", fontsize=8)
        self.loss.layered = (self.loss_ax.xaxis, [*self.loss_ax.spines.values(), legend])

    def _points_overlay(self) -> Image.Image:
        """The data points as a transparent RGBA image over the boundary (train: filled, test: ringed)."""
        e = self.engine
        x0, x1, y0, y1 = e.grid_extent
        overlay = Image.new("RGBA", (BOUNDARY_PX, BOUNDARY_PX), (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for x, y, filled in ((e.x_train, e.y_train, True), (e.x_test, e.y_test, False)):
            u = (x[:, 0].numpy() - x0) / (x1 - x0) * (BOUNDARY_PX - 1)
            v = (1 - (x[:, 1].numpy() - y0) / (y1 - y0)) * (BOUNDARY_PX - 1)
            for a, b, k in zip(u, v, y.numpy()):
                colour = tuple(int(255 * c) for c in COLOURS[k % len(COLOURS)])
                box = (a - 2.5, b - 2.5, a + 2.5, b + 2.5)
                if filled:
                    draw.ellipse(box, fill=colour + (255,), outline=(255, 255, 255, 255))
                else:
                    draw.ellipse(box, outline=colour + (255,), width=2)
        return overlay

    def boundary_jpeg(self) -> bytes:
        """The decision boundary (bilinear upsampling of the grid) with the data points, as a JPEG."""
        self._fresh()
        grid = boundary_pixels(self.engine.boundary())  # row 0 at the top, NaN white (as the live board)
        image = Image.fromarray(grid, "RGB").resize((BOUNDARY_PX, BOUNDARY_PX), Image.BILINEAR).convert("RGBA")
        image.alpha_composite(self.points)
        buffer = BytesIO()
        image.convert("RGB").save(buffer, format="jpeg", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def frame(self) -> tuple[bytes, bytes, bytes]:
        """JPEGs of the boundary, the loss curves and the layer panel at the engine's current state."""
        return self.boundary_jpeg(), self.loss_jpeg(), self.layer_jpeg()

    def _extend_curve(self) -> None:
        """Append the history rows recorded since the last frame to self.curve (step, train loss, test loss):
        a frame costs the same after ten thousand records as after ten."""
        history = self.engine.history
        if self.curve_of is not history or self.curve_rows > len(history):  # a rebuilt run: start again
            self.curve_rows, self.curve_of, self.lowest = 0, history, math.inf
        new = history[self.curve_rows:]
        if not new:
            return
        if self.curve_rows + len(new) > len(self.curve):
            self.curve = np.concatenate([self.curve, np.empty((len(self.curve) + len(new), 3))])
        rows = np.array([(r["step"], r["train_loss"], r["test_loss"]) for r in new], dtype=float).reshape(-1, 3)
        self.curve[self.curve_rows:self.curve_rows + len(new)] = rows
        self.curve_rows += len(new)
        positive = rows[:, 1][rows[:, 1] > 0]
        if len(positive):
            self.lowest = min(self.lowest, float(positive.min()))

    def loss_jpeg(self) -> bytes:
        """The train and test loss curves over the steps as a JPEG; the axes widen (step limit doubled, loss
        limit a decade lower) when the curves leave them, which redraws the cached background."""
        self._fresh()
        self._extend_curve()
        curve = self.curve[:self.curve_rows]
        if self.curve_rows and curve[-1, 0] > self.loss_ax.get_xlim()[1]:
            self.loss_ax.set_xlim(0, 2 ** math.ceil(math.log2(curve[-1, 0])))
            self.loss.background = None
        low = self.lowest if math.isfinite(self.lowest) else 1.0
        if low < self.loss_ax.get_ylim()[0]:
            self.loss_ax.set_ylim(10 ** math.floor(math.log10(low)), self.loss_ax.get_ylim()[1])
            self.loss.background = self.loss.base = None
        self.train_line.set_data(curve[:, 0], curve[:, 1])
        self.test_line.set_data(curve[:, 0], curve[:, 2])
        return self.loss.jpeg([self.train_line, self.test_line])

    def layer_jpeg(self) -> bytes:
        """The layer figure at the last recorded statistics as a JPEG (the previous one if none is new): each panel
        updates its artists; one whose limits widened makes the cached background stale."""
        self._fresh()
        e = self.engine
        latest = e.hists[-1] if e.hists else None
        if self.layers_jpeg is not None and latest is self.layers_for and self.layers.background is not None:
            return self.layers_jpeg
        if latest is not None:
            rows = e.records()
            if any([panel.update(e, rows) for panel in self.panels]):  # a list: every panel updates
                self.layers.background = None
        self.layers_jpeg = self.layers.jpeg(self.artists)
        self.layers_for = latest
        return self.layers_jpeg
