"""The activation registry: the one source of truth for formulas, parameters, derivatives and properties."""
from __future__ import annotations

import difflib
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
TAILS = ("both", "negative", "positive", "none")
FLAGS = ("zero_centred", "monotonic", "smooth", "saturates")
ZERO_CENTRED_TOLERANCE = 0.05  # |E[f(z)]| below this, z ~ N(0, 1), counts as zero-centred


@dataclass(frozen=True)
class Param:
    """One parameter of an activation: default, closed valid range and slider step."""

    name: str
    default: float
    low: float
    high: float
    step: float
    doc: str = ""

    def check(self, value, owner: str) -> float:
        """Return value as a float, or raise a ValueError naming the parameter and its range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{owner}: parameter {self.name!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}: parameter {self.name!r} must be finite, got {value}")
        if not self.low <= value <= self.high:
            raise ValueError(
                f"{owner}: parameter {self.name!r}={value:g} is out of range; "
                f"valid range is [{self.low:g}, {self.high:g}]"
            )
        return value


@dataclass(frozen=True)
class Spec:
    """Everything the course knows about one activation function.

    Property flags hold at the parameters they are asked at (tests/test_registry.py checks them numerically at the
    defaults and at each parameter's ends): zero_centred: mean output for standard normal input is within 0.05 of
    0; monotonic: never decreasing; smooth: continuous with a continuous derivative; saturates: which tails have a
    vanishing derivative ('both', 'negative', 'positive', 'none'); bounded (derived): finite output range on both
    sides; needs_exp: computing it takes exp, tanh, erf or log.

    A flag is given as a value, or as a function of the parameters (e.g. monotonic=lambda alpha: alpha >= 0);
    zero_centred=None computes it by quadrature. The attributes (spec.monotonic, ...) are the values at the
    default parameters; spec.flags(**params) gives them at any valid parameters.
    """

    name: str
    display: str
    latex: str
    forward: Callable[..., torch.Tensor]
    derivative: Callable[..., torch.Tensor]
    output_range: Callable[..., tuple[float, float]]
    zero_centred: bool | Callable[..., bool] | None
    monotonic: bool | Callable[..., bool]
    smooth: bool | Callable[..., bool]
    saturates: str | Callable[..., str]
    needs_exp: bool
    note: str
    params: tuple[Param, ...] = ()
    kinks: Callable[..., tuple[float, ...]] = lambda **p: ()
    module: Callable[..., nn.Module] | None = None
    torch_name: str | None = None
    reference: Callable | None = None
    trainable: bool = False
    constraint: Callable[..., str | None] = lambda **p: None
    custom: bool = False
    extra: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        """Keep each flag's rule; the attribute becomes its value at the default parameters."""
        for flag in FLAGS:
            rule = getattr(self, flag)
            if flag == "zero_centred" and rule is None:
                rule = self._zero_centred
            if callable(rule):
                self.rules[flag] = rule
                object.__setattr__(self, flag, rule(**self.defaults()))

    def _zero_centred(self, **params) -> bool:
        """|E[f(z)]| < ZERO_CENTRED_TOLERANCE for z ~ N(0, 1), by the trapezoid rule on [-12, 12] (h = 1e-3)."""
        z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
        with torch.no_grad():
            mean = torch.trapezoid(self.forward(z, **params) * torch.exp(-0.5 * z * z), z).item() / math.sqrt(2 * math.pi)
        return abs(mean) < ZERO_CENTRED_TOLERANCE

    def flags(self, **params) -> dict:
        """The property flags at the given parameters (defaults for those left out), plus bounded and output_range.

        Raises ValueError for unknown or out-of-range parameters.
        """
        values = self.resolve(**params)
        flags = {flag: self.rules[flag](**values) if flag in self.rules else getattr(self, flag) for flag in FLAGS}
        low, high = self.output_range(**values)
        return {**flags, "bounded": math.isfinite(low) and math.isfinite(high), "output_range": (low, high),
                "needs_exp": self.needs_exp}

    @property
    def bounded(self) -> bool:
        """True when the output range is finite on both sides (at the default parameters)."""
        low, high = self.output_range(**self.defaults())
        return math.isfinite(low) and math.isfinite(high)

    @property
    def saturating(self) -> bool:
        """True when the derivative vanishes in at least one tail."""
        return self.saturates != "none"

    def defaults(self) -> dict[str, float]:
        """The default value of every parameter."""
        return {p.name: p.default for p in self.params}

    def resolve(self, **params) -> dict[str, float]:
        """Defaults overridden by params, each checked against its valid range."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {valid}")
        values = self.defaults()
        for key, value in params.items():
            values[key] = known[key].check(value, self.name)
        problem = self.constraint(**values)
        if problem:
            raise ValueError(f"{self.name}: {problem}")
        return values

    def label(self, **params) -> str:
        """Display name with the parameter values, e.g. 'Leaky ReLU (alpha=0.1)'."""
        values = self.resolve(**params)
        if not values:
            return self.display
        return f"{self.display} (" + ", ".join(f"{k}={v:g}" for k, v in values.items()) + ")"


_REGISTRY: dict[str, Spec] = {}


def _key(name: str) -> str:
    """Normalise a name: case, spaces, hyphens and underscores do not matter."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def register(spec: Spec, replace: bool = False) -> Spec:
    """Add a spec to the registry (replace=True to overwrite an entry of the same name)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", spec.name):
        raise ValueError(f"activation name {spec.name!r} must be lower-case letters, digits and underscores")
    if spec.saturates not in TAILS:
        raise ValueError(f"{spec.name}: saturates must be one of {TAILS}, got {spec.saturates!r}")
    clash = [s.name for s in _REGISTRY.values() if _key(s.name) == _key(spec.name)]
    if clash and not replace:
        raise ValueError(f"activation {spec.name!r} is already registered; pass replace=True to overwrite it")
    for old in clash:
        del _REGISTRY[old]
    for p in spec.params:
        p.check(p.default, spec.name)
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a user-registered activation; built-in entries stay."""
    spec_ = spec(name)
    if not spec_.custom:
        raise ValueError(f"{spec_.name!r} is built in and cannot be removed")
    del _REGISTRY[spec_.name]


def activation_names() -> list[str]:
    """Names of every registered activation, in teaching order."""
    return list(_REGISTRY)


def spec(name: str) -> Spec:
    """The Spec of an activation; unknown names raise a ValueError suggesting close matches."""
    if isinstance(name, Spec):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    by_key = {_key(n): n for n in _REGISTRY}
    by_key.update({_key(s.torch_name): n for n, s in _REGISTRY.items() if s.torch_name})
    by_key.update({_key(s.display): n for n, s in _REGISTRY.items()})
    if _key(name) in by_key:
        return _REGISTRY[by_key[_key(name)]]
    close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=3, cutoff=0.5)
    close += [by_key[k] for k in difflib.get_close_matches(_key(name), list(by_key), n=3, cutoff=0.6)]
    hint = f" Did you mean {', '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
    raise ValueError(f"unknown activation {name!r}.{hint} Known: {', '.join(_REGISTRY)}")


