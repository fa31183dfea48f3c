"""Training engine: it learns, is deterministic, caches safely, survives divergence and interruption."""
import dataclasses
import math

import numpy as np
import pytest
import torch

import actlab
from actlab.training import Callback


@pytest.fixture(scope="module")
def images():
    return actlab.cifar_like(1200, 400, seed=0, cache=False)


pytestmark = pytest.mark.usefixtures("private_cache")  # every test caches in its own data folder


def lenet(name="relu", seed=0):
    torch.manual_seed(seed)
    return actlab.LeNet(name)


def test_lenet_is_the_slides_architecture():
    net = actlab.LeNet("relu")
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(6, 3, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,), (10, 84), (10,)]
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert len(actlab.activation_modules(net)) == 4


def test_lenet_prelu_has_one_trainable_alpha_per_layer():
    net = actlab.LeNet("prelu")
    alphas = [m.weight for _, m in actlab.activation_modules(net)]
    assert len(alphas) == 4 and len({id(a) for a in alphas}) == 4


def test_swap_activation():
    net = lenet("relu")
    x = torch.randn(4, 3, 32, 32)
    before = net(x)
    actlab.swap_activation(net, "tanh")
    assert all(isinstance(m, torch.nn.Tanh) for _, m in actlab.activation_modules(net))
    assert not torch.allclose(before, net(x))
    mlp = actlab.MLP(3, 8, "sigmoid")
    actlab.swap_activation(mlp, "leaky_relu", alpha=0.2)
    assert [m.negative_slope for _, m in actlab.activation_modules(mlp)] == [0.2] * 3
    with pytest.raises(ValueError, match="no activation modules"):
        actlab.swap_activation(torch.nn.Linear(2, 2), "relu")


def test_train_learns_and_records(images):
    h = actlab.train(lenet(), images, epochs=2, lr=0.05, progress=False)
    assert h.status == "completed" and len(h.epochs) == 3 and len(h.steps) == 2 * math.ceil(1200 / 64)
    assert h.final["test_acc"] > 0.2  # chance is 0.1
    assert h.steps[-1] < h.steps[0]
    assert h.data_source == images.source and "not real" in h.data_source
    assert h.plot().axes[1].get_ylabel() == "accuracy"
    assert list(h.frame().columns[:6]) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]


def test_same_seed_same_numbers(images):
    a = actlab.train(lenet(seed=1), images, epochs=1, seed=5, progress=False)
    b = actlab.train(lenet(seed=1), images, epochs=1, seed=5, progress=False)
    c = actlab.train(lenet(seed=1), images, epochs=1, seed=6, progress=False)
    assert a.steps == b.steps and a.epochs[1]["test_acc"] == b.epochs[1]["test_acc"]
    assert a.steps != c.steps


def test_mlp_on_toy_data_learns_xor():
    d = actlab.toy_2d("xor", n=800)
    torch.manual_seed(0)
    h = actlab.train(actlab.MLP(2, 32, "tanh"), d, epochs=30, lr=0.1, progress=False)
    assert h.final["test_acc"] > 0.9


def test_divergence_stops_and_keeps_history(images):
    with pytest.warns(UserWarning, match="loss became nan"):
        h = actlab.train(lenet(), images, epochs=3, lr=1e6, progress=False)
    assert h.status == "diverged" and len(h.epochs) < 4 and not math.isfinite(h.steps[-1])
    assert "lower learning rate" in h.message


def test_interrupt_keeps_history(images, private_cache):
    class Interrupt(Callback):
        def key(self):
            return "Interrupt at step 25"  # it records nothing: the run may be cached

        def on_after_backward(self, model, step):
            if step == 25:
                raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted at step 25"):
        h = actlab.train(lenet(), images, epochs=3, progress=False, cache=True, callbacks=[Interrupt()])
    assert h.status == "interrupted" and len(h.steps) == 25
    assert not list(private_cache.glob("cache/*.npz"))  # an interrupted run is never cached


def test_cache_returns_same_history_and_weights(images):
    net = lenet()
    h1 = actlab.train(net, images, epochs=1, progress=False, cache=True)
    net2 = lenet()
    h2 = actlab.train(net2, images, epochs=1, progress=False, cache=True)
    assert h2.from_cache and not h1.from_cache and h1.steps == h2.steps
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        assert torch.equal(a, b)
    h3 = actlab.train(lenet(), images, epochs=1, lr=0.02, progress=False, cache=True)
    assert not h3.from_cache  # another configuration, another entry


