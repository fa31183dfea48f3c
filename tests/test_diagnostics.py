"""The instruments must not lie: forced-dead layers read dead, vanishing gradients read vanishing."""
import copy
import math

import pytest
import torch
from torch import nn

import actlab
from actlab.diagnostics import activation_modules


@pytest.fixture(scope="module")
def images():
    return actlab.cifar_like(600, 200, seed=0, cache=False)


def test_forced_dead_layer_reads_100_percent(images):
    torch.manual_seed(0)
    net = actlab.LeNet("relu")
    with torch.no_grad():
        net.fc1.bias.fill_(-1e4)  # every fc1 unit's input is hugely negative: ReLU outputs 0 for every image
    report = actlab.dead_units(net, images)
    assert report.loc["act3", "dead_fraction"] == 1.0 and report.loc["act3", "dead"] == 120
    assert report.loc["act1", "dead_fraction"] < 0.2  # the untouched first layer is healthy


def test_healthy_net_reads_near_zero_dead(images):
    torch.manual_seed(0)
    report = actlab.dead_units(actlab.LeNet("relu"), images)
    assert (report.dead_fraction < 0.15).all()  # a few units of a fresh LeNet are born dead; far from 100%
    assert (report.mean_activation > 0).all()  # ReLU outputs are never negative


def test_leaky_relu_is_never_dead_and_tanh_is_zero_centred(images):
    torch.manual_seed(0)
    leaky = actlab.LeNet("leaky_relu")
    with torch.no_grad():
        leaky.fc1.bias.fill_(-1e4)
    assert actlab.dead_units(leaky, images).dead.sum() == 0
    torch.manual_seed(0)
    tanh = actlab.dead_units(actlab.MLP(3, 64, "tanh", in_features=3072, out_features=10, init="xavier"), images)
    assert (tanh.mean_activation.abs() < 0.1).all()


def test_saturation_fraction_reads_saturated_sigmoid(images):
    torch.manual_seed(0)
    big = actlab.MLP(2, 64, "sigmoid", in_features=3072, out_features=10, init="large")
    with torch.no_grad():
        for layer in big.linear_layers():
            layer.weight.mul_(5)  # pre-activations with a standard deviation of about 20
    small = actlab.MLP(2, 64, "sigmoid", in_features=3072, out_features=10, init="small")
    assert actlab.dead_units(big, images).saturated_fraction.min() > 0.5
    assert actlab.dead_units(small, images).saturated_fraction.max() < 0.05


def test_hooks_are_removed(images):
    net = actlab.LeNet("relu")
    actlab.dead_units(net, images)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for _, m in activation_modules(net))
    with pytest.raises(RuntimeError):
        with actlab.capture_activations(net):
            raise RuntimeError("boom")
    assert all(not m._forward_hooks and not m._forward_pre_hooks for _, m in activation_modules(net))


def test_vanishing_gradients_in_deep_sigmoid_not_relu(images):
    torch.manual_seed(0)
    sig = actlab.grad_norms(actlab.MLP(10, 64, "sigmoid", in_features=3072, out_features=10, init="xavier"), images)
    torch.manual_seed(0)
    relu = actlab.grad_norms(actlab.MLP(10, 64, "relu", in_features=3072, out_features=10, init="kaiming"), images)
    first, last = "hidden.linear1", "hidden.linear10"
    assert sig[first] < 1e-3 * sig[last]
    assert relu[first] > 0.3 * relu[last]


def test_monitors_record_during_training(images):
    torch.manual_seed(0)
    net = actlab.LeNet("relu")
    grads, dead = actlab.GradNormMonitor(every=5), actlab.DeadUnitMonitor(images)
    h = actlab.train(net, images, epochs=2, lr=0.05, callbacks=[grads, dead], progress=False)
    assert len(grads.records) == len(h.steps) // 5
    assert set(grads.frame().columns) == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    assert all("dead/act3" in r and 0 <= r["dead_fraction"] <= 1 for r in h.epochs)
    assert actlab.plot_grad_norms(grads.frame(), kind="heatmap").axes
    with pytest.raises(ValueError, match="kind must be"):
        actlab.plot_grad_norms(grads.frame(), kind="pie")


def test_distance_from_init():
    torch.manual_seed(0)
    net = actlab.MLP(2, 8, "relu")
    start = actlab.snapshot_weights(net)
    assert all(v == 0 for v in actlab.distance_from_init(net, start).values())
    with torch.no_grad():
        net.hidden.linear1.weight.mul_(2)
    moved = actlab.distance_from_init(net, start)
    assert moved["hidden.linear1"] == pytest.approx(1.0) and moved["out"] == 0


def test_a_diverged_network_is_not_reported_dead(images):
    """NaN outputs mean a broken network, not dead units: they must not read as zero."""
    torch.manual_seed(0)
    net = actlab.LeNet("elu")
    with torch.no_grad():
        net.fc1.weight.fill_(float("nan"))
    assert actlab.dead_units(net, images).loc["act3", "dead"] == 0
    assert not actlab.dead_masks(net, images)["act3"].any()


def twin_models(activation):
    """The same weights with an in-place and an out-of-place activation."""
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(2, 4), activation(), nn.Linear(4, 2))
    inplace = copy.deepcopy(plain)
    inplace[1] = activation(inplace=True)
    return plain, inplace


