"""The course's style: colour-blind-safe palette everywhere, readable sizes, presentation mode, dark-theme safe."""
import io

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image

import actlab
from actlab import style


@pytest.fixture(autouse=True)
def normal_style():
    style.presentation(False)
    yield
    style.presentation(False)


def test_palette_is_okabe_ito_and_the_default_colour_cycle():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert set(style.PALETTE) <= okabe_ito and len(set(style.PALETTE)) == len(style.PALETTE)
    cycle = [c.upper() for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [c.upper() for c in style.PALETTE]
    fig = actlab.plot_compare(["relu", "tanh", "sigmoid"])
    colours = [line.get_color().upper() for line in fig.axes[0].get_lines()[:3]]
    assert colours == [c.upper() for c in style.PALETTE[:3]]


def test_palette_colours_stay_apart_for_red_green_colour_blindness():
    """Deuteranopia simulated (Vienot, Brettel and Mollon 1999, linear RGB matrix): no two colours merge."""
    deutan = np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0], [-0.02234, 0.02234, 1.0]])
    seen = [deutan @ np.array(to_rgb(c)) ** 2.2 for c in style.PALETTE]
    gaps = [np.abs(a - b).max() for i, a in enumerate(seen) for b in seen[i + 1:]]
    assert min(gaps) > 0.08, f"two palette colours nearly merge (max channel gap {min(gaps):.3f})"


def test_readable_default_sizes():
    assert mpl.rcParams["font.size"] >= 11 and mpl.rcParams["legend.fontsize"] >= 10
    assert mpl.rcParams["figure.dpi"] >= 100
    fig = actlab.plot_activation("gelu")
    legend_sizes = [t.get_fontsize() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert legend_sizes and min(legend_sizes) >= 10


def test_presentation_mode_enlarges_the_whole_course_and_switches_back():
    normal = actlab.plot_activation("elu").axes[0].title.get_fontsize()
    actlab.presentation()
    assert style.is_presentation()
    big = actlab.plot_activation("elu")
    assert big.axes[0].title.get_fontsize() >= 1.25 * normal
    assert mpl.rcParams["lines.linewidth"] >= 1.4 * style.NORMAL["line"]
    explorer = actlab.explore("elu")
    assert explorer.figure.dpi == style.PRESENTATION["dpi"]
    actlab.presentation(False)
    assert actlab.plot_activation("elu").axes[0].title.get_fontsize() == normal


def test_presentation_refuses_a_non_boolean():
    with pytest.raises(ValueError, match="on must be True or False"):
        actlab.presentation("yes")


def test_figures_have_an_opaque_white_background_for_dark_themes():
    """A transparent PNG would put black labels on JupyterLab's dark background."""
    buffer = io.BytesIO()
    actlab.plot_activation("relu").savefig(buffer, format="png")
    image = np.asarray(Image.open(buffer).convert("RGBA"))
    assert image[..., 3].min() == 255 and (image[0, 0, :3] == 255).all()


def test_explorer_image_follows_the_available_width_with_readable_readouts():
    explorer = actlab.explore("swish")
    assert explorer.view.layout.width == "100%"
    assert explorer.window.layout.max_width and explorer.window.layout.flex  # grows beside the dropdown, or wraps
    assert all(s.layout.width == "100%" for s in explorer.sliders.children)
    assert "actlab-widget" in explorer._dom_classes and "widget-readout" in style.WIDGET_CSS


def test_integer_ticks_on_an_epoch_axis():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0.5, 0.7, 0.8])
    ax.set_xlim(-0.1, 2.1)
    style.integer_ticks(ax.xaxis)
    ticks = [t for t in ax.get_xticks() if -0.1 <= t <= 2.1]
    assert ticks == [0, 1, 2]


def test_readable_columns():
    frame = pd.DataFrame({"dead_fraction": [0.1], "test_accuracy": [0.5]}, index=pd.Index(["relu"], name="act_name"))
    readable = style.readable_columns(frame)
    assert list(readable.columns) == ["dead fraction", "test accuracy"] and readable.index.name == "act name"
    assert list(frame.columns) == ["dead_fraction", "test_accuracy"], "the original is left as it was"
