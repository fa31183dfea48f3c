"""The registry's facts are checked numerically: derivatives, torch.nn agreement, references and properties."""
import math

import numpy as np
import pytest
import torch

import actlab
from actlab.registry import Param, Spec

NAMES = actlab.activation_names()
REQUIRED = {"heaviside", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "gelu",
            "gelu_tanh", "silu", "swish", "mish", "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish",
            "hardshrink", "softshrink", "tanhshrink", "logsigmoid", "relu6", "threshold"}


def sample_points(spec, params):
    """Many points: a dense grid, points near 0, the tails; kinks themselves are left out."""
    x = np.concatenate([np.linspace(-10, 10, 2001), [1e-6, -1e-6, 1e-3, -1e-3, 0.3, -0.3],
                        [-30, -25, 25, 30], np.linspace(-3.2, 3.2, 321) + 1e-4])
    kinks = spec.kinks(**params)
    keep = np.all([np.abs(x - k) > 1e-5 for k in kinks], axis=0) if kinks else np.ones_like(x, bool)
    return torch.tensor(x[keep], dtype=torch.float64)


def param_settings(spec):
    """Defaults, and every parameter at its lowest and highest valid value (where the constraint allows)."""
    settings = [spec.defaults()]
    for p in spec.params:
        for value in (p.low, p.high, 0.5 * (p.low + p.high)):
            trial = {**spec.defaults(), p.name: value}
            if spec.constraint(**trial) is None:
                settings.append(trial)
    return settings


def test_registry_covers_the_syllabus():
    assert REQUIRED <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_analytic_derivative_matches_autograd(name):
    s = actlab.spec(name)
    for params in param_settings(s):
        x = sample_points(s, params).requires_grad_(True)
        module = actlab.get_activation(name, **params).double().eval()
        for f in (module, lambda t: s.forward(t, **params)):
            (grad,) = torch.autograd.grad(f(x).sum(), x)
            analytic = s.derivative(x.detach(), **params)
            torch.testing.assert_close(grad, analytic, atol=1e-8, rtol=1e-6, msg=f"{name} {params}")


