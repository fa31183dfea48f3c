"""The experiments of notebooks 00-03 (actlab.experiments.basics): right values, clear errors."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

import actlab
from actlab.experiments import basics, mean_field


def tiny_images(n=64, classes=10, seed=0):
    """A small random image Dataset (3x4x4, 48 inputs) for fast tests."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 4, 4, generator=gen)
    y = torch.arange(n) % classes
    return actlab.Dataset(x, y, x[:16], y[:16], tuple(str(c) for c in range(classes)), "tiny random images")


# 00 --------------------------------------------------------------------------------------------------------------

def test_zero_change_fraction_tells_a_flat_loss_from_a_smooth_one():
    x, y = torch.randn(200, 2), torch.randint(0, 2, (200,))
    torch.manual_seed(0)
    step = actlab.MLP(depth=2, width=8, activation="heaviside")
    torch.manual_seed(0)
    smooth = actlab.MLP(depth=2, width=8, activation="sigmoid")
    before = [p.detach().clone() for p in step.parameters()]
    assert basics.zero_change_fraction(step, x, y, "hidden", trials=20) == 1.0
    assert basics.zero_change_fraction(step, x, y, "out", trials=20) == 0.0
    assert basics.zero_change_fraction(smooth, x, y, "hidden", trials=20) == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, step.parameters()))  # the model is untouched
    with pytest.raises(ValueError, match="names"):
        basics.zero_change_fraction(step, x, y, "nothing")
    with pytest.raises(ValueError, match="step"):
        basics.zero_change_fraction(step, x, y, step=0)


def test_toy_accuracies_are_fractions_for_each_model():
    accuracies = basics.toy_accuracies(0, epochs=1, n=100)
    assert list(accuracies) == list(basics.toy_models())
    assert all(0 <= v <= 1 for v in accuracies.values())
    with pytest.raises(ValueError, match="epochs"):
        basics.toy_accuracies(0, epochs=0)


# 01 --------------------------------------------------------------------------------------------------------------

def test_central_difference_is_within_its_bound_for_exp():
    x = torch.linspace(-2, 2, 101, dtype=torch.float64)
    h = 1e-5
    bound = basics.central_difference_bound(h, max_value=math.exp(2), max_slope=math.exp(2), max_third=math.exp(2.01),
                                            max_abs_x=2)
    error = (basics.central_difference(torch.exp, x, h) - torch.exp(x)).abs().max().item()
    assert error < bound < 1e-8
    # truncation alone: h^2 / 6 * M3
    assert basics.central_difference_bound(1e-2, 0, 0, 6.0, 0) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="h"):
        basics.central_difference(torch.exp, x, h=-1)


def test_saturation_point_solves_the_slope_equation():
    x = basics.saturation_point("sigmoid", 0.01)
    s = 1 / (1 + math.exp(-x))
    assert s * (1 - s) == pytest.approx(0.0025, rel=1e-12)
    assert x == pytest.approx(5.9865, abs=1e-3)
    t = math.tanh(basics.saturation_point("tanh", 0.01))
    assert 1 - t * t == pytest.approx(0.01, rel=1e-9)
    with pytest.raises(ValueError, match="fraction"):
        basics.saturation_point("sigmoid", 1.5)
    with pytest.raises(ValueError, match="name"):
        basics.saturation_point("relu")


def test_saturated_fraction_normal_is_the_two_sided_tail():
    # x* = 5.9865 at std 3 is 1.9955 standard deviations: two-sided tail 0.0460
    assert basics.saturated_fraction_normal("sigmoid", 3) == pytest.approx(0.0460, abs=2e-4)
    with pytest.raises(ValueError, match="std"):
        basics.saturated_fraction_normal("sigmoid", 0)


def test_gradient_signs_agree_per_example_for_sigmoid_inputs_only():
    assert basics.gradient_sign_agreement("sigmoid", batch_size=1, batches=50) == 1.0
    assert basics.gradient_sign_agreement("tanh", batch_size=1, batches=50) < 0.05  # 2 * 2^-8 expected
    assert basics.gradient_sign_agreement("sigmoid", batch_size=4, batches=50) < 1.0
    with pytest.raises(ValueError, match="batch_size"):
        basics.gradient_sign_agreement("sigmoid", batch_size=0)
    with pytest.raises(ValueError, match="inputs"):
        basics.gradient_sign_agreement("relu")


def test_same_sign_updates_batches_and_zigzag_counts():
    path = basics.same_sign_updates("sigmoid", steps=50, seed=0, batch_size=8)
    assert path.shape == (51, 2) and np.all(path[0] == 0)
    with pytest.raises(ValueError, match="batch_size"):
        basics.same_sign_updates("sigmoid", batch_size=0)
    one = basics.zigzag_steps(0, batch_size=1)
    assert one["sigmoid same-sign moves"] == 1.0 and one["sigmoid steps"] > one["tanh steps"]


