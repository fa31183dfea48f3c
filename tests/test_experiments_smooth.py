"""Experiments of notebooks 06-08: near-dead units, RReLU conventions, noise passed, SELU drift, GELU's stochastic gate."""
import math

import pytest
import torch
from scipy import stats
from torch import nn

import actlab
from actlab.experiments import smooth


def _one_input_layer(activation: nn.Module) -> nn.Sequential:
    """Three units fed x in [0, 1]: pre-activations in [0, 1], [-10, -9] and [-3, -2]."""
    layer = nn.Linear(1, 3)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.copy_(torch.tensor([0.0, -10.0, -3.0]))
    return nn.Sequential(layer, activation)


X = torch.linspace(0, 1, 11).unsqueeze(1)


def test_prelu_slopes_reads_shared_and_per_channel_alphas():
    model = nn.Sequential(nn.PReLU(init=0.3), nn.Linear(2, 2), nn.PReLU(3, init=0.1))
    with torch.no_grad():
        model[2].weight.copy_(torch.tensor([0.1, 0.2, 0.6]))
    assert smooth.prelu_slopes(model) == pytest.approx({"0": 0.3, "2": 0.3})
    with pytest.raises(ValueError, match="no nn.PReLU"):
        smooth.prelu_slopes(nn.Sequential(nn.ReLU()))


def test_far_negative_elu_units_are_near_dead_but_not_dead():
    counts = smooth.near_dead_units(_one_input_layer(nn.ELU()), X).iloc[0]
    # slope e^z: e^-9 < 1% of ELU's peak slope 1 on every input for unit 1; unit 2 keeps e^-2 = 0.135
    assert (counts["units"], counts["dead"], counts["near_dead"]) == (3, 0, 1)
    assert counts["zero_fraction"] == pytest.approx(1 / 33)  # ELU is exactly 0 only at z = 0 (unit 0, x = 0)


def test_relu_units_below_zero_are_dead_and_leaky_units_are_neither():
    relu = smooth.near_dead_units(_one_input_layer(nn.ReLU()), X).iloc[0]
    assert (relu["dead"], relu["near_dead"]) == (2, 2)
    # the unit fed [0, 1] is 0 only at x = 0: (1 + 11 + 11) zeros of 33 outputs
    assert relu["zero_fraction"] == pytest.approx(23 / 33)
    leaky = smooth.near_dead_units(_one_input_layer(nn.LeakyReLU(0.01)), X).iloc[0]
    assert (leaky["dead"], leaky["near_dead"]) == (0, 0)  # 0.01 is exactly 1% of its peak: not near-dead (vocabulary)


def test_near_dead_is_judged_against_the_activations_own_peak_slope():
    # SELU's peak slope is lambda alpha = 1.758, so near-dead means below 0.01758: at z in [-10, -9] its slope
    # lambda alpha e^z is below that; at z in [-3, -2] it is 0.088 to 0.238, not near-dead
    selu = smooth.near_dead_units(_one_input_layer(nn.SELU()), X).iloc[0]
    assert (selu["dead"], selu["near_dead"]) == (0, 1)
    sigmoid = smooth.near_dead_units(_one_input_layer(nn.Sigmoid()), X).iloc[0]
    # sigmoid'(-2) = 0.105 > 1% of 1/4; sigmoid'(-9) = 1.2e-4 < 0.0025: one near-dead unit
    assert (sigmoid["dead"], sigmoid["near_dead"]) == (0, 1)


def test_pushed_negative_kills_relu_and_only_slows_elu():
    data = actlab.toy_2d("xor", n=400, seed=0)
    relu = smooth.pushed_negative("relu", [0.0, 100.0], data, width=16, n_inputs=200)
    elu = smooth.pushed_negative("elu", [0.0, 100.0], data, width=16, n_inputs=200)
    assert relu.loc[0.0, "dead_fraction"] < 0.5 and relu.loc[100.0, "dead_fraction"] == 1.0
    assert elu["dead_fraction"].max() == 0.0 and elu.loc[100.0, "near_dead_fraction"] == 1.0
    assert list(elu.columns) == ["dead_fraction", "near_dead_fraction"]


