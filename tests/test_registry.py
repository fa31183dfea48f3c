"""The registry's facts are checked numerically: derivatives, torch.nn agreement, references and properties."""
import importlib.util
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
    s = actlab.lookup(name)
    for params in param_settings(s):
        x = sample_points(s, params).requires_grad_(True)
        module = actlab.get_activation(name, **params).double().eval()
        for f in (module, lambda t: s.forward(t, **params)):
            (grad,) = torch.autograd.grad(f(x).sum(), x)
            analytic = s.derivative(x.detach(), **params)
            torch.testing.assert_close(grad, analytic, atol=1e-8, rtol=1e-6, msg=f"{name} {params}")


@pytest.mark.parametrize("name", NAMES)
def test_formula_matches_module(name):
    s = actlab.lookup(name)
    for params in param_settings(s):
        x = sample_points(s, params)
        module = actlab.get_activation(name, **params).double().eval()
        with torch.no_grad():
            torch.testing.assert_close(s.forward(x, **params), module(x), atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("name", [n for n in NAMES if actlab.lookup(n).torch_name])
def test_module_is_the_torch_nn_module(name):
    s = actlab.lookup(name)
    reference = getattr(torch.nn, s.torch_name)
    assert isinstance(actlab.get_activation(name), reference)


def test_gelu_reference_derivative_is_Phi_plus_x_phi_not_the_slides():
    """The slide's phi(x) + x phi(x) is wrong; Phi(x) + x phi(x) is right."""
    from scipy.stats import norm

    x = np.linspace(-4, 4, 801)
    true = actlab.lookup("gelu").derivative(torch.tensor(x)).numpy()
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
        for k in map(mp.mpf, actlab.lookup(name).kinks(**params)):
            h = mp.mpf("1e-12") * max(1, abs(k))
            out.append((float(f(k + h) - f(k - h) - h * (d(k + h) + d(k - h))), float(d(k + h) - d(k - h))))
    return out


FLAG_SETTINGS = {name: param_settings(actlab.lookup(name)) + [
    {**actlab.lookup(name).defaults(), **extra} for extra in {
        "rrelu": [{"lower": 0.0, "upper": 0.0}], "softplus": [{"threshold": 1.0}], "elu": [{"alpha": 2.5}],
        "hardtanh": [{"min_val": 0.0}], "threshold": [{"threshold": 0.0, "value": 1.0}],
    }.get(name, [])] for name in NAMES}


def expected_flags(name, params) -> dict:
    """The flags as infer_properties (the library's one definition) measures them, refined at the kinks by the
    mpmath oracle: a step or slope jump there too small or too far out for its probe (Softplus: 2e-9 at x = 20)
    makes the function non-monotonic or non-smooth all the same."""
    s = actlab.lookup(name)
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
    s = actlab.lookup(name)
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
    assert actlab.lookup(name).flags(**params)[flag] == right


def test_the_faults_behind_the_parameter_flags():
    """The numbers that make those flags false: ELU's slope jump, Hardtanh's mean, Softplus's step at its threshold."""
    assert jumps_at_kinks("elu", {"alpha": 2.5})[0][1] == pytest.approx(-1.5, abs=1e-9)  # slope 2.5 below 0, 1 above
    assert normal_mean("hardtanh", {"min_val": 0.0, "max_val": 1.0}, (0.0, 1.0)) == pytest.approx(0.3156, abs=1e-4)
    softplus = actlab.lookup("softplus")
    for threshold, step in ((20.0, 2.0611536e-9), (1.0, 0.31326169)):
        params = {"beta": 1.0, "threshold": threshold}
        assert jumps_at_kinks("softplus", params)[0][0] == pytest.approx(-step, rel=1e-7)
        x = torch.tensor([threshold, threshold + 1e-12], dtype=torch.float64)  # the library's formula steps down too
        below, above = softplus.forward(x, **params).tolist()
        assert below - above == pytest.approx(step, rel=1e-3)
    assert "x & \\beta x > t" in softplus.latex  # the formula states the threshold


KINKED = [(n, p) for n in NAMES for p in FLAG_SETTINGS[n] if actlab.lookup(n).kinks(**p)]


def one_sided_slopes(name, params, k: float) -> tuple[float, float]:
    """The reference derivative just left and just right of a kink (k -/+ 1e-12 max(1, |k|), 60 digits): its
    one-sided limits to within 1e-12 |f''|."""
    with mp.workdps(60):
        p = {key: mp.mpf(v) for key, v in params.items()}
        h = mp.mpf("1e-12") * max(1, abs(k))
        return float(DERIVATIVES[name](mp.mpf(k) - h, **p)), float(DERIVATIVES[name](mp.mpf(k) + h, **p))


@pytest.mark.parametrize("name, params", KINKED, ids=[f"{n}-{p}" for n, p in KINKED])
def test_derivative_at_kinks_is_one_of_the_one_sided_slopes(name, params):
    """At a kink the derivative's value is a convention (torch releases differ in it); its one-sided slopes are
    not. Just either side (k -/+ 1e-6) the formula's autograd, the module's and the analytic derivative match the
    mpmath reference; at the kink the stated derivative is the left or the right slope."""
    s = actlab.lookup(name)
    module = actlab.get_activation(name, **params).double().eval()
    for k in s.kinks(**params):
        h = 1e-6 * max(1.0, abs(k))
        x = torch.tensor([k - h, k + h], dtype=torch.float64, requires_grad=True)
        with mp.workdps(30):
            p = {key: mp.mpf(v) for key, v in params.items()}
            reference = torch.tensor([float(DERIVATIVES[name](mp.mpf(v), **p)) for v in x.tolist()],
                                     dtype=torch.float64)
        for f in (module, lambda t: s.forward(t, **params)):
            (grad,) = torch.autograd.grad(f(x).sum(), x)
            torch.testing.assert_close(grad, reference, atol=1e-8, rtol=1e-6, msg=f"{name} {params} at {k}")
        torch.testing.assert_close(s.derivative(x.detach(), **params), reference, atol=1e-8, rtol=1e-6)
        at_kink = s.derivative(torch.tensor([k], dtype=torch.float64), **params).item()
        assert min(abs(at_kink - side) for side in one_sided_slopes(name, params, k)) < 1e-9, (name, params, k)


EXP_LINEAR = [("elu", {"alpha": a}) for a in (0.0, 0.5, 1.0, 2.5, 5.0)] + [("selu", {})] + [
    ("celu", {"alpha": a}) for a in (0.05, 1.0, 5.0)]


@pytest.mark.parametrize("name, params", EXP_LINEAR, ids=[f"{n}-{p}" for n, p in EXP_LINEAR])
def test_exp_linear_autograd_at_zero_is_the_stated_left_slope(name, params):
    """ELU, SELU and CELU state their derivative at 0 as the left slope (alpha / width, times SELU's scale), as
    torch.nn's modules do. Autograd of the registry's formulas gives it on every torch release: written with
    x.clamp(max=0), torch 2.14.1 gave 0 there, though CELU and ELU with alpha = 1 have slope 1 on both sides. The
    zeroed branch keeps far-positive inputs from making the gradient NaN (e^1000 overflows)."""
    s = actlab.lookup(name)
    x = torch.tensor([0.0, 1000.0, -1000.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(s.forward(x, **params).sum(), x)
    left, _ = one_sided_slopes(name, params, 0.0)
    stated = s.derivative(x.detach(), **params)
    assert stated[0].item() == pytest.approx(left, abs=1e-9)
    torch.testing.assert_close(grad, stated, atol=1e-8, rtol=1e-6)
    assert torch.isfinite(grad).all()
    module = actlab.get_activation(name, **params).double()
    (module_grad,) = torch.autograd.grad(module(x).sum(), x)  # nn.CELU rounds 1 / alpha to float32 (1.5e-8 off)
    torch.testing.assert_close(module_grad, stated, atol=1e-8, rtol=1e-6)


def test_flags_refuse_bad_parameters():
    with pytest.raises(ValueError, match="'alpha'=7 is out of range"):
        actlab.lookup("elu").flags(alpha=7)


def test_sigmoid_identity_and_max_slope():
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    s = actlab.lookup("sigmoid")
    assert abs(s.derivative(x).max().item() - 0.25) < 1e-12
    torch.testing.assert_close(s.derivative(x), torch.sigmoid(x) * (1 - torch.sigmoid(x)))


def test_heaviside_gradient_is_zero():
    x = torch.linspace(-3, 3, 61, requires_grad=True)
    actlab.get_activation("heaviside")(x).sum().backward()
    assert torch.count_nonzero(x.grad) == 0


def test_unknown_name_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown activation 'relu7'.*'relu6'"):
        actlab.lookup("relu7")
    with pytest.raises(ValueError, match=r"Did you mean.*leaky_relu"):
        actlab.get_activation("leaky_rellu")


def test_names_are_forgiving_about_spelling():
    assert actlab.lookup("LeakyReLU").name == "leaky_relu"
    assert actlab.lookup("leaky-relu").name == "leaky_relu"
    assert actlab.lookup("GELU").name == "gelu"


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
    rrelu = actlab.lookup("rrelu")
    np.testing.assert_allclose(first.y, rrelu.forward(torch.tensor(first.x), **rrelu.defaults()).numpy())


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


SQUAREPLUS_FAMILY = '''
"""A family module as a newcomer writes one: the formulas side by side, one Spec in ENTRIES (README)."""
import importlib.util
import math

import torch

from actlab.activations import Param, Spec, register


def squareplus_forward(x, b):
    return 0.5 * (x + torch.sqrt(x * x + b))


def squareplus_derivative(x, b):
    return 0.5 * (1 + x / torch.sqrt(x * x + b))


ENTRIES = (
    Spec(
        name="test_squareplus", display="Squareplus", latex=r"\\tfrac{1}{2}(x + \\sqrt{x^2 + b})",
        params=(Param("b", 4.0, 0.1, 16.0, 0.1, "smoothness: b -> 0 gives ReLU"),),
        forward=squareplus_forward, derivative=squareplus_derivative, output_range=(0.0, math.inf),
        monotonic=True, smooth=True, saturates="negative", needs_exp=False,
        note="a smooth ReLU without exp (Barron 2021)", custom=True,  # custom only so that the test can remove it
    ),
)

for _entry in ENTRIES:
    register(_entry)
'''


def test_adding_an_activation_is_one_entry_in_one_family_file(tmp_path):
    """The README's one edit, done once: a family module with one entry, and the whole course knows it."""
    path = tmp_path / "squareplus_family.py"
    path.write_text(SQUAREPLUS_FAMILY)
    module_spec = importlib.util.spec_from_file_location("squareplus_family", path)
    module_spec.loader.exec_module(importlib.util.module_from_spec(module_spec))
    try:
        entry = actlab.lookup("Squareplus")
        assert entry.name == "test_squareplus" and "test_squareplus" in actlab.activation_names()
        assert "Squareplus" in actlab.registry_table().index  # the plots' table, by display name
        curve = actlab.curves("test_squareplus", b=1.0)  # the plots: module, autograd and analytic derivative
        np.testing.assert_allclose(curve.dy, curve.dy_analytic, atol=1e-12)
        assert curve.label == "Squareplus (b=1)"
        explorer = actlab.explore("test_squareplus")
        assert [(s.description, s.min, s.max) for s in explorer.sliders.children] == [("b", 0.1, 16.0)]
        assert actlab.get_activation("test_squareplus", b=1.0)(torch.tensor([0.0])).item() == pytest.approx(0.5)
        net = actlab.MLP(2, 8, "test_squareplus", params={"b": 2.0})
        assert len(actlab.activation_modules(net)) == 2 and net.activation_name == "Squareplus (b=2)"
        assert actlab.recommended_init("test_squareplus") == "xavier"  # the default Init
        for params in ({"b": 0.1}, {"b": 4.0}, {"b": 16.0}):
            flags, inferred = entry.flags(**params), actlab.infer_properties(entry.forward, entry.derivative, **params)
            assert all(flags[flag] == inferred[flag] for flag in actlab.activations.FLAGS), (params, flags, inferred)
    finally:
        actlab.unregister("test_squareplus")
    assert "test_squareplus" not in actlab.activation_names()


@pytest.mark.parametrize("name, params, scheme, gain", [
    ("relu", {}, "kaiming", math.sqrt(2)),
    ("prelu", {"alpha": 0.25}, "kaiming", math.sqrt(2 / (1 + 0.25**2))),  # He et al. 2015, eq. 15
    ("rrelu", {"lower": 0.1, "upper": 0.5}, "kaiming", math.sqrt(2 / (1 + 0.3**2))),  # the eval slope (l + u) / 2
    ("leaky_relu", {"alpha": 1.0}, "kaiming", 1.0),  # the identity
    ("selu", {}, "lecun", 1.0),
    ("tanh", {}, "xavier", None),
    ("gelu", {}, "xavier", None),
])
def test_recommended_init_and_kaiming_gain_follow_the_activation(name, params, scheme, gain):
    """Kaiming before a leaky rectifier uses its own negative slope, not always ReLU's sqrt 2; the weight's standard
    deviation is checked on 10^6 draws, within 5 standard errors (relative 1 / sqrt(2 n))."""
    assert actlab.recommended_init(name) == scheme
    if gain is None:
        return
    torch.manual_seed(0)
    layer = torch.nn.Linear(1000, 1000)
    actlab.models.init_linear(layer, scheme, name, params)
    want = gain / math.sqrt(1000)
    assert layer.weight.std().item() == pytest.approx(want, rel=5 / math.sqrt(2 * layer.weight.numel()))
    assert not layer.bias.any()


def test_kaiming_before_other_activations_is_the_relu_rule():
    """He's derivation is for rectifiers: before SELU or GELU, 'kaiming' keeps sqrt 2 (notebook 07 shows SELU's
    signal exploding with it), and a factory or no activation does too."""
    for activation in ("selu", "gelu", "sigmoid", None, lambda: torch.nn.Tanh()):
        assert actlab.models.kaiming_gain(activation) == math.sqrt(2)


class CountingModule(torch.nn.Module):
    """Counts its constructions: finding activations in a model must not build one per registry entry."""

    built = 0

    def __init__(self):
        super().__init__()
        CountingModule.built += 1

    def forward(self, x):
        return x


def test_finding_activations_builds_no_module():
    entry = Spec(name="test_counting", display="counting identity", latex="x", note="test",
                 forward=torch.clone, derivative=torch.ones_like, output_range=(-math.inf, math.inf),
                 monotonic=True, smooth=True, saturates="none", needs_exp=False, module=CountingModule, custom=True)
    actlab.register(entry)
    try:
        net = actlab.MLP(2, 4, "test_counting")
        assert CountingModule.built == 2
        for _ in range(3):
            found = actlab.activation_modules(net)
        assert [type(m) for _, m in found] == [CountingModule, CountingModule] and CountingModule.built == 2
    finally:
        actlab.unregister("test_counting")


def test_get_activation_takes_a_name_or_a_factory():
    assert isinstance(actlab.get_activation(lambda: torch.nn.Tanh()), torch.nn.Tanh)
    with pytest.raises(TypeError, match="shared module instance would share trainable parameters"):
        actlab.get_activation(torch.nn.PReLU())
    with pytest.raises(TypeError, match="factory must return an nn.Module, got int"):
        actlab.get_activation(lambda: 3)
    with pytest.raises(TypeError, match=r"parameters \['alpha'\] go with a registry name"):
        actlab.get_activation(lambda: torch.nn.ELU(), alpha=2.0)
    assert not hasattr(actlab, "spec") and not hasattr(actlab.activations, "spec"), \
        "spec, the former name of lookup, is gone (issue #21)"
