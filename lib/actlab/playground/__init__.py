"""The live training playground: a real PyTorch MLP learning a 2-D data set, redrawn while it trains.

In the spirit of TensorFlow Playground (Smilkov and Carter 2016), with any registry activation per layer, deep nets
and the per-layer diagnostics of actlab.stats, built from the library's pieces (data.toy_2d, points, models'
INITS and init_linear, training.make_optimizer, checks, style's palette). Split along its seams:
settings.py (the one SETTINGS table), engine.py (the net, a step, the records; no widgets), board.py (the live view:
the arrays the browser draws, with actlab/static/playground.js), view.py (Matplotlib figures for plot() and the
static PNG; no training), panels.py (the per-layer diagnostics, one object each, listed in PANELS), widget.py (the
controls and the live loop), speed.py (bench). `actlab.playground(...)` is widget.playground.
"""
from .board import Board
from .engine import GRID, PROBE, Engine, PlaygroundNet, make_dataset, summary
from .panels import PANELS, Histograms, Lines, Panel
from .settings import DEFAULTS, LIVE, SETTINGS, Setting, check_config, code_line
from .speed import BENCH_CONFIG, bench
from .view import BOUNDARY_PX, View
from .widget import FPS, LAYER_EVERY, SLICE, TRAIN_SHARE, Playground, playground
from ..points import read_csv
from ..seeding import one_thread

playground.bench = bench  # so that actlab.playground.bench() works when actlab exports the function
playground.summary = summary  # actlab.playground.summary(steps, **config): one headless run's numbers

__all__ = ["BENCH_CONFIG", "BOUNDARY_PX", "Board", "DEFAULTS", "Engine", "FPS", "GRID", "Histograms", "LAYER_EVERY", "LIVE",
           "Lines", "PANELS", "PROBE", "Panel", "Playground", "PlaygroundNet", "SETTINGS", "SLICE", "Setting",
           "TRAIN_SHARE", "View", "bench", "check_config", "code_line", "make_dataset", "one_thread", "playground",
           "read_csv", "summary"]
