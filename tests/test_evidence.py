"""Claims over seeds: verdicts follow the numbers and their spread, and refuse what they cannot decide."""
import math

import numpy as np
import pytest

from actlab import evidence


def test_a_clear_paired_difference_holds_and_a_noisy_one_does_not():
    clear = evidence.claim_greater([0.50, 0.52, 0.51], [0.40, 0.41, 0.40], "a beats b")
    assert clear and "3 seeds" in clear.evidence
    # the same means, but one seed reverses the order: the spread swamps the difference
    noisy = evidence.claim_greater([0.70, 0.30, 0.53], [0.40, 0.41, 0.40], "a beats b")
    assert not noisy
    with pytest.raises(evidence.ClaimFailed, match="a beats b"):
        noisy.check()


def test_pairing_removes_the_shared_spread():
    a, b = [0.2, 0.5, 0.8], [0.1, 0.4, 0.7]  # a is always 0.1 higher, but seeds spread widely
    assert evidence.claim_greater(a, b, paired=True)
    assert not evidence.claim_greater(a, b, paired=False)


def test_standard_error_is_sample_sd_over_root_n():
    assert evidence.standard_error([1.0, 2.0, 3.0, 4.0]) == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


def test_min_difference_is_a_floor_on_the_margin():
    assert evidence.claim_greater([0.11, 0.11, 0.11], [0.1, 0.1, 0.1])  # zero spread: any difference
    assert not evidence.claim_greater([0.11, 0.11, 0.11], [0.1, 0.1, 0.1], min_difference=0.05)


def test_less_against_a_number_and_close():
    assert evidence.claim_less([0.01, 0.02, 0.015], 0.1)
    assert not evidence.claim_less([0.2, 0.01, 0.02], 0.1)
    assert evidence.claim_close([1.0, 1.01, 0.99], [1.0, 1.0, 1.0], tolerance=0.05)
    assert not evidence.claim_close([1.0, 1.2, 0.8], [1.0, 1.0, 1.0], tolerance=0.05)


def test_nan_seeds_make_a_claim_fail_never_hold():
    verdict = evidence.claim_greater([0.5, math.nan, 0.5], [0.1, 0.1, 0.1])
    assert not verdict
    assert "1 not finite" in evidence.describe([0.5, math.nan, 0.5])


def test_claim_in_seeds_counts():
    assert evidence.claim_in_seeds([True, True, False, True, True], at_least=4)
    assert not evidence.claim_in_seeds([True, False, False, True, True], at_least=4)
    with pytest.raises(ValueError, match="at_least"):
        evidence.claim_in_seeds([True, True], at_least=3)


def test_one_seed_is_refused():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        evidence.claim_greater([0.5], [0.1])


def test_over_seeds_runs_each_seed_once():
    calls = []
    frame = evidence.over_seeds(lambda s: calls.append(s) or {"acc": s / 10, "loss": 1 - s / 10}, seeds=[3, 1, 2])
    assert calls == [3, 1, 2] and list(frame.index) == [3, 1, 2]
    assert frame.loc[1, "acc"] == 0.1 and list(frame.columns) == ["acc", "loss"]
    with pytest.raises(ValueError, match="seeds"):
        evidence.over_seeds(lambda s: 0.0, seeds=[])


def test_time_activations_reports_ratios_to_the_reference_with_their_spread():
    import actlab

    table = actlab.time_activations(["sigmoid", "relu"], n=10_000, rounds=2, min_run_time=0.005, reference="relu")
    assert table.attrs["reference"] == "ReLU"
    row = table.loc["Sigmoid"]
    assert row["forward ratio min"] <= row["forward ratio"] <= row["forward ratio max"]
    # over 2 rounds the ratio of the median times, (a1 + a2) / (b1 + b2), lies between the two rounds' ratios: the
    # ms and ratio columns describe the same rounds, against the reference's times (no timing is asserted)
    of_medians = row["forward ms"] / table.loc["ReLU", "forward ms"]
    assert row["forward ratio min"] * (1 - 1e-12) <= of_medians <= row["forward ratio max"] * (1 + 1e-12)
    with pytest.raises(ValueError, match="rounds"):
        actlab.time_activations(["relu"], rounds=0)


def test_full_run_reads_the_environment(monkeypatch):
    monkeypatch.delenv("ACTLAB_FULL", raising=False)
    assert evidence.full_run() is False
    monkeypatch.setenv("ACTLAB_FULL", "1")
    assert evidence.full_run() is True
    monkeypatch.setenv("ACTLAB_FULL", "yes")
    with pytest.raises(ValueError, match="ACTLAB_FULL"):
        evidence.full_run()