def test_trained_layer_stats_counts_exact_zeros_per_run():
    data = actlab.toy_2d("xor", n=200, seed=0)
    runs = actlab.compare(["relu", "elu"], data, seeds=(0, 1), epochs=1, progress=False)
    table = smooth.trained_layer_stats(runs, data, max_examples=100)
    assert list(table.index) == [("relu", 0), ("relu", 1), ("elu", 0), ("elu", 1)]
    relu_model = runs.models[("relu", 0)]
    expected = actlab.dead_units(relu_model, data, max_examples=100)["zero_fraction"].mean()
    assert table.loc[("relu", 0), "zero fraction"] == pytest.approx(expected) and expected > 0.1
    assert (table.loc["elu", "zero fraction"] == 0).all()  # ELU is exactly 0 only at z = 0 exactly
    assert (table["mean |mean output|"] > 0).all()


def _timings(ratio, low, high):
    """A time_activations-shaped table with one row, ELU, of forward ratios."""
    import pandas as pd

    return pd.DataFrame({"forward ratio": [ratio], "forward ratio min": [low], "forward ratio max": [high]},
                        index=["ELU"])


def test_timing_comparison_decides_only_when_the_ranges_separate():
    small = _timings(3.0, 2.8, 3.3)
    assert "smaller on the large tensor" in smooth.timing_comparison(small, _timings(1.5, 1.2, 2.0), "ELU")
    assert "larger on the large tensor" in smooth.timing_comparison(small, _timings(4.0, 3.5, 4.4), "ELU")
    overlapping = smooth.timing_comparison(small, _timings(2.0, 1.2, 2.9), "ELU")  # medians differ, ranges overlap
    assert "cannot tell" in overlapping and "smaller" not in overlapping
    with pytest.raises(ValueError, match="kind"):
        smooth.timing_comparison(small, small, "ELU", kind="backward")
    with pytest.raises(ValueError, match="name"):
        smooth.timing_comparison(small, small, "SELU")


def test_pytorch_rrelu_evaluates_with_the_mean_of_its_training_slopes():
    slopes = smooth.rrelu_slopes(0.125, 1 / 3, n=20_000)
    train = slopes["train"]
    assert 0.125 <= train.min() and train.max() <= 1 / 3
    se = train.std().item() / math.sqrt(len(train))
    assert abs(train.mean().item() - (0.125 + 1 / 3) / 2) < 5 * se
    assert torch.allclose(slopes["eval"], torch.tensor(11 / 48, dtype=torch.float64))


def test_paper_rrelu_divides_by_a_uniform_and_tests_below_its_mean_slope():
    paper = smooth.paper_rrelu_slopes(3.0, 8.0, n=20_000)
    assert paper["test"] == pytest.approx(2 / 11)
    assert paper["train_mean"] == pytest.approx(0.19617, abs=1e-5)  # ln(8/3) / 5
    se = paper["train"].std().item() / math.sqrt(len(paper["train"]))
    assert abs(paper["train"].mean().item() - paper["train_mean"]) < 5 * se
    with pytest.raises(ValueError, match="low_divisor"):
        smooth.paper_rrelu_slopes(8.0, 3.0)


def test_output_std_matches_closed_forms_far_below_zero():
    s = 0.5
    assert smooth.output_std("leaky_relu", -10.0, s) == pytest.approx(0.01 * s, rel=1e-5)
    lognormal = math.exp(-3) * math.sqrt((math.exp(s * s) - 1) * math.exp(s * s))  # sd of e^(-3 + sZ)
    assert smooth.output_std("elu", -3.0, s) == pytest.approx(lognormal, rel=1e-5)
    assert smooth.output_std("elu", [-3.0, -30.0], s) == pytest.approx([lognormal, math.exp(-27) * lognormal], rel=1e-5)
    with pytest.raises(ValueError, match="noise_std"):
        smooth.output_std("elu", -3.0, 0.0)


def test_noise_passed_monte_carlo_agrees_with_the_integral():
    table = smooth.noise_passed(["elu", "leaky_relu"], [-1.0], noise_std=0.5, n=20_000)
    assert ((table["monte carlo"] - table["exact"]).abs() < 5 * table["se"]).all()


