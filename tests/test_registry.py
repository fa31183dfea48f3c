"""The registry's facts are checked numerically: derivatives, torch.nn agreement, references and properties."""
import math

import numpy as np
import pytest
import torch

import actlab
from actlab import Param, Spec
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


def test_gelu_reference_derivative_is_Phi_plus_x_phi_not_the_slides():
    """The slide's phi(x) + x phi(x) is wrong; Phi(x) + x phi(x) is right."""
    from scipy.stats import norm

    x = np.linspace(-4, 4, 801)
    true = actlab.spec("gelu").derivative(torch.tensor(x)).numpy()
    np.testing.assert_allclose(true, norm.cdf(x) + x * norm.pdf(x), atol=1e-12)
    assert np.abs(true - (norm.pdf(x) + x * norm.pdf(x))).max() > 0.5


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


def expected_flags(name, params) -> dict:
    """The flags as infer_properties (the library's one definition) measures them, refined at the kinks by the
    mpmath oracle: a step or slope jump there too small or too far out for its probe (Softplus: 2e-9 at x = 20)
    makes the function non-monotonic or non-smooth all the same."""
    s = actlab.spec(name)
    expected = actlab.infer_properties(s.forward, s.derivative, **params)
    jumps = jumps_at_kinks(name, params)
    expected["monotonic"] = expected["monotonic"] and all(value >= -1e-30 for value, _ in jumps)
    expected["smooth"] = expected["smooth"] and all(abs(value) < 1e-30 and abs(slope) < 1e-9 for value, slope in jumps)
    return expected


def range_tolerance(s, params) -> float:
    """How far infer_properties' range may sit inside the true one: a bound not attained lies within one probe step
    h of a probe point, where the function moves by at most h max|f'| (twice that, for the point on either side)."""
    h = (actlab.custom.PROBE[1] - actlab.custom.PROBE[0]).item()
    return 2 * h * s.derivative(actlab.custom.PROBE, **params).abs().max().item()


@pytest.mark.parametrize("name, params", [(n, p) for n in NAMES for p in FLAG_SETTINGS[n]],
                         ids=[f"{n}-{p}" for n in NAMES for p in FLAG_SETTINGS[n]])
def test_flags_agree_with_infer_properties(name, params):
    """Every entry at its defaults, each parameter's ends and middle, and the settings the issue names."""
    s = actlab.spec(name)
    flags, expected = s.flags(**params), expected_flags(name, params)
    for flag in actlab.activations.FLAGS:
        assert flags[flag] == expected[flag], (flag, flags[flag], expected[flag])
    tolerance = range_tolerance(s, params)
    for stated, measured in zip(flags["output_range"], expected["output_range"]):
        assert math.isinf(stated) == math.isinf(measured), (flags["output_range"], expected["output_range"])
        assert math.isinf(stated) or abs(stated - measured) <= tolerance, (stated, measured, tolerance)
    assert flags["bounded"] == all(map(math.isfinite, expected["output_range"]))


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


def cube_root_relu(x, k):
    """k max(0, x)^(1/3)."""
    return k * torch.where(x > 0, x, torch.zeros_like(x)).pow(1 / 3)


def cube_root_relu_derivative(x, k):
    """k x^(-2/3) / 3 for x > 0, 0 below (infinite at 0+, left out)."""
    return torch.where(x > 0, k / 3 * x.clamp(min=1e-300).pow(-2 / 3), torch.zeros_like(x))


def test_register_a_custom_activation_and_remove_it():
    spec = Spec(name="cube_root_relu", display="cube-root ReLU", latex=r"k \max(0, x)^{1/3}",
                forward=cube_root_relu, derivative=cube_root_relu_derivative, output_range=(0.0, math.inf),
                monotonic=True, smooth=False, saturates="negative", needs_exp=False, note="test",
                params=(Param("k", 0.5, 0.1, 1.0, 0.1),), custom=True)
    actlab.register(spec)
    try:
        assert "cube_root_relu" in actlab.activation_names() and actlab.lookup("Cube-Root ReLU") is spec
        module = actlab.get_activation("cube_root_relu", k=0.5)
        assert module(torch.tensor([-8.0, 0.0, 8.0, 27.0])).tolist() == pytest.approx([0.0, 0.0, 1.0, 1.5])
        with pytest.raises(ValueError, match="already registered"):
            actlab.register(spec)
    finally:
        actlab.unregister("cube_root_relu")
    assert "cube_root_relu" not in actlab.activation_names()
    with pytest.raises(ValueError, match="unknown activation 'cube root relu'"):
        actlab.lookup("cube root relu")  # its aliases went with it
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
