"""Claims decided over several seeds at a stated one-sided confidence level, with Student's t.

A claim drawn from training is never decided on one run: chaotic training rounds differently on every machine.
`over_seeds` runs an experiment once per seed; `claim_greater`, `claim_less` and `claim_close` turn the per-seed
numbers into a `Verdict` with one of three outcomes, decided at a one-sided confidence level (`level`, 0.95 by
default, never below 0.95):

- "holds": the data show the claim at the level;
- "contradicted": the data show the opposite claim at the level;
- "undecided": neither (too few seeds, or too much spread): run more seeds, never loosen the level.

How a difference claim is decided. With paired seeds (a[i] and b[i] from the same seed) the n differences
d_i = a_i - b_i give the mean m, the standard error SE = sd(d) / sqrt(n) (ddof=1) and n - 1 degrees of freedom;
against a fixed number b the same with d_i = a_i - b; unpaired samples use Welch's SE = sqrt(s_a^2/n_a + s_b^2/n_b)
and the Welch-Satterthwaite degrees of freedom. The one-sided bounds at level L are m -+ t_{L, df} SE (Student
1908), t_{L, df} the L-quantile of Student's t (scipy.stats.t.ppf). `claim_greater(a, b, min_difference=c)` holds
when the lower bound exceeds c (equivalently, the one-sided t test of mean difference <= c has p < 1 - L) and is
contradicted when the upper bound is below c; `claim_less` is its mirror. For example, over 3 paired seeds
(df = 2, t_0.95 = 2.92) a mean difference of 2.9 SE is undecided; over 5 seeds (df = 4, t_0.95 = 2.13) 2.8 SE holds.
`claim_close(a, b, tolerance)` is an equivalence claim, decided by two one-sided tests (TOST, Schuirmann 1987): it
holds when both one-sided bounds at L lie inside (-tolerance, tolerance), and is contradicted when the two-sided
interval at L lies wholly outside it.

A notebook makes many claims; each at 95% would let about one in twenty null effects through. `ClaimFamily`
collects a notebook's claims and decides them together by Holm's step-down method (Holm 1979), which keeps the
chance of any false "holds" (or any false "contradicted") in the family below 1 - level. `holm(verdicts)` does the
same for a list of verdicts.

Sources: Student, "The probable error of a mean", Biometrika 6 (1908); B. L. Welch, Biometrika 34 (1947);
S. Holm, "A simple sequentially rejective multiple test procedure", Scand. J. Statistics 6 (1979);
D. J. Schuirmann, J. Pharmacokinetics and Biopharmaceutics 15 (1987); scipy.stats.t for quantiles and p-values.
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

LEVEL = 0.95  # the default one-sided confidence level, and the lowest one accepted
OUTCOMES = ("holds", "undecided", "contradicted")
_REMOVED = ("margin_se was removed from actlab.evidence: claims are now decided with Student's t at a stated one-sided "
            "confidence level (level=0.95 by default, never lower), not at a number of standard errors. Delete the "
            "margin_se argument; to be stricter pass level=0.99.")


class ClaimFailed(AssertionError):
    """A claim checked over seeds did not hold; the message gives the numbers."""


@dataclass(frozen=True)
class Verdict:
    """A claim decided over seeds, with the numbers that decided it.

    outcome: 'holds', 'undecided' or 'contradicted'; estimate: the mean difference a - b (for claim_in_seeds the
    count); lower, upper: its one-sided confidence bounds at `level`; t, df, n: Student's statistic (positive in the
    claim's direction), its degrees of freedom and the number of seeds; p_value: the one-sided p-value of the claim (small when it holds), p_opposite
    that of the opposite claim; family: the family's name and p_adjusted the Holm-adjusted p-value once a family
    decided it (None before). bool(verdict) is True only when the outcome is 'holds'. Verdict(claim, True or False,
    evidence) records a hand-made check as 'holds' or 'undecided' (never 'contradicted', which takes a test); it has
    no p-value and cannot join a ClaimFamily.
    """

    claim: str
    outcome: str
    evidence: str
    level: float = LEVEL
    estimate: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    t: float = math.nan
    df: float = math.nan
    n: int = 0
    p_value: float = math.nan
    p_opposite: float = math.nan
    family: str | None = None
    p_adjusted: float | None = None

    def __post_init__(self):
        """A bool outcome (a hand-made check) becomes 'holds' or 'undecided'; refuse any other outside OUTCOMES."""
        if isinstance(self.outcome, (bool, np.bool_)):
            object.__setattr__(self, "outcome", "holds" if self.outcome else "undecided")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"Verdict: outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    @property
    def holds(self) -> bool:
        """True when the outcome is 'holds'."""
        return self.outcome == "holds"

    def __bool__(self) -> bool:
        return self.holds

    def __str__(self) -> str:
        return f"{self.outcome}: {self.claim} ({self.evidence})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def check(self) -> "Verdict":
        """Return self if the claim holds; raise ClaimFailed with the numbers if it is undecided or contradicted."""
        if not self.holds:
            raise ClaimFailed(str(self))
        return self


# ---------------------------------------------------------------------------------------------------------------
# Checking the inputs
# ---------------------------------------------------------------------------------------------------------------

def _percent(level: float) -> str:
    """A level as a percentage with the digits it needs: 0.95 -> '95%', 0.995 -> '99.5%'."""
    return f"{100 * level:.10g}%"


def _refuse(removed: dict, function: str) -> None:
    """TypeError for margin_se (with what replaced it) or any other unknown keyword."""
    if "margin_se" in removed:
        raise TypeError(f"{function}: {_REMOVED}")
    if removed:
        raise TypeError(f"{function}: unexpected keyword argument(s) {', '.join(map(repr, sorted(removed)))}")


def _number(name: str, value, positive: bool = False) -> float:
    """value as a finite float (> 0 when positive); ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or (positive and not value > 0):
        valid = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    return float(value)


