"""Tests of actlab.experiments.comparison (notebooks 09-11): fast, on tiny models and data."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.experiments import comparison, timing


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Keep the training cache of these tests out of the course's data folder."""
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))


def test_settings_default_is_smaller_and_full_has_every_activation():
    quick, full = comparison.settings(False), comparison.settings(True)
    assert set(quick.activations) < set(full.activations)
    assert len(quick.seeds) >= 3 and len(full.seeds) >= 5
    assert quick.epochs * quick.n_train < full.epochs * full.n_train
    assert full.grid == actlab.LR_GRID and set(quick.grid) <= set(full.grid)
    assert quick.tune_n_train <= quick.n_train and full.tune_n_train <= full.n_train
    assert quick.tune_epochs * quick.tune_n_train < full.tune_epochs * full.tune_n_train


def test_digits_rates_are_tuned_over_several_seeds():
    """With one tuning seed the short run chose digits rates at which a comparison seed then diverged (Leaky ReLU at
    0.1: test accuracy 0.662 +- 0.487 over 3 seeds); a rate must survive every tuning seed to be chosen."""
    for full in (False, True):
        assert len(comparison.settings(full).digits_tune_seeds) >= 3


def _forced_mlp(activation: str) -> nn.Module:
    """A 1-hidden-layer MLP of 4 units whose unit 0 has pre-activation -100 on every input."""
    torch.manual_seed(0)
    model = actlab.MLP(1, 4, activation, in_features=2, out_features=2)
    with torch.no_grad():
        model.hidden.linear1.weight[0] = 0.0
        model.hidden.linear1.bias[0] = -100.0
    return model


def test_unit_health_counts_exactly_dead_and_near_dead_units():
    x, y = torch.randn(200, 2), torch.zeros(200, dtype=torch.long)
    relu = comparison.unit_health(_forced_mlp("relu"), (x, y))
    assert relu["dead"] == 0.25 and relu["near_dead"] == 0.25
    assert 0.25 < relu["flat"] < 1  # the forced unit always, the others on their negative inputs
    elu = comparison.unit_health(_forced_mlp("elu"), (x, y))  # e^-100: not exactly dead, but no gradient
    assert elu["dead"] == 0 and elu["near_dead"] == 0.25
    leaky = comparison.unit_health(_forced_mlp("leaky_relu"), (x, y))  # slope 0.01 = 1% of its peak: not below it
    assert leaky["dead"] == 0 and leaky["near_dead"] == 0  # the vocabulary's near-dead (09 used to count 0.25)
    tanh = comparison.unit_health(_forced_mlp("tanh"), (x, y))  # float32 tanh'(-100) = 0: the forced unit only
    assert tanh["dead"] == 0.25 and tanh["near_dead"] == 0.25 and tanh["flat"] == pytest.approx(0.25, abs=0.02)
    sigmoid = comparison.unit_health(_forced_mlp("sigmoid"), (x, y))  # judged against sigmoid's peak 1/4, not 1
    assert sigmoid["near_dead"] == 0.25


def _history(steps):
    return actlab.History(config={}, data_source="test", steps=list(steps), epochs=[{"epoch": 0}, {"epoch": 1}])


def test_steps_to_common_loss_uses_the_worse_best_level():
    fast = _history(np.linspace(2.0, 0.5, 200))
    slow = _history(np.linspace(2.0, 1.0, 200))
    level, fast_steps, slow_steps = comparison.steps_to_common_loss(fast, slow, window=10)
    assert level == pytest.approx(slow.smoothed_loss(10).min())
    assert fast_steps < slow_steps == 200
    with pytest.raises(ValueError, match="window"):
        comparison.steps_to_common_loss(_history([1.0] * 5), fast, window=10)


def test_convergence_steps_ratio_is_slow_over_fast():
    fast, slow = _history(np.linspace(2.0, 0.5, 200)), _history(np.linspace(2.0, 1.0, 200))
    result = actlab.Comparison({("relu", 0): fast, ("tanh", 0): slow, ("relu", 1): fast, ("tanh", 1): slow}, {}, "t")
    table = comparison.convergence_steps(result, "relu", "tanh", window=10)
    assert list(table.index) == [0, 1]
    assert (table["ratio"] == table["Tanh steps"] / table["ReLU steps"]).all() and (table["ratio"] > 1).all()
    with pytest.raises(ValueError, match="sigmoid"):
        comparison.convergence_steps(result, "relu", "sigmoid", window=10)


def test_time_callables_reports_ratios_to_the_reference():
    table = timing.time_callables({"a": lambda: sum(range(100)), "b": lambda: sum(range(2000))},
                                      rounds=2, min_run_time=0.01)
    assert table.loc["b", "ratio min"] <= table.loc["b", "ratio"] <= table.loc["b", "ratio max"]
    # over 2 rounds the ratio of the median times, (a1 + a2) / (b1 + b2), lies between the two rounds' ratios: the
    # ms and ratio columns describe the same rounds, against the reference's times (no timing is asserted)
    of_medians = table.loc["b", "ms"] / table.loc["a", "ms"]
    assert table.loc["b", "ratio min"] * (1 - 1e-12) <= of_medians <= table.loc["b", "ratio max"] * (1 + 1e-12)
    with pytest.raises(ValueError, match="rounds"):
        timing.time_callables({"a": lambda: None}, rounds=0)
    with pytest.raises(ValueError, match="reference"):
        timing.time_callables({"a": lambda: None}, reference="z")