@pytest.mark.parametrize("name", NAMES)
def test_formula_matches_module(name):
    s = actlab.spec(name)
    for params in param_settings(s):
        x = sample_points(s, params)
        module = actlab.get_activation(name, **params).double().eval()
        with torch.no_grad():
            torch.testing.assert_close(s.forward(x, **params), module(x), atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("name", [n for n in NAMES if actlab.spec(n).torch_name])
def test_module_is_the_torch_nn_module(name):
    s = actlab.spec(name)
    reference = getattr(torch.nn, s.torch_name)
    assert isinstance(actlab.get_activation(name), reference)


@pytest.mark.parametrize("name", [n for n in NAMES if actlab.spec(n).reference])
def test_independent_reference(name):
    """Forward agrees with numpy/scipy; the analytic derivative with a central difference of the reference."""
    s = actlab.spec(name)
    x = sample_points(s, s.defaults()).numpy()
    x = x[np.abs(x) < 20]
    params = s.defaults()
    np.testing.assert_allclose(s.forward(torch.tensor(x), **params).numpy(), s.reference(x), atol=1e-10, rtol=1e-8)
    h = 1e-5
    numeric = (s.reference(x + h) - s.reference(x - h)) / (2 * h)
    kinks = s.kinks(**params)
    smooth = np.all([np.abs(x - k) > 2 * h for k in kinks], axis=0) if kinks else np.ones_like(x, bool)
    np.testing.assert_allclose(s.derivative(torch.tensor(x), **params).numpy()[smooth], numeric[smooth], atol=1e-6)


def test_gelu_reference_derivative_is_Phi_plus_x_phi_not_the_slides():
    """The slide's phi(x) + x phi(x) is wrong; Phi(x) + x phi(x) is right."""
    from scipy.stats import norm

    x = np.linspace(-4, 4, 801)
    true = actlab.spec("gelu").derivative(torch.tensor(x)).numpy()
    np.testing.assert_allclose(true, norm.cdf(x) + x * norm.pdf(x), atol=1e-12)
    assert np.abs(true - (norm.pdf(x) + x * norm.pdf(x))).max() > 0.5


def grid(params, s, low=-10, high=10, n=200001):
    """A dense grid on [low, high] plus far points out to +-1e4."""
    far = torch.logspace(1, 4, 200, dtype=torch.float64)
    x = torch.cat([-far.flip(0), torch.linspace(low, high, n, dtype=torch.float64), far])
    return x, s.forward(x, **params)


@pytest.mark.parametrize("name", NAMES)
def test_monotonic_flag(name):
    s = actlab.spec(name)
    _, y = grid(s.defaults(), s)
    decreases = (torch.diff(y) < -1e-12).any().item()
    assert s.monotonic == (not decreases)


@pytest.mark.parametrize("name", NAMES)
def test_output_range_and_bounded_flag(name):
    s = actlab.spec(name)
    for params in param_settings(s):
        low, high = s.output_range(**params)
        _, y = grid(params, s)
        assert y.min() >= low - 1e-4 and y.max() <= high + 1e-4, (params, y.min(), y.max())
        # the stated range is tight: finite bounds are approached, infinite ones exceeded far out
        assert (y.min() <= low + 1e-3) if math.isfinite(low) else (y.min() < -5)
        assert (y.max() >= high - 1e-3) if math.isfinite(high) else (y.max() > 5)
    assert s.bounded == all(math.isfinite(b) for b in s.output_range(**s.defaults()))


@pytest.mark.parametrize("name", NAMES)
def test_smooth_flag(name):
    """Smooth means a continuous derivative: no jump bigger than the grid can explain."""
    s = actlab.spec(name)
    x = torch.linspace(-8, 8, 160001, dtype=torch.float64)
    d = s.derivative(x, **s.defaults())
    jump = torch.diff(d).abs().max().item()
    continuous_values = torch.diff(s.forward(x, **s.defaults())).abs().max().item() < 1e-2
    assert s.smooth == (jump < 1e-2 and continuous_values), jump


@pytest.mark.parametrize("name", NAMES)
def test_saturation_flag(name):
    s = actlab.spec(name)
    far = torch.tensor([-1000.0, 1000.0], dtype=torch.float64)
    d = s.derivative(far, **s.defaults()).abs()
    tails = {(True, True): "both", (True, False): "negative", (False, True): "positive", (False, False): "none"}
    assert s.saturates == tails[(d[0].item() < 1e-5, d[1].item() < 1e-5)]


@pytest.mark.parametrize("name", NAMES)
def test_zero_centred_flag(name):
    """Zero-centred means mean output ~0 for standard normal input, computed by quadrature."""
    s = actlab.spec(name)
    x = torch.linspace(-12, 12, 240001, dtype=torch.float64)
    density = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    mean = torch.trapezoid(s.forward(x, **s.defaults()) * density, x).item()
    assert s.zero_centred == (abs(mean) < 0.05), mean


def test_sigmoid_identity_and_max_slope():
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    s = actlab.spec("sigmoid")
    assert abs(s.derivative(x).max().item() - 0.25) < 1e-12
    torch.testing.assert_close(s.derivative(x), torch.sigmoid(x) * (1 - torch.sigmoid(x)))


def test_heaviside_gradient_is_zero():
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    actlab.get_activation("heaviside")(x).sum().backward()
    assert torch.count_nonzero(x.grad) == 0


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown activation 'relu7'.*'relu6'"):
        actlab.spec("relu7")
    with pytest.raises(ValueError, match=r"Did you mean.*leaky_relu"):
        actlab.get_activation("leaky_rellu")


def test_names_are_forgiving_about_spelling():
    assert actlab.spec("LeakyReLU").name == "leaky_relu"
    assert actlab.spec("leaky-relu").name == "leaky_relu"
    assert actlab.spec("GELU").name == "gelu"


@pytest.mark.parametrize("params, message", [
    ({"alpha": 2.0}, r"'alpha'=2 is out of range; valid range is \[0, 1\]"),
    ({"alpha": float("nan")}, r"'alpha' must be finite"),
    ({"alpha": float("inf")}, r"'alpha' must be finite"),
    ({"beta": 1.0}, r"unknown parameter.*'beta'.*valid parameters: alpha"),
])
def test_bad_parameters_name_the_parameter_and_range(params, message):
    with pytest.raises(ValueError, match=message):
        actlab.get_activation("leaky_relu", **params)


def test_parameter_type_and_cross_constraints():
    with pytest.raises(TypeError, match="'alpha' must be a number"):
        actlab.get_activation("elu", alpha="big")
    with pytest.raises(ValueError, match="min_val=2 must be below max_val=1"):
        actlab.get_activation("hardtanh", min_val=2.0)
    with pytest.raises(ValueError, match="lower=0.5 must not exceed upper"):
        actlab.get_activation("rrelu", lower=0.5, upper=0.2)


def test_params_reach_the_module():
    m = actlab.get_activation("leaky_relu", alpha=0.2)
    assert m(torch.tensor([-1.0])).item() == pytest.approx(-0.2)
    assert actlab.get_activation("prelu", alpha=0.1).weight.item() == pytest.approx(0.1)


def test_register_a_custom_activation_and_remove_it():
    spec = Spec(name="cube_root_relu", display="cube-root ReLU", latex=r"\max(0, x)^{1/3}",
                forward=lambda x, k: torch.where(x > 0, x, k * x), derivative=lambda x, k: torch.where(x > 0, 1.0, k) + 0 * x,
                output_range=lambda k: (-math.inf, math.inf), zero_centred=False, monotonic=True, smooth=False,
                saturates="none", needs_exp=False, note="test", params=(Param("k", 0.1, 0, 1, 0.1),), custom=True)
    actlab.register(spec)
    try:
        assert "cube_root_relu" in actlab.activation_names()
        assert actlab.get_activation("cube_root_relu", k=0.5)(torch.tensor([-2.0])).item() == -1.0
        with pytest.raises(ValueError, match="already registered"):
            actlab.register(spec)
    finally:
        actlab.unregister("cube_root_relu")
    assert "cube_root_relu" not in actlab.activation_names()
    with pytest.raises(ValueError, match="built in"):
        actlab.unregister("relu")
