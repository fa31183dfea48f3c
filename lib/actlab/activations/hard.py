"""Hard (piecewise-linear) activations, all from one clip formula: Hardtanh, ReLU6, Hardsigmoid and Hardswish."""
from __future__ import annotations

import functools
import math

import torch
from torch import nn

from .common import between
from .core import KAIMING, Param, Spec, register


def clip_forward(x, min_val, max_val):
    """min(max(x, min_val), max_val)."""
    return torch.clamp(x, min_val, max_val)


def clip_derivative(x, min_val, max_val):
    return between(x, min_val, max_val)


def clip_range(min_val, max_val):
    return min_val, max_val


def clip_kinks(min_val, max_val):
    return min_val, max_val


def hardtanh_constraint(min_val, max_val):
    return None if min_val < max_val else f"min_val={min_val:g} must be below max_val={max_val:g}"


def hardsigmoid_forward(x):
    return clip_forward(x + 3, 0.0, 6.0) / 6


def hardsigmoid_derivative(x):
    return clip_derivative(x, -3.0, 3.0) / 6


def hardswish_forward(x):
    return x * clip_forward(x + 3, 0.0, 6.0) / 6


def hardswish_derivative(x):
    """Product rule on x hardsigmoid(x); at -3 and 3, torch.nn's conventions 0 and 1."""
    inner = torch.where(x >= 3, torch.ones_like(x), (2 * x + 3) / 6)
    return torch.where(x <= -3, torch.zeros_like(x), inner)


RELU6 = {"min_val": 0.0, "max_val": 6.0}

ENTRIES = (
    Spec(
        name="hardtanh", display="Hardtanh", latex=r"\mathrm{Hardtanh}(x) = \min(\max(x, a), b)",
        params=(Param("min_val", -1.0, -5.0, 5.0, 0.1, "lower clip a"),
                Param("max_val", 1.0, -5.0, 5.0, 0.1, "upper clip b")),
        forward=clip_forward, derivative=clip_derivative, output_range=clip_range, kinks=clip_kinks,
        monotonic=True, smooth=False, saturates="both", needs_exp=False, constraint=hardtanh_constraint,
        module=nn.Hardtanh,
        note="piecewise-linear tanh: a cheap clip (zero-centred only when the clip is near-symmetric)",
    ),
    Spec(
        name="relu6", display="ReLU6", latex=r"\mathrm{ReLU6}(x) = \min(\max(0, x), 6)",
        forward=functools.partial(clip_forward, **RELU6), derivative=functools.partial(clip_derivative, **RELU6),
        output_range=(0, 6), kinks=(0.0, 6.0), monotonic=True, smooth=False, saturates="both", needs_exp=False,
        module=nn.ReLU6, init=KAIMING, note="ReLU capped at 6, friendly to low-precision arithmetic (MobileNet)",
    ),
    Spec(
        name="hardsigmoid", display="Hardsigmoid", latex=r"\mathrm{Hardsigmoid}(x) = \mathrm{ReLU6}(x + 3)/6",
        forward=hardsigmoid_forward, derivative=hardsigmoid_derivative, output_range=(0, 1), kinks=(-3.0, 3.0),
        monotonic=True, smooth=False, saturates="both", needs_exp=False, module=nn.Hardsigmoid,
        note="piecewise-linear sigmoid for mobile networks (MobileNetV3)",
    ),
    Spec(
        name="hardswish", display="Hardswish", latex=r"\mathrm{Hardswish}(x) = x\,\mathrm{ReLU6}(x + 3)/6",
        forward=hardswish_forward, derivative=hardswish_derivative,
        output_range=(-3 / 8, math.inf),  # x (x + 3) / 6 is least at x = -3/2: -3/8, exactly
        kinks=(-3.0, 3.0), monotonic=False, smooth=False, saturates="negative", needs_exp=False, module=nn.Hardswish,
        note="piecewise Swish without exp (MobileNetV3, Howard et al. 2019)",
    ),
)

for _entry in ENTRIES:
    register(_entry)