def test_pooled_features_averages_blocks():
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    x[:, :, :16, :16] = 255
    data = actlab.Dataset(x, torch.zeros(2, dtype=torch.long), x, torch.zeros(2, dtype=torch.long),
                          tuple("abcdefghij"), "test")
    pooled = comparison.pooled_features(data, size=2)
    assert pooled.x_train.shape == (2, 12)
    assert pooled.x_train[0, :4].tolist() == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="size"):
        comparison.pooled_features(data, size=5)
    with pytest.raises(ValueError, match="image"):
        comparison.pooled_features(pooled)


def test_cosine_decay_reaches_zero_at_the_last_step():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.4)
    decay = comparison.CosineDecay(10)
    decay.on_train_begin(None, opt)
    decay.on_after_backward(None, 5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    decay.on_after_backward(None, 10)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="total_steps"):
        comparison.CosineDecay(0)


@pytest.fixture(scope="module")
def small_result():
    data = actlab.toy_2d("circles", n=200, seed=0)
    return data, actlab.compare(["relu", "leaky_relu"], data, seeds=[0, 1], epochs=2, progress=False)


def test_readable_summary_has_readable_headers_and_ranks(small_result):
    data, result = small_result
    health = comparison.health_frame(result, data)
    table = comparison.readable_summary(result, health)
    assert list(table.index) != [] and set(table.index) == {"ReLU", "Leaky ReLU"}
    assert not any("_" in column for column in table.columns)
    assert table["rank"].tolist() == [1, 2] and table["test acc"].is_monotonic_decreasing
    acc = comparison.final_accuracies(result)
    assert acc.shape == (2, 2) and table.loc["ReLU", "test acc"] == pytest.approx(acc["relu"].mean())


def test_side_by_side_puts_each_data_set_in_its_own_columns(small_result):
    _, result = small_result
    tuning = actlab.Tuning(None, {"relu": 0.1, "leaky_relu": 0.03}, "validation")
    table = comparison.side_by_side({"circles": (tuning, result), "again": (tuning, result)})
    assert list(table.columns.get_level_values(0).unique()) == ["circles", "again"]
    assert table.loc["Leaky ReLU", ("circles", "lr")] == 0.03
    acc = comparison.final_accuracies(result)
    assert table.loc["ReLU", ("again", "test acc")] == pytest.approx(acc["relu"].mean())


def test_plot_runs_shares_a_whole_number_epoch_axis(small_result):
    _, result = small_result
    fig = comparison.plot_runs(result, window=5)
    axes = fig.axes
    assert all(ax.get_xlim() == (0, 2) for ax in axes)
    assert all(float(t).is_integer() for ax in axes for t in ax.get_xticks())
    styles = {line.get_linestyle() for line in axes[1].get_lines() if line.get_label() in ("ReLU", "Leaky ReLU")}
    assert len(styles) == 2


def test_swap_and_finetune_control_is_the_unswapped_base():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=gen)
    y = (x[:, 0] > 0).long()
    features = actlab.Dataset(x, y, x[:128], y[:128], ("a", "b"), "test")
    out = comparison.swap_and_finetune(features, ["relu", "tanh"], seed=0, base_epochs=2)
    assert set(out) == {"base", "swap/relu", "tuned/relu", "swap/tanh", "tuned/tanh"}
    assert out["swap/relu"] == out["base"]  # no swap, no change before fine-tuning


def test_train_each_checks_extras():
    with pytest.raises(ValueError, match="extras"):
        comparison.train_each({"a": lambda: None}, None, 0, extras={"b": lambda m: {}})
    with pytest.raises(ValueError, match="factories"):
        comparison.train_each({}, None, 0)


def test_a_diverged_run_is_scored_at_chance_with_a_warning():
    data = actlab.toy_2d("moons", n=240, seed=1)
    result = actlab.compare(["relu"], data, seeds=(0,), lr=1e6, epochs=2, batch_size=32, progress=False)
    assert result.histories[("relu", 0)].status == "diverged"  # lr 10,000 overflows ReLU's unbounded outputs
    with pytest.warns(UserWarning, match="relu seed 0"):
        acc = comparison.final_accuracies(result, classes=2)
    assert acc.loc[0, "relu"] == 0.5  # was NaN, which stopped every claim averaging over seeds


def test_interleaved_rotates_the_order_each_round_and_keeps_one_median_per_round():
    calls = []

    class Recorder:
        def __init__(self, name, seconds):
            self.name, self.seconds = name, seconds

        def blocked_autorange(self, min_run_time):
            calls.append((self.name, min_run_time))
            return type("Measurement", (), {"median": self.seconds})()

    times = timing.interleaved({"a": Recorder("a", 1.0), "b": Recorder("b", 2.0), "c": Recorder("c", 3.0)},
                               rounds=4, min_run_time=0.02)
    assert [name for name, _ in calls] == list("abc" "bca" "cab" "abc")
    assert {t for _, t in calls} == {0.02} and times == {"a": [1.0] * 4, "b": [2.0] * 4, "c": [3.0] * 4}
    assert timing.ratio_columns([2.0, 4.0, 3.0], [1.0, 1.0, 2.0]) == {
        "ms": 3000.0, "ratio": 2.0, "ratio min": 1.5, "ratio max": 4.0}
    with pytest.raises(ValueError, match=r"min_run_time must be a finite number in \(0, inf\), got 0"):
        timing.interleaved({"a": Recorder("a", 1.0)}, rounds=1, min_run_time=0)
