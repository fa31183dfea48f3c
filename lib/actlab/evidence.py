"""Claims decided over several seeds: run an experiment per seed, summarise it, and give a verdict with its margin.

A claim drawn from training is never decided on one run: chaotic training rounds differently on every machine.
`over_seeds` runs an experiment once per seed; `claim_greater`, `claim_less`, `claim_close` and `claim_in_seeds`
turn the per-seed numbers into a `Verdict` whose margin is stated against the spread between seeds, so that the
verdict, not one run's rounding, is what a notebook asserts (`Verdict.check()`).

The margin is the standard error of the mean (SE = sample standard deviation / sqrt(n)); a difference "holds"
when it exceeds `margin_se` standard errors (2 by default, roughly a two-sided 95% interval for many seeds; with
3 seeds it is a lenient screen, so choose quantities whose effect is large against their spread).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm.auto import tqdm


class ClaimFailed(AssertionError):
    """A claim checked over seeds did not hold; the message gives the numbers."""


@dataclass(frozen=True)
class Verdict:
    """Whether a claim holds over seeds, and the numbers that decided it."""

    claim: str
    holds: bool
    evidence: str

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        return f"{'holds' if self.holds else 'does NOT hold'}: {self.claim} ({self.evidence})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def check(self) -> "Verdict":
        """Return self if the claim holds; raise ClaimFailed with the numbers if it does not."""
        if not self.holds:
            raise ClaimFailed(str(self))
        return self


def _values(values, name: str) -> np.ndarray:
    """values as a 1-D float array of at least two finite seeds; ValueError naming the argument otherwise."""
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size < 2:
        raise ValueError(f"{name} needs one value per seed, at least 2 seeds; got {array.size}")
    return array


def describe(values, digits: int = 3) -> str:
    """'mean ± sd (n seeds, range lo to hi)' of per-seed values; NaN seeds are counted and named."""
    array = np.asarray(values, dtype=float).reshape(-1)
    finite = array[np.isfinite(array)]
    nan = f", {array.size - finite.size} not finite" if finite.size < array.size else ""
    if finite.size == 0:
        return f"no finite value in {array.size} seeds"
    sd = finite.std(ddof=1) if finite.size > 1 else float("nan")
    return (f"{finite.mean():.{digits}g} ± {sd:.2g} (mean ± sd over {finite.size} seeds, "
            f"range {finite.min():.{digits}g} to {finite.max():.{digits}g}{nan})")


def standard_error(values) -> float:
    """Standard error of the mean of per-seed values: sample sd / sqrt(n) (ddof=1)."""
    array = _values(values, "values")
    return float(array.std(ddof=1) / math.sqrt(array.size))


def _difference(a, b, paired: bool) -> tuple[float, float, int]:
    """Mean of a - b and its standard error (paired over seeds, or Welch's unpaired form)."""
    a = _values(a, "a")
    if np.ndim(b) == 0:
        return float(a.mean() - float(b)), standard_error(a), a.size
    b = _values(b, "b")
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired claims need one value of a and b per seed; got {a.size} and {b.size}")
        return float((a - b).mean()), standard_error(a - b), a.size
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return float(a.mean() - b.mean()), se, min(a.size, b.size)


def claim_greater(a, b=0.0, claim: str = "a > b", margin_se: float = 2.0, min_difference: float = 0.0,
                  paired: bool = True) -> Verdict:
    """The claim mean(a) > mean(b): holds when the mean difference exceeds margin_se standard errors
    and min_difference.

    a, b: one value per seed (b may be a number). paired=True pairs a[i] with b[i] (same seed), which
    removes the spread the two share. A NaN in either makes the claim fail, saying so.
    """
    if not (isinstance(margin_se, (int, float)) and margin_se >= 0):
        raise ValueError(f"margin_se must be a number >= 0, got {margin_se!r}")
    diff, se, n = _difference(a, b, paired)
    margin = max(margin_se * se, min_difference)
    holds = bool(np.isfinite(diff) and np.isfinite(se) and diff > margin)
    evidence = (f"mean difference {diff:.3g}, SE {se:.2g} over {n} seeds; needs > {margin:.2g} "
                f"(max of {margin_se:g} SE and {min_difference:g})")
    return Verdict(claim, holds, evidence)


def claim_less(a, b=0.0, claim: str = "a < b", margin_se: float = 2.0, min_difference: float = 0.0,
               paired: bool = True) -> Verdict:
    """The claim mean(a) < mean(b), decided as claim_greater(b, a)."""
    if np.ndim(b) == 0:
        a = -np.asarray(a, dtype=float)
        return claim_greater(a, -float(b), claim, margin_se, min_difference, paired)
    return claim_greater(b, a, claim, margin_se, min_difference, paired)


def claim_close(a, b, tolerance: float, claim: str = "a ≈ b", margin_se: float = 2.0, paired: bool = True) -> Verdict:
    """The claim |mean(a) - mean(b)| < tolerance: holds when the difference plus margin_se SE stays inside it."""
    if not (isinstance(tolerance, (int, float)) and tolerance > 0):
        raise ValueError(f"tolerance must be a number > 0, got {tolerance!r}")
    diff, se, n = _difference(a, b, paired)
    bound = abs(diff) + margin_se * se
    holds = bool(np.isfinite(bound) and bound < tolerance)
    evidence = f"|mean difference| {abs(diff):.3g} + {margin_se:g} SE ({se:.2g}, {n} seeds) = {bound:.3g}; needs < {tolerance:g}"
    return Verdict(claim, holds, evidence)


def claim_in_seeds(flags, at_least: int, claim: str = "") -> Verdict:
    """The claim that a per-seed condition is true in at least `at_least` of the seeds."""
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    if not (isinstance(at_least, int) and 1 <= at_least <= flags.size):
        raise ValueError(f"at_least must be an integer from 1 to the number of seeds ({flags.size}), got {at_least!r}")
    count = int(flags.sum())
    return Verdict(claim, count >= at_least, f"true in {count} of {flags.size} seeds; needs {at_least}")


def over_seeds(experiment: Callable[[int], float | dict], seeds=(0, 1, 2), progress: bool = False):
    """Run experiment(seed) for every seed; a DataFrame with one row per seed (index 'seed').

    experiment returns a number (column 'value') or a dict of numbers (a column per key).
    """
    import pandas as pd

    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    rows = []
    for seed in tqdm(seeds, desc="seeds", disable=not progress, leave=False):
        result = experiment(seed)
        rows.append(result if isinstance(result, dict) else {"value": result})
    return pd.DataFrame(rows, index=pd.Index(seeds, name="seed"))


def full_run() -> bool:
    """True when the environment asks for the notebooks' fuller runs (ACTLAB_FULL=1); False by default."""
    value = os.environ.get("ACTLAB_FULL", "0").strip()
    if value not in ("0", "1", ""):
        raise ValueError(f"ACTLAB_FULL must be 0 or 1, got {value!r}")
    return value == "1"
