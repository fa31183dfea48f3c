"""Plots and the explorer: every entry draws what the mpmath references say, bad windows are refused, sliders
really change the picture.

What a plot shows is checked against tests/mp_reference.py (50-digit values written from the definitions, not
from torch or actlab). Tolerance, from the dtype: ULPS eps (1 + |x| + |f| + |x f'|) for a value (| f' | + |x f''|
for a derivative), the rounding of each operation on intermediates no larger than the window's |x| or the result,
amplified by the function's condition number (as in test_oracle, plus an absolute eps (1 + |x|) for the
cancellations a torch module may compute, such as x - tanh x near 0 or 0.5 x (1 + erf) in GELU's far tail).
"""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

import actlab
from actlab.explore import MIN_WINDOW, Explorer
from mp_reference import reference

NAMES = actlab.activation_names()
BUILT_IN = [n for n in NAMES if not actlab.lookup(n).custom]
ULPS = 8


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def assert_drawn(got, x, name: str, params: dict, order: int = 0, eps: float = np.finfo(np.float64).eps):
    """The drawn values got at x are the order-th derivative of the activation, within ULPS eps x scale."""
    x = np.asarray(x, dtype=float)
    want, slope = (np.array([reference(name, t, params, k) for t in x]) for k in (order, order + 1))
    bound = ULPS * eps * (1 + np.abs(x) + np.abs(want) + np.abs(x * slope))
    bad = ~(np.abs(np.asarray(got) - want) <= bound)
    assert not bad.any(), (f"{name} {params} order {order}: at x = {x[bad][:3]} drawn {np.asarray(got)[bad][:3]}, "
                           f"reference {want[bad][:3]}")


def assert_grid(x, low: float, high: float, points: int):
    """x is the evenly spaced grid on [low, high] (to a few roundings of the window's size)."""
    np.testing.assert_allclose(x, np.linspace(low, high, points), rtol=0,
                               atol=ULPS * np.finfo(float).eps * max(abs(low), abs(high)))


def away_from_kinks(name: str, params: dict, x: np.ndarray) -> np.ndarray:
    """Indices of x farther than 1e-9 from every kink (where a derivative has no single value)."""
    kinks = actlab.lookup(name).kinks(**params)
    return np.array([i for i, t in enumerate(x) if all(abs(t - k) > 1e-9 for k in kinks)], dtype=int)


@pytest.mark.parametrize("name", BUILT_IN)
def test_plot_activation_draws_the_function_and_both_derivatives(name):
    """Every 10th of the 401 points: the function, autograd's and the analytic derivative against the references.
    The autograd line is held to float32's eps: PyTorch computes some float64 backward passes with float32
    constants (Hardsigmoid's 1/6 is 5e-9 off)."""
    params = actlab.lookup(name).defaults()
    fig = actlab.plot_activation(name)
    ax_f, ax_d = fig.axes
    x, y = ax_f.lines[0].get_data()
    assert_grid(x, -6, 6, 401)
    every = np.arange(0, 401, 10)
    assert_drawn(y[every], x[every], name, params)
    smooth = every[away_from_kinks(name, params, x[every])]
    autograd, analytic = ax_d.lines[0].get_ydata(), ax_d.lines[1].get_ydata()
    assert_drawn(analytic[smooth], x[smooth], name, params, order=1)
    assert_drawn(autograd[smooth], x[smooth], name, params, order=1, eps=np.finfo(np.float32).eps)


def test_the_plot_check_can_fail():
    """assert_drawn refuses a curve one parameter step off (ELU alpha 1.01 drawn for alpha 1)."""
    x = np.linspace(-6, 6, 41)
    wrong = torch.nn.functional.elu(torch.as_tensor(x), alpha=1.01).numpy()
    with pytest.raises(AssertionError, match="elu"):
        assert_drawn(wrong, x, "elu", {"alpha": 1.0})


def test_plot_params_and_title():
    fig = actlab.plot_activation("leaky_relu", x_range=(-2, 1), alpha=0.3)
    assert fig.axes[0].get_title() == "Leaky ReLU (alpha=0.3)"
    x, y = fig.axes[0].lines[0].get_data()
    assert y[0] == pytest.approx(-0.6)


