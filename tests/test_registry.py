"""The registry's facts are checked numerically: derivatives, torch.nn agreement, references and properties."""
import math

import numpy as np
import pytest
import torch

import actlab
from actlab.registry import Param, Spec
import mpmath as mp
from mp_reference import DERIVATIVES, REFERENCES, normal_mean

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


def near_kinks(s, params) -> list[float]:
    """Each kink and the floats within 3 ulps of it: a step down of any size shows between neighbours."""
    out = []
    for k in s.kinks(**params):
        below = above = torch.tensor(float(k), dtype=torch.float64)
        out.append(below)
        for _ in range(3):
            below, above = torch.nextafter(below, below - 1), torch.nextafter(above, above + 1)
            out += [below, above]
    return out


def grid(params, s, low=-10, high=10, n=200001):
    """A dense grid on [low, high], far points out to +-1e4, and each kink with its float neighbours."""
    far = torch.logspace(1, 4, 200, dtype=torch.float64)
    near = torch.stack(near_kinks(s, params)) if s.kinks(**params) else torch.zeros(0, dtype=torch.float64)
    x = torch.cat([-far.flip(0), torch.linspace(low, high, n, dtype=torch.float64), far, near]).sort().values
    return x, s.forward(x, **params)


def jumps_at_kinks(name, params):
    """Signed jump of the value and jump of the derivative across each kink, from the 60-digit mpmath reference.

    From k - h to k + h with h = 1e-12 max(1, |k|), wider than the float kink's rounding. The value's jump is
    corrected for the slope on each side, f(k+h) - f(k-h) - h (d(k+h) + d(k-h)), leaving O(h^3) ~ 1e-34 where
    the function is continuous; Softplus's step at threshold 50 (2e-22), invisible in float64, shows. The
    derivative's jump is left with O(2 h f'') ~ 1e-11 where the derivative is continuous.
    """
    out = []
    with mp.workdps(60):
        p = {key: mp.mpf(v) for key, v in params.items()}
        f, d = (lambda t: REFERENCES[name](t, **p)), (lambda t: DERIVATIVES[name](t, **p))
        for k in map(mp.mpf, actlab.spec(name).kinks(**params)):
            h = mp.mpf("1e-12") * max(1, abs(k))
            out.append((float(f(k + h) - f(k - h) - h * (d(k + h) + d(k - h))), float(d(k + h) - d(k - h))))
    return out


