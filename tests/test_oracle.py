"""Every registry entry, forward and derivative, against 50-digit mpmath references, in float64 and float32.

Tolerance, from the dtype alone: ULPS * eps * scale + ULPS * tiny, where scale is |f(x)| + |x f'(x)| for the
function (|f'(x)| + |x f''(x)| for the derivative): the rounding of each operation, amplified by the function's
own condition number (the formulas round products such as beta * x before exp). ULPS = 8 allows up to 16
roundings of eps/2; the absolute floor `tiny` (the smallest normal number) covers results that underflow.
"""
import functools
import math

import mpmath as mp
import numpy as np
import pytest
import torch

import actlab
from mp_reference import DERIVATIVES, REFERENCES, SELU_ALPHA, SELU_SCALE, reference

ULPS = 8
BUILT_IN = [n for n in actlab.activation_names() if not actlab.lookup(n).custom]
MAGNITUDES = [0.0, 1e-30, 1e-8, 1e-4, 0.01, 0.1, 0.3, 0.5, 0.75, 1.0, 1.2784645, 1.5, 2.0, 2.5, 3.0, 3.5, 5.0, 6.0,
              8.0, 10.0, 15.0, 19.5, 20.0, 20.001, 25.0, 30.0, 37.0, 40.0, 50.0, 80.0, 100.0]
POINTS = sorted({float(np.float32(sign * m)) for m in MAGNITUDES for sign in (1, -1)})  # exact in both dtypes
DTYPES = [torch.float64, torch.float32]
EXTRA_SETTINGS = {"rrelu": [{"lower": 0.0, "upper": 0.0}], "softplus": [{"threshold": 1.0}, {"beta": 0.1, "threshold": 1.0}],
                  "hardtanh": [{"min_val": 0.0}]}


def settings(s) -> list[dict]:
    """Defaults, each parameter at its lowest and highest value (where the constraint allows), and named extras."""
    out = [s.defaults()]
    for p in s.params:
        for value in (p.low, p.high):
            out.append({**s.defaults(), p.name: value})
    out += [{**s.defaults(), **extra} for extra in EXTRA_SETTINGS.get(s.name, [])]
    return [params for params in out if s.constraint(**params) is None]


def away_from_kinks(s, params) -> list[float]:
    kinks = s.kinks(**params)
    return [x for x in POINTS if all(abs(x - k) > 1e-12 * max(1.0, abs(k)) for k in kinks)]


@functools.cache
def oracle(name: str, frozen: tuple):
    """Points, f, f', and the tolerance scales of f and f' at them (50-digit references)."""
    params = dict(frozen)
    x = away_from_kinks(actlab.lookup(name), params)
    f, d, dd = ([reference(name, t, params, order) for t in x] for order in (0, 1, 2))
    x, f, d, dd = map(np.array, (x, f, d, dd))
    return x, f, d, np.abs(f) + np.abs(x * d), np.abs(d) + np.abs(x * dd)


def assert_within(got: torch.Tensor, want: np.ndarray, scale: np.ndarray, x: np.ndarray, dtype, what: str):
    """|got - want| <= ULPS eps scale + ULPS tiny at every point (NaN fails)."""
    info = torch.finfo(dtype)
    got = got.detach().double().numpy()
    bound = ULPS * info.eps * scale + ULPS * info.tiny
    bad = ~(np.abs(got - want) <= bound)  # NaN counts as bad
    if bad.any():
        rows = [f"x={x[i]:.9g}: got {got[i]:.17g}, want {want[i]:.17g}, bound {bound[i]:.3g}" for i in np.nonzero(bad)[0][:6]]
        raise AssertionError(f"{what}: {bad.sum()} of {len(x)} points off\n" + "\n".join(rows))


def autograd_scale(f: np.ndarray, d_scale: np.ndarray) -> np.ndarray:
    """Tolerance scale for gradients from torch's backward formulas, which reuse the output (sigmoid: y (1 - y);
    expm1: y + 1; tanh: 1 - y^2): their absolute error is of order eps times |y| and 1, so a gradient that
    underflows to 0 in a tail (3.7e-44 -> 0) is accepted, a NaN never."""
    return d_scale + np.abs(f) + 1


def test_every_built_in_entry_has_a_reference():
    assert set(BUILT_IN) == set(REFERENCES) == set(DERIVATIVES)


@pytest.mark.parametrize("name", BUILT_IN)
def test_hand_derivatives_of_the_references_agree_with_numerical_ones(name):
    """The oracle's own check: its derivatives against mpmath's numerical differentiation, where that is reliable."""
    s = actlab.lookup(name)
    for params in settings(s):
        for x in away_from_kinks(s, params):
            if abs(x) <= 8:
                with mp.workdps(30):
                    p = {k: mp.mpf(v) for k, v in params.items()}
                    numeric = mp.diff(lambda t: REFERENCES[name](t, **p), mp.mpf(x))
                    assert abs(DERIVATIVES[name](mp.mpf(x), **p) - numeric) < mp.mpf(10) ** -20, (name, params, x)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", BUILT_IN)
def test_formula_and_derivative_match_the_reference(name, dtype):
    """spec.forward, spec.derivative, and autograd through spec.forward, at every setting, tails included."""
    s = actlab.lookup(name)
    for params in settings(s):
        x, f, d, f_scale, d_scale = oracle(name, tuple(params.items()))
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        y = s.forward(xt, **params)
        (grad,) = torch.autograd.grad(y.sum(), xt)
        assert y.dtype == dtype
        assert_within(y, f, f_scale, x, dtype, f"{name} {params} forward")
        assert_within(s.derivative(xt.detach(), **params), d, d_scale, x, dtype, f"{name} {params} derivative")
        assert_within(grad, d, autograd_scale(f, d_scale), x, dtype, f"{name} {params} autograd of the formula")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", BUILT_IN)