def check_level(level) -> float:
    """level as a float in [0.95, 1): the one-sided confidence level a claim is decided at.

    Raises ValueError naming `level` for NaN, a non-number, 1 or more, or anything below 0.95: a level is never
    loosened to make a claim pass.
    """
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not (LEVEL <= level < 1):
        raise ValueError(f"level must be a one-sided confidence level in [{LEVEL:g}, 1) (it is never loosened below "
                         f"{LEVEL:g}); got {level!r}")
    return float(level)


def _values(values, name: str) -> np.ndarray:
    """values as a 1-D float array of at least two finite seeds; ValueError naming the argument otherwise."""
    try:
        array = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be one number per seed, got {values!r}") from error
    if array.size < 2:
        raise ValueError(f"{name} needs one value per seed, at least 2 seeds; got {array.size}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name} has non-finite values (NaN or inf) at positions {bad.tolist()} of {array.size}: "
                         "a diverged run cannot be averaged; report it, or decide the claim on the finite runs")
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
    """Standard error of the mean of per-seed values: sample sd / sqrt(n) (ddof=1); at least 2 finite values."""
    array = _values(values, "values")
    return float(array.std(ddof=1) / math.sqrt(array.size))


# ---------------------------------------------------------------------------------------------------------------
# The estimate of a difference and its t decision
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """Mean difference a - b over seeds, its standard error, degrees of freedom, seed count and design (words)."""

    mean: float
    se: float
    df: float
    n: int
    design: str


def difference(a, b, paired: bool = True) -> Difference:
    """The mean of a - b with its SE and degrees of freedom: paired (n - 1), against a number (n - 1) or Welch.

    a: one value per seed (at least 2, finite); b: a number, or one value per seed. paired=True pairs a[i] with b[i]
    (same seed; equal lengths required), which removes the spread the two share; paired=False uses Welch's SE and
    the Welch-Satterthwaite degrees of freedom (Welch 1947). Raises ValueError for NaN, one seed or unequal pairs.
    """
    a = _values(a, "a")
    if np.ndim(b) == 0:
        b = _number("b", b.item() if hasattr(b, "item") else b)
        return Difference(float(a.mean() - b), standard_error(a), a.size - 1, a.size, "seeds against a number")
    b = _values(b, "b")
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired claims need one value of a and b per seed; got {a.size} and {b.size} "
                             "(pass paired=False for unpaired samples)")
        return Difference(float((a - b).mean()), standard_error(a - b), a.size - 1, a.size, "paired seeds")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if se > 0 else a.size + b.size - 2
    return Difference(float(a.mean() - b.mean()), se, float(df), min(a.size, b.size),
                      f"unpaired seeds ({a.size} and {b.size}, Welch)")