@pytest.mark.parametrize("activation", [nn.ReLU, nn.ELU])
def test_in_place_activations_are_measured_like_out_of_place_ones(activation):
    data = actlab.toy_2d("xor", n=400)
    plain, inplace = twin_models(activation)
    x = data.inputs()
    before = inplace(x)
    report = actlab.dead_units(inplace, data)
    assert report.loc["1", "units"] == 4
    assert report.equals(actlab.dead_units(plain, data))
    assert torch.equal(inplace(x), before) and torch.equal(plain(x), before)
    with actlab.capture_activations(inplace) as captured:
        out = inplace(x)
    (z, a), = captured["1"]
    assert torch.equal(out, before)
    assert torch.equal(z, inplace[0](x).detach())  # the pre-activation, not the activated values written over it
    assert torch.equal(a, activation()(z))
    masks = actlab.dead_masks(inplace, data)
    assert torch.equal(masks["1"], actlab.dead_masks(plain, data)["1"])


def test_monitors_and_per_channel_prelu_work_with_in_place_activations():
    data = actlab.toy_2d("xor", n=200)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(inplace=True), nn.Linear(8, 8), nn.PReLU(), nn.Linear(8, 2))
    monitor = actlab.DeadUnitMonitor(data)
    h = actlab.train(net, data, epochs=2, progress=False, callbacks=[monitor, actlab.GradNormMonitor()])
    assert [r["epoch"] for r in h.epochs] == [0, 1, 2] and all("dead/1" in r for r in h.epochs)
    x = data.inputs()
    before = net(x)
    actlab.per_channel_prelu(net, x)
    assert net[3].weight.shape == (8,) and torch.allclose(net(x), before)


def bn_model():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(inplace=True), nn.Linear(8, 2))
    net[1].eval()  # a frozen BatchNorm inside a model in training mode: modes must be restored per module
    net[3].weight.requires_grad_(False)
    net[0].weight.grad = torch.full_like(net[0].weight, 7.0)
    return net


def model_state(net):
    return ([m.training for m in net.modules()], [b.clone() for b in net.buffers()],
            [None if p.grad is None else p.grad.clone() for p in net.parameters()],
            [p.requires_grad for p in net.parameters()])


@pytest.mark.parametrize("tool", ["grad_norms", "dead_units", "dead_masks", "accuracy", "per_channel_prelu"])
def test_measuring_tools_leave_the_model_as_found(tool):
    data = actlab.toy_2d("xor", n=200)
    net = bn_model()
    net[1].train()  # a BatchNorm in training mode: a forward pass would update its running statistics
    before = model_state(net)
    if tool == "accuracy":
        actlab.accuracy(net, data)
    elif tool == "per_channel_prelu":
        whole = nn.Sequential(net, nn.PReLU())
        actlab.per_channel_prelu(whole, data.inputs())
        assert whole[1].weight.shape == (2,)
    else:
        result = getattr(actlab, tool)(net, data)
        if tool == "grad_norms":
            assert result["0"] > 0 and result["3"] == 0.0  # the frozen layer has no gradient
    after = model_state(net)
    assert after[0] == before[0] and after[3] == before[3]
    assert all(torch.equal(a, b) for a, b in zip(after[1], before[1]))
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(after[2], before[2]))


def test_grad_norms_keeps_frozen_batchnorm_and_existing_gradients():
    data = actlab.toy_2d("xor", n=200)
    net = bn_model()
    before = model_state(net)
    actlab.grad_norms(net, data)
    after = model_state(net)
    assert after[0] == before[0] and after[0][2] is False  # net[1] is still in eval mode
    assert torch.equal(net[0].weight.grad, torch.full_like(net[0].weight, 7.0))
    assert not net[3].weight.requires_grad


class Block(nn.Module):
    """torchvision's BasicBlock pattern: one in-place ReLU module called twice, and a residual in-place add."""

    def __init__(self, shared: bool):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(2, 6), nn.Linear(6, 6), nn.Linear(6, 2)
        self.relu = nn.ReLU(inplace=True)
        self.relu2 = self.relu if shared else nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.fc1(x))
        identity = out
        out = self.fc2(out)
        out += identity
        return self.head(self.relu2(out))


def test_a_module_called_twice_is_measured_at_each_call():
    data = actlab.toy_2d("xor", n=400)
    torch.manual_seed(0)
    shared = Block(shared=True)
    separate = Block(shared=False)
    separate.load_state_dict(shared.state_dict())
    got, want = actlab.dead_units(shared, data), actlab.dead_units(separate, data)
    assert list(got.index) == ["relu (call 1)", "relu (call 2)"]
    assert got.reset_index(drop=True).equals(want.reset_index(drop=True))
    masks = actlab.dead_masks(shared, data)
    assert torch.equal(masks["relu (call 2)"], actlab.dead_masks(separate, data)["relu2"])


def test_a_diverged_network_reads_nan_not_a_number(images):
    """NaN inputs to a layer: its largest output and saturated fraction are NaN, never -inf or a fraction."""
    torch.manual_seed(0)
    net = actlab.LeNet("elu")
    with torch.no_grad():
        net.fc1.weight.fill_(float("nan"))
    row = actlab.dead_units(net, images).loc["act3"]
    assert math.isnan(row.max_activation) and math.isnan(row.saturated_fraction)
    healthy = actlab.dead_units(net, images).loc["act1"]
    assert math.isfinite(healthy.max_activation) and 0 <= healthy.saturated_fraction <= 1


def test_parameter_free_models_are_measured():
    model = nn.Sequential(nn.ReLU())
    report = actlab.dead_units(model, (torch.tensor([[1.0, -1.0]]), torch.tensor([0])))
    assert report.loc["0", "dead"] == 1 and report.loc["0", "units"] == 2
    actlab.swap_activation(model, "tanh")
    assert isinstance(model[0], nn.Tanh)
