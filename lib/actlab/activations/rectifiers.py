"""Rectifiers: ReLU, the leaky family (Leaky ReLU, PReLU, RReLU), Threshold and Softplus."""
from __future__ import annotations

import functools
import math

import torch
from torch import nn
from torch.nn import functional as F

from .common import linear_or, log1pexp, slope_one_or, step
from .core import KAIMING, Init, Param, Spec, register


def relu_forward(x):
    return linear_or(x, torch.zeros_like(x))


def relu_derivative(x):
    return step(x)


# ----------------------------------------------------------------------------- the leaky family: max(a x, x)

def leaky_forward(x, alpha):
    return linear_or(x, alpha * x)


def leaky_derivative(x, alpha):
    return slope_one_or(x, alpha)


def alpha_slope(alpha):
    """The negative-side slope a of Leaky ReLU and PReLU: alpha itself."""
    return alpha


def rrelu_slope(lower, upper):
    """RReLU's negative-side slope at eval: the mean (lower + upper) / 2 of its training-time U(lower, upper)."""
    return 0.5 * (lower + upper)


def rrelu_forward(x, lower, upper):
    return leaky_forward(x, rrelu_slope(lower, upper))


def rrelu_derivative(x, lower, upper):
    return leaky_derivative(x, rrelu_slope(lower, upper))


def rrelu_constraint(lower, upper):
    return None if lower <= upper else f"lower={lower:g} must not exceed upper={upper:g}"


def leaky_range(slope, **params):
    a = slope(**params)
    return (-math.inf if a > 0 else 0.0), math.inf


def leaky_monotonic(slope, **params):
    return slope(**params) >= 0


def leaky_smooth(slope, **params):
    return slope(**params) == 1  # the identity


def leaky_saturates(slope, **params):
    return "negative" if slope(**params) == 0 else "none"


def leaky_kinks(slope, **params):
    return () if slope(**params) == 1 else (0.0,)


def leaky_family(slope, **fields) -> Spec:
    """An entry max(a x, x) whose negative slope is a = slope(**params): its flags, range, kinks and init follow a."""
    rules = {rule: functools.partial(fn, slope) for rule, fn in (
        ("output_range", leaky_range), ("monotonic", leaky_monotonic), ("smooth", leaky_smooth),
        ("saturates", leaky_saturates), ("kinks", leaky_kinks))}
    init = Init("kaiming", "leaky_relu", slope=slope, source="He et al. 2015, eq. 15: Var[w] = 2 / ((1 + a^2) fan_in)")
    return Spec(**rules, needs_exp=False, init=init, **fields)


class InputDtypeForward:
    """The forward of one torch.nn.PReLU with its slope cast to the input's dtype (see follow_input_dtype).

    An object of its own rather than a function bound to the module: a method bound to the module would pickle as
    getattr(module, "forward") and come back as torch.nn.PReLU's own forward; a functools.partial cannot be
    scripted. A method bound to this holder pickles with it, and TorchScript compiles its source as the module's
    forward (self.weight is then the module's weight).
    """

    def __init__(self, module: nn.PReLU):
        self.module = module

    @property
    def weight(self) -> nn.Parameter:
        """The module's slope parameter, shape (num_parameters,)."""
        return self.module.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """PReLU of x (any shape, channels in dim 1) with the slope in x's dtype; gradients reach the weight."""
        return F.prelu(x, self.weight.to(x.dtype))


def follow_input_dtype(module: nn.PReLU) -> nn.PReLU:
    """Make a torch.nn.PReLU follow the input's dtype, as parameter-free torch.nn modules do.

    torch.nn.PReLU's float32 weight refuses float64 input. The instance's forward is replaced rather than the
    class subclassed, so the module stays exactly a torch.nn.PReLU for isinstance and type checks (the
    diagnostics and models find activations by type). Copies, pickles and torch.jit.script keep the replacement.
    The flag attribute makes TorchScript tell the module from a plain torch.nn.PReLU: it compiles one forward per
    class and set of attributes, and without the flag would reuse a plain PReLU's forward scripted before.
    """
    module.forward = InputDtypeForward(module).forward
    module.follows_input_dtype = True
    return module


# ----------------------------------------------------------------------------- Threshold and Softplus

def threshold_forward(x, threshold, value):
    return torch.where(x > threshold, x, torch.full_like(x, value))


def threshold_derivative(x, threshold, value):
    return (x > threshold).to(x.dtype)


def threshold_range(threshold, value):
    return min(value, threshold), math.inf


def threshold_monotonic(threshold, value):
    return value <= threshold


def threshold_kinks(threshold, value):
    return (threshold,)