class Activation(nn.Module):
    """An activation computed from its registry formula (used where torch.nn has no module)."""

    def __init__(self, name: str, **params):
        super().__init__()
        self.spec = spec(name)
        self.params = self.spec.resolve(**params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec.forward(x, **self.params)

    def extra_repr(self) -> str:
        return f"{self.spec.name}, " + ", ".join(f"{k}={v:g}" for k, v in self.params.items())


def get_activation(name: str, **params) -> nn.Module:
    """A fresh nn.Module for the named activation (torch.nn's own module where it has one).

    Like every new torch.nn module it is in training mode: for RReLU that means a random negative slope on
    each call; call .eval() for the deterministic function (the plots and the explorer do). Modules follow the
    input's dtype (float32 or float64), PReLU's learned slope included. Raises ValueError for an unknown name
    or a parameter out of its range.
    """
    spec_ = spec(name)
    values = spec_.resolve(**params)
    if spec_.module is None:
        return Activation(spec_.name, **values)
    return spec_.module(**values)


# ---------------------------------------------------------------------------
# The entries. Each formula is the numerically stable form of what torch.nn
# computes; tests/test_oracle.py checks every one, and its derivative, against
# 50-digit mpmath references, including the tails.
# ---------------------------------------------------------------------------

def _const(low: float, high: float):
    return lambda **p: (low, high)


def _sig(x):
    return torch.sigmoid(x)


def _sig_slope(x):
    """sigma'(x) = sigma(x) sigma(-x): unlike sigma(1 - sigma), it does not round to 0 for x > 37 (float64)."""
    return torch.sigmoid(x) * torch.sigmoid(-x)


def _log1pexp(x):
    """log(1 + e^x) without overflow or a cut-off."""
    return torch.logaddexp(x, torch.zeros_like(x))


def _softplus(x, beta=1.0, threshold=20.0):
    """PyTorch's Softplus: log(1 + e^(beta x)) / beta, but x itself where beta x > threshold."""
    return torch.where(beta * x > threshold, x, _log1pexp(beta * x) / beta)


def _phi(x):
    return torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x):
    """The standard normal CDF as erfc(-x / sqrt 2) / 2: 1 + erf(x / sqrt 2) cancels to 0 below x = -8."""
    return 0.5 * torch.erfc(-x / math.sqrt(2))


