"""Per-layer diagnostics: statistics on known inputs, the monitor during actlab.train, and the four plots."""
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import actlab
from actlab.stats import (GUIDE_RATIO, NEAR_ZERO, LayerStatsMonitor, activation_stats, hist_range, layer_stats,
                          plot_activation_histograms, plot_colorful_dimension, plot_gradient_histograms,
                          plot_update_ratios, update_ratios)


def test_layer_stats_on_known_relu_inputs():
    z = torch.tensor([[-2.0, 1.0, -1.0], [-1.0, 3.0, 0.005], [-3.0, -1.0, 2.0], [-0.5, 2.0, 1.0]])
    relu = actlab.get_activation("relu")
    a = relu(z)
    d = (z > 0).float()  # ReLU's slope written out, not taken from the module
    s = layer_stats(z, a, d, hist_range("relu"), bins=4)
    assert s["saturated_fraction"] == pytest.approx(6 / 12)  # the non-positive inputs
    assert s["dead_fraction"] == pytest.approx(1 / 3)  # unit 0 is negative on every example
    assert s["near_zero_fraction"] == pytest.approx(7 / 12)  # six zeros and the 0.005 output
    assert s["mean"] == pytest.approx(a.mean().item())
    assert s["hist"].sum() == pytest.approx(1.0)
    assert hist_range("relu") == (0.0, 4.0) and hist_range("sigmoid") == (0.0, 1.0) and hist_range("tanh") == (-1, 1)


def test_saturation_follows_the_scale_of_the_weights():
    """A tanh net with weights 10x too large saturates most units; with Xavier-scale weights few."""
    x = torch.randn(512, 64, generator=torch.Generator().manual_seed(0))
    fractions = {}
    for scale in (1.0, 10.0):
        torch.manual_seed(0)
        model = actlab.MLP(3, 64, "tanh", in_features=64)
        for layer in model.linear_layers():
            nn.init.normal_(layer.weight, 0, scale / math.sqrt(layer.weight.shape[1]))
        fractions[scale] = np.mean([r["saturated_fraction"] for r in activation_stats(model, x)])
    assert fractions[10.0] > 0.5 > 0.05 > fractions[1.0], fractions


def test_probe_leaves_batch_norm_statistics_alone():
    model = actlab.MLP(2, 16, "relu", batch_norm=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    activation_stats(model, torch.randn(64, 2) * 5 + 3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_update_ratio_of_a_known_update():
    model = nn.Sequential(nn.Linear(50, 40), nn.ReLU(), nn.Linear(40, 2))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.dim() >= 2}
    with torch.no_grad():
        model[0].weight.mul_(1.001)  # update = 0.001 * weight: std ratio exactly 1e-3
    ratios = update_ratios(before, model)
    assert ratios["0.weight"] == pytest.approx(-3.0, abs=1e-3)
    assert ratios["2.weight"] == -math.inf  # did not move
    assert set(ratios) == {"0.weight", "2.weight"}  # biases are not data tensors in this sense


@pytest.fixture(scope="module")
def monitored():
    data = actlab.toy_2d("spirals", n=600, seed=0)
    torch.manual_seed(0)
    model = actlab.MLP(3, 16, "tanh")
    monitor = LayerStatsMonitor(data.inputs("train"), every=5)
    actlab.train(model, data, epochs=2, lr=0.05, batch_size=50, callbacks=[monitor], progress=False)
    return model, data, monitor


def test_monitor_records_at_its_interval(monitored):
    model, data, monitor = monitored
    frame = monitor.activations()
    steps = sorted(frame["step"].unique())
    assert steps == [1] + list(range(5, 19, 5))  # 2 epochs x 9 steps = 18 steps: 1, 5, 10, 15
    assert set(frame["layer"]) == {1, 2, 3} and (frame["activation"] == "tanh").all()
    assert frame[["saturated_fraction", "dead_fraction", "near_zero_fraction"]].stack().between(0, 1).all()
    updates = monitor.updates()
    assert len(updates) == len(steps) * 4  # 3 hidden weights and the output layer's
    assert np.isfinite(updates["log10_ratio"]).all() and (updates["grad_norm"] > 0).all()
    hists = monitor.histograms()
    assert hists[1][1].shape == (len(steps), 41) and hists[1][3] == (-1.0, 1.0)


def test_monitor_update_ratio_matches_the_optimiser_step():
    """With plain SGD (no momentum) the recorded update is -lr * grad: its std ratio is checked by hand."""
    data = actlab.toy_2d("circles", n=200, seed=1)
    torch.manual_seed(1)
    model = actlab.MLP(1, 8, "relu")
    snapshots = []

    class Spy(actlab.Callback):
        def on_after_backward(self, model, step):
            if step == 1:
                w = model.hidden.linear1.weight
                snapshots.append((w.detach().clone(), w.grad.detach().clone()))

    monitor = LayerStatsMonitor(data.inputs("train"), every=100)
    actlab.train(model, data, epochs=1, lr=0.1, momentum=0.0, batch_size=150, callbacks=[Spy(), monitor],
                 progress=False)
    weight, grad = snapshots[0]
    expected = math.log10((0.1 * grad).std().item() / weight.std().item())
    recorded = monitor.updates().set_index("parameter").loc["hidden.linear1.weight", "log10_ratio"]
    assert recorded == pytest.approx(expected, abs=1e-4)


def test_plots(monitored):
    model, data, monitor = monitored
    x, y = data.inputs("train")[:256], data.labels("train")[:256]
    fig = plot_activation_histograms(model, x)
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 3
    fig = plot_colorful_dimension(monitor)
    assert sum(ax.get_visible() for ax in fig.axes) == 3
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    fig = plot_gradient_histograms(model, x, y)
    assert len(fig.axes) == 4 and [ax.get_title().split("\n")[0] for ax in fig.axes] == [
        "hidden.linear1.weight", "hidden.linear2.weight", "hidden.linear3.weight", "out.weight"]
    sizes = [p.numel() for p in model.parameters() if p.dim() >= 2]
    assert [sum(bar.get_height() for bar in ax.patches) for ax in fig.axes] == sizes  # every entry counted once
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(grads, (p.grad for p in model.parameters())))
    fig = plot_update_ratios(monitor)
    guide = [line for line in fig.axes[0].lines if list(line.get_ydata()) == [GUIDE_RATIO, GUIDE_RATIO]]
    assert len(guide) == 1 and len(fig.axes[0].lines) == 5
    with pytest.raises(ValueError, match="recorded nothing"):
        plot_colorful_dimension(LayerStatsMonitor(x))


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match=r"every must be an integer in \[1, inf\), got 0"):
        LayerStatsMonitor(torch.zeros(4, 2), every=0)
    with pytest.raises(ValueError, match=r"bins must be an integer in \[1, inf\), got 0"):
        activation_stats(actlab.MLP(1, 4), torch.zeros(4, 2), bins=0)
    with pytest.raises(ValueError, match="no activation modules"):
        activation_stats(nn.Linear(2, 2), torch.zeros(4, 2))
    assert NEAR_ZERO > 0


