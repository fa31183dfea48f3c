"""The instruments must not lie: forced-dead layers read dead, vanishing gradients read vanishing."""
import copy
import io
import math

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.hooks import Hooks


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


def test_hooks_act_only_inside_their_block():
    """A pre-hook that doubles the input changes the output inside the block, and nothing after it, also on error."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    x = torch.randn(5, 2)
    before = net(x)
    seen = []

    def double(name, module, args):
        seen.append(name)
        return (2 * args[0],)

    with Hooks([("0", net[0])], pre=double):
        inside = net(x)
    assert seen == ["0"] and not torch.equal(inside, before)
    assert torch.equal(net(x), before) and seen == ["0"]
    with pytest.raises(RuntimeError, match="boom"), Hooks([("0", net[0])], pre=double):
        raise RuntimeError("boom")
    assert torch.equal(net(x), before) and seen == ["0"]


def test_hooks_registered_before_a_failed_registration_are_removed():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seen = []
    with pytest.raises(AttributeError):
        with Hooks([("0", net[0]), ("not a module", object())], forward=lambda *args: seen.append(args[0])):
            pass
    net(torch.randn(4, 2))
    assert seen == []


def test_backward_hooks_see_the_gradient_inside_the_block_only():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    x = torch.randn(4, 2)
    grads = []
    with Hooks([("1", net[1])], backward=lambda name, module, grad_in, grad_out: grads.append(grad_out[0])):
        net(x).sum().backward()
    assert len(grads) == 1 and torch.equal(grads[0], torch.ones(4, 3))  # d(sum)/d(output)
    net(x).sum().backward()
    assert len(grads) == 1


def test_a_capture_stops_recording_when_its_block_ends(images):
    torch.manual_seed(0)
    net = actlab.LeNet("relu")
    x = images.inputs()[:8]
    before = net(x)
    with actlab.capture_activations(net) as captured:
        net(x)
    net(x)  # after the block: recorded nowhere
    assert {name: len(records) for name, records in captured.items()} == {f"act{i}": 1 for i in range(1, 5)}
    with pytest.raises(RuntimeError, match="boom"):
        with actlab.capture_activations(net) as failed:
            net(x)
            raise RuntimeError("boom")
    net(x)
    assert all(len(records) == 1 for records in failed.values())
    assert torch.equal(net(x), before)


class Fragile(nn.Module):
    """Passes its input through, and raises on a batch smaller than `smallest` (a tool's last, partial batch)."""

    def __init__(self, smallest: int):
        super().__init__()
        self.smallest = smallest

    def forward(self, x):
        if len(x) < self.smallest:
            raise RuntimeError("fragile: a small batch")
        return x


def fragile_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(inplace=True), Fragile(150), nn.PReLU(),
                         nn.Linear(8, 2))


@pytest.mark.parametrize("tool", ["dead_units", "dead_masks", "activation_stats", "per_channel_prelu"])
def test_a_tool_that_raises_midway_leaves_the_model_as_found(tool):
    """400 inputs in batches of 150: the third batch (100) raises inside the model, after two batches were measured."""
    data = actlab.toy_2d("xor", n=534)  # 400 training examples
    x = data.inputs()
    net = fragile_model()
    outputs = {mode: net.train(mode)(x[:200]).detach() for mode in (True, False)}  # eval last: stats as measured
    net.train()
    before, file = model_state(net), saved(net)
    with pytest.raises(RuntimeError, match="fragile"):
        if tool == "activation_stats":
            actlab.activation_stats(net, x[:100])
        elif tool == "per_channel_prelu":
            actlab.per_channel_prelu(net, x[:100])
        else:
            getattr(actlab, tool)(net, data, batch_size=150)
    after = model_state(net)
    assert after[0] == before[0] and after[3] == before[3]
    assert all(torch.equal(a, b) for a, b in zip(after[1], before[1]))
    assert saved(net) == file  # nothing replaced, no hook left behind
    net.eval()  # eval outputs follow the BatchNorm running statistics: unchanged
    with actlab.capture_activations(net) as captured:
        assert torch.equal(net(x[:200]), outputs[False])
    assert [len(records) for records in captured.values()] == [1, 1]  # one batch, not the earlier ones too
    assert torch.equal(net.train()(x[:200]), outputs[True])


def saved(net) -> bytes:
    """What torch.save writes for the whole module (its hooks are pickled with it)."""
    buffer = io.BytesIO()
    torch.save(net, buffer)
    return buffer.getvalue()


