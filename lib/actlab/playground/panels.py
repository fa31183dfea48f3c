"""The playground's per-layer diagnostics: each one object that measures and draws, all listed in PANELS.

A panel, as fastai's ActivationStats is one callback, knows what it measures on the engine after a record
(measure: one dict per hidden layer, merged into Engine.layer_records, hence layer_stats) and how it shows the
last record on its own axes of the layer figure (build once per layout, update each layer frame). The live view
and the static figures (Playground.plot) draw one axes per entry of PANELS, in order. Adding a diagnostic: write
a Panel here, add it to PANELS, and test it (tests/test_playground.py registers one of its own).
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection

from ..stats import GUIDE_RATIO, hist_range
from ..style import BLACK, GREEN, ORANGE, PURPLE, SKY


class Panel:
    """A per-layer diagnostic: name, title; measure(engine), build(ax, engine), update(engine, rows)."""

    name = "panel"
    title = ""

    def measure(self, engine) -> list[dict] | None:
        """Per hidden layer (input side first), the values to add to this record's layer rows; None: nothing."""
        return None

    def build(self, ax, engine) -> list:
        """Set up ax for the engine's network (fixed parts) and return the animated artists redrawn each frame."""
        raise NotImplementedError

    def update(self, engine, rows: list[dict]) -> bool:
        """Set the artists from the last record's layer rows; True when ax's limits changed (redraw the background)."""
        raise NotImplementedError


class Histograms(Panel):
    """The activation histogram of every hidden layer at the last record, one line per layer (sqrt scale)."""

    name, title = "histograms", "activation histogram (sqrt scale)"

    def build(self, ax, engine) -> list:
        """One LineCollection for every layer (dark: layer 1, light: last): one artist, cheap to draw."""
        c = engine.config
        depth = c["depth"]
        self.ranges = [hist_range(a, p) for a, p in zip(c["activation"], c["params"])]
        ax.set(xlim=(min(r[0] for r in self.ranges), max(r[1] for r in self.ranges)), yticks=[], title=self.title,
               xlabel="output (dark: layer 1, light: last)")
        cmap = matplotlib.colormaps["viridis"]
        self.lines = LineCollection([], colors=[cmap(0.85 * i / max(depth - 1, 1)) for i in range(depth)],
                                    linewidths=1.2, animated=True)
        ax.add_collection(self.lines)
        self.ax = ax
        return [self.lines]

    def update(self, engine, rows: list[dict]) -> bool:
        """Each layer's bin shares (engine.hists[-1]) as a curve over its value range; y limits without tick labels."""
        shares = np.sqrt(engine.hists[-1])
        centres = [lo + (np.arange(shares.shape[1]) + 0.5) * (hi - lo) / shares.shape[1] for lo, hi in self.ranges]
        self.lines.set_segments([np.column_stack([c, h]) for c, h in zip(centres, shares)])
        self.ax.set_ylim(0, float(shares.max()) * 1.05 + 1e-9)  # no tick labels: the background stays valid
        return False


class Lines(Panel):
    """One line per measured key over the layers (x: layer 1 = input side), with fixed or widening y limits.

    lines: (record key, label, colour, marker style); log10: plot log10 of the values (0 gives -inf, drawn on the
    bottom edge); fit: widen the y limits to whole units when values fall outside; guide: a dashed reference level."""

    def __init__(self, name: str, title: str, lines, ylim, log10: bool = False, fit: bool = False, guide=None,
                 measure=None):
        self.name, self.title, self.spec, self.ylim = name, title, tuple(lines), ylim
        self.log10, self.fit, self.guide, self._measure = log10, fit, guide, measure

    def measure(self, engine) -> list[dict] | None:
        """The measuring function given at construction, if any."""
        return self._measure(engine) if self._measure else None

    def build(self, ax, engine) -> list:
        """The axes over the layers and one animated line per key (zeros until the first layer record)."""
        depth = engine.config["depth"]
        layers = np.arange(1, depth + 1)
        ax.set(xlim=(0.5, depth + 0.5), ylim=self.ylim, title=self.title, xlabel="layer (1 = input side)")
        ax.grid(alpha=0.3)
        if self.guide is not None:
            ax.axhline(self.guide[0], color=BLACK, ls="--", lw=1)
            ax.text(depth + 0.4, self.guide[0] + 0.15, self.guide[1], ha="right", fontsize=7)
        self.lines = {key: ax.plot(layers, np.zeros(depth), style, color=colour, label=label, ms=3, lw=1.5,
                                   animated=True)[0] for key, label, colour, style in self.spec}
        if len(self.spec) > 1:
            ax.legend(fontsize=7, loc="upper left")
        self.ax = ax
        return list(self.lines.values())

    def update(self, engine, rows: list[dict]) -> bool:
        """Each line's values at the last record; widen the limits (fit) first; -inf on the bottom edge."""
        values = {key: [self._value(r[key]) for r in rows] for key in self.lines}
        stale = self.fit and self._widen(np.concatenate(list(values.values())))
        floor = self.ax.get_ylim()[0]
        for key, line in self.lines.items():
            line.set_ydata([max(v, floor) for v in values[key]])
        return stale

    def _value(self, value: float) -> float:
        """The plotted value: log10 where asked (-inf for 0 or less), else the value."""
        if not self.log10:
            return value
        return math.log10(value) if value > 0 else -math.inf

    def _widen(self, values: np.ndarray) -> bool:
        """Widen the y limits (to whole units) if finite values fall outside; whether they changed."""
        values = values[np.isfinite(values)]
        low, high = self.ax.get_ylim()
        if not len(values) or (values.min() >= low and values.max() <= high):
            return False
        self.ax.set_ylim(min(low, math.floor(values.min())), max(high, math.ceil(values.max())))
        return True


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
