"""Gated activations x g(x): GELU (g = Phi) and its tanh approximation, the Swish family (g = sigma(beta x): SiLU,
Swish, the sigmoid GELU approximation) and Mish (g = tanh(softplus x)).

Init: torch.nn.init.calculate_gain defines no gain for them. The course pairs them with Xavier (gain 1, Glorot and
Bengio 2010), as for the other smooth activations; notebook 08 measures that choice against Kaiming's sqrt 2.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import nn

from .common import dip_range, lambert_w_of_inverse_e, log1pexp, normal_cdf, normal_pdf, sigmoid_slope
from .core import Param, Spec, register

QUICK_GELU_BETA = 1.702  # Hendrycks and Gimpel 2016, Sec. 2: GELU(x) ~ x sigma(1.702 x)
GELU_TANH_CUBIC = 0.044715  # Hendrycks and Gimpel 2016, Sec. 2: 0.5 x (1 + tanh[sqrt(2/pi) (x + 0.044715 x^3)])
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu_forward(x):
    return x * normal_cdf(x)


def gelu_derivative(x):
    """Phi(x) + x phi(x) (the slide's phi(x) + x phi(x) is wrong)."""
    return normal_cdf(x) + x * normal_pdf(x)


def gelu_tanh_inner(x):
    return SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x**3)


def gelu_tanh_forward(x):
    """x (1 + tanh u) / 2 written as x sigma(2u): 1 + tanh u cancels to 0 for x below about -6."""
    return x * torch.sigmoid(2 * gelu_tanh_inner(x))


def gelu_tanh_derivative(x):
    inner_slope = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_CUBIC * x**2)
    return torch.sigmoid(2 * gelu_tanh_inner(x)) + 2 * x * inner_slope * sigmoid_slope(2 * gelu_tanh_inner(x))


def mish_forward(x):
    return x * torch.tanh(log1pexp(x))


def mish_derivative(x):
    return torch.tanh(log1pexp(x)) + x * torch.cosh(log1pexp(x)).pow(-2) * torch.sigmoid(x)


# ----------------------------------------------------------------------------- the Swish family: x sigma(beta x)

def swish_forward(x, beta):
    return x * torch.sigmoid(beta * x)


def swish_derivative(x, beta):
    return torch.sigmoid(beta * x) + beta * x * sigmoid_slope(beta * x)


def swish_range(beta):
    """Least value -W(1/e) / beta (see lambert_w_of_inverse_e); beta = 0 is x / 2, unbounded."""
    return (-lambert_w_of_inverse_e() / beta if beta > 0 else -math.inf), math.inf


def swish_monotonic(beta):
    return beta == 0


def swish_saturates(beta):
    return "negative" if beta > 0 else "none"


class Swish(nn.Module):
    """Swish x * sigmoid(beta x); beta = 1 is SiLU, 1.702 the sigmoid GELU approximation, large approaches ReLU."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)  # swish_forward written out: TorchScript types beta as a float here

    def extra_repr(self):
        return f"beta={self.beta:g}"


class QuickGELU(Swish):
    """The sigmoid approximation of GELU, x * sigmoid(1.702 x)."""

    def __init__(self):
        super().__init__(QUICK_GELU_BETA)


def swish_family(beta: float | None, **fields) -> Spec:
    """A Swish entry: beta a parameter (beta=None) or fixed at a value (the entry then has no parameters)."""
    rules = {"forward": swish_forward, "derivative": swish_derivative, "output_range": swish_range,
             "monotonic": swish_monotonic, "saturates": swish_saturates}
    if beta is not None:
        rules = {key: functools.partial(rule, beta=beta) for key, rule in rules.items()}
    return Spec(**rules, smooth=True, needs_exp=True, **fields)


ENTRIES = (
    Spec(
        name="gelu", display="GELU", latex=r"\mathrm{GELU}(x) = x\,\Phi(x)",
        forward=gelu_forward, derivative=gelu_derivative, output_range=dip_range(gelu_forward, gelu_derivative),
        monotonic=False, smooth=True, saturates="negative", needs_exp=True, module=nn.GELU,
        note="x weighted by the probability a standard normal is below it; BERT, GPT (Hendrycks & Gimpel 2016)",
    ),
    Spec(
        name="gelu_tanh", display="GELU (tanh approx.)",
        latex=r"\tfrac{1}{2}x\left(1 + \tanh\left[\sqrt{2/\pi}\,(x + 0.044715x^{3})\right]\right)",
        forward=gelu_tanh_forward, derivative=gelu_tanh_derivative,
        output_range=dip_range(gelu_tanh_forward, gelu_tanh_derivative),
        monotonic=False, smooth=True, saturates="negative", needs_exp=True,
        module=nn.GELU, module_fixed={"approximate": "tanh"},
        note="the approximation GPT-2 and BERT's original code used",
    ),
    swish_family(
        QUICK_GELU_BETA, name="quick_gelu", display="GELU (sigmoid approx.)", latex=r"x\,\sigma(1.702\,x)",
        module=QuickGELU, note="the cheapest GELU approximation (used in CLIP)",
    ),
    swish_family(
        1.0, name="silu", display="SiLU", latex=r"\mathrm{SiLU}(x) = x\,\sigma(x)", module=nn.SiLU,
        note="Swish with beta = 1; EfficientNet, many vision and language models",
    ),
    swish_family(
        None, name="swish", display="Swish", latex=r"\mathrm{Swish}_\beta(x) = x\,\sigma(\beta x)",
        params=(Param("beta", 1.0, 0.0, 20.0, 0.1, "sharpness: 0 gives x/2, 1 gives SiLU, large approaches ReLU"),),
        module=Swish,
        note="found by automated search (Ramachandran et al. 2017); interpolates between linear and ReLU",
    ),
    Spec(
        name="mish", display="Mish", latex=r"\mathrm{Mish}(x) = x \tanh(\log(1 + e^{x}))",
        forward=mish_forward, derivative=mish_derivative, output_range=dip_range(mish_forward, mish_derivative),
        monotonic=False, smooth=True, saturates="negative", needs_exp=True, module=nn.Mish,
        note="smooth, non-monotonic, like Swish (Misra 2019); YOLOv4",
    ),
)

for _entry in ENTRIES:
    register(_entry)