@pytest.mark.parametrize("x_range, message", [
    ((3, -3), "empty or reversed"), ((1, 1), "empty or reversed"), ((0, float("inf")), "finite"),
    ((1,), "pair"), ("ab", "pair"),
])
def test_bad_x_range(x_range, message):
    with pytest.raises(ValueError, match=message):
        actlab.plot_activation("relu", x_range=x_range)


def test_too_few_points():
    with pytest.raises(ValueError, match=r"points must be an integer in \[2, inf\), got 1"):
        actlab.plot_activation("relu", points=1)


def test_plot_compare():
    fig = actlab.plot_compare(["relu", "elu", "gelu"], params={"elu": {"alpha": 0.5}})
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["ReLU", "ELU (alpha=0.5)", "GELU"]
    every = np.arange(0, 401, 20)
    for line, (name, params) in zip(fig.axes[0].lines, [("relu", {}), ("elu", {"alpha": 0.5}), ("gelu", {})]):
        x, y = line.get_data()
        assert_drawn(y[every], x[every], name, params)
    with pytest.raises(ValueError, match="non-empty list"):
        actlab.plot_compare("relu")


def test_explorer_has_a_slider_per_parameter_with_registry_ranges():
    e = actlab.explore("hardtanh")
    assert [s.description for s in e.sliders.children] == ["min_val", "max_val"]
    s = e.sliders.children[0]
    p = actlab.lookup("hardtanh").params[0]
    assert (s.min, s.max, s.step, s.value) == (p.low, p.high, p.step, p.default)
    assert [v for _, v in e.dropdown.options] == NAMES


def test_explorer_slider_changes_plot():
    e = Explorer("elu")
    before = pixels(e.png())
    e.sliders.children[0].value = 3.0
    after = pixels(e.png())
    assert (before != after).any(axis=2).mean() > 0.005
    assert e.ax_f.get_title() == "ELU (alpha=3)"
    assert e.caption.value == "Plot of ELU (alpha=3) and its derivative on [-6, 6]"
    x = e.line_f.get_xdata()
    assert_grid(x, -6, 6, e.points)
    expected = torch.nn.functional.elu(torch.as_tensor(x), alpha=3.0).numpy()  # torch's own ELU at alpha = 3
    np.testing.assert_allclose(e.line_f.get_ydata(), expected, rtol=0, atol=ULPS * np.finfo(float).eps * 6)


def test_explorer_window_and_dropdown():
    e = Explorer("relu")
    e.window.value = (-2.0, 3.0)
    assert e.ax_f.get_xlim() == (-2.0, 3.0)
    e.dropdown.value = "swish"
    assert [s.description for s in e.sliders.children] == ["beta"]
    assert e.ax_f.get_title() == "Swish (beta=1)"
    e.sliders.children[0].value = 20.0  # large beta: close to ReLU
    np.testing.assert_allclose(e.line_f.get_ydata(), np.maximum(e.line_f.get_xdata(), 0), atol=0.02)


def test_explorer_axes_hold_still_while_dragging():
    e = Explorer("elu")
    limits = e.ax_f.get_ylim()
    for alpha in (0.0, 2.5, 5.0):
        e.sliders.children[0].value = alpha
        assert e.ax_f.get_ylim() == limits
        y = e.line_f.get_ydata()
        assert limits[0] <= y.min() and y.max() <= limits[1]


def test_explorer_static_fallback_is_a_png_of_the_plot():
    e = Explorer("tanh")
    data, _ = e._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"  # base64 text, as notebooks store it


def test_explorer_bad_input():
    with pytest.raises(ValueError, match="unknown activation"):
        actlab.explore("relux")
    with pytest.raises(ValueError, match="within"):
        actlab.explore("relu", x_range=(-50, 5))


def assert_plot_matches_sliders(e: Explorer):
    """The drawn curve is the activation at the values the sliders show (against the mpmath references, on the
    window the range slider shows), and the title names each slider's value."""
    params = {s.description: s.value for s in e.sliders.children}
    x = e.line_f.get_xdata()
    assert_grid(x, *e.window.value, e.points)
    assert_drawn(e.line_f.get_ydata(), x, e.name, params)
    title = e.ax_f.get_title()
    assert title.startswith(actlab.lookup(e.name).display)
    assert all(f"{k}={v:g}" in title for k, v in params.items()), (title, params)
    assert e.caption.value.startswith(f"Plot of {title} and its derivative")


