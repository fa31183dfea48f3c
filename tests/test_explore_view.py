"""The explorer's plot drawn in the browser (issue 22): what the kernel sends is the registry's curves, for every slider
step, within a stated byte budget; bad values are refused in the widget, never raised; the front end ships inside
the package (no CDN)."""
import importlib
import json
import re

import numpy as np
import pytest

import actlab
from actlab.explore import FAMILY_SLOTS, GRID_POINTS, MIN_WINDOW, SERIES, WINDOW_LIMIT, Explorer, slider_steps

# Bytes per activation: every curve of the activation's sliders (float32: 3 series x 801 points x 4 bytes = 9.6 KB
# each) plus its description. Softplus, the largest (beta: 200 steps, threshold: 50), sends 2.43 MB; a local
# websocket carries that in a few milliseconds, once per change of activation.
BYTES_PER_ACTIVATION_BUDGET = 2_500_000
explore = importlib.import_module("actlab.explore")  # the module (actlab.explore is also the function's name)
WITH_PARAMS = [n for n in actlab.activation_names() if actlab.lookup(n).params]


def registry(name: str, **params) -> dict[str, np.ndarray]:
    """The registry's curves on the browser's grid, computed here (double precision), by series name."""
    c = actlab.curves(name, (-WINDOW_LIMIT, WINDOW_LIMIT), GRID_POINTS, **params)
    return {"x": c.x, "y": c.y, "dy": c.dy, "dy_analytic": c.dy_analytic, "label": c.label}


