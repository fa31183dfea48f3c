"""The playground's live view, drawn in the browser: the kernel sends compact binary arrays, the browser draws them.

As the explorer's PlotView (actlab/explore.py) does: an anywidget front end (actlab/static/playground.js, after the
vendored uPlot 1.6.32, MIT licence in actlab/static/uPlot.LICENSE; nothing from a CDN), the course's palette and
font sizes sent from Python, and no formula in JavaScript: every value drawn is the library's (engine.py, panels.py).
What goes over the wire (all little-endian):
- points: float32 (N, 4) rows x, y (standardised coordinates), class, test (0 train, 1 test); sent when the data
  change (a rebuild), 16 bytes a point.
- grid: uint8 (GRID, GRID, 3), the engine's boundary colours (Engine.boundary, RGB in [0, 1]) times 255, rounded,
  row 0 at the top (highest y); GRID * GRID * 3 = 4,800 bytes a frame.
- loss, loss_at: float32 (rows, 5) of LOSS_COLUMNS, the history rows recorded since the last frame (20 bytes a row,
  one row a live frame), and the index of the first of them; a view that missed rows (opened later) asks for the
  whole history once (a custom message answered by history_bytes). Steps are exact in float32 up to 2^24.
- layers: per panel of PANELS in order (drawn_panels), float32 [ylow, yhigh, *plotted values] (Panel.plotted;
  shapes in meta["panels"]); sent when a new layer record exists (every LAYER_EVERY-th live frame).
- frame: a counter raised by every show(); the browser draws once per animation frame after it changes.
"""
from __future__ import annotations

import math

import anywidget
import numpy as np
import traitlets
from matplotlib.colors import to_hex

from ..style import BLACK, BLUE, GREEN, VERMILLION
from .engine import COLOURS, GRID, boundary_pixels
from .panels import PANELS, Panel
from ..web import css_sizes, front_end, front_end_css

LOSS_COLUMNS = ("step", "train_loss", "test_loss", "train_acc", "test_acc")
POINT_COLUMNS = ("x", "y", "class", "test")
BOUNDARY_CSS_PX = 264  # side of the drawn decision boundary in CSS pixels (as view.BOUNDARY_PX)
LOSS_CSS_PX = (420, 216)  # the loss plot beside it (plus title and legend: about 264 px); the picture is 692 px wide
PANEL_CSS_PX = (240, 150)  # each per-layer panel below (plus title and legend): four make 984 px with gaps


def boundary_bytes(rgb: np.ndarray) -> bytes:
    """The boundary colours (GRID, GRID, 3) in [0, 1] as the bytes of engine.boundary_pixels (uint8, row 0 at the
    top, NaN white). Raises ValueError for another shape."""
    return boundary_pixels(rgb).tobytes()


def points_bytes(engine) -> bytes:
    """The engine's training then test points as float32 (N, 4) bytes: x, y, class, test (0 or 1)."""
    blocks = [np.column_stack([x.numpy(), y.numpy(), np.full(len(y), test)])
              for x, y, test in ((engine.x_train, engine.y_train, 0), (engine.x_test, engine.y_test, 1))]
    return np.concatenate(blocks).astype("<f4").tobytes()


def loss_bytes(rows: list[dict]) -> bytes:
    """History rows as float32 (len(rows), 5) bytes of LOSS_COLUMNS."""
    return np.array([[r[k] for k in LOSS_COLUMNS] for r in rows], dtype="<f4").reshape(-1, len(LOSS_COLUMNS)).tobytes()


def drawn_panels() -> list:
    """The panels of PANELS the browser draws: those with plotted and spec (a Panel with only build and update, as
    written before the board, shows in the static figure alone)."""
    return [p for p in PANELS if type(p).plotted is not Panel.plotted and type(p).spec is not Panel.spec]


def plot_style() -> dict:
    """The course's font sizes (web.css_sizes) with the board's thinner lines (0.75 of the course's line width: the
    board's plots are smaller than the explorer's)."""
    sizes = css_sizes()
    return {**sizes, "line_px": round(sizes["line_px"] * 0.75, 1)}


