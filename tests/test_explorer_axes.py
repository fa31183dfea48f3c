"""Every explorer's axes hold every curve at every slider position (issue 20): read back from the drawn figure."""
import numpy as np
import pytest

import actlab

NAMES = actlab.activation_names()
X_RANGES = [(-6, 6), (-20, 3)]


def _assert_curves_inside(explorer, where: str) -> None:
    """Each drawn curve's finite data lies within its axes' y limits (as the figure has them, not recomputed)."""
    for ax in (explorer.ax_f, explorer.ax_d):
        low, high = ax.get_ylim()
        curves = [line for line in ax.get_lines() if line.get_transform() == ax.transData]  # not the axis lines
        assert len(curves) == (1 if ax is explorer.ax_f else 2)
        for line in curves:
            y = np.asarray(line.get_ydata(), dtype=float)
            y = y[np.isfinite(y)]
            if y.size:
                assert low <= y.min() and y.max() <= high, (
                    f"{where}: a curve spans ({y.min():g}, {y.max():g}) outside the y axis ({low:g}, {high:g})")


@pytest.mark.parametrize("x_range", X_RANGES)
@pytest.mark.parametrize("name", NAMES)
def test_every_curve_stays_inside_its_axes_at_every_slider_end(name, x_range):
    explorer = actlab.explore(name, x_range=x_range)
    _assert_curves_inside(explorer, f"{name} at its defaults")
    for slider in explorer.sliders.children:
        default = slider.value
        for value in (slider.min, slider.max, default):  # a slider move: only the moving lines are redrawn
            slider.value = value
            _assert_curves_inside(explorer, f"{name} with {slider.description}={slider.value:g}, x in {x_range}")


def test_rrelu_with_both_slopes_at_one_is_inside_its_axes():
    """The reported case: upper then lower dragged to 1 (y = x on (-6, 6)) kept the y axis (-4.1, 6.75)."""
    explorer = actlab.explore("rrelu")
    sliders = {s.description: s for s in explorer.sliders.children}
    sliders["upper"].value = 1.0
    sliders["lower"].value = 1.0
    assert explorer.params() == {"lower": 1.0, "upper": 1.0}
    low, high = explorer.ax_f.get_ylim()
    assert low <= -6 and high >= 6
    _assert_curves_inside(explorer, "rrelu with lower = upper = 1")
