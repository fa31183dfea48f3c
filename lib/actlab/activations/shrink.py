"""Shrinkage activations: Hardshrink and Softshrink (one derivative), Tanhshrink."""
from __future__ import annotations

import math

import torch
from torch import nn

from .core import Param, Spec, register

TANH_CF_DEPTH = 12  # Lambert's continued fraction for tanh, 12 levels: truncation error below 1e-20 for |x| <= 1


def hardshrink_forward(x, lambd):
    return torch.where(x.abs() > lambd, x, torch.zeros_like(x)) if lambd > 0 else x.clone()


def softshrink_forward(x, lambd):
    return torch.sign(x) * torch.clamp(x.abs() - lambd, min=0) if lambd > 0 else x.clone()


def shrink_derivative(x, lambd):
    """Slope of Hardshrink and Softshrink: 1 outside [-lambd, lambd], 0 inside; 1 everywhere at lambd = 0."""
    return (x.abs() > lambd).to(x.dtype) if lambd > 0 else torch.ones_like(x)


def shrink_smooth(lambd):
    return lambd == 0  # the identity


def shrink_kinks(lambd):
    return -lambd, lambd  # at lambd = 0, where torch.nn's gradient convention (0) sits


def tanhshrink_forward(x):
    """x - tanh(x), without the cancellation near 0: for |x| < 1, x c / (1 + c) with c = x^2 / (3 + x^2 / (5 + ...)),
    from Lambert's continued fraction tanh(x) = x / (1 + c); elsewhere x - tanh(x) loses at most 2 bits."""
    small = x.clamp(-1, 1)
    x2 = small * small
    tail = torch.full_like(x, 2 * TANH_CF_DEPTH + 1)
    for odd in range(2 * TANH_CF_DEPTH - 1, 1, -2):
        tail = odd + x2 / tail
    c = x2 / tail
    return torch.where(x.abs() < 1, small * c / (1 + c), x - torch.tanh(x))


def tanhshrink_derivative(x):
    return torch.tanh(x) ** 2


def shrink_entry(**fields) -> Spec:
    """Hardshrink or Softshrink: the shared parameter, derivative, flags and kinks; forward and texts differ."""
    return Spec(derivative=shrink_derivative, output_range=(-math.inf, math.inf), monotonic=True,
                smooth=shrink_smooth, saturates="none", needs_exp=False, kinks=shrink_kinks, **fields)


ENTRIES = (
    shrink_entry(
        name="hardshrink", display="Hardshrink",
        latex=r"\mathrm{Hardshrink}(x) = \begin{cases}x & |x| > \lambda\\ 0 & \text{otherwise}\end{cases}",
        params=(Param("lambd", 0.5, 0.0, 3.0, 0.05, "half-width of the zeroed band"),),
        forward=hardshrink_forward, module=nn.Hardshrink,
        note="zeroes small values: hard thresholding in sparse coding and denoising",
    ),
    shrink_entry(
        name="softshrink", display="Softshrink",
        latex=r"\mathrm{Softshrink}(x) = \mathrm{sign}(x)\max(|x| - \lambda, 0)",
        params=(Param("lambd", 0.5, 0.0, 3.0, 0.05, "how far values are pulled towards 0"),),
        forward=softshrink_forward, module=nn.Softshrink,
        note="soft thresholding: the proximal step of L1 (ISTA, LASSO)",
    ),
    Spec(
        name="tanhshrink", display="Tanhshrink", latex=r"\mathrm{Tanhshrink}(x) = x - \tanh(x)",
        forward=tanhshrink_forward, derivative=tanhshrink_derivative, output_range=(-math.inf, math.inf),
        monotonic=True, smooth=True, saturates="none", needs_exp=True, module=nn.Tanhshrink,
        note="flat near 0, linear far away; rare outside sparse coding",
    ),
)

for _entry in ENTRIES:
    register(_entry)