def _swish(x, beta):
    return x * torch.sigmoid(beta * x)


def _swish_slope(x, beta):
    return torch.sigmoid(beta * x) + beta * x * _sig_slope(beta * x)


_TANH_CF_DEPTH = 12  # Lambert's continued fraction for tanh, 12 levels: truncation error below 1e-20 for |x| <= 1


def _tanhshrink(x):
    """x - tanh(x), without the cancellation near 0: for |x| < 1, x c / (1 + c) with c = x^2 / (3 + x^2 / (5 + ...)),
    from Lambert's continued fraction tanh(x) = x / (1 + c); elsewhere x - tanh(x) loses at most 2 bits."""
    small = x.clamp(-1, 1)
    x2 = small * small
    tail = torch.full_like(x, 2 * _TANH_CF_DEPTH + 1)
    for odd in range(2 * _TANH_CF_DEPTH - 1, 1, -2):
        tail = odd + x2 / tail
    c = x2 / tail
    return torch.where(x.abs() < 1, small * c / (1 + c), x - torch.tanh(x))


def _shrink_slope(x, lambd):
    """Slope of Hardshrink and Softshrink: 1 outside [-lambd, lambd], 0 inside; 1 everywhere at lambd = 0 (the identity)."""
    return (x.abs() > lambd).to(x.dtype) if lambd > 0 else torch.ones_like(x)


def _step(x):
    return (x > 0).to(x.dtype)


class _HeavisideFn(torch.autograd.Function):
    """Heaviside step whose backward is the true derivative: zero everywhere (x != 0)."""

    @staticmethod
    def forward(ctx, x):
        return _step(x)

    @staticmethod
    def backward(ctx, grad_out):
        return torch.zeros_like(grad_out)


class Heaviside(nn.Module):
    """The Heaviside step H(x) = 1 if x > 0 else 0; its gradient is 0 everywhere."""

    def forward(self, x):
        return _HeavisideFn.apply(x)


