"""Signal propagation at initialisation (notebook 03): the mean-field recursion of a deep net's pre-activation
variance (Poole et al. 2016), its fixed point, the spread a finite width adds, and the variance-preserving gain
as a teaching figure beside the library's one initialisation rule (models.kaiming_gain)."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..activations import lookup
from ..checks import check_number
from ..custom import gaussian_mean
from ..models import MLP
from ..seeding import seeded


def _normal_grid() -> tuple[torch.Tensor, torch.Tensor]:
    """Points z on [-10, 10] (step 0.001, float64) and the N(0, 1) density there, for the trapezoid rule (the
    density beyond 10 is below 1e-22)."""
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    return z, torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def variance_preserving_gain(name: str) -> float:
    """A teaching figure (notebook 03), not an initialisation rule: the gain g with g^2 E[f(z)^2] = 1 for z ~ N(0, 1),
    so that weights of variance g^2 / fan_in give the next layer's pre-activations unit variance when this layer's
    are N(0, 1) (the mean-field fixed point at q = 1, Poole et al. 2016). ReLU: E[relu(z)^2] = 1/2, g = sqrt(2); tanh:
    about 1.59 where PyTorch's calculate_gain says 5/3. The library's one init gain rule is models.kaiming_gain."""
    forward = lookup(name).forward
    return 1 / math.sqrt(gaussian_mean(lambda z: forward(z) ** 2))


def preactivation_variance(activation: str, gain: float, depth: int = 30, width: int = 256, n: int = 1000,
                           seed: int = 0) -> np.ndarray:
    """Variance of each layer's pre-activations (layer 1 to depth) when N(0, 1) inputs pass a fresh MLP whose
    weights are N(0, gain^2 / fan_in) with zero biases (LeCun-style scaling times gain)."""
    check_number("gain", gain, 0, low_open=True)
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        model = MLP(check_number("depth", depth, 1, integer=True), check_number("width", width, 1, integer=True),
                    activation, in_features=width, out_features=1)
    h = torch.randn(check_number("n", n, 2, integer=True), width, generator=gen)
    variances = []
    with torch.no_grad():
        for module in model.hidden:
            if isinstance(module, nn.Linear):
                module.weight.normal_(0, gain / math.sqrt(module.weight.shape[1]), generator=gen)
                module.bias.zero_()
                h = module(h)
                variances.append(h.var().item())
            else:
                h = module(h)
    return np.array(variances)


def mean_field_variances(name: str, gain: float, depth: int = 30) -> np.ndarray:
    """Pre-activation variance of layers 1 to depth predicted for an infinitely wide version of
    preactivation_variance's MLP (N(0, 1) inputs, weights N(0, gain^2 / fan_in), zero biases): q_1 = gain^2 and
    q_(l+1) = gain^2 E[f(sqrt(q_l) z)^2], z ~ N(0, 1) (the mean-field recursion of Poole et al. 2016)."""
    check_number("gain", gain, 0, low_open=True)
    forward = lookup(name).forward
    z, density = _normal_grid()
    q = [gain**2]
    with torch.no_grad():
        for _ in range(check_number("depth", depth, 1, integer=True) - 1):
            q.append(gain**2 * torch.trapezoid(forward(math.sqrt(q[-1]) * z) ** 2 * density, z).item())
    return np.array(q)


def variance_fixed_point(name: str, gain: float, iterations: int = 100) -> float:
    """The variance q* the mean-field recursion settles at after `iterations` layers (0: the signal dies out)."""
    return float(mean_field_variances(name, gain, check_number("iterations", iterations, 1, integer=True) + 1)[-1])


def finite_width_spread(name: str, gain: float, depth: int = 30, width: int = 256) -> float:
    """Standard deviation of log2(measured / mean-field variance) at layer `depth` for a finite width.

    Each layer's variance is estimated from `width` units, so q_(l+1) / q_l carries a relative error of variance
    (kappa_l - 1) / width, kappa_l = E[f^4] / E[f^2]^2 at the layer's variance; the errors compound like a random
    walk over depth - 1 layers (an upper bound where the mean-field map pulls deviations back, as for tanh).
    """
    check_number("depth", depth, 1, integer=True)
    check_number("width", width, 1, integer=True)
    forward = lookup(name).forward
    z, density = _normal_grid()
    total = 0.0
    with torch.no_grad():
        for q in mean_field_variances(name, gain, depth)[:-1]:
            a = forward(math.sqrt(q) * z)
            kappa = torch.trapezoid(a**4 * density, z) / torch.trapezoid(a**2 * density, z) ** 2
            total += (kappa.item() - 1) / width
    return math.sqrt(total) / math.log(2)