def test_corrupt_cache_is_reported_and_recomputed(images, private_cache):
    h1 = actlab.train(lenet(), images, epochs=1, progress=False, cache=True)
    (path,) = private_cache.glob("cache/*.npz")
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="corrupt"):
        h2 = actlab.train(lenet(), images, epochs=1, progress=False, cache=True)
    assert not h2.from_cache and h2.steps == h1.steps
    assert actlab.train(lenet(), images, epochs=1, progress=False, cache=True).from_cache


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": -1}, "epochs must be"), ({"lr": 0}, "lr must be"), ({"lr": float("nan")}, "lr must be"),
    ({"batch_size": 0}, "batch_size must be"), ({"optimizer": "sdg"}, "optimizer must be one of"),
    ({"device": "cuda"} if not torch.cuda.is_available() else {"device": "mps"}, "not available"),
])
def test_train_bad_arguments(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        actlab.train(lenet(), images, progress=False, **kwargs)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert actlab.pick_device() == torch.device(expected)
    assert actlab.pick_device("cpu") == torch.device("cpu")  # an explicit choice wins
    if not cuda:
        with pytest.raises(ValueError, match="device='cuda:1' was asked for but CUDA is not available"):
            actlab.pick_device("cuda:1")


def test_pick_device_names_an_unknown_device():
    with pytest.raises(ValueError, match="device must be None.*'cpu', 'cuda', 'mps', got 'gpu'"):
        actlab.pick_device("gpu")
    with pytest.raises(ValueError, match="device must be one of 'cpu', 'cuda', 'mps', got 'meta'"):
        actlab.pick_device("meta")


@pytest.mark.parametrize("setting, value, message", [
    ("epochs", 2.5, r"epochs must be an integer in \[0, inf\), got 2.5"),
    ("lr", -1, r"lr must be a finite number in \(0, inf\), got -1"),
    ("momentum", float("inf"), r"momentum must be a finite number in \[0, inf\), got inf"),
    ("batch_size", 0, r"batch_size must be an integer in \[1, inf\), got 0"),
    ("seed", -1, r"seed must be an integer in \[0, 1.8\d*e\+19\], got -1"),
    ("weight_decay", -0.1, r"weight_decay must be a finite number in \[0, inf\), got -0.1"),
    ("optimizer", "sdg", "optimizer must be one of 'sgd', 'adam', 'adamw', got 'sdg'"),
    ("cache", "yes", "cache must be one of True, False, got 'yes'"),
    ("channels_last", 1.5, "channels_last must be one of None, True, False, got 1.5"),
])
def test_train_config_names_the_setting_the_value_and_the_range(setting, value, message):
    with pytest.raises(ValueError, match=message):
        actlab.TrainConfig(**{setting: value})


def test_train_config_is_frozen_and_accepts_numpy_integers():
    config = actlab.TrainConfig(epochs=np.int64(2), seed=np.int64(7), callbacks=[])
    assert config.epochs == 2 and type(config.seed) is int and config.callbacks == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0
    with pytest.raises(TypeError, match="callbacks must be instances.*GradNormMonitor\\(\\)"):
        actlab.TrainConfig(callbacks=[actlab.GradNormMonitor])


def test_train_takes_a_config_or_arguments_not_both():
    data = actlab.toy_2d("xor", n=64)
    torch.manual_seed(0)
    by_arguments = actlab.train(actlab.MLP(2, 8), data, epochs=2, lr=0.05, seed=3, progress=False)
    torch.manual_seed(0)
    config = actlab.TrainConfig(epochs=2, lr=0.05, seed=3, progress=False)
    by_config = actlab.train(actlab.MLP(2, 8), data, config=config)
    assert by_config.steps == by_arguments.steps and by_config.config == by_arguments.config
    with pytest.raises(ValueError, match="not both \\(got config and epochs\\)"):
        actlab.train(actlab.MLP(2, 8), data, epochs=5, config=config)


def test_data_order_never_touches_the_global_generator():
    data = actlab.toy_2d("xor", n=64)
    torch.manual_seed(0)
    net = actlab.MLP(2, 8)
    before = torch.get_rng_state()
    actlab.train(net, data, epochs=2, batch_size=16, seed=1, progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(0)
    other = actlab.train(actlab.MLP(2, 8), data, epochs=2, batch_size=16, seed=2, progress=False)
    torch.manual_seed(0)
    again = actlab.train(actlab.MLP(2, 8), data, epochs=2, batch_size=16, seed=1, progress=False)
    assert again.steps != other.steps  # the seed alone changes the order


def test_callbacks_are_called_by_event_name_without_subclassing():
    """Any object with some of the event methods is a callback; on_batch_end sees every step's loss in order."""
    class Log:
        def __init__(self):
            self.events = []

        def on_train_begin(self, model, optimizer):
            self.events.append("begin")

        def on_batch_end(self, model, step, loss):
            self.events.append((step, loss))

        def on_epoch_end(self, model, epoch):
            return {"seen": len(self.events)}

    log = Log()
    h = actlab.train(actlab.MLP(2, 4), actlab.toy_2d("xor", n=64), epochs=2, batch_size=16, callbacks=[log],
                     progress=False)
    assert log.events[0] == "begin" and log.events[1:] == list(enumerate(h.steps, start=1))
    assert [r["seen"] for r in h.epochs] == [1, 1 + 3, 1 + 6]  # 48 training examples: 3 batches of 16 per epoch


def test_compare_grid(images):
    small = images.subset(600, 200)
    result = actlab.compare(["relu", "sigmoid"], small, seeds=[0, 1], epochs=1, lr=0.05, progress=False)
    t = result.table
    assert len(t) == 2 * 2 * 2 and set(t.activation) == {"relu", "sigmoid"}
    s = result.summary()
    assert s.test_acc_mean.is_monotonic_decreasing
    last = t[(t.activation == "relu") & (t.epoch == 1)].test_acc
    assert s.loc["relu", "test_acc_mean"] == pytest.approx(last.mean())
    assert s.loc["relu", "test_acc_max"] == last.max()
    assert result.plot().axes[0].get_xlabel() == "epoch"
    assert ("relu", 1) in result.models
    with pytest.raises(ValueError, match="unknown activation"):
        actlab.compare(["rellu"], small, epochs=1)


def test_callbacks_get_the_optimizer_before_the_first_step():
    """A callback can schedule the learning rate: here it halves it after every backward pass."""
    seen = []

    class HalveLR(actlab.Callback):
        def on_train_begin(self, model, optimizer):
            self.optimizer = optimizer

        def on_after_backward(self, model, step):
            seen.append(self.optimizer.param_groups[0]["lr"])
            self.optimizer.param_groups[0]["lr"] /= 2

    actlab.train(actlab.MLP(1, 4), actlab.toy_2d("xor", n=64), epochs=1, lr=0.1, batch_size=16, callbacks=[HalveLR()],
                 progress=False)
    assert seen == [0.1, 0.05, 0.025]


def test_an_epoch_whose_first_step_is_nan_records_nan_not_zero():
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="loss became nan"):
        h = actlab.train(actlab.MLP(2, 64), actlab.toy_2d("xor", n=200), epochs=5, lr=1e4, momentum=0.0,
                         batch_size=1000, progress=False)
    assert h.status == "diverged"
    last = h.epochs[-1]
    assert math.isnan(last["train_loss"]) and math.isnan(last["train_acc"])
    assert all(r["train_loss"] != 0.0 and r["train_acc"] != 0.0 for r in h.epochs)


def test_evaluate_of_a_model_with_nan_outputs_is_nan():
    net = actlab.MLP(1, 4)
    with torch.no_grad():
        net.out.weight.fill_(float("nan"))
    data = actlab.toy_2d("xor", n=64)
    loss, acc = actlab.evaluate(net, data.inputs("test"), data.labels("test"))
    assert math.isnan(loss) and math.isnan(acc)  # argmax of NaN logits would read as class 0, "accuracy 0.5"


def test_compare_params_accept_any_spelling_and_refuse_unknown_keys():
    data = actlab.toy_2d("xor", n=64)
    for key in ("LeakyReLU", "leaky-relu", "Leaky ReLU", "leaky_relu"):
        result = actlab.compare(["LeakyReLU"], data, params={key: {"alpha": 0.5}}, epochs=1, progress=False)
        (net,) = result.models.values()
        assert [m.negative_slope for _, m in actlab.activation_modules(net)] == [0.5] * 4
    with pytest.raises(ValueError, match="params key 'tanh'.*not among the activations compared"):
        actlab.compare(["relu"], data, params={"tanh": {}}, epochs=1, progress=False)
    with pytest.raises(ValueError, match="params key 'leaky_rellu' is not an activation"):
        actlab.compare(["leaky_relu"], data, params={"leaky_rellu": {"alpha": 0.5}}, epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown parameter"):
        actlab.compare(["leaky_relu"], data, params={"leaky_relu": {"slope": 0.5}}, epochs=1, progress=False)


def test_compare_shows_overall_progress(monkeypatch):
    descriptions = []
    original = actlab.compare.__globals__["tqdm"]

    class Recording(original):
        def set_description(self, desc=None, refresh=True):
            descriptions.append(desc)
            super().set_description(desc, refresh)

    monkeypatch.setitem(actlab.compare.__globals__, "tqdm", Recording)
    actlab.compare(["relu", "tanh"], actlab.toy_2d("xor", n=64), seeds=[0, 1], epochs=1)
    assert descriptions == ["run 1 of 4: relu, seed 0", "run 2 of 4: relu, seed 1", "run 3 of 4: tanh, seed 0",
                            "run 4 of 4: tanh, seed 1"]


def test_comparison_plot_shares_whole_epoch_ticks():
    result = actlab.compare(["relu", "tanh"], actlab.toy_2d("xor", n=64), epochs=3, progress=False)
    fig = result.plot()
    limits = {ax.get_xlim() for ax in fig.axes}
    assert len(limits) == 1 and limits.pop()[0] < 0  # test accuracy starts at epoch 0, training loss at 1
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_deterministic_cudnn_sets_the_flags_and_restores_them_on_error():
    from actlab.seeding import deterministic_cudnn

    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        cudnn.deterministic, cudnn.benchmark = False, True
        with pytest.raises(RuntimeError, match="inside"):
            with deterministic_cudnn():
                assert cudnn.deterministic and not cudnn.benchmark
                raise RuntimeError("inside")
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
        with deterministic_cudnn(enabled=False):
            assert (cudnn.deterministic, cudnn.benchmark) == (False, True)
    finally:
        cudnn.deterministic, cudnn.benchmark = saved
