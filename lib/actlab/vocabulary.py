"""The course's one vocabulary: dead, near-dead, saturated and vanishing, each defined once with its threshold.

Every notebook, the diagnostics (`actlab.dead_units`, `actlab.DeadUnitMonitor`, `actlab.activation_stats`) and the
playground use these definitions; a notebook never writes its own threshold for one of these words
(tests/test_vocabulary.py scans the notebooks for that).

The slope of an activation f at an input z is |f'(z)|, taken by autograd through the module the network runs (its
own precision and parameters). Thresholds on the slope are relative to the activation's **peak slope**, the largest
|f'| over all inputs (`peak_slope`: sigmoid 1/4, tanh and the rectifiers 1, SELU about 1.76, GELU about 1.13), so an
activation is judged against what it can pass at best, and the sigmoid (peak 1/4) and tanh (peak 1) are treated
alike.

- SATURATED (one unit at one input): |f'(z)| < 1% of the peak slope (`SATURATED_FRACTION`), or f'(z) = 0. The
  1% is notebook 01's convention: sigmoid' falls below 1% of its peak beyond |z| = 5.99, tanh' beyond 2.99
  (`actlab.experiments.basics.saturation_point`), the flat tails of the S-curves.
- DEAD (one unit on a probe set): f'(z) = 0 exactly, in the network's own arithmetic, at every probe input: no
  gradient reaches the unit's incoming weights from any of them, so gradient descent cannot change them. For ReLU
  this is "pre-activation <= 0 on every input", the same units as "output exactly 0 on every input" (PyTorch
  takes relu'(0) = 0). Leaky ReLU units cannot die (slope >= 0.01 everywhere); smooth functions die only where
  float32 rounds the slope to 0 (float32 sigmoid' is exactly 0 beyond z = 16.6 and below -88.7, tanh' beyond
  |z| = 9.0, GELU's below z = -6.2, SiLU's below -88.7, ELU's below -104): no gradient flows there either, so the
  unit is dead in that arithmetic.
- NEAR-DEAD (one unit on a probe set): saturated at every probe input: |f'(z)| < 1% of the peak slope
  (`NEAR_DEAD_FRACTION`) at every input. A dead unit is near-dead. The comparison is strict, so Leaky ReLU's
  default negative slope 0.01 (exactly 1% of its peak 1, Maas et al. 2013) is NOT near-dead: that slope is the
  floor its designers chose so that an inactive unit keeps learning, and the course counts a unit as near-dead
  only when it passes back less than Leaky ReLU's floor guarantees. The slopes are compared in their own
  precision, where float32(0.01) equals the threshold float32(0.01 x 1). A PReLU that learned alpha < 0.01, an
  ELU or GELU unit far in its negative tail and a sigmoid unit saturated on every input are near-dead.
- VANISHING (a layer's gradient): the layer's gradient norm is below 1/1000 of the last layer's
  (`VANISHING_RATIO`), measured on the same batch. One learning rate serves every layer, so such a layer moves
  1000 times more slowly than the last: over a course-length run (hundreds to a few thousand steps) it stays near
  its random initialisation, the lesson of notebook 02 (Glorot and Bengio 2010, figure 7, found ratios of this
  size in deep sigmoid nets). Compare like with like: error signals with error signals, or weight gradients with
  weight gradients (notebook 02 shows why the first layer's weight gradient also carries its input's size).

The constants are fixed: the functions take no threshold of their own, so that a word means one thing everywhere.
`TERMS` holds each definition as text (`print(actlab.vocabulary.DEAD)`), and `glossary()` all of them as a table.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .activations import Activation, Spec, activation_names, lookup

SATURATED_FRACTION = 0.01  # saturated: |f'(z)| below this fraction of the peak slope (notebook 01's 1%)
NEAR_DEAD_FRACTION = 0.01  # near-dead: saturated at every probe input; Leaky ReLU's 0.01 (= 1% of 1) is not below
DEAD_SLOPE = 0.0  # dead: the slope is exactly this at every probe input
VANISHING_RATIO = 1e-3  # vanishing: a layer's gradient norm below this fraction of the last layer's
PEAK_RANGE = 50.0  # peak_slope searches |f'| on [-PEAK_RANGE, PEAK_RANGE]
PEAK_STEP = 1e-3  # ... on a grid of this step, plus each kink and 0 approached from both sides


@dataclass(frozen=True)
class Term:
    """One word of the vocabulary: what it applies to, its definition, threshold, reason and source."""

    name: str
    applies_to: str
    definition: str
    threshold: str
    reason: str
    source: str

    def __str__(self) -> str:
        return (f"{self.name} ({self.applies_to}): {self.definition} Threshold: {self.threshold}. Why: {self.reason} "
                f"Source: {self.source}")


SATURATED = Term(
    "saturated", "one unit at one input",
    "its slope |f'(z)| is below 1% of the activation's peak slope, or exactly 0.",
    f"SATURATED_FRACTION = {SATURATED_FRACTION:g} of peak_slope(activation), strict",
    "relative to the peak, sigmoid (peak 1/4) and tanh (peak 1) are judged alike: a saturated unit passes back "
    "under 1% of the most its activation can pass.",
    "notebook 01's convention; sigmoid' < 1% of its peak beyond |z| = 5.99, tanh' beyond |z| = 2.99")
DEAD = Term(
    "dead", "one unit on a set of probe inputs",
    "its slope f'(z) is exactly 0 at every probe input (for ReLU: pre-activation <= 0 on every input).",
    "DEAD_SLOPE = 0, exactly, in the network's own arithmetic",
    "no gradient reaches the unit's incoming weights from any probe input, so gradient descent cannot revive "
    "it on them; Leaky ReLU units cannot die, smooth functions only where float32 rounds f' to 0.",
    "Lu et al. 2019 (born-dead ReLU nets); the slides' 'dying ReLU'")
NEAR_DEAD = Term(
    "near-dead", "one unit on a set of probe inputs",
    "it is saturated at every probe input: |f'(z)| < 1% of the peak slope everywhere; a dead unit is near-dead.",
    f"NEAR_DEAD_FRACTION = {NEAR_DEAD_FRACTION:g} of peak_slope(activation), strict",
    "such a unit learns over 100x more slowly than an active one; the comparison is strict so that Leaky ReLU's "
    "default slope 0.01, the floor its designers chose to keep inactive units learning, is not near-dead.",
    "Maas, Hannun and Ng 2013 (Leaky ReLU's 0.01)")
VANISHING = Term(
    "vanishing", "the gradient of one layer",
    "its gradient norm is below 1/1000 of the last layer's, on the same batch.",
    f"VANISHING_RATIO = {VANISHING_RATIO:g}, strict",
    "one learning rate serves every layer, so the layer moves 1000x more slowly than the last and stays near its "
    "initialisation over a course-length run (notebook 02).",
    "Glorot and Bengio 2010 (deep sigmoid nets); notebook 02")
TERMS = {term.name: term for term in (DEAD, NEAR_DEAD, SATURATED, VANISHING)}


def glossary():
    """The four terms as a DataFrame (index: term; columns applies_to, definition, threshold, reason, source)."""
    import pandas as pd

    return pd.DataFrame([vars(t) for t in TERMS.values()]).set_index("name").rename_axis("term")


# ---------------------------------------------------------------------------------------------------------------
# The peak slope of an activation
# ---------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _peak(entry: Spec, params: tuple) -> float:
    """max |f'| of one registry entry at resolved parameters (cached per entry object, so a replaced entry is new)."""
    values = dict(params)
    grid = torch.arange(-PEAK_RANGE, PEAK_RANGE + PEAK_STEP / 2, PEAK_STEP, dtype=torch.float64)
    edges = torch.tensor([k + s for k in (0.0, *entry.kinks(**values)) for s in (-1e-9, 0.0, 1e-9)],
                         dtype=torch.float64)
    with torch.no_grad():
        slopes = entry.derivative(torch.cat([grid, edges]), **values).abs()
    slopes = slopes[torch.isfinite(slopes)]
    return float(slopes.max()) if slopes.numel() else math.nan