def assert_sent_is_registry(sent: dict, expected: dict, where: str) -> None:
    """The float32 arrays sent equal the registry's values at sampled points, rounded to float32 (the only step
    between the registry and the bytes)."""
    every = np.linspace(0, GRID_POINTS - 1, 57).astype(int)
    np.testing.assert_allclose(sent["x"][every], expected["x"][every], rtol=0, atol=1e-12)
    for key in SERIES:
        assert sent[key].dtype == np.float32
        np.testing.assert_array_equal(sent[key][every], expected[key][every].astype(np.float32),
                                      err_msg=f"{where}: {key}")


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_every_slider_step_sent_is_the_registrys_curve(name):
    e = Explorer(name)
    params = e.params()
    assert_sent_is_registry(e.view.curve(), registry(name, **params), f"{name} at {params}")
    assert e.view.meta["current"] == {"values": params, "label": registry(name, **params)["label"]}
    for p in actlab.lookup(name).params[:FAMILY_SLOTS]:
        meta = next(f for f in e.view.meta["families"] if f["param"] == p.name)
        steps = slider_steps(p)
        assert meta["values"] == steps.tolist() and steps[0] == p.low and steps[-1] == p.high
        for i in sorted({0, len(steps) // 3, len(steps) - 1}):
            trial = {**params, p.name: float(steps[i])}
            problem = actlab.lookup(name).constraint(**trial)
            if problem:
                assert meta["refused"][i] == f"{name}: {problem}" and np.isnan(e.view.curve(p.name, i)["y"]).all()
                continue
            assert meta["refused"][i] is None
            assert meta["labels"][i] == registry(name, **trial)["label"]
            assert_sent_is_registry(e.view.curve(p.name, i), registry(name, **trial), f"{name} at {trial}")


def test_moving_one_slider_resends_the_others_at_its_new_value_and_keeps_its_own():
    e = Explorer("hardtanh")
    min_val, max_val = e.sliders.children
    kept = e.view.family0
    min_val.value = -3.0
    assert e.view.family0 is kept  # min_val's own curves do not depend on min_val: not sent again
    assert e.view.meta["current"]["values"] == {"min_val": -3.0, "max_val": 1.0}
    steps = e.view.meta["families"][1]["values"]
    i = steps.index(2.5)
    assert_sent_is_registry(e.view.curve("max_val", i), registry("hardtanh", min_val=-3.0, max_val=2.5), "max_val")
    assert e.view.meta["families"][1]["refused"][steps.index(-3.5)] == (
        "hardtanh: min_val=-3 must be below max_val=-3.5")  # below the new min_val: refused in the browser too


@pytest.mark.parametrize("name", actlab.activation_names())
def test_bytes_sent_per_activation_are_within_budget(name):
    e = Explorer("relu")
    e.dropdown.value = name
    sent = e.view.sent_bytes()
    per_curve = len(SERIES) * GRID_POINTS * 4
    steps = sum(len(slider_steps(p)) for p in actlab.lookup(name).params[:FAMILY_SLOTS])
    assert sent >= per_curve * (1 + steps)  # the current curve and every slider step
    assert sent <= BYTES_PER_ACTIVATION_BUDGET, f"{name}: {sent} bytes"
    print(f"{name}: {sent / 1e6:.2f} MB per activation")


def test_the_grid_is_fine_enough_for_the_narrowest_window():
    """The narrowest window MIN_WINDOW gets at least 20 segments of the grid over the widest window."""
    assert (GRID_POINTS - 1) * MIN_WINDOW / (2 * WINDOW_LIMIT) >= 20


def test_a_refused_value_is_shown_in_the_widget_not_raised():
    e = Explorer("hardtanh")
    min_val, _ = e.sliders.children
    min_val.value = 2.0  # above max_val = 1: the observer must not raise
    assert min_val.value == 0.9  # the nearest step the constraint allows
    assert e.view.error == "min_val=2 refused: hardtanh: min_val=2 must be below max_val=1"
    assert e.view.meta["current"]["values"] == {"min_val": 0.9, "max_val": 1.0}
    min_val.value = 0.5
    assert e.view.error == ""


def test_a_failure_while_sending_is_shown_in_the_widget_not_raised(monkeypatch):
    """Whatever goes wrong computing the curves (here a broken registry call) is reported, the slider put back."""
    e = Explorer("elu")
    alpha = e.sliders.children[0]

    def broken(*args, **kwargs):
        raise RuntimeError("the registry failed")

    monkeypatch.setattr(explore, "curve_values", broken)
    alpha.value = 2.0
    assert alpha.value == 1.0 and e.view.error == "alpha=2 refused: the registry failed"


def test_a_narrow_window_from_the_constructor_is_widened():
    assert Explorer("relu", x_range=(2, 2.5)).window.value == (2.0, 2.0 + MIN_WINDOW)


def test_the_front_end_ships_in_the_package_with_no_network_access():
    """uPlot's minified JS, CSS and licence are package data; the module imports nothing and fetches nothing."""
    static = explore.STATIC
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "explorer.js", "explorer.css"):
        assert (static / name).is_file(), name
    assert "MIT License" in (static / "uPlot.LICENSE").read_text()
    code = explore.PlotView._esm
    assert code.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert not re.search(r"^\s*import\s|\bimport\(|\bfetch\(|XMLHttpRequest", code, re.M)
    assert "http" not in explore.PlotView._css


def test_static_figure_for_viewers_without_widgets_is_the_kernels_png():
    e = Explorer("elu")
    data, _ = e._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and data["image/png"]
    assert json.dumps(e.view.meta)  # the description is plain JSON


def test_a_refused_value_from_the_browser_is_put_back_by_the_kernel():
    """The browser shows the refusal and keeps drawing the last values accepted; the kernel (the one authority)
    moves the slider to the nearest allowed step and says why, and raises nothing. With updates coalesced the
    kernel's 'old' value can be far behind the browser's (0.9 when the key went from 1 to -1.5): not a target."""
    e = Explorer("hardtanh")
    _, max_val = e.sliders.children
    max_val.set_state({"value": -0.9})  # as the browser sends a slider move
    assert e.view.meta["current"]["values"] == {"min_val": -1.0, "max_val": -0.9}
    family = next(f for f in e.view.meta["families"] if f["param"] == "max_val")
    assert family["refused"][family["values"].index(-1.5)]  # the browser knows this step is refused
    max_val.set_state({"value": -1.5})  # refused: min_val = -1 must be below it
    assert max_val.value == -0.9
    max_val.set_state({"value": 0.9})
    max_val.set_state({"value": -1.5})  # as after coalesced updates: from 0.9 straight to -1.5
    assert max_val.value == -0.9 and e.view.meta["current"]["values"] == {"min_val": -1.0, "max_val": -0.9}
    assert e.view.error == "max_val=-1.5 refused: hardtanh: min_val=-1 must be below max_val=-1.5"


def test_the_browsers_echo_of_a_put_back_value_keeps_the_refusal_shown():
    """The browser's slider answers the kernel's -0.9 with -0.9000000000000004 (its own float steps): the refusal
    stays shown; a real move clears it."""
    e = Explorer("hardtanh")
    _, max_val = e.sliders.children
    max_val.set_state({"value": -1.5})
    assert max_val.value == -0.9 and "refused" in e.view.error
    max_val.set_state({"value": -5 + 41 * 0.1})  # -0.9000000000000004
    assert "refused" in e.view.error
    max_val.set_state({"value": -0.5})
    assert e.view.error == ""


def test_reading_a_curve_that_was_not_sent_names_the_parameter_and_its_range():
    view = Explorer("elu").view
    with pytest.raises(ValueError, match=r"param must be one of \['alpha'\]"):
        view.curve("beta")
    with pytest.raises(ValueError, match=r"step must be an integer in \[0, "):
        view.curve("alpha", 10**6)
