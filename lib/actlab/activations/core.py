"""The registry's building blocks: Param, Init, Spec (one entry), the table itself, and get_activation."""
from __future__ import annotations

import difflib
import functools
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .common import constant

TAILS = ("both", "negative", "positive", "none")
FLAGS = ("zero_centred", "monotonic", "smooth", "saturates")
ZERO_CENTRED_TOLERANCE = 0.05  # |E[f(z)]| below this, z ~ N(0, 1), counts as zero-centred
SCHEMES = ("kaiming", "xavier", "lecun")


@dataclass(frozen=True)
class Param:
    """One parameter of an activation: default, closed valid range and slider step."""

    name: str
    default: float
    low: float
    high: float
    step: float
    doc: str = ""

    def check(self, value, owner: str) -> float:
        """Return value as a Python float, or raise a ValueError naming the parameter and its range.

        Accepts any real number, NumPy scalars included (np.int64, np.float32: numbers.Real); a bool (Python's or
        NumPy's) or a non-number raises TypeError, NaN, infinities and values outside [low, high] ValueError.
        """
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{owner}: parameter {self.name!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}: parameter {self.name!r} must be finite, got {value}")
        if not self.low <= value <= self.high:
            raise ValueError(
                f"{owner}: parameter {self.name!r}={value:g} is out of range; "
                f"valid range is [{self.low:g}, {self.high:g}]"
            )
        return value


@dataclass(frozen=True)
class Init:
    """The weight initialisation paired with an activation (read by models.recommended_init and init_linear).

    scheme: 'kaiming', 'xavier' or 'lecun' (models.INITS). nonlinearity: the name whose
    torch.nn.init.calculate_gain gives the gain; slope(**params): the negative slope a it takes for 'leaky_relu'
    (gain sqrt(2 / (1 + a^2)), He et al. 2015, eq. 15). source: where the pairing comes from.
    """

    scheme: str
    nonlinearity: str = "linear"
    slope: Callable[..., float] | None = None
    source: str = ""

    def __post_init__(self):
        """Refuse a scheme models cannot apply."""
        if self.scheme not in SCHEMES:
            raise ValueError(f"Init: scheme must be one of {SCHEMES}, got {self.scheme!r}")

    def negative_slope(self, **params) -> float:
        """The negative slope a at the given (resolved) parameters; 0 without a slope rule."""
        return float(self.slope(**params)) if self.slope else 0.0

    def gain(self, **params) -> float:
        """torch.nn.init.calculate_gain(nonlinearity, a) at the given (resolved) parameters."""
        return nn.init.calculate_gain(self.nonlinearity, self.negative_slope(**params) if self.slope else None)


KAIMING = Init("kaiming", "relu", source="He et al. 2015: Var[w] = 2 / fan_in keeps the signal through rectifiers")
XAVIER = Init("xavier", "linear", source="Glorot and Bengio 2010: Var[w] = 2 / (fan_in + fan_out), gain 1, derived "
                                         "for activations with slope 1 at 0 (tanh; used for sigmoid alike)")