def test_selu_with_lecun_init_stays_normalised_and_relu_with_default_init_fades():
    selu = smooth.signal_drift("selu", "lecun", seed=0, depth=10, width=128, n=500)
    assert selu["worst |mean|"] < 0.1 and selu["worst |std - 1|"] < 0.1
    assert smooth.signal_drift("relu", "default", seed=0, depth=10, width=128, n=500)["last std"] < 0.1


def test_stochastic_gelu_has_mean_x_phi():
    x = torch.full((200_000,), 0.7, dtype=torch.float64)
    draws = smooth.stochastic_gelu(x, torch.Generator().manual_seed(0))
    p = stats.norm.cdf(0.7)
    se = 0.7 * math.sqrt(p * (1 - p) / len(x))
    assert abs(draws.mean().item() - 0.7 * p) < 5 * se


def test_stochastic_network_matches_gelu_in_layer_one_only():
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    table = smooth.stochastic_vs_gelu(x, depth=2, width=16, samples=300)
    assert table.loc[1, "matches"] and not table.loc[2, "matches"]


def test_stochastic_check_catches_a_gate_drawn_from_the_density(monkeypatch):
    def wrong_gate(x, generator=None):
        keep = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # phi instead of Phi: the slide's confusion
        return x * (torch.rand(x.shape, generator=generator, dtype=x.dtype) < keep).to(x.dtype)

    monkeypatch.setattr(smooth, "stochastic_gelu", wrong_gate)
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert not smooth.stochastic_vs_gelu(x, depth=1, width=16, samples=300).loc[1, "matches"]


def _history(losses, status="completed"):
    """A History with one record per epoch (epoch 0 first) of the given training losses."""
    from actlab.training import History

    epochs = [{"epoch": i, "train_loss": loss, "train_acc": 0.5, "test_loss": loss, "test_acc": 0.5, "seconds": 1.0}
              for i, loss in enumerate(losses)]
    return History(config={}, data_source="test", epochs=epochs, status=status)


def _comparison(histories):
    from actlab.compare import Comparison

    return Comparison(histories, {key: nn.Identity() for key in histories}, "test")


def test_final_values_take_each_runs_last_epoch_and_blank_diverged_runs():
    runs = _comparison({("relu", 0): _history([2.3, 2.0, 1.5]), ("relu", 1): _history([2.3, 1.8, 1.7]),
                        ("elu", 0): _history([2.3, 1.0]), ("elu", 1): _history([2.3, float("nan")], "diverged")})
    final = smooth.final_values(runs, "train_loss")
    assert final.loc[0, "relu"] == 1.5 and final.loc[1, "relu"] == 1.7 and final.loc[0, "elu"] == 1.0
    assert math.isnan(final.loc[1, "elu"])
    with pytest.raises(ValueError, match="metric"):
        smooth.final_values(runs, "accuracy")


def test_merge_runs_joins_comparisons_and_keeps_only_the_seeds_asked_for():
    a = _comparison({("prelu", s): _history([2.3, 2.0]) for s in range(5)})
    b = _comparison({("relu", s): _history([2.3, 2.1]) for s in range(3)})
    merged = smooth.merge_runs(a, b, seeds=[0, 1, 2])
    assert sorted(merged.histories) == sorted([("prelu", s) for s in range(3)] + [("relu", s) for s in range(3)])
    assert len(smooth.merge_runs(a, b).histories) == 8


def test_plot_runs_uses_whole_epochs():
    fig = smooth.plot_runs(_comparison({("relu", s): _history([2.3, 2.0, 1.9, 1.7]) for s in range(2)}))
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_timing_sentences_state_each_ratio_with_its_range():
    import pandas as pd

    table = pd.DataFrame({"forward ratio": [1.0, 3.0], "forward ratio min": [1.0, 2.5], "forward ratio max": [1.0, 4.0]},
                         index=pd.Index(["ReLU", "ELU"], name="activation"))
    table.attrs["reference"] = "ReLU"
    assert smooth.timing_sentences(table) == "ELU: 3.00x ReLU's forward time (rounds: 2.50x to 4.00x)"
    with pytest.raises(ValueError, match="kind"):
        smooth.timing_sentences(table, "backward")
