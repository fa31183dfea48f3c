"""Formulas shared by several families, each written once in its numerically stable form, and computed constants."""
from __future__ import annotations

import functools
import math

import torch


def sigmoid_slope(x: torch.Tensor) -> torch.Tensor:
    """sigma'(x) = sigma(x) sigma(-x): unlike sigma (1 - sigma) it does not round to 0 for x > 37 (float64)."""
    return torch.sigmoid(x) * torch.sigmoid(-x)


def log1pexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x) without overflow and without a cut-off."""
    return torch.logaddexp(x, torch.zeros_like(x))


def normal_pdf(x: torch.Tensor) -> torch.Tensor:
    """The standard normal density phi(x)."""
    return torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """The standard normal CDF Phi(x) as erfc(-x / sqrt 2) / 2: 1 + erf(x / sqrt 2) cancels to 0 below x = -8."""
    return 0.5 * torch.erfc(-x / math.sqrt(2))


def step(x: torch.Tensor) -> torch.Tensor:
    """1 where x > 0, else 0, in x's dtype (the slope of ReLU; the Heaviside step)."""
    return (x > 0).to(x.dtype)


def between(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """1 where low < x < high, else 0, in x's dtype (the slope of a clip to [low, high])."""
    return ((x > low) & (x < high)).to(x.dtype)


def linear_or(x: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """x where x > 0, else the tensor negative: the shape every rectifier and exponential-linear unit shares."""
    return torch.where(x > 0, x, negative)


def slope_one_or(x: torch.Tensor, negative) -> torch.Tensor:
    """1 where x > 0, else negative (a number or a tensor): the derivative of linear_or's functions."""
    return torch.where(x > 0, torch.ones_like(x), negative)


def constant(result, /, **params):
    """result whatever the parameters: a range, kink list or constraint that does not depend on them (with partial)."""
    return result


@functools.cache
def lambert_w_of_inverse_e() -> float:
    """W(1/e) = 0.2784645..., by scipy.special.lambertw: minus the minimum of SiLU x sigma(x).

    Setting the derivative sigma(x) (1 + x sigma(-x)) to 0 gives 1 + e^x = -x; with x = -1 - w this is
    w e^w = 1/e, so w = W(1/e), and the value there is x sigma(x) = -e^x = -w. Swish's minimum is -W(1/e) / beta.
    """
    from scipy.special import lambertw

    return float(lambertw(math.exp(-1)).real)


@functools.cache
def dip_minimum(forward, derivative) -> float:
    """The minimum of a one-dip activation (GELU, tanh-GELU, Mish), computed, not typed.

    scipy.optimize.brentq finds the root of the analytic derivative in [-3, -0.25] to machine precision; the
    function is flat there, so its value is exact to rounding.
    """
    from scipy.optimize import brentq

    def at(fn, x: float) -> float:
        return fn(torch.tensor(x, dtype=torch.float64)).item()

    root = brentq(lambda x: at(derivative, x), -3.0, -0.25, xtol=1e-16)
    return at(forward, root)


def dip_bounds(forward, derivative) -> tuple[float, float]:
    """(minimum, inf): the output range of a one-dip activation without parameters."""
    return dip_minimum(forward, derivative), math.inf


def dip_range(forward, derivative):
    """The output_range rule of a one-dip activation: dip_bounds, computed when first asked, not at import."""
    return functools.partial(dip_bounds, forward, derivative)