def test_modules_follow_the_dtype_and_never_give_nan(name, dtype):
    """Every module (eval mode) runs in the input's dtype with finite gradients; the library's own modules match the reference."""
    s = actlab.lookup(name)
    for params in settings(s):
        x, f, d, f_scale, d_scale = oracle(name, tuple(params.items()))
        module = actlab.get_activation(name, **params).eval()
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        y = module(xt)
        (grad,) = torch.autograd.grad(y.sum(), xt)
        assert y.dtype == dtype and torch.isfinite(y).all() and torch.isfinite(grad).all(), (name, params)
        if type(module).__module__.startswith("actlab"):
            assert_within(y, f, f_scale, x, dtype, f"{name} {params} module")
            assert_within(grad, d, autograd_scale(f, d_scale), x, dtype, f"{name} {params} module gradient")


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "silu", "quick_gelu", "swish", "gelu_tanh", "mish", "logsigmoid"])
def test_no_nan_gradient_far_in_the_tails_float32(name):
    """At x = -100 in float32 exp(100) overflows: the gradient must still be a number (sigmoid's: about 3.7e-44, or 0)."""
    s = actlab.lookup(name)
    x = torch.tensor([-100.0, 100.0], requires_grad=True)
    (grad,) = torch.autograd.grad(s.forward(x, **s.defaults()).sum(), x)
    assert torch.isfinite(grad).all(), grad
    if name == "sigmoid":
        assert 0 <= grad[0].item() <= 4e-44 and abs(reference("sigmoid", -100.0, {}, 1) - 3.7200759760208361e-44) < 1e-57


def test_tanh_near_zero_is_exact():
    x = torch.tensor(1e-8, dtype=torch.float64)
    assert actlab.lookup("tanh").forward(x).item() == 1e-08 == torch.tanh(x).item()


def test_logsigmoid_has_no_cut_off():
    """-20.001 is past the old softplus threshold of 20, which dropped the log(1 + e^-x) term (1e-10 relative)."""
    x = torch.tensor(-20.001, dtype=torch.float64)
    want = reference("logsigmoid", -20.001, {})
    assert abs(actlab.lookup("logsigmoid").forward(x).item() - want) <= 2 * torch.finfo(torch.float64).eps * abs(want)


def test_sigmoid_derivative_shows_how_small_gradients_get():
    """sigma(1 - sigma) is 0 from x of about 37 (float64); sigma(x) sigma(-x) keeps the true, tiny value."""
    x = torch.tensor([37.0, 40.0, 100.0, 700.0], dtype=torch.float64)
    got = actlab.lookup("sigmoid").derivative(x).numpy()
    want = np.array([reference("sigmoid", v, {}, 1) for v in x.tolist()])
    assert (got > 0).all() and want[-1] < 1e-303
    np.testing.assert_allclose(got, want, rtol=ULPS * torch.finfo(torch.float64).eps * 700)  # condition |x| = 700
    assert (torch.sigmoid(x[1:]) * (1 - torch.sigmoid(x[1:])) == 0).all()  # the form the library no longer uses


@pytest.mark.parametrize("name, right", [
    ("quick_gelu", -0.16361018963635358), ("gelu_tanh", -0.17004075057125405), ("mish", -0.30884341301725041),
])
def test_computed_minima_match_the_known_values(name, right):
    low, _ = actlab.lookup(name).output_range()
    assert abs(low - right) <= 4 * torch.finfo(torch.float64).eps * abs(right), low


@pytest.mark.parametrize("name, x0", [("gelu", -0.75), ("gelu_tanh", -0.75), ("quick_gelu", -0.75), ("silu", -1.28),
                                      ("mish", -1.19)])
def test_minima_against_mpmath_root_finding(name, x0):
    fn = REFERENCES[name]
    with mp.workdps(40):
        root = mp.findroot(lambda t: mp.diff(fn, t), x0)
        want = float(fn(root))
    low, _ = actlab.lookup(name).output_range()
    assert abs(low - want) <= 4 * torch.finfo(torch.float64).eps * abs(want), (low, want)


def test_swish_minimum_scales_with_beta_and_silu_is_minus_lambert_w():
    with mp.workdps(40):
        w = float(mp.lambertw(1 / mp.e))
    assert actlab.lookup("silu").output_range()[0] == pytest.approx(-w, rel=4e-16)
    assert actlab.lookup("swish").output_range(beta=4.0)[0] == pytest.approx(-w / 4, rel=4e-16)


def test_selu_constants_are_the_fixed_point():
    """Klambauer et al.'s lambda and alpha give mean 0 and variance 1 for N(0, 1) input (mpmath quadrature).

    The published 32-digit constants hold the fixed point to double precision only (mean 2.7e-17, variance
    1 - 1.3e-16), so that is what is asserted: within a few float64 eps.
    """
    with mp.workdps(40):
        selu = REFERENCES["selu"]
        mean = mp.quad(lambda t: selu(t) * mp.npdf(t), [-mp.inf, 0, mp.inf])
        second = mp.quad(lambda t: selu(t) ** 2 * mp.npdf(t), [-mp.inf, 0, mp.inf])
    eps = torch.finfo(torch.float64).eps
    assert abs(mean) < 4 * eps and abs(second - 1) < 4 * eps
    assert actlab.activations.SELU_ALPHA == float(SELU_ALPHA) and actlab.activations.SELU_SCALE == float(SELU_SCALE)
