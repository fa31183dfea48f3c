"""Errors name the problem: the parameter, the value and what is valid (issue 9)."""
import math

import pytest
import torch
from torch import nn

import actlab
from actlab.checks import check_choice, check_number
from actlab.custom import GradientCheckFailed
from actlab.models import INITS, init_linear


def test_check_gradient_of_rrelu_checks_the_deterministic_eval_mode():
    module = nn.RReLU()
    assert actlab.check_gradient(module)
    assert module.training  # the caller's module is not switched to eval mode


def test_check_gradient_works_on_a_copy():
    prelu = nn.PReLU()
    assert actlab.check_gradient(prelu)
    assert prelu.weight.dtype == torch.float32
    assert prelu(torch.randn(3)).dtype == torch.float32


def test_check_gradient_refuses_a_stochastic_function():
    with pytest.raises(ValueError, match="stochastic"):
        actlab.check_gradient(lambda x: x * torch.rand_like(x))


def test_gradient_failures_are_named_errors():
    with pytest.raises(GradientCheckFailed, match="analytic derivative disagrees"):
        actlab.check_gradient(torch.nn.functional.silu, derivative=lambda x: torch.sigmoid(x))
    assert issubclass(GradientCheckFailed, AssertionError)  # code catching AssertionError keeps working


def test_init_linear_refuses_an_unknown_scheme():
    layer = nn.Linear(3, 2)
    before = [p.detach().clone() for p in layer.parameters()]
    with pytest.raises(ValueError, match=r"init must be one of 'default', 'kaiming'.*got 'kaimnig'"):
        init_linear(layer, "kaimnig")
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))  # nothing was zeroed
    for scheme in INITS:
        init_linear(nn.Linear(3, 2, bias=False), scheme)  # layers without a bias work too


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": -1}, r"epochs must be an integer in \[0, inf\), got -1"),
    ({"epochs": 2.0}, r"epochs must be an integer in \[0, inf\), got 2.0"),
    ({"lr": 0}, r"lr must be a finite number in \(0, inf\), got 0"),
    ({"lr": float("inf")}, r"lr must be a finite number in \(0, inf\), got inf"),
    ({"momentum": True}, r"momentum must be a finite number in \[0, inf\), got True"),
    ({"optimizer": "sdg"}, r"optimizer must be one of 'sgd', 'adam', 'adamw', got 'sdg'"),
])
def test_train_messages_name_parameter_value_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        actlab.train(actlab.MLP(1, 4), actlab.toy_2d("xor", n=64), progress=False, **kwargs)


def test_check_number_bounds():
    assert check_number("p", 1, 0, 1) == 1
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        check_number("p", 1, 0, 1, high_open=True)
    with pytest.raises(ValueError, match="got nan"):
        check_number("p", math.nan)
    with pytest.raises(ValueError, match="k must be one of 'a', 'b', got 'c'"):
        check_choice("k", "c", ("a", "b"))


def test_library_code_has_no_bare_assert():
    import ast
    from pathlib import Path

    for path in Path(actlab.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        raises = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc is not None
                  and getattr(getattr(node.exc, "func", node.exc), "id", "") == "AssertionError"]
        assert not asserts and not raises, f"{path.name}: assert or bare AssertionError at lines {asserts + raises}"


@pytest.mark.parametrize("call, message", [
    (lambda: actlab.toy_2d("xor", noise=3), r"noise must be a finite number in \[0, 2\], got 3"),
    (lambda: actlab.toy_2d("xor", test_fraction=1), r"test_fraction must be a finite number in \(0, 1\), got 1"),
    (lambda: actlab.toy_2d("xor").subset(0), r"n_train must be an integer in \[1, 750\], got 0"),
    (lambda: actlab.MLP(0, 4), r"depth must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.MLP(2, 4, init="he"), r"init must be one of 'default', .*'large', got 'he'"),
    (lambda: actlab.GradNormMonitor(every=0), r"every must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.dead_units(actlab.MLP(1, 4), actlab.toy_2d("xor"), batch_size=0),
     r"batch_size must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.grad_norms(actlab.MLP(1, 4), actlab.toy_2d("xor"), batch_size=-5),
     r"batch_size must be an integer in \[1, inf\), got -5"),
])
def test_library_validators_share_one_message_style(call, message):
    with pytest.raises(ValueError, match=message):
        call()
