"""The playground's per-layer diagnostics: each one object that measures and draws, all listed in PANELS.

A panel, as fastai's ActivationStats is one callback, knows what it measures on the engine after a record
(measure: one dict per hidden layer, merged into Engine.layer_records, hence layer_stats), what it plots from the
last record (plotted: the values as drawn and the y limits, one meaning for both views), how the browser draws it
(spec: a JSON description for board.py's front end) and how it shows on its own axes of the Matplotlib layer
figure (build once per layout, update each layer frame). The live view (board.Board, drawn in the browser) and the
static figures (Playground.plot, view.View) draw one panel per entry of PANELS, in order. Adding a diagnostic: write
a Panel here, add it to PANELS, and test it (tests/test_playground.py registers one of its own).
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection

from ..stats import GUIDE_RATIO, HIST_BINS, hist_range
from ..style import BLACK, GREEN, ORANGE, PURPLE, SKY


class Panel:
    """A per-layer diagnostic: name, title; measure(engine), plotted(engine, rows, ylim), spec(engine),
    build(ax, engine), update(engine, rows)."""

    name = "panel"
    title = ""

    def measure(self, engine) -> list[dict] | None:
        """Per hidden layer (input side first), the values to add to this record's layer rows; None: nothing."""
        return None

    def plotted(self, engine, rows: list[dict], ylim) -> tuple[np.ndarray, tuple[float, float]]:
        """(the values drawn from the last record's layer rows as a float array, the y limits); ylim: the limits
        shown so far (None: none yet)."""
        raise NotImplementedError

    def spec(self, engine) -> dict:
        """What the browser needs to draw this panel (JSON): kind, title, labels, colours, the shape of plotted's
        array."""
        raise NotImplementedError

    def build(self, ax, engine) -> list:
        """Set up ax for the engine's network (fixed parts) and return the animated artists redrawn each frame."""
        raise NotImplementedError

    def update(self, engine, rows: list[dict]) -> bool:
        """Set the artists from the last record's layer rows; True when ax's limits changed (redraw the background)."""
        raise NotImplementedError


class Histograms(Panel):
    """The activation histogram of every hidden layer at the last record, one line per layer (sqrt scale)."""

    name, title = "histograms", "activation histogram (sqrt scale)"
    xlabel = "output (dark: layer 1, light: last)"

    @staticmethod
    def colours(depth: int) -> list[str]:
        """One colour per layer, viridis from dark (layer 1) to light (last), as hex strings."""
        cmap = matplotlib.colormaps["viridis"]
        return [matplotlib.colors.to_hex(cmap(0.85 * i / max(depth - 1, 1))) for i in range(depth)]

    def plotted(self, engine, rows: list[dict], ylim=None) -> tuple[np.ndarray, tuple[float, float]]:
        """Array (2, layers, bins): each layer's bin centres over the range its histogram was taken on (the rows'
        "range") and the square root of its bin shares (engine.hists[-1]); y limits (0, 1.05 x the highest)."""
        shares = np.sqrt(engine.hists[-1])
        bins = shares.shape[1]
        centres = [lo + (np.arange(bins) + 0.5) * (hi - lo) / bins for lo, hi in (r["range"] for r in rows)]
        return np.stack([np.array(centres), shares]), (0.0, float(shares.max()) * 1.05 + 1e-9)

    def spec(self, engine) -> dict:
        """Kind 'histograms': one line per layer, colours dark (layer 1) to light; array (2, depth, HIST_BINS)."""
        depth = engine.config["depth"]
        return {"name": self.name, "kind": "histograms", "title": self.title, "xlabel": self.xlabel,
                "colours": self.colours(depth), "shape": [2, depth, HIST_BINS]}

    def build(self, ax, engine) -> list:
        """One LineCollection for every layer (dark: layer 1, light: last): one artist, cheap to draw."""
        c = engine.config
        depth = c["depth"]
        self.ranges = [hist_range(a, p) for a, p in zip(c["activation"], c["params"])]
        ax.set(xlim=(min(r[0] for r in self.ranges), max(r[1] for r in self.ranges)), yticks=[], title=self.title,
               xlabel=self.xlabel)
        self.lines = LineCollection([], colors=self.colours(depth), linewidths=1.2, animated=True)
        ax.add_collection(self.lines)
        self.ax = ax
        return [self.lines]

    def update(self, engine, rows: list[dict]) -> bool:
        """Each layer's bin shares (plotted) as a curve over its value range; y limits without tick labels."""
        (centres, heights), ylim = self.plotted(engine, rows)
        self.lines.set_segments([np.column_stack([c, h]) for c, h in zip(centres, heights)])
        self.ax.set_ylim(*ylim)  # no tick labels: the background stays valid
        return False