def softplus_forward(x, beta, threshold):
    """PyTorch's Softplus: log(1 + e^(beta x)) / beta, but x itself where beta x > threshold."""
    return torch.where(beta * x > threshold, x, log1pexp(beta * x) / beta)


def softplus_derivative(x, beta, threshold):
    return torch.where(beta * x > threshold, torch.ones_like(x), torch.sigmoid(beta * x))


def softplus_kinks(beta, threshold):
    return (threshold / beta,)


ENTRIES = (
    Spec(
        name="relu", display="ReLU", latex=r"\mathrm{ReLU}(x) = \max(0, x)",
        forward=relu_forward, derivative=relu_derivative, output_range=(0, math.inf),
        monotonic=True, smooth=False, saturates="negative", needs_exp=False, kinks=(0.0,), module=nn.ReLU,
        init=KAIMING, note="the default for hidden layers: cheap, no positive saturation, sparse",
    ),
    leaky_family(
        alpha_slope, name="leaky_relu", display="Leaky ReLU", latex=r"\mathrm{LeakyReLU}(x) = \max(\alpha x, x)",
        params=(Param("alpha", 0.01, 0.0, 1.0, 0.01, "slope for x < 0"),),
        forward=leaky_forward, derivative=leaky_derivative,
        module=nn.LeakyReLU, module_keywords={"alpha": "negative_slope"},
        note="ReLU with a small slope for x < 0 so no unit's gradient is exactly zero (Maas et al. 2013)",
    ),
    leaky_family(
        alpha_slope, name="prelu", display="PReLU",
        latex=r"\mathrm{PReLU}(x) = \max(0, x) + \alpha \min(0, x),\ \alpha \text{ learned}",
        params=(Param("alpha", 0.25, -1.0, 1.0, 0.01, "initial slope for x < 0 (learned)"),),
        forward=leaky_forward, derivative=leaky_derivative,
        module=nn.PReLU, module_keywords={"alpha": "init"}, prepare=follow_input_dtype,
        note="Leaky ReLU whose slope is learned by backprop (He et al. 2015); a negative slope makes it non-monotonic",
    ),
    leaky_family(
        rrelu_slope, name="rrelu", display="RReLU",
        latex=r"\mathrm{RReLU}(x) = \max(0, x) + a \min(0, x),\ a \sim U(l, u) \text{ in training},\ "
              r"a = \frac{l+u}{2} \text{ at eval}",
        params=(Param("lower", 1 / 8, 0.0, 1.0, 0.01, "lowest random slope"),
                Param("upper", 1 / 3, 0.0, 1.0, 0.01, "highest random slope")),
        forward=rrelu_forward, derivative=rrelu_derivative, constraint=rrelu_constraint, module=nn.RReLU,
        note="random negative slope in training, its mean at eval (shown here, and in every plot: the eval-mode "
             "function)",
    ),
    Spec(
        name="threshold", display="Threshold",
        latex=r"\mathrm{Threshold}(x) = \begin{cases}x & x > t\\ v & \text{otherwise}\end{cases}",
        params=(Param("threshold", 1.0, -3.0, 3.0, 0.1, "t: below it the output is v"),
                Param("value", 0.0, -3.0, 3.0, 0.1, "v: the replacement value")),
        forward=threshold_forward, derivative=threshold_derivative, output_range=threshold_range,
        monotonic=threshold_monotonic, smooth=False, saturates="negative", needs_exp=False, kinks=threshold_kinks,
        module=nn.Threshold, init=KAIMING,
        note="a generalised ReLU: below t, a constant v (a step down at t when v > t)",
    ),
    Spec(
        name="softplus", display="Softplus",
        latex=r"\mathrm{Softplus}(x) = \begin{cases}\frac{1}{\beta}\log(1 + e^{\beta x}) & \beta x \le t\\ "
              r"x & \beta x > t\end{cases}",
        params=(Param("beta", 1.0, 0.1, 20.0, 0.1, "sharpness"),
                Param("threshold", 20.0, 1.0, 50.0, 1.0, "t: above beta*x > t the output is x")),
        forward=softplus_forward, derivative=softplus_derivative, output_range=(0, math.inf),
        monotonic=False, smooth=False, saturates="negative", needs_exp=True, kinks=softplus_kinks, module=nn.Softplus,
        note="a smooth ReLU that keeps outputs positive (variances, rates); but PyTorch's, to save an exp, returns "
             "x above beta*x > t: a step down of log(1 + e^-t)/beta there (2e-9 at t = 20, 0.31 at t = 1), "
             "so strictly it is neither smooth nor monotonic",
    ),
)

for _entry in ENTRIES:
    register(_entry)
