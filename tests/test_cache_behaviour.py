"""The training cache keys a run by what the model computes, not only by how its code looks (issue 20).

Each case here was served another run's cached result when the key held only code digests and version counters.
"""
import random
import threading
import types

import pytest
import torch
from torch import nn

import actlab
from actlab.cache import cache_key


pytestmark = pytest.mark.usefixtures("private_cache")  # every test caches in its own data folder


@pytest.fixture
def names():
    """Names registered by a test, unregistered after it."""
    registered = []
    yield registered
    for name in registered:
        if name in actlab.activation_names():
            actlab.unregister(name)


def run(activation, data, cache=True, epochs=3):
    torch.manual_seed(0)
    return actlab.train(actlab.MLP(2, 16, activation), data, epochs=epochs, progress=False, cache=cache)


def assert_fresh(activation, data):
    """A cached run is not served: the run with cache=True equals one with cache=False, and repeats as a hit."""
    served = run(activation, data)
    fresh = run(activation, data, cache=False)
    assert not served.from_cache and served.steps == fresh.steps
    assert run(activation, data).from_cache  # the same behaviour again is a hit: the cache still works


class Scaled:
    """A callable object holding its scale: its code is the same whatever the scale."""

    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return self.k * torch.tanh(x)


def test_a_callable_object_s_state_keys_the_run(names):
    data = actlab.toy_2d("circles", n=400)
    names.append("scaled")
    actlab.custom_activation("scaled", Scaled(1.0))
    one = run("scaled", data)
    actlab.custom_activation("scaled", Scaled(3.0), replace=True)
    assert_fresh("scaled", data)
    assert run("scaled", data).steps != one.steps


def test_a_module_attribute_a_lambda_reads_keys_the_run(names):
    data = actlab.toy_2d("circles", n=400)
    cfg = types.ModuleType("cfg")
    cfg.K = 1.0
    names.append("k_tanh")
    actlab.custom_activation("k_tanh", lambda x: cfg.K * torch.tanh(x))
    run("k_tanh", data)
    cfg.K = 3.0
    assert_fresh("k_tanh", data)


def _closure_over(layer: nn.Linear):
    """A factory of activation modules that apply layer (held in a closure, not as a submodule) per element."""
    class Through(nn.Module):
        def forward(self, x):
            return torch.tanh(layer(x.unsqueeze(-1)).squeeze(-1))

    return Through


def test_a_closure_s_weights_key_the_run():
    data = actlab.toy_2d("circles", n=400)
    layer = nn.Linear(1, 1)
    factory = _closure_over(layer)
    run(factory, data)
    with torch.no_grad():
        layer.weight.mul_(-2.0)
    assert_fresh(factory, data)


def test_a_write_through_a_numpy_view_changes_the_fingerprint_and_the_run():
    data = actlab.toy_2d("circles", n=400)
    run("relu", data)
    before, stats = data.fingerprint(), data.channel_stats()[0].clone()
    data.x_train.numpy()[:] *= -1  # torch's version counter does not see this write
    assert data.fingerprint() != before
    assert torch.allclose(data.channel_stats()[0], -stats)  # the standardisation follows the data too
    assert_fresh("relu", data)


def test_a_far_tail_changes_the_key(names):
    """An activation changed only far from 0 (where the model's probe batch does not reach) changes the key."""
    data = actlab.toy_2d("xor", n=64)
    cfg = types.ModuleType("cfg")
    cfg.LIMIT = 500.0
    names.append("clipped")
    actlab.custom_activation("clipped", lambda x: torch.clamp(x, max=cfg.LIMIT))
    keys = []
    for cfg.LIMIT in (500.0, 50.0, 500.0):
        torch.manual_seed(0)  # the same initial weights
        keys.append(cache_key(actlab.MLP(2, 4, "clipped"), data, {"device": "cpu"}, [])["behaviour"])
    assert keys[0] != keys[1] and keys[0] == keys[2]


class Noisy(nn.Module):
    """An activation that is not deterministic given torch's seed: it draws from Python's own generator."""

    def forward(self, x):
        return torch.relu(x) * (1 + 1e-3 * random.random())


class Locked(nn.Module):
    """A ReLU holding a lock: the probe's copy (copy.deepcopy) fails."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def forward(self, x):
        return torch.relu(x)


@pytest.mark.parametrize("factory, reason", [(Noisy, "different outputs for the same probe"),
                                             (Locked, "cannot be probed")])
def test_what_the_key_cannot_see_is_run_not_served(factory, reason, private_cache):
    data = actlab.toy_2d("xor", n=64)
    for _ in range(2):
        with pytest.warns(UserWarning, match=f"neither served from nor saved to the cache.*{reason}"):
            history = run(factory, data)
        assert not history.from_cache and history.status == "completed"
    assert not list(private_cache.glob("cache/train-*.npz"))


def test_the_probe_leaves_the_model_and_the_random_state_as_they_were():
    from actlab.fingerprint import behaviour_digest

    torch.manual_seed(5)
    model = actlab.MLP(2, 8, "rrelu", batch_norm=True).eval()  # RReLU draws from the generator in training mode
    weights = {k: v.clone() for k, v in model.state_dict().items()}  # BatchNorm's running statistics included
    state = torch.get_rng_state()
    first = behaviour_digest(model, (2,))
    assert torch.equal(torch.get_rng_state(), state)
    assert not model.training and all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    torch.rand(5)  # another global state: the probe draws from its own seed, so the digest is the same
    assert behaviour_digest(model, (2,)) == first


def test_a_custom_activation_s_flags_follow_what_it_computes(names):
    """The inferred flags are remembered per parameters and per behaviour: a callable object whose scale changes
    gets its new output range (it kept the old one when remembered per parameters alone)."""
    scaled = Scaled(1.0)
    names.append("scaled_flags")
    spec = actlab.custom_activation("scaled_flags", scaled)
    assert spec.flags()["output_range"] == pytest.approx((-1.0, 1.0))
    scaled.k = 3.0
    assert spec.flags()["output_range"] == pytest.approx((-3.0, 3.0))
