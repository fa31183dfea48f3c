"""Every registry module scripts, saves and compiles, as its torch.nn counterpart does (all of those script; issue 20)."""
import io

import pytest
import torch
from torch import nn

import actlab

NAMES = actlab.activation_names()
X = torch.linspace(-6, 6, 241)


def _scripted_round_trip(module: nn.Module) -> torch.jit.ScriptModule:
    """module scripted, saved with torch.jit.save and loaded back: a Python call inside would fail to save."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


@pytest.mark.parametrize("name", NAMES)
def test_every_registry_module_scripts_and_computes_what_it_computes_in_python(name):
    module = actlab.get_activation(name).eval()  # RReLU's eval mode: its deterministic mean slope
    loaded = _scripted_round_trip(module)
    x = X.clone().requires_grad_(True)
    eager = module(x)
    (grad,) = torch.autograd.grad(eager.sum(), x)
    x_scripted = X.clone().requires_grad_(True)
    scripted = loaded(x_scripted)
    (scripted_grad,) = torch.autograd.grad(scripted.sum(), x_scripted, allow_unused=True)
    assert torch.equal(scripted, eager)
    assert scripted_grad is not None and torch.equal(scripted_grad, grad)


def test_scripted_prelu_keeps_its_weight_and_follows_the_input_dtype():
    torch.jit.script(nn.PReLU())  # TorchScript reuses a forward compiled for the same class and attributes
    prelu = actlab.get_activation("prelu", alpha=0.1)
    loaded = _scripted_round_trip(prelu)
    x = torch.tensor([-2.0, 3.0], dtype=torch.float64)
    assert loaded(x).dtype == torch.float64 and loaded(x).tolist() == pytest.approx([-0.2, 3.0])
    assert prelu(x).dtype == torch.float64  # scripting left the Python module as it was
    assert type(prelu) is nn.PReLU


def test_a_model_with_each_own_module_scripts():
    for name in ("prelu", "heaviside", "swish", "quick_gelu"):
        net = actlab.LeNet(name).eval()
        x = torch.randn(2, 3, 32, 32)
        assert torch.equal(_scripted_round_trip(net)(x), net(x)), name


def test_heaviside_keeps_a_zero_gradient_in_the_graph():
    layer = nn.Linear(3, 3)
    step = actlab.get_activation("heaviside")
    x = torch.tensor([[-1.0, 0.0, 2.0], [float("inf"), float("nan"), -float("inf")]])
    assert step(x).tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    step(layer(x[:1])).sum().backward()
    assert layer.weight.grad is not None and torch.equal(layer.weight.grad, torch.zeros(3, 3))


@pytest.mark.parametrize("name", ["prelu", "heaviside"])
def test_torch_compile_captures_the_whole_module(name):
    """fullgraph: dynamo must capture the module in one graph (aot_eager: no C++ compiler needed, seconds)."""
    module = actlab.get_activation(name)
    compiled = torch.compile(module, backend="aot_eager", fullgraph=True)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.equal(compiled(x), module(x))
