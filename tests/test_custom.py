"""User-registered activations work everywhere a built-in one does; inference and gradient checks are honest."""
import math

import pytest
import torch

import actlab
from actlab import Param


def squareplus(x, b):
    return 0.5 * (x + torch.sqrt(x * x + b))


@pytest.fixture
def registered():
    spec = actlab.custom_activation("test_squareplus", squareplus, params=(Param("b", 4.0, 0.1, 16.0, 0.1),),
                                    display="Squareplus")
    yield spec
    actlab.unregister("test_squareplus")


def test_inference_does_not_read_nan_as_not_saturated():
    """1 / (1 + exp(-x)) overflows to a NaN gradient at x = -1000; its left tail still saturates (3.7e-44 at -100)."""
    spec = actlab.custom_activation("test_naive_sigmoid", lambda x: 1 / (1 + torch.exp(-x)))
    try:
        assert spec.saturates == "both" and spec.monotonic and spec.smooth and spec.bounded
    finally:
        actlab.unregister("test_naive_sigmoid")


def test_inference_refuses_a_function_that_is_not_finite():
    with pytest.raises(ValueError, match=r"forward is nan at x=-8"):
        actlab.infer_properties(lambda x: torch.sqrt(x), actlab.custom.autograd_derivative(torch.sqrt))
    assert "test_sqrt" not in actlab.activation_names()


def test_custom_flags_follow_the_parameters():
    """A user's parameter changes the flags as a built-in's does: a leaky ReLU whose slope may go negative."""
    spec = actlab.custom_activation("test_leaky", lambda x, a: torch.where(x > 0, x, a * x),
                                    params=(Param("a", 0.1, -1.0, 1.0, 0.1),))
    try:
        assert spec.monotonic and spec.saturates == "none"
        assert spec.flags(a=-1.0)["monotonic"] is False and spec.flags(a=0.0)["saturates"] == "negative"
        assert spec.flags(a=0.0)["output_range"][0] == 0.0 and spec.flags(a=0.5)["output_range"][0] == -math.inf
    finally:
        actlab.unregister("test_leaky")


def test_custom_activation_everywhere(registered):
    assert registered.monotonic and registered.smooth and not registered.bounded and registered.saturates == "negative"
    module = actlab.get_activation("test_squareplus", b=1.0)
    assert module(torch.tensor([0.0])).item() == pytest.approx(0.5)
    e = actlab.explore("test_squareplus")
    assert [s.description for s in e.sliders.children] == ["b"]
    e.sliders.children[0].value = 9.0
    assert e.ax_f.get_title() == "Squareplus (b=9)"
    data = actlab.cifar_like(300, 100, seed=0, cache=False)
    torch.manual_seed(0)
    net = actlab.LeNet("test_squareplus", {"b": 2.0})
    h = actlab.train(net, data, epochs=1, progress=False)
    assert h.status == "completed" and h.config["model"] == "Squareplus (b=2)"
    actlab.swap_activation(net, "relu")
    actlab.swap_activation(net, "test_squareplus")
    assert len(actlab.activation_modules(net)) == 4
    with pytest.raises(ValueError, match="'b'=100 is out of range"):
        actlab.get_activation("test_squareplus", b=100)


def test_check_gradient_catches_a_wrong_backward():
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * torch.sigmoid(x)  # forgets the product rule

    with pytest.raises(AssertionError, match="gradcheck failed"):
        actlab.check_gradient(Wrong.apply)
    assert actlab.check_gradient("silu")
    with pytest.raises(AssertionError, match="analytic derivative disagrees"):
        actlab.check_gradient(torch.nn.functional.silu, derivative=lambda x: torch.sigmoid(x))


def test_custom_activation_refuses_a_broken_gradient():
    with pytest.raises(AssertionError, match="disagrees"):
        actlab.custom_activation("test_bad", lambda x: x * x, derivative=lambda x: x)
    assert "test_bad" not in actlab.activation_names()


def test_per_channel_prelu():
    torch.manual_seed(0)
    net = actlab.per_channel_prelu(actlab.LeNet("prelu"), torch.zeros(1, 3, 32, 32))
    sizes = [m.weight.numel() for _, m in actlab.activation_modules(net)]
    assert sizes == [6, 16, 120, 84]
    assert all(torch.allclose(m.weight, torch.tensor(0.25)) for _, m in actlab.activation_modules(net))
    with pytest.raises(ValueError, match="no PReLU"):
        actlab.per_channel_prelu(actlab.LeNet("relu"), torch.zeros(1, 3, 32, 32))


def test_custom_module_must_be_a_class():
    """Models find activations by class, so a factory function as module is refused before registering."""
    with pytest.raises(TypeError, match="module must be an nn.Module class"):
        actlab.custom_activation("test_factory", lambda x: 2 * x, module=lambda: torch.nn.Identity())
    assert "test_factory" not in actlab.activation_names()
    spec = actlab.custom_activation("test_doubled", lambda x: 2 * x, module=torch.nn.Identity, replace=True)
    try:
        assert isinstance(actlab.get_activation("test_doubled"), torch.nn.Identity) and spec.torch_name == "Identity"
    finally:
        actlab.unregister("test_doubled")