class Board(anywidget.AnyWidget):
    """The live picture (decision boundary with the points, loss and accuracy curves) and the per-layer panels,
    drawn in the browser from what show(engine) sends (see the module docstring for the bytes).

    meta: the layout (grid, extent, class colours, styles, panel specs); sent again when the run is rebuilt."""

    _esm = front_end("playground.js")
    _css = front_end_css("playground.css")
    meta = traitlets.Dict().tag(sync=True)
    points = traitlets.Bytes().tag(sync=True)
    grid = traitlets.Bytes().tag(sync=True)
    loss = traitlets.Bytes().tag(sync=True)
    loss_at = traitlets.Int(0).tag(sync=True)
    layers = traitlets.Bytes().tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._engine = self._model_of = self._history_of = self._layers_of = None
        self._sent_rows = 0
        self._ylims: list = []
        self.on_msg(self._on_message)

    def show(self, engine) -> None:
        """Send the engine's current state in one message: the layout and points if the run was rebuilt, the
        boundary grid, the history rows since the last show, the layer panels if there is a new layer record."""
        with self.hold_sync():
            if engine.model is not self._model_of or engine is not self._engine:  # a new or rebuilt run
                self._layout(engine)
            self.grid = boundary_bytes(engine.boundary())
            self._send_rows(engine.history)
            latest = engine.hists[-1] if engine.hists else None
            if latest is not None and latest is not self._layers_of:
                self.layers = self.layer_bytes(engine)
                self._layers_of = latest
            self.frame += 1

    def _layout(self, engine) -> None:
        """A new run (or a rebuilt one): its meta, points and panel limits."""
        self._engine, self._model_of, self._layers_of = engine, engine.model, None
        self._panels = drawn_panels()
        self._ylims = [None] * len(self._panels)
        self.meta = self._meta(engine)
        self.points = points_bytes(engine)
        self.layers = b""

    def _meta(self, engine) -> dict:
        """The layout the browser draws into (JSON); a new activation keeps it (histogram ranges come with the
        data)."""
        return {"grid": GRID, "extent": list(engine.grid_extent), "colours": [to_hex(c) for c in COLOURS],
                "classes": engine.classes, "points": len(engine.x_train) + len(engine.x_test),
                "loss_columns": list(LOSS_COLUMNS), "style": plot_style(),
                "loss_colours": {"train_loss": BLUE, "test_loss": VERMILLION, "test_acc": GREEN, "text": BLACK},
                "sizes": {"boundary": BOUNDARY_CSS_PX, "loss": list(LOSS_CSS_PX), "panel": list(PANEL_CSS_PX)},
                "panels": [panel.spec(engine) for panel in self._panels], "depth": engine.config["depth"],
                "version": self.meta.get("version", 0) + 1}

    def _send_rows(self, history: list[dict]) -> None:
        """Set loss and loss_at to the rows recorded since the last show (all of them after a rebuild)."""
        if history is not self._history_of or self._sent_rows > len(history):
            self._history_of, self._sent_rows = history, 0
        self.loss_at = self._sent_rows
        self.loss = loss_bytes(history[self._sent_rows:])
        self._sent_rows = len(history)

    def layer_bytes(self, engine) -> bytes:
        """Each drawn panel's [ylow, yhigh, *plotted values] as float32, in PANELS order (the y limits only widen)."""
        rows = engine.records()
        blocks = []
        for i, panel in enumerate(self._panels):
            values, ylim = panel.plotted(engine, rows, self._ylims[i])
            self._ylims[i] = ylim
            blocks.append(np.concatenate([np.asarray(ylim, dtype=float), values.ravel()]))
        return np.concatenate(blocks).astype("<f4").tobytes()

    def history_bytes(self) -> bytes:
        """Every history row sent so far, as loss_bytes (what a view that missed rows asks for)."""
        return loss_bytes(self._history_of[:self._sent_rows]) if self._history_of is not None else b""

    def _on_message(self, widget, content, buffers) -> None:
        """The browser asks for the whole history (a view opened after training began): answer with it."""
        if isinstance(content, dict) and content.get("type") == "history":
            self.send({"type": "history", "rows": self._sent_rows}, buffers=[self.history_bytes()])

    # -- what the browser reads, decoded in Python (tests and the benchmark)
    def decoded(self) -> dict:
        """The arrays sent, as the browser reads them: grid uint8 (GRID, GRID, 3) row 0 at the top; points
        float32 (N, 4); loss float32 (rows, 5) with loss_at; per panel name, (ylim, values of the spec's shape)."""
        out = {"grid": np.frombuffer(self.grid, np.uint8).reshape(GRID, GRID, 3),
               "points": np.frombuffer(self.points, "<f4").reshape(-1, len(POINT_COLUMNS)),
               "loss": np.frombuffer(self.loss, "<f4").reshape(-1, len(LOSS_COLUMNS)), "loss_at": self.loss_at}
        data, at, panels = np.frombuffer(self.layers, "<f4"), 0, {}
        for spec in self.meta["panels"] if len(data) else []:
            size = math.prod(spec["shape"])
            panels[spec["name"]] = (tuple(data[at:at + 2]), data[at + 2:at + 2 + size].reshape(spec["shape"]))
            at += 2 + size
        out["panels"] = panels
        return out

    def frame_bytes(self) -> dict:
        """Bytes of each array now held (what the last show sent for those it changed)."""
        return {k: len(getattr(self, k)) for k in ("points", "grid", "loss", "layers")}