@pytest.mark.parametrize("activation", [nn.ReLU, nn.ELU])
def test_in_place_activations_give_the_statistics_of_out_of_place_ones(activation):
    """ELU(inplace=True) writes its outputs over its inputs: the slopes must still be taken at the inputs."""
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(2, 16), activation(), nn.Linear(16, 2))
    inplace = nn.Sequential(plain[0], activation(inplace=True), plain[2])
    x = torch.randn(256, 2) * 3
    before = inplace(x)
    got, want = activation_stats(inplace, x), activation_stats(plain, x)
    assert [r.pop("hist").tolist() for r in got] == [r.pop("hist").tolist() for r in want]
    assert got == want and 0 < got[0]["saturated_fraction"] < 1
    assert torch.equal(inplace(x), before)


def test_a_module_called_twice_gives_a_row_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(2, 4), nn.Linear(4, 4), nn.Tanh()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    torch.manual_seed(0)
    model = Twice()
    x = torch.randn(64, 2)
    rows = activation_stats(model, x)
    assert [r["module"] for r in rows] == ["act (call 1)", "act (call 2)"] and [r["layer"] for r in rows] == [1, 2]
    first = torch.tanh(model.fc1(x)).detach()
    assert rows[0]["mean"] == pytest.approx(first.mean().item())
    assert rows[1]["mean"] == pytest.approx(torch.tanh(model.fc2(first)).mean().item())


def test_monitor_trains_a_model_with_in_place_activations():
    data = actlab.toy_2d("xor", n=200, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(inplace=True), nn.Linear(8, 2))
    monitor = LayerStatsMonitor(data.inputs("train"), every=2)
    actlab.train(model, data, epochs=1, batch_size=50, callbacks=[monitor], progress=False)
    frame = monitor.activations()
    assert list(frame["step"]) == [1, 2] and (frame["activation"] == "relu").all()


def test_a_cached_run_restores_the_monitor(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))
    data = actlab.toy_2d("circles", n=200, seed=0)
    monitors = []
    for _ in range(2):
        torch.manual_seed(0)
        monitors.append(LayerStatsMonitor(data.inputs("train"), every=2))
        h = actlab.train(actlab.MLP(2, 8, "tanh"), data, epochs=1, batch_size=50, callbacks=[monitors[-1]],
                         progress=False, cache=True)
    assert h.from_cache and len(monitors[1].records) == len(monitors[0].records) > 0
    assert monitors[1].activations().equals(monitors[0].activations())
    assert monitors[1].updates().equals(monitors[0].updates())
    for (s1, h1, a1, r1), (s2, h2, a2, r2) in zip(monitors[0].histograms().values(), monitors[1].histograms().values()):
        assert np.array_equal(s1, s2) and np.array_equal(h1, h2) and (a1, r1) == (a2, r2)
    other = LayerStatsMonitor(data.inputs("train")[1:], every=2)  # another probe: another run
    torch.manual_seed(0)
    h = actlab.train(actlab.MLP(2, 8, "tanh"), data, epochs=1, batch_size=50, callbacks=[other], progress=False,
                     cache=True)
    assert not h.from_cache


def test_gradient_histograms_leave_a_batch_norm_model_as_found():
    torch.manual_seed(0)
    model = actlab.MLP(2, 8, "relu", batch_norm=True)
    model.hidden.linear2.weight.requires_grad_(False)  # frozen: no gradient, no histogram
    x, y = torch.randn(32, 2) * 3 + 1, torch.randint(0, 2, (32,))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.out.weight.grad = torch.full_like(model.out.weight, 5.0)
    grads = actlab.init_gradients(model, x, y)
    assert list(grads) == ["hidden.linear1.weight", "out.weight"]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model.out.weight.grad, torch.full_like(model.out.weight, 5.0))
    assert model.hidden.linear1.weight.grad is None