FLAG_SETTINGS = {name: param_settings(actlab.spec(name)) + [
    {**actlab.spec(name).defaults(), **extra} for extra in {
        "rrelu": [{"lower": 0.0, "upper": 0.0}], "softplus": [{"threshold": 1.0}], "elu": [{"alpha": 2.5}],
        "hardtanh": [{"min_val": 0.0}], "threshold": [{"threshold": 0.0, "value": 1.0}],
    }.get(name, [])] for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_monotonic_flag_at_every_setting(name):
    s = actlab.spec(name)
    for params in FLAG_SETTINGS[name]:
        _, y = grid(params, s)
        steps_down = any(value < -1e-30 for value, _ in jumps_at_kinks(name, params))
        decreases = (torch.diff(y) < -1e-12).any().item() or steps_down
        assert s.flags(**params)["monotonic"] == (not decreases), params


@pytest.mark.parametrize("name", NAMES)
def test_output_range_and_bounded_flag(name):
    s = actlab.spec(name)
    for params in FLAG_SETTINGS[name]:
        low, high = s.output_range(**params)
        _, y = grid(params, s)
        assert y.min() >= low - 1e-4 and y.max() <= high + 1e-4, (params, y.min(), y.max())
        # the stated range is tight: finite bounds are approached, infinite ones exceeded far out
        assert (y.min() <= low + 1e-3) if math.isfinite(low) else (y.min() < -5)
        assert (y.max() >= high - 1e-3) if math.isfinite(high) else (y.max() > 5)
        assert s.flags(**params)["bounded"] == (math.isfinite(low) and math.isfinite(high))
    assert s.bounded == all(math.isfinite(b) for b in s.output_range(**s.defaults()))


@pytest.mark.parametrize("name", NAMES)
def test_smooth_flag_at_every_setting(name):
    """Smooth means a continuous derivative: no jump bigger than the grid can explain, and none across a kink."""
    s = actlab.spec(name)
    x = torch.linspace(-8, 8, 160001, dtype=torch.float64)
    for params in FLAG_SETTINGS[name]:
        d = s.derivative(x, **params)
        grid_jump = torch.diff(d).abs().max().item()
        continuous_values = torch.diff(s.forward(x, **params)).abs().max().item() < 1e-2
        jumps = jumps_at_kinks(name, params)
        smooth = grid_jump < 1e-2 and continuous_values and all(abs(v) < 1e-30 and abs(d) < 1e-9 for v, d in jumps)
        assert s.flags(**params)["smooth"] == smooth, (params, grid_jump, jumps)


@pytest.mark.parametrize("name", NAMES)
def test_saturation_flag_at_every_setting(name):
    s = actlab.spec(name)
    far = torch.tensor([-1000.0, 1000.0], dtype=torch.float64)
    tails = {(True, True): "both", (True, False): "negative", (False, True): "positive", (False, False): "none"}
    for params in FLAG_SETTINGS[name]:
        d = s.derivative(far, **params).abs()
        assert s.flags(**params)["saturates"] == tails[(d[0].item() < 1e-5, d[1].item() < 1e-5)], params


@pytest.mark.parametrize("name", NAMES)
def test_zero_centred_flag_at_every_setting(name):
    """Zero-centred means mean output within 0.05 of 0 for standard normal input: mpmath quadrature of the reference."""
    s = actlab.spec(name)
    for params in FLAG_SETTINGS[name]:
        mean = normal_mean(name, params, s.kinks(**params))
        assert s.flags(**params)["zero_centred"] == (abs(mean) < 0.05), (params, mean)


@pytest.mark.parametrize("name, params, flag, right", [
    ("prelu", {"alpha": -1.0}, "monotonic", False),  # |x|
    ("threshold", {"threshold": 0.0, "value": 1.0}, "monotonic", False),
    ("elu", {"alpha": 2.5}, "smooth", False),
    ("hardtanh", {"min_val": 0.0}, "zero_centred", False),
    ("swish", {"beta": 0.0}, "saturates", "none"),
    ("swish", {"beta": 0.0}, "monotonic", True),
    ("leaky_relu", {"alpha": 0.0}, "saturates", "negative"),
    ("prelu", {"alpha": 0.0}, "saturates", "negative"),
    ("rrelu", {"lower": 0.0, "upper": 0.0}, "saturates", "negative"),
    ("softplus", {}, "smooth", False),
    ("softplus", {}, "monotonic", False),
    ("leaky_relu", {"alpha": 1.0}, "smooth", True),  # the identity
])
def test_flags_follow_the_parameters(name, params, flag, right):
    assert actlab.spec(name).flags(**params)[flag] == right


def test_the_faults_behind_the_parameter_flags():
    """The numbers that make those flags false: ELU's slope jump, Hardtanh's mean, Softplus's step at its threshold."""
    assert jumps_at_kinks("elu", {"alpha": 2.5})[0][1] == pytest.approx(-1.5, abs=1e-9)  # slope 2.5 below 0, 1 above
    assert normal_mean("hardtanh", {"min_val": 0.0, "max_val": 1.0}, (0.0, 1.0)) == pytest.approx(0.3156, abs=1e-4)
    softplus = actlab.spec("softplus")
    for threshold, step in ((20.0, 2.0611536e-9), (1.0, 0.31326169)):
        params = {"beta": 1.0, "threshold": threshold}
        assert jumps_at_kinks("softplus", params)[0][0] == pytest.approx(-step, rel=1e-7)
        x = torch.tensor([threshold, threshold + 1e-12], dtype=torch.float64)  # the library's formula steps down too
        assert (softplus.forward(x, **params)[0] - softplus.forward(x, **params)[1]).item() == pytest.approx(step, rel=1e-3)
    assert "x & \\beta x > t" in softplus.latex  # the formula states the threshold


def test_flags_refuse_bad_parameters():
    with pytest.raises(ValueError, match="'alpha'=7 is out of range"):
        actlab.spec("elu").flags(alpha=7)


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


def test_modules_follow_the_input_dtype():
    """torch.nn.PReLU's float32 weight fails on float64 input; the registry's PReLU uses it in the input's dtype."""
    prelu = actlab.get_activation("prelu", alpha=0.1)
    x = torch.tensor([-2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y = prelu(x)
    assert y.dtype == torch.float64 and y.tolist() == pytest.approx([-0.2, 3.0])
    y.sum().backward()
    assert prelu.weight.dtype == torch.float32 and prelu.weight.grad.item() == pytest.approx(-2.0)
    assert isinstance(prelu, torch.nn.PReLU)
    for name in NAMES:
        assert actlab.get_activation(name).eval()(x.detach()).dtype == torch.float64, name


def test_rrelu_module_is_random_in_training_and_plots_use_eval_mode():
    module = actlab.get_activation("rrelu")
    assert module.training and "training mode" in actlab.get_activation.__doc__
    x = -torch.ones(1000)
    assert module(x).unique().numel() > 1  # a random slope per element
    assert module.eval()(x).unique().tolist() == pytest.approx([-(1 / 8 + 1 / 3) / 2])
    first, second = actlab.curves("rrelu"), actlab.curves("rrelu")
    np.testing.assert_array_equal(first.y, second.y)
    np.testing.assert_allclose(first.y, actlab.spec("rrelu").forward(torch.tensor(first.x), **actlab.spec("rrelu").defaults()).numpy())


def test_prelu_stays_a_torch_prelu_through_copies_and_pickles():
    import copy
    import io

    prelu = actlab.get_activation("prelu", alpha=0.3)
    assert type(prelu) is torch.nn.PReLU
    x = torch.tensor([-1.0], dtype=torch.float64)
    for clone in (copy.deepcopy(prelu), torch.load(io.BytesIO(_saved(prelu)), weights_only=False)):
        with torch.no_grad():
            clone.weight.fill_(0.5)
        assert clone(x).item() == -0.5 and prelu(x).item() == pytest.approx(-0.3)  # its own weight, float64 input


def _saved(module) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(module, buffer)
    return buffer.getvalue()
