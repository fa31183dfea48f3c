"""50-digit mpmath references of every built-in activation, written from the definitions (not from torch or actlab).

Each takes an mpf x and the parameters as mpf values; conventions at kinks follow torch.nn (strict > comparisons).
"""
import mpmath as mp

DIGITS = 50
SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")  # Klambauer et al. 2017; the values torch.nn.SELU uses
SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _where(condition, a, b):
    return mp.mpf(a) if condition else mp.mpf(b)


def _clip(x, low, high):
    return min(max(x, mp.mpf(low)), mp.mpf(high))


REFERENCES = {
    "heaviside": lambda x: _where(x > 0, 1, 0),
    "sigmoid": _sig,
    "tanh": mp.tanh,
    "relu": lambda x: _where(x > 0, x, 0),
    "leaky_relu": lambda x, alpha: _where(x > 0, x, alpha * x),
    "prelu": lambda x, alpha: _where(x > 0, x, alpha * x),
    "rrelu": lambda x, lower, upper: _where(x > 0, x, (lower + upper) / 2 * x),
    "elu": lambda x, alpha: x if x > 0 else alpha * mp.expm1(x),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * mp.expm1(x)),
    "celu": lambda x, alpha: x if x > 0 else alpha * mp.expm1(x / alpha),
    "gelu": lambda x: x * mp.ncdf(x),
    # x (1 + tanh u) / 2 with 1 + tanh u = 2 / (1 + e^(-2u)): at x = -100, 1 + tanh u is 1e-31060, beyond any working precision
    "gelu_tanh": lambda x: x / (1 + mp.exp(-2 * mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))),
    "quick_gelu": lambda x: x * _sig(mp.mpf("1.702") * x),
    "silu": lambda x: x * _sig(x),
    "swish": lambda x, beta: x * _sig(beta * x),
    "mish": lambda x: x * mp.tanh(mp.log1p(mp.exp(x))),
    "softplus": lambda x, beta, threshold: x if beta * x > threshold else mp.log1p(mp.exp(beta * x)) / beta,
    "softsign": lambda x: x / (1 + abs(x)),
    "hardtanh": lambda x, min_val, max_val: _clip(x, min_val, max_val),
    "hardsigmoid": lambda x: _clip(x + 3, 0, 6) / 6,
    "hardswish": lambda x: x * _clip(x + 3, 0, 6) / 6,
    "hardshrink": lambda x, lambd: _where(abs(x) > lambd, x, 0),
    "softshrink": lambda x, lambd: mp.sign(x) * max(abs(x) - lambd, 0),
    "tanhshrink": lambda x: x - mp.tanh(x),
    "logsigmoid": lambda x: -mp.log1p(mp.exp(-x)),
    "relu6": lambda x: _clip(x, 0, 6),
    "threshold": lambda x, threshold, value: _where(x > threshold, x, value),
}


def _sig_slope(x):
    return mp.exp(-x) / (1 + mp.exp(-x)) ** 2


def _gelu_tanh_u(x):
    return mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)


# Derivatives by hand from the definitions (d/dx of each entry above, away from kinks). Numerical differentiation
# cannot serve in a saturated tail: CELU's value at x = -30, alpha = 0.05 is -0.05 + 1e-262.
DERIVATIVES = {
    "heaviside": lambda x: mp.mpf(0),
    "sigmoid": _sig_slope,
    "tanh": lambda x: mp.sech(x) ** 2,
    "relu": lambda x: _where(x > 0, 1, 0),
    "leaky_relu": lambda x, alpha: _where(x > 0, 1, alpha),
    "prelu": lambda x, alpha: _where(x > 0, 1, alpha),
    "rrelu": lambda x, lower, upper: _where(x > 0, 1, (lower + upper) / 2),
    "elu": lambda x, alpha: _where(x > 0, 1, alpha * mp.exp(x)),
    "selu": lambda x: SELU_SCALE * _where(x > 0, 1, SELU_ALPHA * mp.exp(x)),
    "celu": lambda x, alpha: _where(x > 0, 1, mp.exp(x / alpha)),
    "gelu": lambda x: mp.ncdf(x) + x * mp.npdf(x),
    "gelu_tanh": lambda x: (_sig(2 * _gelu_tanh_u(x)) + 2 * x * mp.sqrt(2 / mp.pi) * (1 + 3 * mp.mpf("0.044715") * x**2)
                            * _sig_slope(2 * _gelu_tanh_u(x))),
    "quick_gelu": lambda x: _sig(mp.mpf("1.702") * x) + mp.mpf("1.702") * x * _sig_slope(mp.mpf("1.702") * x),
    "silu": lambda x: _sig(x) + x * _sig_slope(x),
    "swish": lambda x, beta: _sig(beta * x) + beta * x * _sig_slope(beta * x),
    "mish": lambda x: mp.tanh(mp.log1p(mp.exp(x))) + x * mp.sech(mp.log1p(mp.exp(x))) ** 2 * _sig(x),
    "softplus": lambda x, beta, threshold: _where(beta * x > threshold, 1, _sig(beta * x)),
    "softsign": lambda x: 1 / (1 + abs(x)) ** 2,
    "hardtanh": lambda x, min_val, max_val: _where(min_val < x < max_val, 1, 0),
    "hardsigmoid": lambda x: _where(-3 < x < 3, mp.mpf(1) / 6, 0),
    "hardswish": lambda x: _where(x > 3, 1, 0) if abs(x) > 3 else (2 * x + 3) / 6,
    "hardshrink": lambda x, lambd: _where(abs(x) > lambd or lambd == 0, 1, 0),
    "softshrink": lambda x, lambd: _where(abs(x) > lambd or lambd == 0, 1, 0),
    "tanhshrink": lambda x: mp.tanh(x) ** 2,
    "logsigmoid": lambda x: _sig(-x),
    "relu6": lambda x: _where(0 < x < 6, 1, 0),
    "threshold": lambda x, threshold, value: _where(x > threshold, 1, 0),
}


def reference(name, x: float, params: dict, order: int = 0) -> float:
    """The value (order 0), derivative (1) or second derivative (2) of the named activation at the float x.

    Values and derivatives are correct to DIGITS digits: evaluated at rising working precision until two
    precisions agree, since cancellation (x - tanh x at x = 1e-30) needs more working digits than the answer
    has. The second derivative, by mpmath's numerical differentiation of the first, only sizes tolerances.
    """
    fn = (REFERENCES, DERIVATIVES, DERIVATIVES)[order][name]
    previous = None
    for extra in (20, 80, 250, 700, 1500):
        with mp.workdps(DIGITS + extra):
            p = {k: mp.mpf(v) for k, v in params.items()}
            f = lambda t: fn(t, **p)  # noqa: E731
            value = f(mp.mpf(x)) if order < 2 else mp.diff(f, mp.mpf(x))
            if order == 2 or (previous is not None and abs(value - previous) <= abs(value) * mp.mpf(10) ** -DIGITS):
                return float(value)
            previous = value
    raise RuntimeError(f"{name} {params}: the order-{order} reference at x={x!r} did not settle")


def normal_mean(name, params: dict, kinks=()) -> float:
    """E[f(z)] for z ~ N(0, 1), by mpmath quadrature split at the kinks (20 digits)."""
    fn = REFERENCES[name]
    with mp.workdps(20):
        p = {k: mp.mpf(v) for k, v in params.items()}
        points = [-mp.inf, *sorted({mp.mpf(k) for k in (*kinks, -8, 0, 8)}), mp.inf]  # split where the mass and kinks are
        return float(mp.quad(lambda t: fn(t, **p) * mp.npdf(t), points))