def test_measuring_leaves_nothing_in_the_saved_model():
    """A hook left behind would be saved with the model (or, a local function, make saving fail)."""
    data = actlab.toy_2d("xor", n=400)
    x = data.inputs()
    net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(inplace=True), nn.PReLU(), nn.Linear(8, 2))
    outputs = net(x).detach()  # in training mode: updates the BatchNorm statistics, before they are saved
    before = saved(net)
    actlab.dead_units(net, data)
    actlab.dead_masks(net, data)
    actlab.activation_stats(net, x)
    actlab.grad_norms(net, data)
    with actlab.capture_activations(net):
        net.eval()(x)
    net.train()
    assert saved(net) == before
    actlab.per_channel_prelu(net, x)
    loaded = torch.load(io.BytesIO(saved(net)), weights_only=False)
    assert torch.equal(loaded(x), outputs) and torch.equal(net(x), outputs)


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
    assert_grad_norm_figures(grads.frame())
    with pytest.raises(ValueError, match="kind must be"):
        actlab.plot_grad_norms(grads.frame(), kind="pie")


def assert_grad_norm_figures(frame):
    """Each view of plot_grad_norms shows the recorded numbers: one line per layer, a layer x step image, bars."""
    lines = actlab.plot_grad_norms(frame, kind="lines", title="t").axes
    assert len(lines) == 1 and lines[0].get_title() == "t"
    assert (lines[0].get_xlabel(), lines[0].get_ylabel(), lines[0].get_yscale()) == ("step", "gradient norm", "log")
    assert [line.get_label() for line in lines[0].lines] == list(frame.columns)
    for line, column in zip(lines[0].lines, frame.columns):
        np.testing.assert_array_equal(line.get_xdata(), frame.index)
        np.testing.assert_array_equal(line.get_ydata(), frame[column])
    heat = actlab.plot_grad_norms(frame, kind="heatmap").axes
    assert len(heat) == 2 and heat[1].get_ylabel() == "log10 gradient norm"  # the image and its colour bar
    assert (heat[0].get_xlabel(), heat[0].get_ylabel()) == ("step", "layer")
    assert [t.get_text() for t in heat[0].get_yticklabels()] == list(frame.columns)
    np.testing.assert_allclose(heat[0].images[0].get_array(), np.log10(frame.to_numpy().T + 1e-12))
    one = frame.iloc[0].to_dict()
    bars = actlab.plot_grad_norms(one).axes[0]
    assert [b.get_height() for b in bars.patches] == pytest.approx(list(one.values()))
    assert [t.get_text() for t in bars.get_xticklabels()] == list(one)


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
    x = data.inputs("train", next(net.parameters()).device)  # train moved net to its device (a GPU if there is one)
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


def test_swap_replaces_a_shared_activation_at_every_call():
    """Block(shared=True) calls one ReLU twice: after the swap both calls are tanh, as in the unshared twin."""
    torch.manual_seed(0)
    shared, separate = Block(shared=True), Block(shared=False)
    separate.load_state_dict(shared.state_dict())
    x = torch.randn(32, 2)
    actlab.swap_activation(shared, "tanh")
    actlab.swap_activation(separate, "tanh")
    assert torch.equal(shared(x), separate(x))
    assert list(actlab.dead_units(shared, (x, None)).index) == ["relu (call 1)", "relu (call 2)"]
    with pytest.raises(ValueError, match="cannot replace itself"):
        actlab.swap_activation(nn.ReLU(), "tanh")


def test_per_channel_prelu_keeps_alphas_already_per_channel():
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(2, 3), nn.PReLU(3))
    with torch.no_grad():
        inner[1].weight.copy_(torch.tensor([0.1, 0.5, 0.9]))
    net = nn.Sequential(inner, nn.PReLU(init=0.3))
    x = torch.randn(16, 2)
    before = net(x)
    actlab.per_channel_prelu(net, x)
    assert torch.equal(inner[1].weight.detach(), torch.tensor([0.1, 0.5, 0.9]))
    assert torch.equal(net[1].weight.detach(), torch.full((3,), 0.3)) and torch.equal(net(x), before)
    assert actlab.per_channel_prelu(net, x) is net  # a second call (a re-run cell) leaves the model as it is
    assert torch.equal(inner[1].weight.detach(), torch.tensor([0.1, 0.5, 0.9]))
    assert torch.equal(net[1].weight.detach(), torch.full((3,), 0.3)) and torch.equal(net(x), before)