def _t_above(d: Difference, c: float) -> tuple[float, float]:
    """(t, one-sided p) for the claim mean difference > c (scipy.stats.t.sf); zero spread gives t = +-inf or 0."""
    if d.se == 0:
        t = math.copysign(math.inf, d.mean - c) if d.mean != c else 0.0
        return t, (0.0 if d.mean > c else 1.0)
    t = (d.mean - c) / d.se
    return t, float(stats.t.sf(t, d.df))


def _bounds(d: Difference, level: float) -> tuple[float, float]:
    """One-sided lower and upper confidence bounds of the mean difference at level (Student's t quantile)."""
    q = float(stats.t.ppf(level, d.df))
    return d.mean - q * d.se, d.mean + q * d.se


def _numbers(d: Difference, t: float, p: float) -> str:
    """The common tail of the evidence text: t, df, p and the seeds."""
    return f"t={t:.3g}, df={d.df:.3g}, one-sided p={p:.2g}; n={d.n} {d.design}"


def _directional(a, b, claim: str, level: float, min_difference: float, paired: bool, sign: int) -> Verdict:
    """claim_greater (sign +1) or claim_less (sign -1): a - b beyond sign x min_difference, in the claim's direction."""
    level = check_level(level)
    c = _number("min_difference", min_difference)
    d = difference(a, b, paired)
    lower, upper = _bounds(d, level)
    mirrored = Difference(sign * d.mean, d.se, d.df, d.n, d.design)
    t, p = _t_above(mirrored, c)
    _, p_opposite = _t_above(Difference(-mirrored.mean, d.se, d.df, d.n, d.design), -c)
    bound, word, needs = (lower, "lower", f"> {c:.3g}") if sign > 0 else (upper, "upper", f"< {0.0 - c:.3g}")
    held = bound > c if sign > 0 else bound < -c
    opposed = upper < c if sign > 0 else lower > -c
    outcome = "holds" if held else "contradicted" if opposed else "undecided"
    evidence = (f"mean difference {d.mean:.3g}, {_percent(level)} one-sided {word} bound {bound:.3g} (needs {needs}); "
                + _numbers(d, t, p))
    return Verdict(claim, outcome, evidence, level, d.mean, lower, upper, t, d.df, d.n, p, p_opposite)


def claim_greater(a, b=0.0, claim: str = "a > b", *, level: float = LEVEL, min_difference: float = 0.0,
                  paired: bool = True, **removed) -> Verdict:
    """The claim mean(a) - mean(b) > min_difference, decided at a one-sided confidence level with Student's t.

    a: one value per seed (at least 2, all finite); b: a number or one value per seed; paired=True pairs a[i] with
    b[i] (same seed). Holds when the lower bound of the mean difference at `level` exceeds min_difference;
    contradicted when the upper bound is below it; else undecided. level in [0.95, 1); min_difference any finite
    number. Raises ValueError for NaN values, one seed, unequal pairs or a bad level or min_difference; TypeError
    for margin_se (removed) or another unknown keyword.
    """
    _refuse(removed, "claim_greater")
    return _directional(a, b, claim, level, min_difference, paired, +1)


def claim_less(a, b=0.0, claim: str = "a < b", *, level: float = LEVEL, min_difference: float = 0.0,
               paired: bool = True, **removed) -> Verdict:
    """The claim mean(b) - mean(a) > min_difference (a below b by more than min_difference), the mirror of claim_greater.

    Holds when the upper bound of mean(a - b) at `level` is below -min_difference; contradicted when the lower
    bound is above it; else undecided. Arguments and errors as in claim_greater.
    """
    _refuse(removed, "claim_less")
    return _directional(a, b, claim, level, min_difference, paired, -1)