def test_input_conditioning_matches_the_closed_form():
    variance = actlab.gaussian_mean(lambda z: torch.sigmoid(2 * z) ** 2) - 0.25  # E[a a^T] = v I + 1/4 1 1^T
    expected = (variance + 0.5) / variance
    assert basics.input_conditioning("sigmoid") == pytest.approx(expected, rel=0.03)
    assert basics.input_conditioning("tanh") == pytest.approx(1.0, abs=0.05)


def test_timing_sentence_follows_the_spread():
    table = pd.DataFrame({"forward ratio": [1.0, 2.0, 1.1], "forward ratio min": [1.0, 1.5, 0.7],
                          "forward ratio max": [1.0, 2.5, 1.6]}, index=["ReLU", "Sigmoid", "Tanh"])
    table.attrs["reference"] = "ReLU"
    assert "slower than ReLU in every round" in basics.timing_sentence(table, "Sigmoid")
    assert "not distinguishable" in basics.timing_sentence(table, "Tanh")
    with pytest.raises(ValueError, match="kind"):
        basics.timing_sentence(table, "Tanh", "backward")


# 02-03 -----------------------------------------------------------------------------------------------------------

def test_deep_mlp_initialises_by_name_and_gain():
    model = basics.deep_mlp("tanh", "xavier", gain=2.0, depth=3, width=128, in_features=128, out_features=10,
                            output_scale=0.5)
    hidden = model.hidden.linear2.weight
    assert hidden.std().item() == pytest.approx(2.0 * math.sqrt(2 / 256), rel=0.05)
    assert all((layer.bias == 0).all() for layer in model.linear_layers())
    out_std = 2.0 * 0.5 * math.sqrt(2 / 138)  # the gain applies to every layer, output_scale on top
    assert model.out.weight.std().item() == pytest.approx(out_std, rel=0.15)
    kaiming = basics.deep_mlp("relu", "kaiming", depth=2, width=256, in_features=256)
    assert kaiming.hidden.linear2.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    with pytest.raises(ValueError, match="init"):
        basics.deep_mlp("relu", "orthogonal")
    with pytest.raises(ValueError, match="gain"):
        basics.deep_mlp("relu", gain=0)


def test_layer_signals_factor_is_weight_scale_times_rms_slope():
    data = tiny_images(256)
    relu = basics.signal_summary(basics.init_signals("relu", "kaiming", 1.0, data, width=128))
    sigmoid = basics.signal_summary(basics.init_signals("sigmoid", "xavier", 1.0, data, width=128))
    assert relu["measured factor"] == pytest.approx(1.0, abs=0.1)
    assert relu["measured factor"] == pytest.approx(relu["predicted factor"], rel=0.1)
    assert sigmoid["measured factor"] == pytest.approx(sigmoid["predicted factor"], rel=0.1)
    assert sigmoid["rms slope"] < 0.25 and sigmoid["log10 delta first/last"] < -4
    signals = basics.init_signals("tanh", "xavier", 1.0, data, depth=4)
    assert list(signals.index) == [1, 2, 3, 4] and (signals["mean output"].abs() < 0.2).all()
    with pytest.raises(TypeError, match="MLP"):
        basics.layer_signals(torch.nn.Linear(2, 2), torch.randn(4, 2), torch.zeros(4, dtype=torch.long))


def test_train_deep_returns_numbers_and_the_model():
    data = tiny_images(64)
    result = basics.train_deep("tanh", "xavier", 1.0, data, epochs=1, depth=3, width=16,
                               monitor=basics.SaturationMonitor(data, max_examples=32))
    numbers = basics.numbers_only(result)
    assert set(numbers) == {"test accuracy", "log10 median grad ratio", "log10 moved first/last",
                            "saturated first layer at init", "saturated first layer after training"}
    assert isinstance(result["model"], actlab.MLP) and len(result["moved"]) == 4
    assert math.isfinite(numbers["log10 median grad ratio"])  # one step is enough to record a ratio
    saturated = [row["saturated/hidden.act1"] for row in result["history"].epochs]
    assert len(saturated) == 2 and all(0 <= s <= 1 for s in saturated)