class Swish(nn.Module):
    """Swish x * sigmoid(beta x); beta = 1 is SiLU, beta -> infinity approaches ReLU."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return _swish(x, self.beta)

    def extra_repr(self):
        return f"beta={self.beta:g}"


class QuickGELU(nn.Module):
    """The sigmoid approximation of GELU, x * sigmoid(1.702 x)."""

    def forward(self, x):
        return _swish(x, 1.702)


def _prelu_in_input_dtype(module: nn.PReLU, x: torch.Tensor) -> torch.Tensor:
    """PReLU's forward with its slope cast to x's dtype (gradients still reach the weight in its own dtype)."""
    return F.prelu(x, module.weight.to(x.dtype))


def _prelu(alpha: float) -> nn.PReLU:
    """A torch.nn.PReLU that follows the input's dtype, as parameter-free torch.nn modules do.

    torch.nn.PReLU's float32 weight refuses float64 input. The instance's forward is replaced rather than the
    class subclassed, so the module stays exactly a torch.nn.PReLU for isinstance and type checks (the
    diagnostics and models find activations by type). Copies and pickles keep the replacement.
    """
    module = nn.PReLU(init=alpha)
    module.forward = functools.partial(_prelu_in_input_dtype, module)
    return module


def _gelu_tanh_u(x):
    return SQRT_2_OVER_PI * (x + 0.044715 * x**3)


def _gelu_tanh(x):
    """x (1 + tanh u) / 2 written as x sigma(2u): 1 + tanh u cancels to 0 for x below about -6."""
    return x * torch.sigmoid(2 * _gelu_tanh_u(x))


def _gelu_tanh_slope(x):
    u_slope = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)
    return torch.sigmoid(2 * _gelu_tanh_u(x)) + 2 * x * u_slope * _sig_slope(2 * _gelu_tanh_u(x))


def _mish(x):
    return x * torch.tanh(_log1pexp(x))


def _mish_slope(x):
    return torch.tanh(_log1pexp(x)) + x * torch.cosh(_log1pexp(x)).pow(-2) * torch.sigmoid(x)


@functools.cache
def lambert_w_of_inverse_e() -> float:
    """W(1/e) = 0.2784645..., by scipy.special.lambertw: minus the minimum of SiLU x sigma(x).

    Setting the derivative sigma(x) (1 + x sigma(-x)) to 0 gives 1 + e^x = -x; with x = -1 - w this is
    w e^w = 1/e, so w = W(1/e), and the value there is x sigma(x) = -e^x = -w. Swish's minimum is -W(1/e) / beta.
    """
    from scipy.special import lambertw

    return float(lambertw(math.exp(-1)).real)


@functools.cache
def minimum_of(name: str) -> float:
    """The minimum value of a one-dip activation (GELU, tanh-GELU, Mish), computed, not typed.

    scipy.optimize.brentq finds the root of the analytic derivative in [-3, -0.25] to machine precision; the
    function is flat there, so its value is exact to rounding.
    """
    from scipy.optimize import brentq

    s = spec(name)
    at = lambda fn, x: fn(torch.tensor(x, dtype=torch.float64)).item()  # noqa: E731
    root = brentq(lambda x: at(s.derivative, x), -3.0, -0.25, xtol=1e-16)
    return at(s.forward, root)


def _slope_rules(slope):
    """Flags of max(a x, x) for a negative-side slope a = slope(**params) (Leaky ReLU, PReLU, RReLU at eval)."""
    return dict(
        output_range=lambda **p: (-math.inf if slope(**p) > 0 else 0.0, math.inf),
        monotonic=lambda **p: slope(**p) >= 0, smooth=lambda **p: slope(**p) == 1,
        saturates=lambda **p: "negative" if slope(**p) == 0 else "none",
        kinks=lambda **p: () if slope(**p) == 1 else (0.0,),
    )


def _entries() -> list[Spec]:
    """Every built-in activation, in teaching order. zero_centred=None: computed from the formula by quadrature."""
    alpha_leaky = Param("alpha", 0.01, 0.0, 1.0, 0.01, "slope for x < 0")
    return [
        Spec(
            name="heaviside", display="Heaviside step", latex=r"H(x) = \begin{cases}1 & x > 0\\ 0 & x \le 0\end{cases}",
            forward=lambda x: _HeavisideFn.apply(x), derivative=lambda x: torch.zeros_like(x),
            output_range=_const(0, 1), zero_centred=None, monotonic=True, smooth=False, saturates="both",
            needs_exp=False, kinks=lambda: (0.0,), module=lambda: Heaviside(),
            reference=lambda x: __import__("numpy").heaviside(x, 0.0),
            note="the first artificial neuron (McCulloch-Pitts, perceptron); zero gradient everywhere",
        ),
        Spec(
            name="sigmoid", display="Sigmoid", latex=r"\sigma(x) = \frac{1}{1 + e^{-x}}",
            forward=lambda x: torch.sigmoid(x), derivative=lambda x: _sig_slope(x),
            output_range=_const(0, 1), zero_centred=None, monotonic=True, smooth=True, saturates="both",
            needs_exp=True, module=lambda: nn.Sigmoid(), torch_name="Sigmoid",
            reference=lambda x: __import__("scipy.special", fromlist=["expit"]).expit(x),
            note="squashes to (0, 1): a firing rate or a probability; gates in LSTMs",
        ),
        Spec(
            name="tanh", display="Tanh", latex=r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
            forward=lambda x: torch.tanh(x), derivative=lambda x: torch.cosh(x).pow(-2),  # 1 - tanh^2 rounds to 0 from x = 19
            output_range=_const(-1, 1), zero_centred=None, monotonic=True, smooth=True, saturates="both",
            needs_exp=True, module=lambda: nn.Tanh(), torch_name="Tanh",
            reference=lambda x: __import__("numpy").tanh(x),
            note="zero-centred sigmoid, range (-1, 1); RNN hidden states",
        ),
        Spec(
            name="relu", display="ReLU", latex=r"\mathrm{ReLU}(x) = \max(0, x)",
            forward=lambda x: torch.where(x > 0, x, torch.zeros_like(x)), derivative=lambda x: _step(x),
            output_range=_const(0, math.inf), zero_centred=None, monotonic=True, smooth=False, saturates="negative",
            needs_exp=False, kinks=lambda: (0.0,), module=lambda: nn.ReLU(), torch_name="ReLU",
            reference=lambda x: __import__("numpy").maximum(x, 0.0),
            note="the default for hidden layers: cheap, no positive saturation, sparse",
        ),
        Spec(
            name="leaky_relu", display="Leaky ReLU", latex=r"\mathrm{LeakyReLU}(x) = \max(\alpha x, x)",
            params=(alpha_leaky,),
            forward=lambda x, alpha: torch.where(x > 0, x, alpha * x),
            derivative=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, alpha)),
            zero_centred=None, needs_exp=False, **_slope_rules(lambda alpha: alpha),
            module=lambda alpha: nn.LeakyReLU(negative_slope=alpha), torch_name="LeakyReLU",
            note="ReLU with a small slope for x < 0 so no unit's gradient is exactly zero (Maas et al. 2013)",
        ),
        Spec(
            name="prelu", display="PReLU", latex=r"\mathrm{PReLU}(x) = \max(0, x) + \alpha \min(0, x),\ \alpha \text{ learned}",
            params=(Param("alpha", 0.25, -1.0, 1.0, 0.01, "initial slope for x < 0 (learned)"),),
            forward=lambda x, alpha: torch.where(x > 0, x, alpha * x),
            derivative=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, alpha)),
            zero_centred=None, needs_exp=False, **_slope_rules(lambda alpha: alpha),
            module=lambda alpha: _prelu(alpha), torch_name="PReLU", trainable=True,
            note="Leaky ReLU whose slope is learned by backprop (He et al. 2015); a negative slope makes it non-monotonic",
        ),
        Spec(
            name="rrelu", display="RReLU", latex=r"\mathrm{RReLU}(x) = \max(0, x) + a \min(0, x),\ a \sim U(l, u) \text{ in training},\ a = \frac{l+u}{2} \text{ at eval}",
            params=(Param("lower", 1 / 8, 0.0, 1.0, 0.01, "lowest random slope"), Param("upper", 1 / 3, 0.0, 1.0, 0.01, "highest random slope")),
            forward=lambda x, lower, upper: torch.where(x > 0, x, 0.5 * (lower + upper) * x),
            derivative=lambda x, lower, upper: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.5 * (lower + upper))),
            zero_centred=None, needs_exp=False, **_slope_rules(lambda lower, upper: 0.5 * (lower + upper)),
            module=lambda lower, upper: nn.RReLU(lower, upper), torch_name="RReLU",
            constraint=lambda lower, upper: None if lower <= upper else f"lower={lower:g} must not exceed upper={upper:g}",
            note="random negative slope in training, its mean at eval (shown here, and in every plot: the eval-mode function)",
        ),
        Spec(
            name="elu", display="ELU", latex=r"\mathrm{ELU}(x) = \begin{cases}x & x > 0\\ \alpha(e^{x} - 1) & x \le 0\end{cases}",
            params=(Param("alpha", 1.0, 0.0, 5.0, 0.05, "negative saturation value is -alpha"),),
            forward=lambda x, alpha: torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0))),
            derivative=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0))),
            output_range=lambda alpha: (-alpha, math.inf),
            zero_centred=None, monotonic=True, smooth=lambda alpha: alpha == 1, saturates="negative", needs_exp=True,
            kinks=lambda alpha: () if alpha == 1 else (0.0,), module=lambda alpha: nn.ELU(alpha=alpha), torch_name="ELU",
            note="ReLU for x > 0, saturates smoothly to -alpha: mean output closer to zero (Clevert et al. 2015); "
                 "its slope jumps from alpha to 1 at 0 unless alpha = 1",
        ),
        Spec(
            name="selu", display="SELU", latex=r"\mathrm{SELU}(x) = \lambda \begin{cases}x & x > 0\\ \alpha(e^{x} - 1) & x \le 0\end{cases},\ \lambda \approx 1.0507,\ \alpha \approx 1.6733",
            forward=lambda x: SELU_SCALE * torch.where(x > 0, x, SELU_ALPHA * torch.expm1(torch.clamp(x, max=0))),
            derivative=lambda x: SELU_SCALE * torch.where(x > 0, torch.ones_like(x), SELU_ALPHA * torch.exp(torch.clamp(x, max=0))),
            output_range=_const(-SELU_SCALE * SELU_ALPHA, math.inf),
            zero_centred=None, monotonic=True, smooth=False, saturates="negative", needs_exp=True,
            kinks=lambda: (0.0,), module=lambda: nn.SELU(), torch_name="SELU",
            note="scaled ELU whose constants keep mean 0 and variance 1 through depth (Klambauer et al. 2017)",
        ),
        Spec(
            name="celu", display="CELU", latex=r"\mathrm{CELU}(x) = \max(0, x) + \min(0, \alpha(e^{x/\alpha} - 1))",
            params=(Param("alpha", 1.0, 0.05, 5.0, 0.05, "negative saturation value is -alpha"),),
            forward=lambda x, alpha: torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0) / alpha)),
            derivative=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), torch.exp(torch.clamp(x, max=0) / alpha)),
            output_range=lambda alpha: (-alpha, math.inf),
            zero_centred=None, monotonic=True, smooth=True, saturates="negative", needs_exp=True,
            module=lambda alpha: nn.CELU(alpha=alpha), torch_name="CELU",
            note="ELU rescaled so its derivative is continuous at 0 for every alpha (Barron 2017)",
        ),
        Spec(
            name="gelu", display="GELU", latex=r"\mathrm{GELU}(x) = x\,\Phi(x)",
            forward=lambda x: x * _Phi(x), derivative=lambda x: _Phi(x) + x * _phi(x),
            output_range=lambda: (minimum_of("gelu"), math.inf),
            zero_centred=None, monotonic=False, smooth=True, saturates="negative", needs_exp=True,
            module=lambda: nn.GELU(), torch_name="GELU",
            reference=lambda x: x * __import__("scipy.special", fromlist=["ndtr"]).ndtr(x),
            note="x weighted by the probability a standard normal is below it; BERT, GPT (Hendrycks & Gimpel 2016)",
        ),
        Spec(
            name="gelu_tanh", display="GELU (tanh approx.)",
            latex=r"\tfrac{1}{2}x\left(1 + \tanh\left[\sqrt{2/\pi}\,(x + 0.044715x^{3})\right]\right)",
            forward=_gelu_tanh, derivative=_gelu_tanh_slope,
            output_range=lambda: (minimum_of("gelu_tanh"), math.inf),
            zero_centred=None, monotonic=False, smooth=True, saturates="negative", needs_exp=True,
            module=lambda: nn.GELU(approximate="tanh"),
            note="the approximation GPT-2 and BERT's original code used",
        ),
        Spec(
            name="quick_gelu", display="GELU (sigmoid approx.)", latex=r"x\,\sigma(1.702\,x)",
            forward=lambda x: _swish(x, 1.702), derivative=lambda x: _swish_slope(x, 1.702),
            output_range=lambda: (-lambert_w_of_inverse_e() / 1.702, math.inf),
            zero_centred=None, monotonic=False, smooth=True, saturates="negative", needs_exp=True,
            module=lambda: QuickGELU(),
            note="the cheapest GELU approximation (used in CLIP)",
        ),
        Spec(
            name="silu", display="SiLU", latex=r"\mathrm{SiLU}(x) = x\,\sigma(x)",
            forward=lambda x: _swish(x, 1.0), derivative=lambda x: _swish_slope(x, 1.0),
            output_range=lambda: (-lambert_w_of_inverse_e(), math.inf),
            zero_centred=None, monotonic=False, smooth=True, saturates="negative", needs_exp=True,
            module=lambda: nn.SiLU(), torch_name="SiLU",
            reference=lambda x: x * __import__("scipy.special", fromlist=["expit"]).expit(x),
            note="Swish with beta = 1; EfficientNet, many vision and language models",
        ),
        Spec(
            name="swish", display="Swish", latex=r"\mathrm{Swish}_\beta(x) = x\,\sigma(\beta x)",
            params=(Param("beta", 1.0, 0.0, 20.0, 0.1, "sharpness: 0 gives x/2, 1 gives SiLU, large approaches ReLU"),),
            forward=_swish, derivative=_swish_slope,
            output_range=lambda beta: (-lambert_w_of_inverse_e() / beta if beta > 0 else -math.inf, math.inf),
            zero_centred=None, monotonic=lambda beta: beta == 0, smooth=True,
            saturates=lambda beta: "negative" if beta > 0 else "none", needs_exp=True,
            module=lambda beta: Swish(beta),
            note="found by automated search (Ramachandran et al. 2017); interpolates between linear and ReLU",
        ),
        Spec(
            name="mish", display="Mish", latex=r"\mathrm{Mish}(x) = x \tanh(\log(1 + e^{x}))",
            forward=_mish, derivative=_mish_slope,
            output_range=lambda: (minimum_of("mish"), math.inf),
            zero_centred=None, monotonic=False, smooth=True, saturates="negative", needs_exp=True,
            module=lambda: nn.Mish(), torch_name="Mish",
            note="smooth, non-monotonic, like Swish (Misra 2019); YOLOv4",
        ),
        Spec(
            name="softplus", display="Softplus",
            latex=r"\mathrm{Softplus}(x) = \begin{cases}\frac{1}{\beta}\log(1 + e^{\beta x}) & \beta x \le t\\ x & \beta x > t\end{cases}",
            params=(Param("beta", 1.0, 0.1, 20.0, 0.1, "sharpness"), Param("threshold", 20.0, 1.0, 50.0, 1.0, "t: above beta*x > t the output is x")),
            forward=lambda x, beta, threshold: _softplus(x, beta, threshold),
            derivative=lambda x, beta, threshold: torch.where(beta * x > threshold, torch.ones_like(x), _sig(beta * x)),
            output_range=_const(0, math.inf),
            zero_centred=None, monotonic=False, smooth=False, saturates="negative", needs_exp=True,
            kinks=lambda beta, threshold: (threshold / beta,),
            module=lambda beta, threshold: nn.Softplus(beta=beta, threshold=threshold), torch_name="Softplus",
            reference=lambda x: __import__("numpy").logaddexp(0.0, x),
            note="a smooth ReLU that keeps outputs positive (variances, rates); but PyTorch's, to save an exp, returns "
                 "x above beta*x > t: a step down of log(1 + e^-t)/beta there (2e-9 at t = 20, 0.31 at t = 1), "
                 "so strictly it is neither smooth nor monotonic",
        ),
        Spec(
            name="softsign", display="Softsign", latex=r"\mathrm{Softsign}(x) = \frac{x}{1 + |x|}",
            forward=lambda x: x / (1 + x.abs()), derivative=lambda x: 1 / (1 + x.abs()) ** 2,
            output_range=_const(-1, 1), zero_centred=None, monotonic=True, smooth=True, saturates="both",
            needs_exp=False, module=lambda: nn.Softsign(), torch_name="Softsign",
            note="tanh-shaped without exp; saturates polynomially, more slowly",
        ),
        Spec(
            name="hardtanh", display="Hardtanh", latex=r"\mathrm{Hardtanh}(x) = \min(\max(x, a), b)",
            params=(Param("min_val", -1.0, -5.0, 5.0, 0.1, "lower clip a"), Param("max_val", 1.0, -5.0, 5.0, 0.1, "upper clip b")),
            forward=lambda x, min_val, max_val: torch.minimum(torch.maximum(x, torch.full_like(x, min_val)), torch.full_like(x, max_val)),
            derivative=lambda x, min_val, max_val: ((x > min_val) & (x < max_val)).to(x.dtype),
            output_range=lambda min_val, max_val: (min_val, max_val),
            zero_centred=None, monotonic=True, smooth=False, saturates="both", needs_exp=False,
            kinks=lambda min_val, max_val: (min_val, max_val),
            module=lambda min_val, max_val: nn.Hardtanh(min_val, max_val), torch_name="Hardtanh",
            constraint=lambda min_val, max_val: None if min_val < max_val else f"min_val={min_val:g} must be below max_val={max_val:g}",
            note="piecewise-linear tanh: a cheap clip (zero-centred only when the clip is near-symmetric)",
        ),
        Spec(
            name="hardsigmoid", display="Hardsigmoid", latex=r"\mathrm{Hardsigmoid}(x) = \mathrm{ReLU6}(x + 3)/6",
            forward=lambda x: torch.clamp(x + 3, 0, 6) / 6, derivative=lambda x: ((x > -3) & (x < 3)).to(x.dtype) / 6,
            output_range=_const(0, 1), zero_centred=None, monotonic=True, smooth=False, saturates="both",
            needs_exp=False, kinks=lambda: (-3.0, 3.0), module=lambda: nn.Hardsigmoid(), torch_name="Hardsigmoid",
            note="piecewise-linear sigmoid for mobile networks (MobileNetV3)",
        ),
        Spec(
            name="hardswish", display="Hardswish", latex=r"\mathrm{Hardswish}(x) = x\,\mathrm{ReLU6}(x + 3)/6",
            forward=lambda x: x * torch.clamp(x + 3, 0, 6) / 6,
            derivative=lambda x: torch.where(x <= -3, torch.zeros_like(x), torch.where(x >= 3, torch.ones_like(x), (2 * x + 3) / 6)),
            output_range=_const(-3 / 8, math.inf),  # x (x + 3) / 6 is least at x = -3/2: -3/8, exactly
            zero_centred=None, monotonic=False, smooth=False, saturates="negative",
            needs_exp=False, kinks=lambda: (-3.0, 3.0), module=lambda: nn.Hardswish(), torch_name="Hardswish",
            note="piecewise Swish without exp (MobileNetV3, Howard et al. 2019)",
        ),
        Spec(
            name="hardshrink", display="Hardshrink", latex=r"\mathrm{Hardshrink}(x) = \begin{cases}x & |x| > \lambda\\ 0 & \text{otherwise}\end{cases}",
            params=(Param("lambd", 0.5, 0.0, 3.0, 0.05, "half-width of the zeroed band"),),
            forward=lambda x, lambd: torch.where(x.abs() > lambd, x, torch.zeros_like(x)) if lambd > 0 else x.clone(),
            derivative=_shrink_slope,
            output_range=_const(-math.inf, math.inf), zero_centred=None, monotonic=True, smooth=lambda lambd: lambd == 0,
            saturates="none", needs_exp=False, kinks=lambda lambd: (-lambd, lambd),  # at lambd = 0, where torch.nn's gradient convention (0) sits
           
            module=lambda lambd: nn.Hardshrink(lambd), torch_name="Hardshrink",
            note="zeroes small values: hard thresholding in sparse coding and denoising",
        ),
        Spec(
            name="softshrink", display="Softshrink", latex=r"\mathrm{Softshrink}(x) = \mathrm{sign}(x)\max(|x| - \lambda, 0)",
            params=(Param("lambd", 0.5, 0.0, 3.0, 0.05, "how far values are pulled towards 0"),),
            forward=lambda x, lambd: torch.sign(x) * torch.clamp(x.abs() - lambd, min=0) if lambd > 0 else x.clone(),
            derivative=_shrink_slope,
            output_range=_const(-math.inf, math.inf), zero_centred=None, monotonic=True, smooth=lambda lambd: lambd == 0,
            saturates="none", needs_exp=False, kinks=lambda lambd: (-lambd, lambd),  # at lambd = 0, where torch.nn's gradient convention (0) sits
           
            module=lambda lambd: nn.Softshrink(lambd), torch_name="Softshrink",
            note="soft thresholding: the proximal step of L1 (ISTA, LASSO)",
        ),
        Spec(
            name="tanhshrink", display="Tanhshrink", latex=r"\mathrm{Tanhshrink}(x) = x - \tanh(x)",
            forward=_tanhshrink, derivative=lambda x: torch.tanh(x) ** 2,
            output_range=_const(-math.inf, math.inf), zero_centred=None, monotonic=True, smooth=True, saturates="none",
            needs_exp=True, module=lambda: nn.Tanhshrink(), torch_name="Tanhshrink",
            note="flat near 0, linear far away; rare outside sparse coding",
        ),
        Spec(
            name="logsigmoid", display="LogSigmoid", latex=r"\mathrm{LogSigmoid}(x) = \log\sigma(x) = -\log(1 + e^{-x})",
            forward=lambda x: -_log1pexp(-x), derivative=lambda x: _sig(-x),
            output_range=_const(-math.inf, 0), zero_centred=None, monotonic=True, smooth=True, saturates="positive",
            needs_exp=True, module=lambda: nn.LogSigmoid(), torch_name="LogSigmoid",
            reference=lambda x: __import__("scipy.special", fromlist=["log_expit"]).log_expit(x),
            note="log-probability of a sigmoid, computed without overflow (binary losses)",
        ),
        Spec(
            name="relu6", display="ReLU6", latex=r"\mathrm{ReLU6}(x) = \min(\max(0, x), 6)",
            forward=lambda x: torch.clamp(x, 0, 6), derivative=lambda x: ((x > 0) & (x < 6)).to(x.dtype),
            output_range=_const(0, 6), zero_centred=None, monotonic=True, smooth=False, saturates="both",
            needs_exp=False, kinks=lambda: (0.0, 6.0), module=lambda: nn.ReLU6(), torch_name="ReLU6",
            note="ReLU capped at 6, friendly to low-precision arithmetic (MobileNet)",
        ),
        Spec(
            name="threshold", display="Threshold", latex=r"\mathrm{Threshold}(x) = \begin{cases}x & x > t\\ v & \text{otherwise}\end{cases}",
            params=(Param("threshold", 1.0, -3.0, 3.0, 0.1, "t: below it the output is v"), Param("value", 0.0, -3.0, 3.0, 0.1, "v: the replacement value")),
            forward=lambda x, threshold, value: torch.where(x > threshold, x, torch.full_like(x, value)),
            derivative=lambda x, threshold, value: (x > threshold).to(x.dtype),
            output_range=lambda threshold, value: (min(value, threshold), math.inf),
            zero_centred=None, monotonic=lambda threshold, value: value <= threshold, smooth=False, saturates="negative",
            needs_exp=False, kinks=lambda threshold, value: (threshold,),
            module=lambda threshold, value: nn.Threshold(threshold, value), torch_name="Threshold",
            note="a generalised ReLU: below t, a constant v (a step down at t when v > t)",
        ),
    ]


for _spec in _entries():
    register(_spec)