def claim_close(a, b, tolerance: float, claim: str = "a ≈ b", *, level: float = LEVEL, paired: bool = True,
                **removed) -> Verdict:
    """The equivalence claim |mean(a) - mean(b)| < tolerance, decided by two one-sided t tests (TOST, Schuirmann 1987).

    Holds when the one-sided lower bound at `level` exceeds -tolerance and the upper bound is below +tolerance
    (the two-sided interval at 2 level - 1 lies inside); p_value is the larger of the two one-sided p-values.
    Contradicted when the two-sided interval at `level` lies wholly outside (-tolerance, tolerance); else undecided.
    tolerance: a finite number > 0. Other arguments and errors as in claim_greater.
    """
    _refuse(removed, "claim_close")
    level = check_level(level)
    tol = _number("tolerance", tolerance, positive=True)
    d = difference(a, b, paired)
    lower, upper = _bounds(d, level)
    t_low, p_low = _t_above(d, -tol)
    t_high, p_high = _t_above(Difference(-d.mean, d.se, d.df, d.n, d.design), -tol)
    p, t = max(p_low, p_high), (t_low if p_low >= p_high else t_high)
    wide_low, wide_high = _bounds(d, (1 + level) / 2)
    outside = min(1.0, 2 * min(_t_above(d, tol)[1], _t_above(Difference(-d.mean, d.se, d.df, d.n, d.design), tol)[1]))
    held, opposed = lower > -tol and upper < tol, wide_low > tol or wide_high < -tol
    outcome = "holds" if held else "contradicted" if opposed else "undecided"
    evidence = (f"mean difference {d.mean:.3g}, {_percent(level)} one-sided bounds {lower:.3g} to {upper:.3g} (needs both "
                f"inside ±{tol:.3g}); " + _numbers(d, t, p))
    return Verdict(claim, outcome, evidence, level, d.mean, lower, upper, t, d.df, d.n, p, outside)


def claim_in_seeds(flags, at_least: int, claim: str = "") -> Verdict:
    """The claim that a per-seed condition is true in at least `at_least` of the seeds: a count, not a test.

    'holds' or 'contradicted' (never undecided); it has no p-value, so it cannot join a ClaimFamily. Raises
    ValueError unless at_least is an integer from 1 to the number of seeds.
    """
    flags = np.asarray(flags, dtype=bool).reshape(-1)
    if not (isinstance(at_least, numbers.Integral) and 1 <= at_least <= flags.size):
        raise ValueError(f"at_least must be an integer from 1 to the number of seeds ({flags.size}), got {at_least!r}")
    count = int(flags.sum())
    return Verdict(claim, "holds" if count >= at_least else "contradicted",
                   f"true in {count} of {flags.size} seeds; needs {at_least}", estimate=count, n=flags.size)


# ---------------------------------------------------------------------------------------------------------------
# A family of claims: Holm's step-down method
# ---------------------------------------------------------------------------------------------------------------