@dataclass(frozen=True, eq=False)
class Spec:
    """Everything the course knows about one activation function.

    Property flags hold at the parameters they are asked at (tests/test_registry.py compares them with
    infer_properties and the mpmath oracle at the defaults and at each parameter's ends): zero_centred: mean
    output for standard normal input is within 0.05 of 0; monotonic: never decreasing; smooth: continuous with a
    continuous derivative; saturates: which tails have a vanishing derivative ('both', 'negative', 'positive',
    'none'); bounded (derived): finite output range on both sides; needs_exp: computing it takes exp, tanh, erf
    or log.

    A flag, output_range or kinks is given as a value or as a function of the parameters (e.g. a monotonic rule
    alpha -> alpha >= 0); zero_centred=None computes it by quadrature. The flag attributes (spec.monotonic, ...)
    are the values at the default parameters; spec.flags(**params) gives them at any valid parameters; methods
    spec.output_range(**params) and spec.kinks(**params) answer for any parameters.

    module: the nn.Module class get_activation builds (None: Activation, the registry's own formula), called with
    the parameters, renamed by module_keywords (parameter -> the class's keyword) plus module_fixed keywords;
    prepare(module) adjusts the instance (PReLU: follow the input's dtype). init: the recommended initialisation.
    """

    name: str
    display: str
    latex: str
    note: str
    forward: Callable[..., torch.Tensor]
    derivative: Callable[..., torch.Tensor]
    output_range: tuple[float, float] | Callable[..., tuple[float, float]]
    monotonic: bool | Callable[..., bool]
    smooth: bool | Callable[..., bool]
    saturates: str | Callable[..., str]
    needs_exp: bool
    zero_centred: bool | Callable[..., bool] | None = None
    params: tuple[Param, ...] = ()
    kinks: tuple[float, ...] | Callable[..., tuple[float, ...]] = ()
    constraint: Callable[..., str | None] | None = None  # None: every combination of valid values is allowed
    module: type[nn.Module] | None = None
    module_keywords: dict = field(default_factory=dict)
    module_fixed: dict = field(default_factory=dict)
    prepare: Callable[[nn.Module], nn.Module] | None = None
    init: Init = XAVIER
    custom: bool = False
    rules: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        """Keep each flag's rule; the attribute becomes its value at the default parameters.

        Raises TypeError when module is not an nn.Module class (models find activations by their class).
        """
        if self.module is not None and not (isinstance(self.module, type) and issubclass(self.module, nn.Module)):
            raise TypeError(f"{self.name}: module must be an nn.Module class, got {self.module!r}")
        for fixed in ("output_range", "kinks"):
            if not callable(getattr(self, fixed)):
                object.__setattr__(self, fixed, functools.partial(constant, tuple(getattr(self, fixed))))
        if self.constraint is None:
            object.__setattr__(self, "constraint", functools.partial(constant, None))
        for flag in FLAGS:
            rule = getattr(self, flag)
            if flag == "zero_centred" and rule is None:
                rule = self._zero_centred
            if callable(rule):
                self.rules[flag] = rule
                object.__setattr__(self, flag, rule(**self.defaults()))

    def _zero_centred(self, **params) -> bool:
        """|E[f(z)]| < ZERO_CENTRED_TOLERANCE for z ~ N(0, 1), by the trapezoid rule on [-12, 12] (h = 1e-3)."""
        z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
        with torch.no_grad():
            density = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            mean = torch.trapezoid(self.forward(z, **params) * density, z).item()
        return abs(mean) < ZERO_CENTRED_TOLERANCE

    def flags(self, **params) -> dict:
        """The property flags at the given parameters (defaults for those left out), plus bounded and output_range.

        Raises ValueError for unknown or out-of-range parameters.
        """
        values = self.resolve(**params)
        flags = {flag: self.rules[flag](**values) if flag in self.rules else getattr(self, flag) for flag in FLAGS}
        low, high = self.output_range(**values)
        return {**flags, "bounded": math.isfinite(low) and math.isfinite(high), "output_range": (low, high),
                "needs_exp": self.needs_exp}

    @property
    def bounded(self) -> bool:
        """True when the output range is finite on both sides (at the default parameters)."""
        low, high = self.output_range(**self.defaults())
        return math.isfinite(low) and math.isfinite(high)

    @property
    def torch_name(self) -> str | None:
        """The torch.nn class name when the entry builds a plain torch.nn module from its parameters alone."""
        plain = self.module is not None and self.module.__module__.startswith("torch.nn") and not self.module_fixed
        return self.module.__name__ if plain else None

    def defaults(self) -> dict[str, float]:
        """The default value of every parameter."""
        return {p.name: p.default for p in self.params}

    def resolve(self, **params) -> dict[str, float]:
        """Defaults overridden by params, each checked against its valid range (ValueError/TypeError otherwise)."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                             f"valid parameters: {valid}")
        values = self.defaults()
        for key, value in params.items():
            values[key] = known[key].check(value, self.name)
        problem = self.constraint(**values)
        if problem:
            raise ValueError(f"{self.name}: {problem}")
        return values

    def label(self, **params) -> str:
        """Display name with the parameter values, e.g. 'Leaky ReLU (alpha=0.1)'."""
        values = self.resolve(**params)
        if not values:
            return self.display
        return f"{self.display} (" + ", ".join(f"{k}={v:g}" for k, v in values.items()) + ")"

    def build(self, **params) -> nn.Module:
        """A fresh module of this activation at the given parameters (checked first), in training mode."""
        values = self.resolve(**params)
        if self.module is None:
            return Activation(self, **values)
        keywords = {self.module_keywords.get(k, k): v for k, v in values.items()}
        module = self.module(**keywords, **self.module_fixed)
        return self.prepare(module) if self.prepare else module


class Activation(nn.Module):
    """An activation computed from its registry formula (used where torch.nn has no module)."""

    def __init__(self, name, **params):
        super().__init__()
        self.spec = lookup(name)
        self.params = self.spec.resolve(**params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec.forward(x, **self.params)

    def extra_repr(self) -> str:
        return ", ".join([self.spec.name] + [f"{k}={v:g}" for k, v in self.params.items()])


_REGISTRY: dict[str, Spec] = {}
_INDEX: dict[str, str] = {}  # normalised name, torch.nn name or display name -> entry name; rebuilt at registration


def _key(name: str) -> str:
    """Normalise a name: case, spaces, hyphens and underscores do not matter."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _rebuild_index() -> None:
    """The alias index: entry names first, then torch.nn names, then display names (an earlier spelling wins)."""
    _INDEX.clear()
    for attribute in ("name", "torch_name", "display"):
        for entry in _REGISTRY.values():
            spelling = getattr(entry, attribute)
            if spelling:
                _INDEX.setdefault(_key(spelling), entry.name)


