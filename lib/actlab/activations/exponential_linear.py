"""Exponential-linear units: ELU, SELU and CELU, one formula x or alpha (e^(x / w) - 1) for all three.

The derivative at x = 0 is the left one, alpha / w (times SELU's scale): where ELU's slope jumps (alpha != 1,
SELU) that value is a convention, torch.nn's; autograd of these formulas gives it on torch 2.13 and 2.14 alike.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import linear_or, slope_one_or
from .core import KAIMING, Init, Param, Spec, register


def selu_constants() -> tuple[float, float]:
    """SELU's alpha_01 and lambda_01, from Klambauer et al. 2017's closed forms (Sec. 3), by mpmath at 40 digits.

    alpha = -sqrt(2/pi) / (erfc(1/sqrt 2) e^(1/2) - 1); lambda = (1 - erfc(1/sqrt 2) sqrt e) sqrt(2 pi)
    (2 erfc(sqrt 2) e^2 + pi erfc(1/sqrt 2)^2 e - 2 (2 + pi) erfc(1/sqrt 2) sqrt e + pi + 2)^(-1/2): the values for
    which N(0, 1) inputs give outputs of mean 0 and variance 1. Rounded to float64 they are the 32-digit constants
    torch.nn.SELU uses; in float64 arithmetic alpha would come out 3 ulps off, hence mpmath.
    """
    import mpmath as mp

    with mp.workdps(40):
        r, e = mp.erfc(1 / mp.sqrt(2)), mp.e
        alpha = -mp.sqrt(2 / mp.pi) / (r * mp.sqrt(e) - 1)
        spread = 2 * mp.erfc(mp.sqrt(2)) * e**2 + mp.pi * r**2 * e - 2 * (2 + mp.pi) * r * mp.sqrt(e) + mp.pi + 2
        scale = (1 - r * mp.sqrt(e)) * mp.sqrt(2 * mp.pi) / mp.sqrt(spread)
        return float(alpha), float(scale)


SELU_ALPHA, SELU_SCALE = selu_constants()


def non_positive_part(x):
    """x where x <= 0, else 0, chosen by torch.where: its autograd slope is 1 at x = 0 on every torch release.

    x.clamp(max=0) is not used: its slope at the bound is a convention that changed (1 under torch 2.13, 0 under
    2.14.1). Zeroing x > 0 before the exponential keeps e^x from overflowing on the branch torch.where discards,
    whose gradient would otherwise be 0 * inf = NaN.
    """
    return torch.where(x > 0, torch.zeros_like(x), x)


def exp_linear(x, alpha, width):
    """x for x > 0, alpha (e^(x / width) - 1) for x <= 0: ELU (width 1), CELU (width alpha), SELU (scaled ELU).

    Autograd's slope at x = 0 is the left one, alpha / width (ELU alpha, CELU 1), as exp_linear_slope states.
    """
    return linear_or(x, alpha * torch.expm1(non_positive_part(x) / width))


def exp_linear_slope(x, alpha, width):
    """1 for x > 0, alpha / width e^(x / width) for x <= 0: at the kink x = 0 the left slope alpha / width, the
    convention of torch.nn.ELU and torch.nn.CELU's backward (ELU's slope jumps there unless alpha = 1)."""
    return slope_one_or(x, alpha / width * torch.exp(non_positive_part(x) / width))


def elu_forward(x, alpha):
    return exp_linear(x, alpha, 1.0)


def elu_derivative(x, alpha):
    return exp_linear_slope(x, alpha, 1.0)


def elu_range(alpha):
    return -alpha, math.inf


def elu_smooth(alpha):
    return alpha == 1  # the slope jumps from alpha to 1 at 0 otherwise


def elu_kinks(alpha):
    return () if alpha == 1 else (0.0,)


def selu_forward(x):
    return SELU_SCALE * exp_linear(x, SELU_ALPHA, 1.0)


def selu_derivative(x):
    return SELU_SCALE * exp_linear_slope(x, SELU_ALPHA, 1.0)


def celu_forward(x, alpha):
    return exp_linear(x, alpha, alpha)


def celu_derivative(x, alpha):
    return exp_linear_slope(x, alpha, alpha)


ENTRIES = (
    Spec(
        name="elu", display="ELU",
        latex=r"\mathrm{ELU}(x) = \begin{cases}x & x > 0\\ \alpha(e^{x} - 1) & x \le 0\end{cases}",
        params=(Param("alpha", 1.0, 0.0, 5.0, 0.05, "negative saturation value is -alpha"),),
        forward=elu_forward, derivative=elu_derivative, output_range=elu_range,
        monotonic=True, smooth=elu_smooth, saturates="negative", needs_exp=True, kinks=elu_kinks,
        module=nn.ELU, init=KAIMING,
        note="ReLU for x > 0, saturates smoothly to -alpha: mean output closer to zero (Clevert et al. 2015); "
             "its slope jumps from alpha to 1 at 0 unless alpha = 1 (at 0 itself the derivative is taken as alpha, the "
             "left slope, as torch.nn.ELU's backward does)",
    ),
    Spec(
        name="selu", display="SELU",
        latex=r"\mathrm{SELU}(x) = \lambda \begin{cases}x & x > 0\\ \alpha(e^{x} - 1) & x \le 0\end{cases},\ "
              rf"\lambda \approx {SELU_SCALE:.4f},\ \alpha \approx {SELU_ALPHA:.4f}",
        forward=selu_forward, derivative=selu_derivative, output_range=(-SELU_SCALE * SELU_ALPHA, math.inf),
        monotonic=True, smooth=False, saturates="negative", needs_exp=True, kinks=(0.0,), module=nn.SELU,
        init=Init("lecun", "linear", source="Klambauer et al. 2017: Var[w] = 1 / fan_in; torch.nn.init."
                                            "calculate_gain's documentation: nonlinearity='linear' for SELU"),
        note="scaled ELU whose constants keep mean 0 and variance 1 through depth (Klambauer et al. 2017); its slope "
             "jumps from lambda alpha to lambda at 0 (at 0 itself taken as lambda alpha, the left slope)",
    ),
    Spec(
        name="celu", display="CELU", latex=r"\mathrm{CELU}(x) = \max(0, x) + \min(0, \alpha(e^{x/\alpha} - 1))",
        params=(Param("alpha", 1.0, 0.05, 5.0, 0.05, "negative saturation value is -alpha"),),
        forward=celu_forward, derivative=celu_derivative, output_range=elu_range,
        monotonic=True, smooth=True, saturates="negative", needs_exp=True, module=nn.CELU, init=KAIMING,
        note="ELU rescaled so its derivative is continuous at 0 for every alpha (Barron 2017)",
    ),
)

for _entry in ENTRIES:
    register(_entry)
