"""Claims over seeds: verdicts decided with Student's t at a stated level, checked against known answers and against
scipy's own t tests; a level is never loosened; a family of claims keeps its level by Holm's method."""
import math

import numpy as np
import pytest
from scipy import stats

from actlab import evidence


def with_mean_and_se(mean: float, se: float, n: int) -> np.ndarray:
    """n values whose mean is exactly `mean` and whose standard error (sd ddof=1 / sqrt n) is exactly `se`."""
    z = np.linspace(-1.0, 1.0, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + z * se * math.sqrt(n)


def paired(mean: float, se: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) per seed whose paired differences a - b have the given mean and SE; b spreads widely on its own."""
    b = np.linspace(0.2, 0.9, n)
    return b + with_mean_and_se(mean, se, n), b


def test_the_helper_builds_the_mean_and_standard_error_asked_for():
    values = with_mean_and_se(2.9, 1.0, 3)
    assert values.mean() == pytest.approx(2.9) and evidence.standard_error(values) == pytest.approx(1.0)


def test_a_difference_of_2_9_se_over_3_paired_seeds_is_undecided_at_95_percent():
    # t_0.95 with 2 degrees of freedom is 2.92 (Student's table): 2.9 SE falls just short
    assert stats.t.ppf(0.95, 2) == pytest.approx(2.92, abs=0.005)
    verdict = evidence.claim_greater(*paired(2.9, 1.0, 3), "a beats b")
    assert verdict.outcome == "undecided" and not verdict
    assert verdict.lower < 0 < verdict.estimate
    with pytest.raises(evidence.ClaimFailed, match="undecided: a beats b"):
        verdict.check()


def test_a_difference_of_2_8_se_over_5_paired_seeds_holds_at_95_percent():
    # t_0.95 with 4 degrees of freedom is 2.13: 2.8 SE clears it
    assert stats.t.ppf(0.95, 4) == pytest.approx(2.13, abs=0.005)
    verdict = evidence.claim_greater(*paired(2.8, 1.0, 5), "a beats b")
    assert verdict.outcome == "holds" and verdict.check() is verdict
    assert verdict.n == 5 and verdict.df == 4 and verdict.t == pytest.approx(2.8)
    text = str(verdict)
    assert text.startswith("holds: a beats b") and "95% one-sided lower bound" in text and "df=4" in text
    assert "n=5 paired seeds" in text


def test_paired_verdicts_agree_with_scipys_paired_t_test():
    a, b = np.array([0.52, 0.55, 0.50, 0.58]), np.array([0.47, 0.49, 0.48, 0.50])
    verdict = evidence.claim_greater(a, b, min_difference=0.02)
    reference = stats.ttest_1samp(a - b, 0.02, alternative="greater")
    assert verdict.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    interval = stats.ttest_rel(a, b, alternative="greater").confidence_interval(0.95)
    assert verdict.lower == pytest.approx(interval.low, rel=1e-9)
    assert verdict.holds == (reference.pvalue < 0.05)


def test_unpaired_verdicts_use_welch_and_agree_with_scipy():
    a, b = np.array([0.60, 0.72, 0.66, 0.70, 0.64]), np.array([0.50, 0.52, 0.58])
    verdict = evidence.claim_greater(a, b, paired=False)
    reference = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert verdict.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert verdict.df == pytest.approx(reference.df, rel=1e-9)
    assert verdict.lower == pytest.approx(reference.confidence_interval(0.95).low, rel=1e-9)


def test_pairing_removes_the_shared_spread():
    a, b = [0.2, 0.5, 0.8], [0.1, 0.4, 0.7]  # a is always 0.1 higher, but seeds spread widely
    assert evidence.claim_greater(a, b, paired=True)
    assert evidence.claim_greater(a, b, paired=False).outcome == "undecided"


def test_the_opposite_claim_holding_reads_contradicted():
    a, b = paired(-4.0, 1.0, 5)  # a is clearly below b
    assert evidence.claim_greater(a, b).outcome == "contradicted"
    assert evidence.claim_less(a, b).outcome == "holds"
    assert evidence.claim_less(b, a).outcome == "contradicted"


def test_less_against_a_number_and_min_difference():
    assert evidence.claim_less([0.01, 0.02, 0.015], 0.1)
    assert evidence.claim_less([0.2, 0.01, 0.02], 0.1).outcome == "undecided"
    assert evidence.claim_greater([0.11, 0.11, 0.11], [0.1, 0.1, 0.1])  # zero spread: any difference
    assert evidence.claim_greater([0.11, 0.11, 0.11], [0.1, 0.1, 0.1], min_difference=0.05).outcome == "contradicted"
    # the claim a < b - 0.5 is the mirror of b > a + 0.5
    a, b = paired(-2.0, 0.2, 5)
    assert evidence.claim_less(a, b, min_difference=0.5).p_value == pytest.approx(
        evidence.claim_greater(b, a, min_difference=0.5).p_value)


def test_close_is_two_one_sided_tests():
    a, b = np.array([1.00, 1.01, 0.99, 1.02]), np.array([1.0, 1.0, 1.0, 1.0])
    verdict = evidence.claim_close(a, b, tolerance=0.05)
    d = a - b
    tost = max(stats.ttest_1samp(d, -0.05, alternative="greater").pvalue,
               stats.ttest_1samp(d, 0.05, alternative="less").pvalue)
    assert verdict.holds and verdict.p_value == pytest.approx(tost, rel=1e-9)
    assert evidence.claim_close([1.0, 1.2, 0.8], [1.0, 1.0, 1.0], tolerance=0.05).outcome == "undecided"
    assert evidence.claim_close([2.0, 2.01, 1.99], [1.0, 1.0, 1.0], tolerance=0.05).outcome == "contradicted"


def test_nan_one_seed_and_nan_options_are_refused():
    with pytest.raises(ValueError, match=r"a has non-finite values .* positions \[1\]"):
        evidence.claim_greater([0.5, math.nan, 0.5], [0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="b must be a finite number"):
        evidence.claim_greater([0.5, 0.6], math.nan)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        evidence.claim_greater([0.5], [0.1])
    with pytest.raises(ValueError, match="min_difference must be a finite number"):
        evidence.claim_greater([0.5, 0.6], [0.1, 0.2], min_difference=math.nan)
    with pytest.raises(ValueError, match="level"):
        evidence.claim_greater([0.5, 0.6], [0.1, 0.2], level=math.nan)
    with pytest.raises(ValueError, match="tolerance must be a finite number > 0"):
        evidence.claim_close([0.5, 0.6], [0.1, 0.2], tolerance=math.nan)
    with pytest.raises(ValueError, match="paired claims need one value"):
        evidence.claim_greater([0.5, 0.6, 0.7], [0.1, 0.2])
    assert "1 not finite" in evidence.describe([0.5, math.nan, 0.5])


@pytest.mark.parametrize("level", [0.9, 0.5, 0.949, 1.0, 1.5, True, "0.95"])
def test_a_level_cannot_be_loosened_or_be_nonsense(level):
    with pytest.raises(ValueError, match=r"level must be a one-sided confidence level in \[0.95, 1\)"):
        evidence.claim_greater(*paired(5.0, 1.0, 5), level=level)
    with pytest.raises(ValueError, match="level"):
        evidence.ClaimFamily("notebook 05", level=level)


def test_a_stricter_level_decides_less():
    a, b = paired(2.8, 1.0, 5)  # t = 2.8: beyond t_0.95,4 = 2.13, short of t_0.99,4 = 3.75
    assert evidence.claim_greater(a, b, level=0.95).holds
    strict = evidence.claim_greater(a, b, level=0.99)
    assert strict.outcome == "undecided" and "99% one-sided lower bound" in str(strict)


def test_margin_se_is_gone_and_says_what_replaced_it():
    with pytest.raises(TypeError, match="margin_se was removed.*level=0.95"):
        evidence.claim_greater([0.5, 0.6], [0.1, 0.2], margin_se=2)
    with pytest.raises(TypeError, match="margin_se was removed"):
        evidence.claim_close([0.5, 0.6], [0.1, 0.2], 0.1, margin_se=2)
    with pytest.raises(TypeError):  # the old positional margin_se
        evidence.claim_less([0.5, 0.6], [0.1, 0.2], "a < b", 2.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        evidence.claim_greater([0.5, 0.6], [0.1, 0.2], min_diference=0.1)


def holm_by_definition(p, alpha):
    """Holm (1979) written out: walk the p-values in ascending order, reject while p_(i) <= alpha / (m - i + 1)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = [False] * len(p)
    for rank, i in enumerate(order):
        if p[i] > alpha / (len(p) - rank):
            break
        rejected[i] = True
    return rejected


@pytest.mark.parametrize("p, expected", [
    ([0.01, 0.04, 0.03], [True, False, False]),  # 0.01 <= 0.05/3; then 0.03 > 0.05/2 stops
    ([0.005, 0.011, 0.02, 0.04], [True, True, True, True]),  # Bonferroni (0.0125) would reject only two
    ([0.2, 0.3], [False, False]),
])
def test_holm_rejects_what_the_textbook_procedure_rejects(p, expected):
    assert holm_by_definition(p, 0.05) == expected
    assert list(evidence.holm_adjust(p) <= 0.05) == expected


def claim_with_p(p: float, df: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Paired data whose one-sided p-value for a > b is p."""
    return paired(stats.t.isf(p, df), 1.0, df + 1)


def test_a_family_keeps_its_level_by_holm():
    family = evidence.ClaimFamily("notebook 05")
    first = family.greater(*claim_with_p(0.03), claim="first")
    second = family.greater(*claim_with_p(0.04), claim="second")
    assert first.holds and second.holds  # each alone, at 95%
    assert first.p_value == pytest.approx(0.03) and len(family) == 2
    decided = family.verdicts()
    assert [v.outcome for v in decided] == ["undecided", "undecided"]  # 2 x 0.03 > 0.05 and 0.04 > 0.05
    assert decided[0].p_adjusted == pytest.approx(0.06) and decided[0].family == "notebook 05"
    with pytest.raises(evidence.ClaimFailed, match="2 required claim"):
        family.check()
    assert "Holm-adjusted p=0.06 in a family of 2" in family.report()


def test_a_family_checks_only_its_required_claims():
    family = evidence.ClaimFamily("notebook 09")
    family.greater(*claim_with_p(0.001), claim="clear")
    family.less(*claim_with_p(0.001), claim="open question", required=False)  # in fact a > b, clearly
    family.close([1.0, 1.01, 0.99, 1.0], [1.0, 1.0, 1.0, 1.0], tolerance=0.1, claim="equal")
    verdicts = family.check()
    assert [v.outcome for v in verdicts] == ["holds", "contradicted", "holds"]
    report = family.report()
    assert "[reported] contradicted: open question" in report and report.count("[required] holds") == 2


def test_a_family_refuses_other_levels_and_counts():
    family = evidence.ClaimFamily("notebook 02", level=0.99)
    with pytest.raises(ValueError, match="level 0.99"):
        family.add(evidence.claim_greater(*claim_with_p(0.001)))
    with pytest.raises(ValueError, match="claim_in_seeds|individual verdict"):
        family.add(evidence.claim_in_seeds([True, True], at_least=2))
    with pytest.raises(ValueError, match="no claims"):
        family.verdicts()


def test_claim_in_seeds_counts():
    assert evidence.claim_in_seeds([True, True, False, True, True], at_least=4).outcome == "holds"
    assert evidence.claim_in_seeds([True, False, False, True, True], at_least=4).outcome == "contradicted"
    with pytest.raises(ValueError, match="at_least"):
        evidence.claim_in_seeds([True, True], at_least=3)


def test_a_hand_made_verdict_holds_or_is_undecided_never_contradicted():
    assert evidence.Verdict("checked by hand", True, "exact").outcome == "holds"
    assert evidence.Verdict("checked by hand", False, "exact").outcome == "undecided"
    with pytest.raises(ValueError, match="outcome"):
        evidence.Verdict("x", "maybe", "")


def test_over_seeds_runs_each_seed_once():
    calls = []
    frame = evidence.over_seeds(lambda s: calls.append(s) or {"acc": s / 10, "loss": 1 - s / 10}, seeds=[3, 1, 2])
    assert calls == [3, 1, 2] and list(frame.index) == [3, 1, 2]
    assert frame.loc[1, "acc"] == 0.1 and list(frame.columns) == ["acc", "loss"]
    with pytest.raises(ValueError, match="seeds"):
        evidence.over_seeds(lambda s: 0.0, seeds=[])
    with pytest.raises(ValueError, match="seeds"):
        evidence.over_seeds(lambda s: 0.0, seeds=[0.5, 1])


def test_over_seeds_accepts_numpy_integers_and_passes_python_ints():
    seen = []
    frame = evidence.over_seeds(lambda s: seen.append(s) or float(s), seeds=np.arange(3))
    assert seen == [0, 1, 2] and all(type(s) is int for s in seen)
    assert list(frame.index) == [0, 1, 2]


def test_time_activations_reports_ratios_to_the_reference_with_their_spread():
    from actlab.experiments import timing

    table = timing.time_activations(["sigmoid", "relu"], n=10_000, rounds=2, min_run_time=0.005, reference="relu")
    assert table.attrs["reference"] == "ReLU"
    row = table.loc["Sigmoid"]
    assert row["forward ratio min"] <= row["forward ratio"] <= row["forward ratio max"]
    # over 2 rounds the ratio of the median times, (a1 + a2) / (b1 + b2), lies between the two rounds' ratios: the
    # ms and ratio columns describe the same rounds, against the reference's times (no timing is asserted)
    of_medians = row["forward ms"] / table.loc["ReLU", "forward ms"]
    assert row["forward ratio min"] * (1 - 1e-12) <= of_medians <= row["forward ratio max"] * (1 + 1e-12)
    with pytest.raises(ValueError, match="rounds"):
        timing.time_activations(["relu"], rounds=0)


def test_full_run_reads_the_environment(monkeypatch):
    monkeypatch.delenv("ACTLAB_FULL", raising=False)
    assert evidence.full_run() is False
    monkeypatch.setenv("ACTLAB_FULL", "1")
    assert evidence.full_run() is True
    for value in ("TRUE", "Yes", " on ", "1"):  # checks.env_flag: any case, spaces ignored
        monkeypatch.setenv("ACTLAB_FULL", value)
        assert evidence.full_run() is True, value
    for value in ("False", "OFF", "no", "0", ""):
        monkeypatch.setenv("ACTLAB_FULL", value)
        assert evidence.full_run() is False, value
    monkeypatch.setenv("ACTLAB_FULL", "maybe")
    with pytest.raises(ValueError, match="ACTLAB_FULL.*'maybe'"):
        evidence.full_run()