def register(entry: Spec, replace: bool = False) -> Spec:
    """Add an entry to the registry (replace=True to overwrite one of the same name); returns it.

    Raises ValueError for a malformed name, an unknown saturates value, a clash without replace, or a parameter
    default outside its range.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", entry.name):
        raise ValueError(f"activation name {entry.name!r} must be lower-case letters, digits and underscores")
    if entry.saturates not in TAILS:
        raise ValueError(f"{entry.name}: saturates must be one of {TAILS}, got {entry.saturates!r}")
    clash = [name for name in _REGISTRY if _key(name) == _key(entry.name)]
    if clash and not replace:
        raise ValueError(f"activation {entry.name!r} is already registered; pass replace=True to overwrite it")
    for p in entry.params:
        p.check(p.default, entry.name)
    for old in clash:
        del _REGISTRY[old]
    _REGISTRY[entry.name] = entry
    _rebuild_index()
    return entry


def unregister(name: str) -> None:
    """Remove a user-registered activation; built-in entries stay (ValueError)."""
    entry = lookup(name)
    if not entry.custom:
        raise ValueError(f"{entry.name!r} is built in and cannot be removed")
    del _REGISTRY[entry.name]
    _rebuild_index()


def activation_names() -> list[str]:
    """Names of every registered activation, in registration order (the families in teaching order)."""
    return list(_REGISTRY)


def lookup(name) -> Spec:
    """The registry entry of an activation (any spelling of its name, torch.nn name or display name).

    A Spec is returned as it is. Raises TypeError for a non-string, ValueError suggesting close matches for an
    unknown name.
    """
    if isinstance(name, Spec):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a string, got {type(name).__name__}")
    if _key(name) in _INDEX:
        return _REGISTRY[_INDEX[_key(name)]]
    close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=3, cutoff=0.5)
    close += [_INDEX[k] for k in difflib.get_close_matches(_key(name), list(_INDEX), n=3, cutoff=0.6)]
    hint = f" Did you mean {', '.join(repr(c) for c in dict.fromkeys(close))}?" if close else ""
    raise ValueError(f"unknown activation {name!r}.{hint} Known: {', '.join(_REGISTRY)}")


def get_activation(activation, **params) -> nn.Module:
    """A fresh nn.Module: from a registry name (or Spec) with its parameters, or from a zero-argument factory.

    From a name: torch.nn's own module where it has one. Like every new torch.nn module it is in training mode:
    for RReLU that means a random negative slope on each call; call .eval() for the deterministic function (the
    plots and the explorer do). Modules follow the input's dtype (float32 or float64), PReLU's learned slope
    included. Raises ValueError for an unknown name or a parameter out of its range; TypeError for a module
    instance (a shared instance would share trainable parameters), parameters given with a factory, or a factory
    that does not return an nn.Module.
    """
    if isinstance(activation, (str, Spec)):
        return lookup(activation).build(**params)
    if not callable(activation) or isinstance(activation, nn.Module):
        raise TypeError("activation must be a registry name or a zero-argument factory returning an nn.Module "
                        f"(got {activation!r}); a shared module instance would share trainable parameters")
    if params:
        raise TypeError(f"parameters {sorted(params)} go with a registry name, not with a factory")
    module = activation()
    if not isinstance(module, nn.Module):
        raise TypeError(f"activation factory must return an nn.Module, got {type(module).__name__}")
    return module


def activation_types() -> tuple[type, ...]:
    """The module classes registered entries build (Activation for formula-only ones), without building any."""
    return tuple({Activation, *(entry.module for entry in _REGISTRY.values() if entry.module is not None)})
