"""The CUDA path: training, the cache and the diagnostics with a model on a GPU, checked against the same work on
the CPU. Skipped where torch sees no CUDA device (CI, our machines); run on a GPU machine with
`python -m pytest tests/test_gpu.py`.

Tolerances: the same seeded run on two devices differs only by float32 rounding in other kernels. Each comparison
has a control that changes the computation (another seed, another activation) and must differ by more than the
tolerance, so a check that passed because nothing was compared would fail.
"""
import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

import actlab
from actlab.stats import LayerStatsMonitor

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

LOSS_RTOL = 1e-3  # per-epoch training loss, 5 epochs of SGD: rounding moves it ~1e-6; another seed moves it > 1e-2


pytestmark = pytest.mark.usefixtures("private_cache")  # every test caches in its own data folder


@pytest.fixture(scope="module")
def circles():
    return actlab.toy_2d("circles", n=600, seed=0)


def losses(history) -> np.ndarray:
    """Per-epoch training loss of a History (epoch 0, before training, left out)."""
    return np.array([e["train_loss"] for e in history.epochs[1:]])


def fit(data, device, seed=0, activation="gelu", **kwargs):
    """A seeded 3 x 32 MLP trained 5 epochs on device; (model, history)."""
    torch.manual_seed(seed)
    model = actlab.MLP(3, 32, activation)
    return model, actlab.train(model, data, epochs=5, lr=0.05, seed=seed, device=device, progress=False, **kwargs)


@needs_cuda
def test_pick_device_takes_the_gpu():
    assert actlab.pick_device().type == "cuda"
    assert actlab.pick_device("cuda:0") == torch.device("cuda:0")


@needs_cuda
def test_a_gpu_run_follows_the_cpu_run(circles):
    (cpu_model, cpu), (gpu_model, gpu) = fit(circles, "cpu"), fit(circles, "cuda")
    assert next(gpu_model.parameters()).device.type == "cuda" and gpu.status == "completed"
    print("max relative loss difference, cuda vs cpu:", np.max(np.abs(losses(gpu) / losses(cpu) - 1)))
    np.testing.assert_allclose(losses(gpu), losses(cpu), rtol=LOSS_RTOL)
    assert gpu.final["test_acc"] == pytest.approx(cpu.final["test_acc"], abs=2 / 150)  # at most 2 of 150 points
    for p_cpu, p_gpu in zip(cpu_model.parameters(), gpu_model.parameters()):
        torch.testing.assert_close(p_gpu.cpu(), p_cpu, rtol=1e-3, atol=1e-4)
    _, other_seed = fit(circles, "cuda", seed=1)  # the control: another seed is another run
    assert np.max(np.abs(losses(other_seed) / losses(cpu) - 1)) > 10 * LOSS_RTOL


@needs_cuda
def test_two_seeded_lenet_runs_on_the_gpu_are_identical():
    """cuDNN may pick nondeterministic convolution algorithms; train asks for deterministic ones on a GPU."""
    data, cudnn = actlab.image_data(256, 64, seed=0), torch.backends.cudnn
    saved, runs, during = (cudnn.deterministic, cudnn.benchmark), [], CudnnFlags()
    try:
        cudnn.deterministic, cudnn.benchmark = False, True  # a user's autotuning: train must turn it off, then back on
        for _ in range(2):
            torch.manual_seed(0)
            model = actlab.LeNet("relu")
            history = actlab.train(model, data, epochs=2, lr=0.03, device="cuda", progress=False, callbacks=[during])
            runs.append((history.steps, {k: v.cpu() for k, v in model.state_dict().items()}))
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)  # restored after training
    finally:
        cudnn.deterministic, cudnn.benchmark = saved
    assert during.seen == {(True, False)}  # deterministic algorithms, no autotuning, at every step
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


class CudnnFlags(actlab.Callback):
    """Records cuDNN's (deterministic, benchmark) flags at every training step."""

    def __init__(self):
        self.seen = set()

    def on_after_backward(self, model, step):
        self.seen.add((torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark))


@needs_cuda
def test_the_gpu_generator_is_part_of_the_cache_key(circles):
    """Same weights and CPU generator, another state of the GPU's generator (RReLU draws there): no cache hit."""
    torch.manual_seed(0)
    net = actlab.MLP(1, 4, "rrelu")
    first = actlab.train(net, circles, epochs=1, device="cuda", progress=False, cache=True)
    torch.manual_seed(0)
    net = actlab.MLP(1, 4, "rrelu")
    torch.rand(1, device="cuda")
    second = actlab.train(net, circles, epochs=1, device="cuda", progress=False, cache=True)
    assert not second.from_cache and second.steps != first.steps


