"""Errors name the problem: the parameter, the value and what is valid (issue 9)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.activations import lookup
from actlab.checks import check_choice, check_list, check_number, check_range
from actlab.custom import GradientCheckFailed
from actlab.experiments import basics, timing
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
    with pytest.raises(ValueError, match=r"init must be one of 'default', 'recommended', 'kaiming'.*got 'kaimnig'"):
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
    with pytest.raises(ValueError, match="k must be one of 'a', 'b', got 'c'$"):
        check_choice("k", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"k must be one of 'a', 'b', got \['a'\]"):
        check_choice("k", ["a"], {"a": 1, "b": 2})  # an unhashable value, dict keys as choices
    assert check_number("n", np.int64(3), 1, integer=True) == 3 and check_number("x", np.float32(0.5), 0, 1) == 0.5
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, inf\), got 3.0"):
        check_number("n", 3.0, 1, integer=True)


@pytest.mark.parametrize("value, reason", [
    ((1,), "not a pair"), (5, "not a pair"), ("ab", "not numbers"), ((0, math.inf), "not finite"),
    ((math.nan, 1), "not finite"), ((1, 1), "empty or reversed"), ((True, 2), "not numbers"),
    ((-30, 1), "outside the range"),
])
def test_check_range_names_what_is_wrong(value, reason):
    with pytest.raises(ValueError, match=rf"w must be a pair \(low, high\) of finite numbers with low < high within "
                                         rf"\[-20, 20\], got .*: {reason}$"):
        check_range("w", value, -20, 20)


def test_check_range_and_list_return_plain_values():
    assert check_range("w", (np.int64(-2), 3.5)) == (-2.0, 3.5)
    assert check_list("names", ("relu", "elu")) == ["relu", "elu"] and check_list("names", {"a": 1}.keys()) == ["a"]
    with pytest.raises(ValueError, match=r"names must be a list of at least 2 items, got \['relu'\]"):
        check_list("names", ["relu"], min_length=2)
    with pytest.raises(ValueError, match="names must be a non-empty list, got 3"):
        check_list("names", 3)


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
    (lambda: actlab.evaluate(actlab.MLP(1, 4), torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), batch_size=0),
     r"batch_size must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.evaluate(actlab.MLP(1, 4), torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)),
     r"x and y must hold the same number \(>= 1\) of examples, got 0 and 0"),
    (lambda: actlab.evaluate(actlab.MLP(1, 4), torch.zeros(3, 2), torch.zeros(2, dtype=torch.long)),
     r"x and y must hold the same number \(>= 1\) of examples, got 3 and 2"),
    (lambda: actlab.MLP(2, 4, init="he"), r"init must be one of 'default', .*'large', got 'he'"),
    (lambda: actlab.GradNormMonitor(every=0), r"every must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.dead_units(actlab.MLP(1, 4), actlab.toy_2d("xor"), batch_size=0),
     r"batch_size must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.grad_norms(actlab.MLP(1, 4), actlab.toy_2d("xor"), batch_size=-5),
     r"batch_size must be an integer in \[1, inf\), got -5"),
    (lambda: actlab.toy_2d("spiral"), r"kind must be one of 'xor', 'circles', 'spirals', 'gaussians', 'moons', got 'spiral'. "
                                      r"Did you mean 'spirals'\?"),
    (lambda: actlab.toy_2d("xor", n=400).subset(n_test=101), r"n_test must be an integer in \[1, 100\], got 101"),
    (lambda: actlab.plot_activation("relu", x_range=(2, 1)),
     r"x_range must be a pair \(low, high\) of finite numbers with low < high, got \(2, 1\): empty or reversed"),
    (lambda: actlab.plot_activation("relu", points=1.5), r"points must be an integer in \[2, inf\), got 1.5"),
    (lambda: actlab.plot_compare("relu"), r"names must be a non-empty list, got 'relu'"),
    (lambda: actlab.plot_softmax([1.0, 2.0], temperature=0), r"temperature must be a finite number in \(0, inf\), got 0"),
    (lambda: actlab.explore("relu", x_range=(-50, 5)),
     r"x_range must be .* within \[-20, 20\], got \(-50, 5\): outside the range"),
    (lambda: basics.same_sign_updates("relu"), r"inputs must be one of 'sigmoid', 'tanh', got 'relu'"),
    (lambda: basics.same_sign_updates(batch_size=0), r"batch_size must be an integer in \[1, inf\), got 0"),
    (lambda: timing.time_activations([]), r"names must be a non-empty list, got \[\]"),
    (lambda: timing.time_activations(["relu"], rounds=0), r"rounds must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.LayerStatsMonitor(torch.zeros(4, 2), max_examples=0),
     r"max_examples must be an integer in \[1, inf\), got 0"),
    (lambda: actlab.DeadUnitMonitor(actlab.toy_2d("xor"), max_examples=0.5),
     r"max_examples must be an integer in \[1, inf\), got 0.5"),
    (lambda: actlab.dead_units(actlab.MLP(1, 4), actlab.toy_2d("xor"), max_examples=0),
     r"max_examples must be an integer in \[1, inf\), got 0"),
])
def test_library_validators_share_one_message_style(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_compare_takes_numpy_integer_seeds_and_refuses_bools_and_floats():
    data = actlab.toy_2d("xor", n=64)
    result = actlab.compare(["relu"], data, seeds=np.arange(1), epochs=1, progress=False)
    assert [type(seed) for _, seed in result.histories] == [int]  # converted, as TrainConfig takes them
    plain = actlab.compare(["relu"], data, seeds=[0], epochs=1, progress=False)
    assert result.histories[("relu", 0)].steps == plain.histories[("relu", 0)].steps  # the same run
    for bad in ([True], [0.0], np.array([1.5]), []):
        with pytest.raises(ValueError, match="seeds must be a non-empty list of integers"):
            actlab.compare(["relu"], data, seeds=bad, epochs=1, progress=False)


def test_per_channel_prelu_on_a_converted_model_keeps_it_and_its_slopes():
    """Re-running a notebook cell: the second call leaves the model and its learned per-channel slopes alone."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU(init=0.2), nn.Flatten(), nn.Linear(64, 2))
    example = torch.randn(2, 3, 6, 6)
    actlab.per_channel_prelu(model, example)
    prelu = model[1]
    with torch.no_grad():
        prelu.weight.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))  # as if learned
    assert actlab.per_channel_prelu(model, example) is model
    assert model[1] is prelu and model[1].weight.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="no PReLU"):
        actlab.per_channel_prelu(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), torch.randn(1, 2))


def test_registry_parameters_take_numpy_real_scalars_as_python_numbers():
    for value in (np.float32(0.25), np.float64(0.25), np.int64(0), np.int32(1)):
        resolved = lookup("leaky_relu").resolve(alpha=value)["alpha"]
        assert type(resolved) is float and resolved == float(value)
        assert actlab.get_activation("leaky_relu", alpha=value).negative_slope == float(value)
    assert actlab.get_activation("elu", alpha=np.float32(1.5))(torch.tensor([-1.0])).item() == pytest.approx(
        1.5 * math.expm1(-1.0), rel=1e-6)
    for value in (True, np.bool_(True)):
        with pytest.raises(TypeError, match="'alpha' must be a number"):
            actlab.get_activation("leaky_relu", alpha=value)
    with pytest.raises(ValueError, match="'alpha' must be finite"):
        actlab.get_activation("leaky_relu", alpha=np.float32("nan"))
    with pytest.raises(ValueError, match=r"'alpha'=2 is out of range; valid range is \[0, 1\]"):
        actlab.get_activation("leaky_relu", alpha=np.int64(2))