def test_explorer_refuses_a_value_the_constraint_forbids_without_raising():
    """Hardtanh min_val = 2 above max_val = 1: no exception, the slider stops at the nearest allowed step (0.9), the
    widget says why: in the plot the browser draws (view.error, what a student sees) and in the kernel's caption."""
    e = Explorer("hardtanh")
    min_val, max_val = e.sliders.children
    min_val.value = 2.0
    assert min_val.value == 0.9
    assert "min_val=2 refused: hardtanh: min_val=2 must be below max_val=1" in e.caption.value
    assert "min_val=2 refused: hardtanh: min_val=2 must be below max_val=1" in e.view.error
    assert_plot_matches_sliders(e)
    max_val.value = 3.0  # now min_val = 2 is allowed
    min_val.value = 2.0
    assert e.params() == {"min_val": 2.0, "max_val": 3.0} and "refused" not in e.caption.value
    assert e.view.error == ""  # an accepted value clears the refusal the browser showed
    assert_plot_matches_sliders(e)
    max_val.value = -4.0
    assert max_val.value == 2.1 and "max_val=-4 refused" in e.caption.value and "max_val=-4 refused" in e.view.error
    assert_plot_matches_sliders(e)


def test_explorer_widens_a_window_narrower_than_its_minimum_instead_of_refusing_it():
    """A handle dragged onto the other pushes it MIN_WINDOW away (as the browser does): no refusal to read."""
    e = Explorer("relu")
    e.window.value = (1.0, 1.0)  # the lower handle moved onto ... wherever: the upper one goes MIN_WINDOW above it
    assert e.window.value == (1.0, 1.0 + MIN_WINDOW) and "refused" not in e.caption.value and e.view.error == ""
    assert e.ax_f.get_xlim() == (1.0, 1.0 + MIN_WINDOW)
    e.window.value = (1.0, 1.0)  # the upper handle moved down onto the lower one: the lower one goes below
    assert e.window.value == (1.0 - MIN_WINDOW, 1.0)
    e.window.value = (19.5, 20.0)
    e.window.value = (20.0, 20.0)  # at the top end the window keeps its minimum width below the limit
    assert e.window.value == (20.0 - MIN_WINDOW, 20.0)
    assert_plot_matches_sliders(e)


@pytest.mark.parametrize("name", [n for n in BUILT_IN if actlab.lookup(n).params])
def test_explorer_plot_matches_the_sliders_at_every_slider_end(name):
    """Every slider to each end, in turn: no callback raises, and the plot always shows what the sliders show."""
    e = Explorer(name, points=51)
    for slider in e.sliders.children:
        for value in (slider.max, slider.min, slider.max):
            slider.value = value
            assert_plot_matches_sliders(e)


def test_slider_plot_closes_the_pyplot_figures_it_makes():
    """make builds its figure with plt.subplots(): after 25 moves at most one pyplot figure is open (was 26)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    plt.close("all")

    def make(k):
        fig, ax = plt.subplots()
        ax.plot(range(k + 2))
        return fig

    k = widgets.IntSlider(value=0, min=0, max=30)
    plot = actlab.slider_plot(make, k=k)
    for value in range(1, 26):
        k.value = value
    assert len(plt.get_fignums()) <= 1
    assert pixels(plot.image.value).shape[2] == 3


def test_slider_plot_puts_back_a_value_make_fails_on():
    import ipywidgets as widgets

    def make(k):
        if k > 5:
            raise ValueError(f"k must be at most 5, got {k}")
        return actlab.plot_activation("relu", x_range=(-1, k + 1))

    k = widgets.IntSlider(value=1, min=0, max=10)
    plot = actlab.slider_plot(make, k=k)
    before = plot.image.value
    k.value = 8
    assert k.value == 1 and "k=8 refused: k must be at most 5, got 8" in plot.caption.value
    assert plot.image.value == before
    k.value = 3
    assert plot.caption.value == "" and plot.image.value != before
    with pytest.raises(ValueError, match="at most 5"):
        actlab.slider_plot(make, k=widgets.IntSlider(value=9, max=10))
