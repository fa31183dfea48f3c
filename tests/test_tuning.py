"""Fair comparisons: the validation split, per-activation learning rates, recommended initialisation, real digits."""
import math

import numpy as np
import pytest
import torch

import actlab
from actlab.data import Dataset, stratified_split, validation_split


def _labelled(n_train=60, n_test=20, classes=3):
    """A tiny feature set whose every row is unique (row i holds i), so rows can be traced through a split."""
    x = torch.arange(n_train + n_test, dtype=torch.float32)[:, None].repeat(1, 4)
    y = torch.arange(n_train + n_test) % classes
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], tuple("abc"[:classes]), "traceable rows")


def test_validation_split_comes_from_the_training_rows_only_and_keeps_every_class():
    data = _labelled()
    val = validation_split(data, fraction=0.25, seed=3)
    train_ids, held_ids = set(val.x_train[:, 0].tolist()), set(val.x_test[:, 0].tolist())
    assert train_ids.isdisjoint(held_ids)
    assert train_ids | held_ids == set(data.x_train[:, 0].tolist())  # every training row, nothing else
    assert held_ids.isdisjoint(data.x_test[:, 0].tolist())
    assert torch.bincount(val.y_test).tolist() == [5, 5, 5]  # 25% of each class's 20


def test_stratified_split_refuses_a_class_too_small_to_split():
    with pytest.raises(ValueError, match="class 1 has 1 example"):
        stratified_split(torch.tensor([0, 0, 1, 2, 2]), 0.5, 0)


def test_tune_lr_never_reads_the_test_split():
    data = actlab.toy_2d("moons", n=240, seed=1)
    poisoned = Dataset(data.x_train, data.y_train, torch.full_like(data.x_test, float("nan")), data.y_test,
                       data.classes, "moons with a NaN test split")
    tuning = actlab.tune_lr(["relu", "tanh"], poisoned, grid=(0.03, 0.3), epochs=2, batch_size=32, progress=False)
    assert np.isfinite(tuning.table.val_loss).all()  # a single read of the NaN test inputs would give NaN losses


def test_tune_lr_chooses_the_rate_with_the_lowest_mean_validation_loss_and_never_a_diverged_one():
    data = actlab.toy_2d("moons", n=240, seed=1)
    tuning = actlab.tune_lr(["relu", "sigmoid"], data, grid=(0.01, 0.3, 1e4), seeds=(0, 1), epochs=2,
                            batch_size=32, progress=False)
    for name in ("relu", "sigmoid"):
        means = {}
        for lr in (0.01, 0.3, 1e4):
            rows = tuning.table[(tuning.table.activation == name) & (tuning.table.lr == lr)]
            losses = [v if s == "completed" and math.isfinite(v) else math.inf for v, s in zip(rows.val_loss, rows.status)]
            means[lr] = sum(losses) / len(losses)
        assert tuning.rates[name] == min(means, key=means.get)
        assert tuning.rates[name] != 1e4
    relu_huge = tuning.table[(tuning.table.activation == "relu") & (tuning.table.lr == 1e4)]
    assert (relu_huge.status == "diverged").all()  # ReLU's unbounded outputs overflow at lr 10,000: scored +inf
    assert tuning.summary()["at grid edge"].dtype == bool


def test_tune_lr_refuses_a_bad_grid_naming_it():
    data = actlab.toy_2d("xor", n=64)
    with pytest.raises(ValueError, match="grid"):
        actlab.tune_lr(["relu"], data, grid=(0.1,))
    with pytest.raises(ValueError, match="grid"):
        actlab.tune_lr(["relu"], data, grid=(0.1, -1.0))


def test_compare_gives_each_activation_its_own_rate():
    data = actlab.toy_2d("xor", n=120)
    runs = actlab.compare(["relu", "tanh"], data, seeds=(0,), lr={"ReLU": 0.05, "tanh": 0.2}, epochs=1,
                          progress=False)
    assert runs.histories[("relu", 0)].config["lr"] == 0.05
    assert runs.histories[("tanh", 0)].config["lr"] == 0.2
    with pytest.raises(ValueError, match="missing: tanh"):
        actlab.compare(["relu", "tanh"], data, lr={"relu": 0.05}, epochs=1, progress=False)


def _std(layer):
    return layer.weight.detach().std().item()


@pytest.mark.parametrize("activation, scheme", [("relu", "kaiming"), ("tanh", "xavier"), ("selu", "lecun")])
def test_recommended_init_draws_the_registry_scheme_in_lenet(activation, scheme):
    with actlab.seeding.seeded(0):
        net = actlab.LeNet(activation, init="recommended")
    assert actlab.recommended_init(activation) == scheme
    fc1 = net.fc1  # 400 -> 120: 48,000 weights, so the sample sd is within 1% of its target with margin
    fan_in, fan_out = 400, 120
    expected = {"kaiming": math.sqrt(2 / fan_in), "xavier": math.sqrt(2 / (fan_in + fan_out)),
                "lecun": math.sqrt(1 / fan_in)}[scheme]
    assert _std(fc1) == pytest.approx(expected, rel=0.02)
    conv_fan_in = 3 * 5 * 5  # conv1: fan_in counts channels times the kernel
    assert net.conv1.bias.abs().max().item() == 0.0
    assert _std(net.conv1) == pytest.approx({"kaiming": math.sqrt(2 / conv_fan_in),
                                              "xavier": math.sqrt(2 / (conv_fan_in + 6 * 25)),
                                              "lecun": math.sqrt(1 / conv_fan_in)}[scheme], rel=0.2)


def test_default_lenet_keeps_pytorchs_own_initialisation():
    with actlab.seeding.seeded(0):
        net = actlab.LeNet("relu")
    assert _std(net.fc1) == pytest.approx(1 / math.sqrt(3 * 400), rel=0.02)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))


def test_recommended_init_needs_a_registry_name():
    with pytest.raises(ValueError, match="recommended"):
        actlab.MLP(2, 8, torch.nn.ReLU, init="recommended")


def test_digits_are_the_real_scikit_learn_digits_split_by_class():
    data = actlab.digits(test_fraction=0.25, seed=0)
    assert len(data.x_train) + len(data.x_test) == 1797
    assert data.x_train.shape[1] == 64 and data.x_train.dtype == torch.float32
    assert 0.0 == data.x_train.min().item() and data.x_train.max().item() == 1.0
    test_counts = torch.bincount(data.y_test, minlength=10)
    all_counts = test_counts + torch.bincount(data.y_train, minlength=10)
    assert torch.all((test_counts.float() - 0.25 * all_counts.float()).abs() <= 0.5)
    assert "digits" in data.source
    assert not torch.equal(actlab.digits(seed=1).y_test, data.y_test)
