"""Your own activations: infer their properties, check their gradients, and register them with the course."""
from __future__ import annotations

import copy
import functools
import math
from typing import Callable

import torch
from torch import nn

from .activations import Param, Spec, lookup, register
from .fingerprint import PROBE_GRID, digest

PROBE = torch.linspace(-8, 8, 160001, dtype=torch.float64)  # h = 1e-4: a slope change above 1e-2 per step is a kink
TAIL = torch.tensor([30.0, 100.0, 1000.0], dtype=torch.float64)  # each tail is judged at the farthest finite point
VERY_FAR = torch.tensor([1e2, 1e3, 1e6], dtype=torch.float64)  # boundedness: the farthest finite value
TAILS = {(True, True): "both", (True, False): "negative", (False, True): "positive", (False, False): "none"}


def response_digest(forward: Callable[..., torch.Tensor], derivative: Callable[..., torch.Tensor], **params) -> str:
    """A hash of forward's and derivative's values on fingerprint.PROBE_GRID (float64, out to +-1000) at params:
    names what a function computes now, whatever its code looks like (a callable object's state, a global it reads).
    """
    with torch.no_grad():
        return digest(forward(PROBE_GRID, **params), derivative(PROBE_GRID, **params))


def autograd_derivative(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A derivative function computed by autograd from forward (elementwise activations only)."""

    def derivative(x: torch.Tensor, **params) -> torch.Tensor:
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(forward(x, **params).sum(), x)
        return grad

    return derivative


def gaussian_mean(forward: Callable[..., torch.Tensor], **params) -> float:
    """E[forward(z)] for z ~ N(0, 1), by the trapezoid rule on [-12, 12] (step 1e-4) in float64."""
    z = torch.linspace(-12, 12, 240001, dtype=torch.float64)
    density = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    with torch.no_grad():
        return torch.trapezoid(forward(z, **params) * density, z).item()


def _farthest(values: torch.Tensor, what: str, keep_inf: bool = False) -> float:
    """The last entry of values (near to far) that is a number (keep_inf: or infinite); ValueError if none is."""
    usable = values[~torch.isnan(values) if keep_inf else torch.isfinite(values)]
    if not len(usable):
        raise ValueError(f"{what} is NaN or infinite at every probe point; cannot infer its properties")
    return usable[-1].item()


def _check_finite(values: torch.Tensor, what: str) -> None:
    """Raise a ValueError naming the first probe point in [-8, 8] where values is NaN or infinite."""
    bad = ~torch.isfinite(values)
    if bad.any():
        x = PROBE[bad.nonzero()[0, 0]].item()
        raise ValueError(f"{what} is {values[bad][0].item()} at x={x:g}: it must be finite on [-8, 8]")


def infer_properties(forward, derivative, **params) -> dict:
    """Numerical estimates of the registry's property flags for an elementwise function at the given parameters.

    Monotonic and smooth are judged on [-8, 8] (step 1e-4); each tail's saturation (|f'| < 1e-5) at the farthest
    of 30, 100, 1000 where the derivative is a number, so an overflow to NaN far out (1 / (1 + exp(-x)) at
    x = -1000) is not read as "not saturated"; boundedness from the farthest finite value out to 1e6 (an
    infinite value counts as unbounded). Raises ValueError if forward or derivative is not finite on [-8, 8].
    """
    with torch.no_grad():
        y, d = forward(PROBE, **params), derivative(PROBE, **params)
        _check_finite(y, "forward")
        _check_finite(d, "derivative")
        slopes = [_farthest(derivative(sign * TAIL, **params).abs(), f"the derivative at x = {sign * 1000:g}")
                  for sign in (-1, 1)]
        far = [_farthest(forward(sign * VERY_FAR, **params), f"forward at x = {sign * 1e6:g}", keep_inf=True)
               for sign in (-1, 1)]
        mean = gaussian_mean(forward, **params)
    if not math.isfinite(mean):
        raise ValueError("forward is not finite on [-12, 12], where its mean for standard normal input is computed")
    low = min(y.min().item(), *far) if min(far) > -100 else -math.inf  # beyond +-100 far out counts as unbounded
    high = max(y.max().item(), *far) if max(far) < 100 else math.inf
    return {
        "monotonic": bool((torch.diff(y) >= -1e-12).all()),
        "smooth": bool(torch.diff(d).abs().max() < 1e-2 and torch.diff(y).abs().max() < 1e-2),
        "saturates": TAILS[(slopes[0] < 1e-5, slopes[1] < 1e-5)],
        "zero_centred": abs(mean) < 0.05,
        "output_range": (low, high),
    }


class GradientCheckFailed(AssertionError):
    """An activation's backward pass, or its analytic derivative, disagrees with finite differences."""


def check_gradient(activation, derivative=None, points: int = 64, seed: int = 0, **params) -> bool:
    """torch.autograd.gradcheck of an activation (name, module or function) in float64; also against a derivative.

    Points are random in [-5, 5], kept away from 0 where kinks usually sit. A module is checked as a float64 copy
    in eval mode (the caller's module is not changed; nn.RReLU is random only in training mode). Raises
    GradientCheckFailed (an AssertionError) with the worst point on failure, ValueError for a function that
    gives different outputs on the same input (a stochastic one cannot be checked by finite differences).
    """
    if isinstance(activation, str):
        s = lookup(activation)
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
                      module: type[nn.Module] | None = None, needs_exp: bool = False,
                      replace: bool = False) -> Spec:
    """Register your own activation so the explorer, plots, LeNet, MLP and train accept it by name.

    forward(x, **params) must be elementwise. Without derivative, autograd's is used. Property flags and the
    output range are inferred numerically (infer_properties) at whatever parameters they are asked at
    (spec.flags(**params)), and remembered per parameters and per what forward computes (response_digest: a
    callable object whose state changes, or a function reading a changed global, is inferred afresh); the
    gradient is checked at the defaults before registering. module: an nn.Module class taking the parameters as
    keywords (default: the formula itself, as actlab.Activation).
    """
    if not callable(forward):
        raise TypeError("forward must be a function forward(x, **params) -> tensor")
    derivative = derivative or autograd_derivative(forward)
    defaults = {p.name: p.default for p in params}

    @functools.lru_cache(maxsize=256)
    def inferred(frozen: tuple, behaviour: str) -> dict:
        return infer_properties(forward, derivative, **dict(frozen))

    def rule(flag: str):  # remembered per parameters and per what forward computes (its state may change)
        return lambda **p: inferred(tuple(sorted(p.items())), response_digest(forward, derivative, **p))[flag]

    rule("monotonic")(**defaults)  # infer at the defaults now: a function that cannot be probed is refused here
    check_gradient(forward, derivative, **defaults)
    new = Spec(name=name, display=display or name, latex=latex or name, forward=forward, derivative=derivative,
               output_range=rule("output_range"), needs_exp=needs_exp, note=note or "a user-registered activation",
               params=tuple(params), module=module, custom=True, zero_centred=rule("zero_centred"),
               monotonic=rule("monotonic"), smooth=rule("smooth"), saturates=rule("saturates"))
    return register(new, replace=replace)