def peak_slope(activation, **params) -> float:
    """The largest slope |f'(x)| of a registry activation (name or Spec) at its parameters (defaults for those left out).

    Taken from the registry's analytic derivative in float64 on [-PEAK_RANGE, PEAK_RANGE] (step PEAK_STEP) plus each
    kink and 0 approached from both sides, so a supremum at a kink (SELU's lambda alpha at 0-) is found; cached per
    entry and parameters. Examples: sigmoid 0.25, tanh 1, relu 1, selu 1.7581, gelu 1.1290; heaviside 0 (its
    derivative is 0 wherever it exists). Raises ValueError for an unknown name or a parameter out of its range.
    """
    entry = lookup(activation)
    values = entry.resolve(**params)
    return _peak(entry, tuple(sorted(values.items())))


def registry_entry(module: nn.Module) -> tuple[Spec, dict] | None:
    """(registry entry, parameters) of an activation module, or None when the registry does not know its class.

    Entry: a registry-formula Activation's own; else the module's `actlab_name` (set by the playground); else the
    first entry built from the module's class (QuickGELU before Swish by class identity), else its class name looked
    up. Parameters: Activation.params, the playground's actlab_params, or the module's numeric attributes named as
    the entry builds it (nn.LeakyReLU's negative_slope is alpha); learned tensors (PReLU's weight) are not read,
    and values the registry refuses fall back to the defaults.
    """
    if isinstance(module, Activation):
        return module.spec, dict(module.params)
    entry = None
    if getattr(module, "actlab_name", None):
        entry = lookup(module.actlab_name)
    else:
        entry = next((lookup(n) for n in activation_names() if lookup(n).module is type(module)), None)
        if entry is None:
            try:
                entry = lookup(type(module).__name__)
            except ValueError:
                return None
    params = getattr(module, "actlab_params", None)
    if params is None:
        params = {}
        for p in entry.params:
            value = getattr(module, entry.module_keywords.get(p.name, p.name), None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                params[p.name] = float(value)
    try:
        return entry, entry.resolve(**params)
    except (TypeError, ValueError):
        return entry, entry.defaults()


def module_peak_slope(module: nn.Module) -> float:
    """peak_slope of an activation module's registry entry at the module's parameters (registry_entry).

    Raises ValueError for a module the registry does not know (register it, or use actlab.custom_activation).
    """
    found = registry_entry(module)
    if found is None:
        raise ValueError(f"module_peak_slope: the registry knows no activation {type(module).__name__!r}; register "
                         "it (actlab.register or actlab.custom_activation) to measure it in the course's terms")
    entry, params = found
    return peak_slope(entry, **params)


# ---------------------------------------------------------------------------------------------------------------
# The terms applied to slopes and gradient norms
# ---------------------------------------------------------------------------------------------------------------

def _tensor(values, name: str) -> torch.Tensor:
    """values as a tensor (a NumPy array or a list is converted, a tensor kept with its dtype and device)."""
    if isinstance(values, torch.Tensor):
        return values
    try:
        return torch.as_tensor(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(values).__name__}") from error


def _like(result: torch.Tensor, original):
    """result as the kind of array the caller gave: a tensor for a tensor, a NumPy array otherwise."""
    return result if isinstance(original, torch.Tensor) else result.cpu().numpy()


def _check_peak(peak) -> float:
    """peak as a float >= 0; ValueError naming it otherwise."""
    if isinstance(peak, bool) or not isinstance(peak, (int, float, np.floating, np.integer)) or not peak >= 0 \
            or not math.isfinite(peak):
        raise ValueError(f"peak must be the activation's peak slope, a finite number >= 0 (see peak_slope); got {peak!r}")
    return float(peak)


def _unit_dims(values: torch.Tensor, unit_dim: int) -> tuple[int, ...]:
    """Every dimension except the unit's (examples, positions); ValueError for a unit_dim the array lacks."""
    if not (isinstance(unit_dim, int) and -values.dim() <= unit_dim < values.dim()) or values.dim() < 2:
        raise ValueError(f"unit_dim must name a dimension of a slopes array with at least 2 dimensions (examples, "
                         f"units, ...); got unit_dim={unit_dim!r} for shape {tuple(values.shape)}")
    unit_dim %= values.dim()
    return tuple(d for d in range(values.dim()) if d != unit_dim)


def is_saturated(slopes, peak: float):
    """Elementwise: |slope| < SATURATED_FRACTION x peak, or slope == 0 (SATURATED); NaN is not saturated.

    slopes: |f'(z)| of any shape (tensor or array; compared in its own precision); peak: the activation's peak slope
    (peak_slope or module_peak_slope). Returns a boolean array of the same shape and kind.
    """
    d = _tensor(slopes, "slopes").abs()
    floor = torch.tensor(SATURATED_FRACTION * _check_peak(peak), dtype=d.dtype, device=d.device)
    return _like((d < floor) | (d == DEAD_SLOPE), slopes)


def saturated_fraction(slopes, peak: float) -> float:
    """Share (0 to 1) of the entries of slopes that are saturated (is_saturated); NaN if any entry is NaN (a diverged
    layer is not 'not saturated') or slopes is empty."""
    d = _tensor(slopes, "slopes")
    if d.numel() == 0 or bool(torch.isnan(d).any()):
        return math.nan
    return float(torch.as_tensor(is_saturated(d, peak)).double().mean())


def is_dead(slopes, unit_dim: int = 1):
    """Per unit: the slope is exactly 0 at every example and position (DEAD); NaN counts as alive.

    slopes: |f'(z)| with shape (examples, units) or (examples, channels, positions...): a unit is dim unit_dim (a
    feature, or a whole channel of a convolution). Returns a boolean array with one entry per unit. Over several
    batches, a unit is dead when it is dead in each (combine the masks with &).
    """
    d = _tensor(slopes, "slopes")
    return _like((d == DEAD_SLOPE).all(dim=_unit_dims(d, unit_dim)), slopes)


def is_near_dead(slopes, peak: float, unit_dim: int = 1):
    """Per unit: saturated (is_saturated with this peak) at every example and position (NEAR_DEAD); dead units are
    near-dead. Shapes as in is_dead; over several batches combine the masks with &."""
    d = _tensor(slopes, "slopes")
    dims = _unit_dims(d, unit_dim)
    return _like(torch.as_tensor(is_saturated(d, peak)).all(dim=dims), slopes)


def is_vanishing(norms) -> dict | np.ndarray:
    """Per layer (input side first, the last layer last): its gradient norm < VANISHING_RATIO x the last layer's.

    norms: a dict {layer: norm} (as actlab.grad_norms returns, in the model's order) or a 1-D sequence; returns the
    same kind (dict of bools, or a boolean array); the last layer is never vanishing. Raises ValueError for fewer than
    2 layers, a negative or NaN norm, or a last layer with norm 0 (nothing to compare with).
    """
    values = np.asarray(list(norms.values()) if isinstance(norms, dict) else norms, dtype=float).reshape(-1)
    if values.size < 2 or np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"norms must be at least 2 gradient norms >= 0 (input side first), without NaN; got {values}")
    if not values[-1] > 0:
        raise ValueError("norms: the last layer's gradient norm is 0, so no layer can be compared with it")
    flags = values < VANISHING_RATIO * values[-1]
    return dict(zip(norms, map(bool, flags))) if isinstance(norms, dict) else flags
