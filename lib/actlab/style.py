"""The course's look: a colour-blind-safe palette, readable font sizes and resolution, and a presentation mode.

Applied on `import actlab` (matplotlib's rcParams, so it reaches every figure, the library's and a notebook's own).
Importing leaves IPython alone: a notebook calls `actlab.setup_notebook()` once, in its import cell, so that a
Figure a cell returns displays as a PNG (never SVG).
`actlab.presentation()` switches the whole course to larger fonts and thicker lines for a projector;
`actlab.presentation(False)` switches back. Figures keep an opaque white background, so they stay legible in
JupyterLab's dark theme.

Palette: Okabe and Ito, "Color Universal Design" (2008), https://jfly.uni-koeln.de/color/ : distinguishable with
every common form of colour blindness. Its yellow is left out (too faint on white).
"""
from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK)
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))
FUNCTION_COLOUR = BLUE
DERIVATIVE_COLOUR = VERMILLION
REFERENCE_COLOUR = BLACK

# Sizes in points at dpi 100: a 9-inch figure is 900 px wide, its labels readable at 1024x768.
NORMAL = {"font": 11, "title": 12, "suptitle": 13, "small": 10, "line": 2.0, "dpi": 100}
PRESENTATION = {"font": 15, "title": 16, "suptitle": 18, "small": 13, "line": 3.0, "dpi": 110}
_mode = {"presentation": False}

# CSS for the interactive widgets (scoped to the .actlab-widget class): readouts wide enough for a range such as
# "-13.5 - 13.5", slider tracks that take the width they are given, controls that wrap instead of overflowing.
WIDGET_CSS = """<style>
.actlab-widget .widget-readout { min-width: 7.5em; max-width: none; overflow: visible; }
.actlab-widget .widget-hslider .slider-container { flex: 1 1 auto; }
.actlab-widget .widget-image img, .actlab-widget img.widget-image { max-width: 100%; height: auto; }
</style>"""


def rc(presentation: bool = False) -> dict:
    """matplotlib settings of the course's style (normal or presentation)."""
    s = PRESENTATION if presentation else NORMAL
    return {
        "axes.prop_cycle": cycler(color=PALETTE),
        "figure.facecolor": "white", "savefig.facecolor": "white", "axes.facecolor": "white",
        "savefig.transparent": False, "text.color": "black", "axes.labelcolor": "black",
        "xtick.color": "black", "ytick.color": "black", "axes.edgecolor": "0.2",
        "figure.dpi": s["dpi"], "savefig.dpi": s["dpi"],
        "font.size": s["font"], "axes.titlesize": s["title"], "axes.labelsize": s["font"],
        "figure.titlesize": s["suptitle"], "legend.fontsize": s["small"], "legend.title_fontsize": s["small"],
        "xtick.labelsize": s["small"], "ytick.labelsize": s["small"],
        "lines.linewidth": s["line"], "lines.markersize": 6 * s["line"] / 2.0, "grid.alpha": 0.3,
        "legend.framealpha": 0.9,
    }


def apply() -> None:
    """Apply the current style (normal unless presentation mode is on) to matplotlib."""
    mpl.rcParams.update(rc(_mode["presentation"]))


def presentation(on: bool = True) -> None:
    """Switch the whole course to presentation style (larger fonts, thicker lines) for a projector, or back."""
    if not isinstance(on, bool):
        raise ValueError(f"on must be True or False, got {on!r}")
    _mode["presentation"] = on
    apply()


def is_presentation() -> bool:
    """True while presentation mode is on."""
    return _mode["presentation"]


def dpi() -> int:
    """The resolution figures are rendered at, in dots per inch (100 normally, 110 in presentation mode)."""
    return (PRESENTATION if _mode["presentation"] else NORMAL)["dpi"]


def origin_axes(ax, title: str) -> None:
    """Give a matplotlib Axes lines through the origin, a light grid, the title and the x label "x"."""
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.set_xlabel("x")


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib Figure at the course's resolution (dpi())."""
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi())
    return buffer.getvalue()


def setup_notebook() -> bool:
    """Make a matplotlib Figure that a notebook cell returns display as PNG (never SVG); call it once per notebook.

    Registers figure_png with the running IPython shell's image/png formatter. Returns True if a shell was found,
    False outside IPython (nothing to do). Importing actlab does not do this: it leaves IPython's formatters alone.
    """
    from matplotlib.figure import Figure

    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True


def integer_ticks(axis) -> None:
    """Whole-number ticks only (for epochs, steps, layers): no 0.5 or 1.25 epoch. axis: ax.xaxis or ax.yaxis."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def readable_columns(frame):
    """A copy of a DataFrame whose column and index names read as words: 'dead_fraction' -> 'dead fraction'."""
    def words(name):
        return name.replace("_", " ") if isinstance(name, str) else name

    renamed = frame.rename(columns=words)
    renamed.index = renamed.index.set_names([words(n) for n in renamed.index.names])
    return renamed