@needs_cuda
def test_a_cached_gpu_run_comes_back_on_the_gpu_and_is_not_served_to_the_cpu(circles):
    _, first = fit(circles, "cuda", cache=True)
    model, again = fit(circles, "cuda", cache=True)
    assert not first.from_cache and again.from_cache
    assert next(model.parameters()).device.type == "cuda"
    np.testing.assert_array_equal(losses(again), losses(first))
    _, on_cpu = fit(circles, "cpu", cache=True)
    assert not on_cpu.from_cache  # the device is part of the cache key


@needs_cuda
def test_monitors_record_the_same_on_both_devices(circles):
    records = {}
    for device, seed in (("cpu", 0), ("cuda", 0), ("cuda", 1)):
        stats, grads = LayerStatsMonitor(circles.inputs("train"), every=4), actlab.GradNormMonitor()
        _, history = fit(circles, device, seed=seed, callbacks=[stats, grads, actlab.DeadUnitMonitor(circles)])
        epochs = [{k: v for k, v in e.items() if k != "seconds"} for e in history.epochs]
        records[device, seed] = stats.activations(), grads.records, epochs
    (a_cpu, g_cpu, e_cpu), (a_gpu, g_gpu, e_gpu) = records["cpu", 0], records["cuda", 0]
    assert len(a_cpu) == len(a_gpu) > 0 and "dead_fraction" in e_gpu[-1]
    np.testing.assert_allclose(a_gpu["mean"], a_cpu["mean"], rtol=1e-3, atol=1e-5)
    assert _close_records(g_gpu, g_cpu) and _close_records(e_gpu, e_cpu)
    for key in ("train_acc", "test_acc"):  # a point near the boundary may flip with rounding: at most 2 of 150
        assert [e[key] for e in e_gpu] == pytest.approx([e[key] for e in e_cpu], abs=2 / 150, nan_ok=True)
    _, g_other, e_other = records["cuda", 1]  # the control: another seed's records are not "close"
    assert not _close_records(g_other, g_cpu) and not _close_records(e_other, e_cpu)


def _close_records(a, b, rtol=1e-3, atol=1e-6) -> bool:
    """Two lists of record dicts with equal keys and numbers equal within rounding (accuracies left out: one flipped
    point moves them by 1/n, far above rounding; they are compared on their own)."""
    if len(a) != len(b) or not a:
        return False
    for ra, rb in zip(a, b):
        if set(ra) != set(rb):
            return False
        for k in (k for k in ra if not k.endswith("_acc")):
            va, vb = ra[k], rb[k]
            if isinstance(va, (int, float)) and not isinstance(va, bool):
                if not (math.isclose(va, vb, rel_tol=rtol, abs_tol=atol) or math.isnan(va) and math.isnan(vb)):
                    return False
            elif isinstance(va, dict):
                if not _close_records([va], [vb], rtol, atol):
                    return False
            elif va != vb:
                return False
    return True


@needs_cuda
def test_diagnostics_take_a_model_on_the_gpu(circles):
    torch.manual_seed(0)
    cpu_model = actlab.MLP(4, 16, "relu")
    gpu_model = actlab.MLP(4, 16, "relu").cuda()
    gpu_model.load_state_dict(cpu_model.state_dict())
    x, y = circles.inputs("train")[:256], circles.y_train[:256]  # on the CPU, as a notebook has them
    s_cpu, s_gpu = actlab.activation_stats(cpu_model, x), actlab.activation_stats(gpu_model, x)
    assert [r["dead_fraction"] for r in s_gpu] == [r["dead_fraction"] for r in s_cpu]
    assert [r["mean"] for r in s_gpu] == pytest.approx([r["mean"] for r in s_cpu], rel=1e-4, abs=1e-6)
    pd.testing.assert_frame_equal(actlab.dead_units(gpu_model, circles), actlab.dead_units(cpu_model, circles),
                                  check_exact=False, rtol=1e-4)
    g_cpu, g_gpu = actlab.init_gradients(cpu_model, x, y), actlab.init_gradients(gpu_model, x, y)
    assert list(g_gpu) == list(g_cpu)
    for name in g_cpu:
        np.testing.assert_allclose(g_gpu[name], g_cpu[name], rtol=1e-3, atol=1e-6)
    n_cpu, n_gpu = actlab.grad_norms(cpu_model, (x, y)), actlab.grad_norms(gpu_model, (x, y))
    assert n_gpu == pytest.approx(n_cpu, rel=1e-3)
    assert actlab.evaluate(gpu_model, x, y) == pytest.approx(actlab.evaluate(cpu_model, x, y), rel=1e-4)
    with actlab.capture_activations(gpu_model) as records:
        gpu_model(x.cuda())
    assert records and all(out.device.type == "cuda" for calls in records.values() for _, out in calls)


