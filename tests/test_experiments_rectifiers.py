"""Tests of actlab.experiments.rectifiers (notebooks 04-05)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.experiments import rectifiers as rx


def _sgd(model, lr=0.1):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def test_linear_warm_up_raises_the_rate_linearly_then_holds_it():
    model = nn.Linear(2, 1)
    opt = _sgd(model, lr=0.4)
    warm = rx.LinearWarmUp(4)
    warm.on_train_begin(model, opt)
    seen = []
    for step in range(1, 7):
        warm.on_after_backward(model, step)
        seen.append(opt.param_groups[0]["lr"])
    assert seen == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_learning_rate_drop_changes_the_rate_at_its_step_and_keeps_the_optimiser():
    model = nn.Linear(2, 1)
    opt = _sgd(model, lr=0.5)
    drop = rx.LearningRateDrop(3, 0.01)
    drop.on_train_begin(model, opt)
    rates = []
    for step in range(1, 5):
        drop.on_after_backward(model, step)
        rates.append(opt.param_groups[0]["lr"])
    assert rates == [0.5, 0.5, 0.01, 0.01] and drop.optimizer is opt


def test_clip_grad_norm_scales_large_gradients_to_the_limit_and_records_the_norm_before():
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    model.weight.grad = torch.tensor([[3.0, 4.0, 0.0]])  # norm 5
    clip = rx.ClipGradNorm(1.0)
    clip.on_after_backward(model, 1)
    assert clip.norms == pytest.approx([5.0])
    assert model.weight.grad.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert model.weight.grad[0, 1].item() == pytest.approx(0.8, rel=1e-5)  # direction kept: 4/5
    model.weight.grad = torch.tensor([[0.3, 0.4, 0.0]])  # norm 0.5: left alone
    clip.on_after_backward(model, 2)
    assert model.weight.grad[0, 0].item() == pytest.approx(0.3) and clip.clipped_fraction() == 0.5


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1"])
def test_callbacks_reject_bad_settings(bad):
    with pytest.raises(ValueError, match="max_norm"):
        rx.ClipGradNorm(bad)
    with pytest.raises(ValueError, match="new_lr"):
        rx.LearningRateDrop(1, bad)
    with pytest.raises(ValueError, match="steps"):
        rx.LinearWarmUp(0)


def test_make_mlp_sets_hidden_biases_inserts_dropout_and_is_seeded():
    a = rx.make_mlp(3, bias=0.1, dropout=0.5, in_features=5, width=8)
    b = rx.make_mlp(3, bias=0.1, dropout=0.5, in_features=5, width=8)
    assert torch.equal(a.hidden.linear1.weight, b.hidden.linear1.weight)
    assert all((layer.bias == 0.1).all() for layer in a.linear_layers()[:-1])
    assert sum(isinstance(m, nn.Dropout) for m in a.hidden) == 4
    with pytest.raises(ValueError, match="dropout"):
        rx.make_mlp(0, dropout=1.0)


def _one_layer(activation, bias):
    """A one-hidden-layer net with 2 units: unit 0 has pre-activation `bias` on every input, unit 1 is x itself."""
    model = rx.make_mlp(0, activation, depth=1, width=2, in_features=1)
    with torch.no_grad():
        model.hidden.linear1.weight.copy_(torch.tensor([[0.0], [1.0]]))
        model.hidden.linear1.bias.copy_(torch.tensor([bias, 0.0]))
    x = torch.linspace(-1, 1, 11).unsqueeze(1)
    return model, (x, torch.zeros(11, dtype=torch.long))


@pytest.mark.parametrize("activation, bias, dead, near_dead", [
    ("relu", -1.0, True, True),
    ("relu", 0.5, False, False),
    ("leaky_relu", -1.0, False, False),  # slope 0.01 = 1% of its peak 1: not below it, so not near-dead (vocabulary)
    ("prelu", -1.0, False, False),       # slope 0.25
    ("elu", -1.0, False, False),         # slope e^-1 = 0.37
    ("elu", -3.0, False, False),         # slope e^-3 = 0.05, above 1% of ELU's peak 1
    ("elu", -6.0, False, True),          # slope e^-6 = 0.0025 < 0.01: near-dead, never exactly dead
])
def test_unit_status_separates_exactly_dead_from_near_dead_units(activation, bias, dead, near_dead):
    model, data = _one_layer(activation, bias)
    status = rx.unit_status(model, data)["hidden.act1"]
    assert bool(status["dead"][0]) is dead and bool(status["near_dead"][0]) is near_dead
    assert not status["dead"][1] and not status["near_dead"][1]  # z = x takes both signs
    assert rx.fractions({"l": status}, "near_dead") == (1 + near_dead) / 2 - 0.5


def test_unit_status_takes_no_threshold_of_its_own():
    model, data = _one_layer("relu", -1.0)
    with pytest.raises(TypeError):
        rx.unit_status(model, data, threshold=0.1)  # the vocabulary's definitions are the only ones


def test_dead_layer_anatomy_counts_all_negative_units_and_permuted_activity():
    model = rx.make_mlp(0, depth=2, width=4, in_features=3)
    with torch.no_grad():
        model.hidden.linear1.weight.copy_(torch.eye(4, 3))  # layer 1 passes the (non-negative parts of the) inputs
        model.hidden.linear1.bias.zero_()
        model.hidden.linear2.weight.copy_(torch.tensor([[-1.0, -1, -1, -1], [1.0, -1, 0, 0], [0.0, 0, 0, 1],
                                                        [0.0, 0, 0, 0]]))
        model.hidden.linear2.bias.copy_(torch.tensor([-0.1, -0.1, -0.1, -0.1]))
    x = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]])  # only feature 2 of layer 1 is ever positive
    report = rx.dead_layer_anatomy(model, (x, torch.zeros(2, dtype=torch.long)), 2)
    assert report["units"] == 4 and report["negative_weights_and_bias"] == 1
    assert report["max_z"] == pytest.approx(-0.1)  # every unit is dead on these inputs
    assert 0 < report["active_on_permuted"] <= 0.5  # unit 1 wakes when the positive value lands on feature 1
    with pytest.raises(ValueError, match="layer"):
        rx.dead_layer_anatomy(model, (x, None), 1)


def test_inactive_rows_are_exactly_the_units_with_zero_gradient_rows():
    torch.manual_seed(0)
    layer, head = nn.Linear(5, 8), nn.Linear(8, 1)
    found = rx.inactive_rows(layer, head, torch.randn(1, 5))
    assert found["inactive"].any() and (~found["inactive"]).any()
    assert torch.equal(found["inactive"], found["zero_rows"])
    with pytest.raises(ValueError, match="one input"):
        rx.inactive_rows(layer, head, torch.randn(2, 5))


def test_grow_run_reports_the_peak_activation_per_step_and_inf_after_an_overflow():
    data = actlab.toy_2d("spirals", n=200, noise=0.1, seed=0)
    calm = rx.grow_run(0, "relu", data, lr=0.01, steps=5, depth=2, width=8)
    assert calm.shape == (5,) and np.isfinite(calm).all() and (calm > 0).all()
    wild = rx.grow_run(0, "relu", data, lr=1e6, steps=5, depth=2, width=8)
    assert wild[0] == pytest.approx(calm[0]) and wild[-1] == np.inf  # same init, then overflow
    with pytest.raises(ValueError, match="steps"):
        rx.grow_run(0, "relu", data, lr=0.1, steps=0)


def test_train_mode_status_uses_batch_statistics_and_leaves_running_statistics_alone():
    model = rx.make_mlp(0, depth=1, width=3, in_features=2, batch_norm=True)
    with torch.no_grad():
        model.hidden.norm1.running_mean.fill_(100.0)  # stale statistics: eval mode shifts every unit far negative
    x = torch.randn(128, 2, generator=torch.Generator().manual_seed(0))
    data = (x, torch.zeros(128, dtype=torch.long))
    assert rx.unit_status(model, data)["hidden.act1"]["dead"].all()
    assert not rx.unit_status(model, data, train_mode=True)["hidden.act1"]["dead"].any()  # batch-normalised: mean 0
    assert (model.hidden.norm1.running_mean == 100.0).all() and model.training


def test_dead_layer_anatomy_restricted_to_a_mask_of_units():
    model = rx.make_mlp(0, depth=2, width=4, in_features=3)
    with torch.no_grad():
        model.hidden.linear1.weight.copy_(torch.eye(4, 3))
        model.hidden.linear1.bias.zero_()
        model.hidden.linear2.weight.copy_(torch.tensor([[-1.0, -1, -1, -1], [1.0, -1, 0, 0], [0.0, 0, 0, 1],
                                                        [0.0, 1, 0, 0]]))
        model.hidden.linear2.bias.copy_(torch.tensor([-0.1, -0.1, -0.1, -0.1]))
    data = (torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]), torch.zeros(2, dtype=torch.long))
    dead = torch.tensor([True, True, True, False])  # unit 3 fires (z = 0.9 and 1.9)
    report = rx.dead_layer_anatomy(model, data, 2, units=dead)
    assert report["units"] == 3 and report["negative_weights_and_bias"] == 1
    assert report["max_z"] == pytest.approx(-0.1)  # the live unit 3 is left out
    assert rx.dead_layer_anatomy(model, data, 2)["max_z"] == pytest.approx(1.9)
    none = rx.dead_layer_anatomy(model, data, 2, units=torch.zeros(4, dtype=torch.bool))
    assert none["units"] == 0 and math.isnan(none["active_on_permuted"])
    with pytest.raises(ValueError, match="units"):
        rx.dead_layer_anatomy(model, data, 2, units=torch.ones(3, dtype=torch.bool))


def test_newly_alive_counts_units_dead_before_and_alive_after():
    before = {"a": {"dead": torch.tensor([True, True, False])}, "b": {"dead": torch.tensor([True])}}
    after = {"a": {"dead": torch.tensor([False, True, False])}, "b": {"dead": torch.tensor([False])}}
    assert rx.newly_alive(before, after) == 2
    assert rx.newly_alive(after, before) == 0  # the reverse: no unit was dead in `after` and alive in `before`


def test_born_dead_fraction_refuses_no_trials_or_no_inputs_by_name():
    """trials=0 divided by zero and n_inputs=0 called every network born dead (1.0) before the checks."""
    from actlab.experiments import rectifiers

    for name in ("trials", "n_inputs", "depth"):
        with pytest.raises(ValueError, match=rf"{name} must be an integer in \[1, inf\)"):
            rectifiers.born_dead_fraction(**{"depth": 3, "width": 4, name: 0})