def holm_adjust(p_values) -> np.ndarray:
    """Holm's adjusted p-values (Holm 1979): sorted ascending, p_adj(i) = max over j <= i of min(1, (m - j + 1) p(j)),
    returned in the input order. A hypothesis is rejected at family level 1 - L when its adjusted p <= 1 - L.
    Raises ValueError for an empty list or p-values outside [0, 1] or NaN."""
    p = np.asarray(p_values, dtype=float).reshape(-1)
    if p.size == 0 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values must be a non-empty list of numbers in [0, 1]; got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (p.size - np.arange(p.size)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def holm(verdicts, family: str = "") -> list[Verdict]:
    """The verdicts decided together at their common level by Holm's step-down method; new Verdicts, same order.

    A verdict holds when its Holm-adjusted p-value is <= 1 - level, is contradicted when the Holm-adjusted p-value of
    its opposite claim (over the family's opposite claims) is, and is undecided otherwise. Each keeps its estimate
    and bounds; p_adjusted and family are set and the evidence says so. Raises ValueError for an empty list, mixed
    levels, or a verdict without a p-value (claim_in_seeds).
    """
    verdicts = list(verdicts)
    if not verdicts:
        raise ValueError("holm: the family has no claims")
    levels = {v.level for v in verdicts}
    if len(levels) != 1:
        raise ValueError(f"holm: every claim of a family must be decided at one level; got {sorted(levels)}")
    if any(math.isnan(v.p_value) or math.isnan(v.p_opposite) for v in verdicts):
        raise ValueError("holm: every claim needs a p-value (claim_greater, claim_less or claim_close; "
                         "claim_in_seeds is a count, not a test)")
    alpha = 1 - levels.pop()
    adjusted = holm_adjust([v.p_value for v in verdicts])
    opposite = holm_adjust([v.p_opposite for v in verdicts])
    out = []
    for v, p, q in zip(verdicts, adjusted, opposite):
        outcome = "holds" if p <= alpha else "contradicted" if q <= alpha else "undecided"
        evidence = f"{v.evidence}; Holm-adjusted p={p:.2g} in a family of {len(verdicts)} (needs <= {alpha:.2g})"
        out.append(replace(v, outcome=outcome, evidence=evidence, p_adjusted=float(p), family=family or None))
    return out


class ClaimFamily:
    """A notebook's claims, decided together by Holm's method so that the family keeps its level.

    family = ClaimFamily("notebook 05"); family.greater(a, b, claim=...) (and .less, .close, .add) record claims and
    return each one's individual verdict (before Holm: not yet the family's decision); family.verdicts() gives the
    Holm-adjusted verdicts, family.report() them as text, family.check() raises ClaimFailed unless every required
    claim holds after Holm. required=False records a claim whose outcome is only reported (e.g. an open question).
    level: in [0.95, 1) (ValueError otherwise); name: printed with the report.
    """

    def __init__(self, name: str, level: float = LEVEL):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string naming the family (e.g. 'notebook 05'), got {name!r}")
        self.name, self.level = name, check_level(level)
        self._claims: list[tuple[Verdict, bool]] = []

    def __len__(self) -> int:
        return len(self._claims)

    def add(self, verdict: Verdict, required: bool = True) -> Verdict:
        """Record a verdict made by claim_greater, claim_less or claim_close at the family's level; returns it.

        Raises ValueError for another level, a verdict without a p-value, or one already adjusted by a family.
        """
        if not isinstance(verdict, Verdict) or math.isnan(verdict.p_value) or verdict.p_adjusted is not None:
            raise ValueError("add: needs an individual verdict of claim_greater, claim_less or claim_close")
        if verdict.level != self.level:
            raise ValueError(f"add: the family {self.name!r} decides at level {self.level:g}, the verdict at "
                             f"{verdict.level:g}; make the claim with level={self.level:g}")
        self._claims.append((verdict, bool(required)))
        return verdict

    def greater(self, a, b=0.0, claim: str = "a > b", *, required: bool = True, **options) -> Verdict:
        """claim_greater at the family's level, recorded; returns the individual verdict (options as claim_greater)."""
        return self.add(claim_greater(a, b, claim, level=self.level, **options), required)

    def less(self, a, b=0.0, claim: str = "a < b", *, required: bool = True, **options) -> Verdict:
        """claim_less at the family's level, recorded; returns the individual verdict (options as claim_less)."""
        return self.add(claim_less(a, b, claim, level=self.level, **options), required)

    def close(self, a, b, tolerance: float, claim: str = "a ≈ b", *, required: bool = True, **options) -> Verdict:
        """claim_close at the family's level, recorded; returns the individual verdict (options as claim_close)."""
        return self.add(claim_close(a, b, tolerance, claim, level=self.level, **options), required)

    def verdicts(self) -> list[Verdict]:
        """Every recorded claim decided by holm over the whole family, in the order recorded (ValueError if none)."""
        return holm([v for v, _ in self._claims], self.name)

    def report(self) -> str:
        """The family's decisions as text, one line per claim ('[required]' or '[reported]'), to print."""
        lines = [f"{self.name}: {len(self)} claims decided together at {_percent(self.level)} by Holm's method"]
        for (_, required), v in zip(self._claims, self.verdicts()):
            lines.append(f"- [{'required' if required else 'reported'}] {v}")
        return "\n".join(lines)

    def check(self) -> list[Verdict]:
        """The Holm-adjusted verdicts if every required claim holds; ClaimFailed listing those that do not."""
        verdicts = self.verdicts()
        failed = [str(v) for (_, required), v in zip(self._claims, verdicts) if required and not v.holds]
        if failed:
            raise ClaimFailed(f"{self.name}: {len(failed)} required claim(s) do not hold after Holm's method:\n- "
                              + "\n- ".join(failed))
        return verdicts


# ---------------------------------------------------------------------------------------------------------------
# Running over seeds
# ---------------------------------------------------------------------------------------------------------------

def over_seeds(experiment: Callable[[int], float | dict], seeds=(0, 1, 2), progress: bool = False):
    """Run experiment(seed) for every seed; a DataFrame with one row per seed (index 'seed').

    seeds: a non-empty sequence of integers (Python or NumPy, e.g. np.arange(5)); each is passed as a Python int.
    experiment returns a number (column 'value') or a dict of numbers (a column per key). Raises ValueError for
    empty seeds or a non-integer seed.
    """
    import pandas as pd

    seeds = list(seeds)
    if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    seeds = [int(s) for s in seeds]
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
