"""Your own activations: infer their properties, check their gradients, and register them with the course."""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn

from .demos import gaussian_mean
from .registry import Param, Spec, register, spec

PROBE = torch.linspace(-8, 8, 16001, dtype=torch.float64)
FAR = torch.tensor([-1000.0, 1000.0], dtype=torch.float64)  # where the saturation of each tail is judged
VERY_FAR = torch.tensor([-1e6, 1e6], dtype=torch.float64)  # where boundedness is judged


def autograd_derivative(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A derivative function computed by autograd from forward (elementwise activations only)."""

    def derivative(x: torch.Tensor, **params) -> torch.Tensor:
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(forward(x, **params).sum(), x)
        return grad

    return derivative


def infer_properties(forward, derivative, **params) -> dict:
    """Numerical estimates of the registry's property flags for an elementwise function."""
    with torch.no_grad():
        y = forward(PROBE, **params)
        d = derivative(PROBE, **params)
        far = forward(VERY_FAR, **params)
        d_far = derivative(FAR, **params).abs()
    tails = {(True, True): "both", (True, False): "negative", (False, True): "positive", (False, False): "none"}
    low = y.min().item() if abs(far[0].item()) < 100 else -math.inf
    high = y.max().item() if abs(far[1].item()) < 100 else math.inf
    return {
        "monotonic": bool((torch.diff(y) >= -1e-12).all()),
        "smooth": bool(torch.diff(d).abs().max() < 1e-2 and torch.diff(y).abs().max() < 1e-2),
        "saturates": tails[(d_far[0].item() < 1e-5, d_far[1].item() < 1e-5)],
        "zero_centred": abs(gaussian_mean(forward, **params)) < 0.05,
        "output_range": (min(low, far[0].item()) if math.isfinite(low) else low,
                         max(high, far[1].item()) if math.isfinite(high) else high),
    }


class GradientCheckFailed(AssertionError):
    """An activation's backward pass, or its analytic derivative, disagrees with finite differences."""


def check_gradient(activation, derivative=None, points: int = 64, seed: int = 0, **params) -> bool:
    """torch.autograd.gradcheck of an activation (name, module or function) in float64; also against derivative if given.

    Points are random in [-5, 5], kept away from 0 where kinks usually sit. A module is checked as a float64 copy
    in eval mode (the caller's module is not changed; nn.RReLU is random only in training mode). Raises
    GradientCheckFailed (an AssertionError) with the worst point on failure, ValueError for a function that
    gives different outputs on the same input (a stochastic one cannot be checked by finite differences).
    """
    if isinstance(activation, str):
        s = spec(activation)
        params = s.resolve(**params)
        fn, derivative = (lambda x: s.forward(x, **params)), (derivative or s.derivative)
    elif isinstance(activation, nn.Module):
        fn = copy.deepcopy(activation).double().eval()
    else:
        fn = lambda x: activation(x, **params)  # noqa: E731
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(points, generator=gen, dtype=torch.float64) * 10 - 5
    x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_(True)
    with torch.no_grad():
        first, second = fn(x.detach().clone()), fn(x.detach().clone())
    if not torch.equal(first.isnan(), second.isnan()) or not torch.equal(first.nan_to_num(), second.nan_to_num()):
        raise ValueError(f"check_gradient: {activation!r} gives different outputs for the same input (it is "
                         "stochastic, e.g. a module in training mode); check a deterministic version")
    try:
        torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)
    except RuntimeError as exc:
        raise GradientCheckFailed("gradcheck failed: the backward pass does not match finite differences.\n"
                                  f"{exc}") from None
    if derivative is not None:
        (grad,) = torch.autograd.grad(fn(x).sum(), x)
        expected = derivative(x.detach(), **params)
        if not torch.allclose(grad, expected, atol=1e-7, rtol=1e-5):
            worst = (grad - expected).abs().argmax()
            raise GradientCheckFailed(f"analytic derivative disagrees with autograd: at x={x[worst].item():.4f} "
                                      f"autograd gives {grad[worst].item():.6g}, "
                                      f"the derivative {expected[worst].item():.6g}")
    return True


def custom_activation(name: str, forward: Callable[..., torch.Tensor], derivative: Callable | None = None,
                      params: tuple[Param, ...] = (), display: str | None = None, latex: str = "", note: str = "",
                      module: Callable[..., nn.Module] | None = None, needs_exp: bool = False,
                      replace: bool = False) -> Spec:
    """Register your own activation so the explorer, plots, LeNet, MLP and train accept it by name.

    forward(x, **params) must be elementwise. Without derivative, autograd's is used. Property flags are
    inferred numerically at the default parameters; the gradient is checked before registering.
    """
    if not callable(forward):
        raise TypeError("forward must be a function forward(x, **params) -> tensor")
    derivative = derivative or autograd_derivative(forward)
    defaults = {p.name: p.default for p in params}
    props = infer_properties(forward, derivative, **defaults)
    check_gradient(forward, derivative, **defaults)
    low, high = props.pop("output_range")
    new = Spec(name=name, display=display or name, latex=latex or name, forward=forward, derivative=derivative,
               output_range=lambda **p: (low, high), needs_exp=needs_exp, note=note or "a user-registered activation",
               params=tuple(params), module=module, custom=True, **props)
    return register(new, replace=replace)