@needs_cuda
def test_per_channel_prelu_and_swapping_keep_the_model_on_the_gpu():
    torch.manual_seed(0)
    model = actlab.LeNet("prelu").cuda()
    example = torch.randn(4, 3, 32, 32)  # on the CPU
    before = model(example.cuda())
    swapped = actlab.per_channel_prelu(model, example)
    assert all(p.device.type == "cuda" for p in swapped.parameters())
    torch.testing.assert_close(swapped(example.cuda()), before)  # same alphas, one per channel now
    relu = actlab.swap_activation(actlab.MLP(2, 8, "tanh").cuda(), "relu")
    assert all(p.device.type == "cuda" for p in relu.parameters())
    assert relu(torch.randn(5, 2, device="cuda")).shape == (5, 2)


ACT_ATOL = 1e-5  # float32 cancellation in the tails (1 + tanh(u) as tanh(u) nears -1) leaves ~1e-6 between kernels


@needs_cuda
@pytest.mark.parametrize("name", actlab.activation_names())
def test_every_activation_computes_the_same_on_the_gpu(name):
    x = torch.linspace(-6, 6, 2001)
    cpu_module = actlab.get_activation(name).eval()  # eval: RReLU uses its mean slope
    gpu_module = copy.deepcopy(cpu_module).cuda()  # a copy: .cuda() moves parameters in place
    x_cpu, x_gpu = x.clone().requires_grad_(), x.cuda().requires_grad_()
    y_cpu, y_gpu = cpu_module(x_cpu * 1), gpu_module(x_gpu * 1)
    y_cpu.sum().backward()
    y_gpu.sum().backward()
    torch.testing.assert_close(y_gpu.detach().cpu(), y_cpu.detach(), rtol=1e-5, atol=ACT_ATOL)
    torch.testing.assert_close(x_gpu.grad.cpu(), x_cpu.grad, rtol=1e-5, atol=ACT_ATOL)


def test_the_activation_tolerance_tells_close_functions_apart():
    """The control: GELU's erf form and its tanh approximation (Hendrycks and Gimpel, sec. 2) differ by more."""
    x = torch.linspace(-6, 6, 2001)
    gap = (actlab.get_activation("gelu")(x) - actlab.get_activation("gelu_tanh")(x)).abs().max().item()
    assert gap > 10 * ACT_ATOL, gap


@needs_cuda
def test_lenet_trains_on_the_gpu_in_channels_last():
    data = actlab.image_data(512, 128, seed=0)
    torch.manual_seed(0)
    model = actlab.LeNet("relu")
    history = actlab.train(model, data, epochs=2, lr=0.03, device="cuda", channels_last=True, progress=False)
    assert history.status == "completed" and next(model.parameters()).device.type == "cuda"
    assert all(math.isfinite(e["train_loss"]) for e in history.epochs[1:])
    assert history.epochs[-1]["train_loss"] < history.epochs[1]["train_loss"]


@needs_cuda
def test_compare_runs_on_the_gpu(circles):
    result = actlab.compare(["relu", "tanh"], circles, seeds=(0, 1), epochs=3, device="cuda", progress=False)
    table = result.table  # a row per (activation, seed, epoch)
    assert set(table["activation"]) == {"relu", "tanh"} and len(table) == 2 * 2 * 4
    assert (table["status"] == "completed").all() and np.isfinite(table["test_acc"]).all()


@needs_cuda
def test_the_course_experiments_probe_a_model_on_the_gpu(circles):
    """Callbacks and helpers that feed CPU probes or CPU snapshots to a model train moved to the GPU."""
    torch.manual_seed(0)
    model = actlab.MLP(3, 16, "relu").cuda()
    outputs = list(model.hidden_outputs(circles.inputs("train")[:32]))  # a CPU batch
    assert [layer for layer, _ in outputs] == [1, 2, 3] and outputs[0][1].device.type == "cuda"
    start = {k: v.cpu() for k, v in actlab.snapshot_weights(model).items()}  # a snapshot kept on the CPU
    with torch.no_grad():
        model.hidden.linear1.weight.mul_(2)
    assert actlab.distance_from_init(model, start)["hidden.linear1"] == pytest.approx(1.0)

