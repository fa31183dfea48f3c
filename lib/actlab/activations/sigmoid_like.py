"""Sigmoid-like activations: the step they smooth, the sigmoid, tanh, softsign and log-sigmoid."""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import log1pexp, sigmoid_slope
from .core import KAIMING, XAVIER, Spec, register


def heaviside_forward(x: torch.Tensor) -> torch.Tensor:
    """H(x) = 1 where x > 0, else 0 (NaN included), in x's dtype; its gradient is 0 everywhere, and it stays in the
    autograd graph (the weights before it get a zero gradient, not None).

    Written as sign(x) clipped at 0 because torch.sign's derivative is 0: plain PyTorch, so torch.jit.script
    compiles and saves the module (a torch.autograd.Function would run as a Python call that cannot be saved).
    """
    return torch.nan_to_num(torch.sign(x).clamp(min=0), nan=0.0)


def heaviside_derivative(x):
    return torch.zeros_like(x)


class Heaviside(nn.Module):
    """The Heaviside step H(x) = 1 if x > 0 else 0; its gradient is 0 everywhere."""

    def forward(self, x):
        return heaviside_forward(x)


def tanh_derivative(x):
    """sech^2 x: 1 - tanh^2 x rounds to 0 from x = 19."""
    return torch.cosh(x).pow(-2)


def softsign_forward(x):
    return x / (1 + x.abs())


def softsign_derivative(x):
    return 1 / (1 + x.abs()) ** 2


def logsigmoid_forward(x):
    """-log(1 + e^-x) by logaddexp: no overflow and no cut-off."""
    return -log1pexp(-x)


def logsigmoid_derivative(x):
    return torch.sigmoid(-x)


ENTRIES = (
    Spec(
        name="heaviside", display="Heaviside step", latex=r"H(x) = \begin{cases}1 & x > 0\\ 0 & x \le 0\end{cases}",
        forward=heaviside_forward, derivative=heaviside_derivative, output_range=(0, 1),
        monotonic=True, smooth=False, saturates="both", needs_exp=False, kinks=(0.0,), module=Heaviside,
        init=KAIMING, note="the first artificial neuron (McCulloch-Pitts, perceptron); zero gradient everywhere",
    ),
    Spec(
        name="sigmoid", display="Sigmoid", latex=r"\sigma(x) = \frac{1}{1 + e^{-x}}",
        forward=torch.sigmoid, derivative=sigmoid_slope, output_range=(0, 1),
        monotonic=True, smooth=True, saturates="both", needs_exp=True, module=nn.Sigmoid, init=XAVIER,
        note="squashes to (0, 1): a firing rate or a probability; gates in LSTMs",
    ),
    Spec(
        name="tanh", display="Tanh", latex=r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
        forward=torch.tanh, derivative=tanh_derivative, output_range=(-1, 1),
        monotonic=True, smooth=True, saturates="both", needs_exp=True, module=nn.Tanh, init=XAVIER,
        note="zero-centred sigmoid, range (-1, 1); RNN hidden states",
    ),
    Spec(
        name="softsign", display="Softsign", latex=r"\mathrm{Softsign}(x) = \frac{x}{1 + |x|}",
        forward=softsign_forward, derivative=softsign_derivative, output_range=(-1, 1),
        monotonic=True, smooth=True, saturates="both", needs_exp=False, module=nn.Softsign,
        note="tanh-shaped without exp; saturates polynomially, more slowly",
    ),
    Spec(
        name="logsigmoid", display="LogSigmoid",
        latex=r"\mathrm{LogSigmoid}(x) = \log\sigma(x) = -\log(1 + e^{-x})",
        forward=logsigmoid_forward, derivative=logsigmoid_derivative, output_range=(-math.inf, 0),
        monotonic=True, smooth=True, saturates="positive", needs_exp=True, module=nn.LogSigmoid,
        note="log-probability of a sigmoid, computed without overflow (binary losses)",
    ),
)

for _entry in ENTRIES:
    register(_entry)