class Lines(Panel):
    """One line per measured key over the layers (x: layer 1 = input side), with fixed or widening y limits.

    lines: (record key, label, colour, marker style); log10: plot log10 of the values (0 gives -inf, drawn on the
    bottom edge); fit: widen the y limits to whole units when values fall outside; guide: a dashed reference level."""

    def __init__(self, name: str, title: str, lines, ylim, log10: bool = False, fit: bool = False, guide=None,
                 measure=None):
        self.name, self.title, self.spec_lines, self.ylim = name, title, tuple(lines), ylim
        self.log10, self.fit, self.guide, self._measure = log10, fit, guide, measure

    def measure(self, engine) -> list[dict] | None:
        """The measuring function given at construction, if any."""
        return self._measure(engine) if self._measure else None

    xlabel = "layer (1 = input side)"

    def plotted(self, engine, rows: list[dict], ylim=None) -> tuple[np.ndarray, tuple[float, float]]:
        """Array (keys, layers): each key's value per layer (log10 where asked), the y limits (ylim, or the panel's
        own at first, widened to whole units where fit and finite values fall outside), and -inf on the bottom edge."""
        values = np.array([[self._value(r[key]) for r in rows] for key, *_ in self.spec_lines], dtype=float)
        ylim = tuple(self.ylim if ylim is None else ylim)
        if self.fit:
            ylim = self._widened(values, ylim)
        with np.errstate(invalid="ignore"):
            return np.where(np.isnan(values), np.nan, np.maximum(values, ylim[0])), ylim

    def spec(self, engine) -> dict:
        """Kind 'lines': x the layers 1..depth; per key its label, colour, dash and marker; the starting y limits and
        the guide (level, text) or None; array (keys, depth)."""
        return {"name": self.name, "kind": "lines", "title": self.title, "xlabel": self.xlabel,
                "series": [{"key": key, "label": label, "colour": matplotlib.colors.to_hex(colour), "dash": "--" in style,
                            "marker": style[0]}
                           for key, label, colour, style in self.spec_lines],
                "ylim": list(self.ylim), "guide": list(self.guide) if self.guide else None,
                "shape": [len(self.spec_lines), engine.config["depth"]]}

    def build(self, ax, engine) -> list:
        """The axes over the layers and one animated line per key (zeros until the first layer record)."""
        depth = engine.config["depth"]
        layers = np.arange(1, depth + 1)
        ax.set(xlim=(0.5, depth + 0.5), ylim=self.ylim, title=self.title, xlabel=self.xlabel)
        ax.grid(alpha=0.3)
        if self.guide is not None:
            ax.axhline(self.guide[0], color=BLACK, ls="--", lw=1)
            ax.text(depth + 0.4, self.guide[0] + 0.15, self.guide[1], ha="right", fontsize=7)
        self.lines = {key: ax.plot(layers, np.zeros(depth), style, color=colour, label=label, ms=3, lw=1.5,
                                   animated=True)[0] for key, label, colour, style in self.spec_lines}
        if len(self.spec_lines) > 1:
            ax.legend(fontsize=7, loc="upper left")
        self.ax = ax
        return list(self.lines.values())

    def update(self, engine, rows: list[dict]) -> bool:
        """Each line's values at the last record (plotted); True when the y limits widened."""
        values, ylim = self.plotted(engine, rows, self.ax.get_ylim())
        stale = tuple(ylim) != tuple(self.ax.get_ylim())
        if stale:
            self.ax.set_ylim(*ylim)
        for line, row in zip(self.lines.values(), values):
            line.set_ydata(row)
        return stale

    def _value(self, value: float) -> float:
        """The plotted value: log10 where asked (-inf for 0 or less), else the value."""
        if not self.log10:
            return value
        return math.log10(value) if value > 0 else -math.inf

    @staticmethod
    def _widened(values: np.ndarray, ylim: tuple[float, float]) -> tuple[float, float]:
        """The y limits widened (to whole units) to hold the finite values; ylim itself if they fit."""
        values = values[np.isfinite(values)]
        low, high = ylim
        if not len(values) or (values.min() >= low and values.max() <= high):
            return ylim
        return min(low, math.floor(values.min())), max(high, math.ceil(values.max()))


def gradient_norms(engine) -> list[dict]:
    """Each hidden layer's weight-gradient norm from the last backward pass (NaN before the first step)."""
    grads = [layer.weight.grad for layer in engine.model.linears]
    return [{"grad_norm": g.norm().item() if g is not None else math.nan} for g in grads]


def update_ratios(engine) -> list[dict]:
    """Each hidden layer's log10 std(update) / std(weight) at the last measured step (Engine.step(measure=True))."""
    return [{"update_ratio": engine.ratios.get(i, math.nan)} for i in range(len(engine.model.linears))]


PANELS = [
    Histograms(),
    Lines("fractions", "saturated, near-dead and dead",  # actlab.vocabulary's terms
          [("saturated_fraction", "saturated", ORANGE, "o-"), ("near_dead_fraction", "near-dead units", SKY, "^--"),
           ("dead_fraction", "dead units", BLACK, "s-")], (-0.03, 1.03)),
    Lines("gradients", "log10 weight-gradient norm", [("grad_norm", "gradient norm", PURPLE, "o-")], (-6, 2),
          log10=True, fit=True, measure=gradient_norms),
    Lines("updates", "log10 update / weight (std)", [("update_ratio", "update ratio", GREEN, "o-")], (-7, 0),
          fit=True, guide=(GUIDE_RATIO, "1e-3"), measure=update_ratios),
]