def test_gains_and_mean_field_variances():
    assert mean_field.variance_preserving_gain("relu") == pytest.approx(math.sqrt(2), abs=1e-6)
    assert 1.55 < mean_field.variance_preserving_gain("tanh") < 5 / 3
    np.testing.assert_allclose(mean_field.mean_field_variances("relu", math.sqrt(2), 5), 2.0, rtol=1e-9)
    np.testing.assert_allclose(mean_field.mean_field_variances("relu", 1.0, 5), 0.5 ** np.arange(5), rtol=1e-9)
    q = mean_field.variance_fixed_point("tanh", 5 / 3)  # a fixed point of q -> g^2 E[tanh(sqrt(q) z)^2]
    fixed = (5 / 3) ** 2 * actlab.gaussian_mean(lambda z: torch.tanh(math.sqrt(q) * z) ** 2)
    assert q == pytest.approx(fixed, rel=1e-6)
    assert mean_field.variance_fixed_point("tanh", 1.0, iterations=200) < 0.01
    # ReLU: kappa = E[relu^4] / E[relu^2]^2 = (3/2) / (1/4) = 6 at every layer
    assert mean_field.finite_width_spread("relu", 1.0, 30, 256) == pytest.approx(math.sqrt(29 * 5 / 256) / math.log(2))


def test_preactivation_variance_follows_the_gain():
    relu = mean_field.preactivation_variance("relu", 1.0, depth=6, width=256, n=500)
    assert relu[0] == pytest.approx(1.0, rel=0.1)
    assert np.log2(relu[-1] / relu[0]) == pytest.approx(-5, abs=1.0)
    with pytest.raises(ValueError, match="gain"):
        mean_field.preactivation_variance("relu", -1.0)


def test_initial_loss_is_ln_k_for_small_logits_and_its_expansion_holds():
    data = tiny_images(200)
    small = basics.initial_loss("tanh", "xavier", 1.0, data, depth=3, width=32, n=200, output_scale=1e-3)
    assert small["loss"] == pytest.approx(math.log(10), abs=1e-3)
    large = basics.initial_loss("relu", "kaiming", 3.0, data, depth=3, width=32, n=200)
    for result in (small, large):
        assert abs(result["loss"] - result["predicted"]) <= result["remainder bound"]
    assert large["loss"] > math.log(10) + 0.5


def test_saturation_monitor_key_names_the_data_it_measures_on():
    """A cached run must not serve saturation measured on other inputs (same size, other values)."""
    one, other = tiny_images(64, seed=0), tiny_images(64, seed=1)
    assert basics.SaturationMonitor(one, 32).key() == basics.SaturationMonitor(tiny_images(64, seed=0), 32).key()
    assert basics.SaturationMonitor(one, 32).key() != basics.SaturationMonitor(other, 32).key()
    assert basics.SaturationMonitor(one, 32).key() != basics.SaturationMonitor(one, 16).key()
    with pytest.raises(ValueError, match="max_examples"):
        basics.SaturationMonitor(one, 0)


@pytest.mark.parametrize("bias, saturated", [(5.0, 0.0), (6.5, 1.0)])
def test_layer_signals_judge_saturation_against_the_sigmoids_peak(bias, saturated):
    """sigmoid'(5) = 0.0066 is above 1% of the peak 1/4 (not saturated, though below an absolute 0.01);
    sigmoid'(6.5) = 0.0015 is below it (vocabulary.SATURATED)."""
    model = actlab.MLP(1, 4, "sigmoid", in_features=48, out_features=10)
    with torch.no_grad():
        model.hidden.linear1.weight.zero_()
        model.hidden.linear1.bias.fill_(bias)
    x, y = torch.randn(8, 48), torch.arange(8)
    assert basics.layer_signals(model, x, y)["saturated"].iloc[0] == saturated


def test_deep_mlp_factory_gives_each_activation_its_recommended_init():
    """Kaiming for ReLU (std sqrt(2 / fan_in)), Xavier for tanh (std sqrt(2 / (fan_in + fan_out))); picklable."""
    import pickle

    factory = pickle.loads(pickle.dumps(basics.DeepMLP(depth=2, width=400, in_features=400, out_features=10)))
    torch.manual_seed(0)
    relu, tanh = factory("relu"), factory("tanh")
    assert isinstance(relu, actlab.MLP) and len(relu.linear_layers()) == 3
    assert relu.hidden.linear2.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert tanh.hidden.linear2.weight.std().item() == pytest.approx(math.sqrt(2 / 800), rel=0.05)


@pytest.mark.parametrize("run", ["toy_accuracies", "step_vs_sigmoid"])
def test_toy_trainings_run_on_one_thread_and_restore_the_callers_count(run, monkeypatch):
    """Notebook 00's tiny MLPs train on one torch thread (two threads waiting for a loaded core made them ~100x
    slower); the caller's thread count comes back afterwards."""
    seen = []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    real = basics.train
    monkeypatch.setattr(basics, "train", spy)
    basics.train_toy_models.cache_clear()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        getattr(basics, run)(0, epochs=1, n=100)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
        basics.train_toy_models.cache_clear()
