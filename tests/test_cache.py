"""The training cache never serves a result for other code, data, settings or callbacks (issue 9)."""
import importlib.metadata
import json

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.cache import cache_key
from actlab import fingerprint
from actlab.fingerprint import LIBRARY_DIGEST, code_digest, digest


pytestmark = pytest.mark.usefixtures("private_cache")  # every test caches in its own data folder


@pytest.fixture
def my_act():
    yield "my_act"
    if "my_act" in actlab.activation_names():
        actlab.unregister("my_act")


def run(model_args, data, cache=True, **kwargs):
    torch.manual_seed(0)
    model = actlab.MLP(*model_args)
    return model, actlab.train(model, data, epochs=5, progress=False, cache=cache, **kwargs)


def test_replacing_a_custom_activation_is_not_served_the_old_run(my_act):
    data = actlab.toy_2d("circles", n=400)
    actlab.custom_activation(my_act, lambda x: torch.relu(x))
    _, relu_run = run((2, 16, my_act), data)
    actlab.custom_activation(my_act, lambda x: 0 * x, replace=True)
    _, zero_run = run((2, 16, my_act), data)
    _, fresh = run((2, 16, my_act), data, cache=False)
    assert not zero_run.from_cache
    assert zero_run.epochs == [] or [r["test_acc"] for r in zero_run.epochs] == [r["test_acc"] for r in fresh.epochs]
    assert zero_run.final["test_acc"] != relu_run.final["test_acc"]
    assert run((2, 16, my_act), data)[1].from_cache  # the same code again is a hit


def test_code_digest_follows_code_closures_and_globals():
    scale = 2.0
    f = lambda x: x * scale  # noqa: E731
    g = lambda x: x * scale  # noqa: E731
    assert code_digest(f) == code_digest(g)
    assert code_digest(lambda x: x * 3.0) != code_digest(lambda x: x * 2.0)
    scale = 3.0  # noqa: F841 - the closure now holds 3.0
    assert code_digest(f) != code_digest(lambda x: x * 2.0)
    relu, tanh = nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    assert code_digest(relu) != code_digest(tanh)

    class Scaled(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, x):
            return self.k * x

    assert code_digest(Scaled(1.0)) != code_digest(Scaled(2.0))  # a plain attribute, not in the state dict


def test_cache_key_names_torch_library_and_device():
    data = actlab.toy_2d("xor", n=64)
    key = cache_key(actlab.MLP(1, 4), data, {"device": "cpu"}, [])
    assert key["torch"] == torch.__version__ and key["library"] == LIBRARY_DIGEST
    assert key["data"] == data.fingerprint() and key["device"] == "cpu"


def test_cache_key_names_the_installed_version_or_unknown_when_not_installed(monkeypatch):
    """The version is the installed package's metadata (pyproject.toml's), as actlab.__version__ is; an actlab
    imported without being installed (PYTHONPATH=lib) says '0+unknown', a version no release has."""
    data, model = actlab.toy_2d("xor", n=64), actlab.MLP(1, 4)
    installed = importlib.metadata.version("actlab")
    assert cache_key(model, data, {}, [])["version"] == installed == actlab.__version__

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    fingerprint.package_version.cache_clear()
    try:
        assert cache_key(model, data, {}, [])["version"] == "0+unknown"
    finally:
        fingerprint.package_version.cache_clear()


def test_a_changed_dataset_gets_a_new_fingerprint_and_no_stale_run():
    data = actlab.toy_2d("xor", n=400)
    before = data.fingerprint()
    _, old = run((2, 16), data)
    data.y_train = 1 - data.y_train
    assert data.fingerprint() != before
    _, new = run((2, 16), data)
    _, fresh = run((2, 16), data, cache=False)
    assert not new.from_cache and new.final["train_acc"] == fresh.final["train_acc"]
    data.x_train[0, 0] += 1.0  # in place, same tensor object
    changed = data.fingerprint()
    assert changed != actlab.toy_2d("xor", n=400).fingerprint()
    assert data.channel_stats()[0][0] == pytest.approx(data.x_train[:, 0].mean().item(), abs=1e-6)


def test_callbacks_get_the_same_records_on_a_cache_hit():
    data = actlab.toy_2d("xor", n=400)
    first = actlab.GradNormMonitor()
    run((2, 16), data, callbacks=[first])
    second = actlab.GradNormMonitor()
    _, h = run((2, 16), data, callbacks=[second])
    assert h.from_cache and len(first.records) == 5 * 5 and second.records == first.records  # 5 epochs of 5 batches
    assert second.frame().shape == first.frame().shape


def test_a_callback_that_cannot_be_restored_is_refused():
    class Counter(actlab.Callback):
        def on_after_backward(self, model, step):
            pass

    data = actlab.toy_2d("xor", n=64)
    with pytest.raises(ValueError, match="cache=True cannot restore what callback.*Counter"):
        run((1, 4), data, callbacks=[Counter()])
    assert run((1, 4), data, cache=False, callbacks=[Counter()])[1].status == "completed"


def test_no_key_without_cache(monkeypatch):
    def fail(*args):
        raise RuntimeError("the key was computed")

    monkeypatch.setattr(actlab.cache, "cache_key", fail)
    assert run((1, 4), actlab.toy_2d("xor", n=64), cache=False)[1].status == "completed"


def test_cache_hit_moves_the_model_to_the_device(monkeypatch):
    data = actlab.toy_2d("xor", n=64)
    run((1, 4), data)
    moved = []
    original = nn.Module.to
    monkeypatch.setattr(nn.Module, "to", lambda self, *a, **k: moved.append((type(self), a)) or original(self, *a, **k))
    model, h = run((1, 4), data)
    assert h.from_cache and (actlab.MLP, (actlab.pick_device(),)) in moved


def test_the_global_random_state_is_part_of_the_key():
    """RReLU in training mode draws its slopes from the global generator of the device it runs on (the CPU's, or
    the GPU's where train picks one): another state of it, another run."""
    data = actlab.toy_2d("xor", n=64)
    torch.manual_seed(0)
    net = actlab.MLP(1, 4, "rrelu")
    first = actlab.train(net, data, epochs=1, progress=False, cache=True)
    torch.manual_seed(0)
    net = actlab.MLP(1, 4, "rrelu")
    torch.rand(1, device=actlab.pick_device())  # the same weights, another state of the device's generator
    second = actlab.train(net, data, epochs=1, progress=False, cache=True)
    assert not second.from_cache and second.steps != first.steps


def test_a_run_on_a_gpu_is_keyed_by_that_gpu_s_generator_too(monkeypatch):
    """RReLU and dropout on a GPU draw from the GPU's generator: its state is in the key (faked here: no GPU)."""
    gpu_state = [torch.zeros(16, dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: gpu_state[0])
    model, data = actlab.MLP(1, 4, "rrelu"), actlab.toy_2d("xor", n=64)
    keys = []
    for config, state in (({"device": "cuda"}, 0), ({"device": "cuda"}, 1), ({"device": "cpu"}, 0),
                          ({"device": "cpu"}, 1)):
        gpu_state[0] = torch.full((16,), state, dtype=torch.uint8)
        keys.append(cache_key(model, data, config, [])["rng"])
    assert keys[0] != keys[1] and keys[2] == keys[3] != keys[0]  # only a GPU run depends on the GPU's generator


def test_a_cache_hit_leaves_the_random_generators_as_the_run_did():
    """RReLU draws from the global generator while training: after a hit, later draws are those after the run."""
    data = actlab.toy_2d("xor", n=64)
    after = []
    for _ in range(2):
        torch.manual_seed(0)
        net = actlab.MLP(1, 4, "rrelu")
        history = actlab.train(net, data, epochs=1, progress=False, cache=True)
        after.append((history.from_cache, torch.rand(3, device=actlab.pick_device()).cpu()))
    assert [hit for hit, _ in after] == [False, True] and torch.equal(after[0][1], after[1][1])


def test_an_mps_run_is_keyed_by_the_mps_generator(monkeypatch):
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: torch.full((8,), state[0], dtype=torch.uint8))
    model, data, keys, state = actlab.MLP(1, 4, "rrelu"), actlab.toy_2d("xor", n=64), [], [0]
    for state[0] in (0, 1):
        keys.append(cache_key(model, data, {"device": "mps"}, [])["rng"])
    assert keys[0] != keys[1]


def test_weights_that_do_not_fit_are_not_half_loaded(monkeypatch):
    data = actlab.toy_2d("xor", n=64)
    run((1, 4), data)
    monkeypatch.setattr(actlab.cache, "cache_key", lambda *args: "one key for every model")
    run((1, 4), data)
    torch.manual_seed(0)
    other = actlab.MLP(2, 4)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.warns(UserWarning, match="do not fit"):
        h = actlab.train(other, data, epochs=0, progress=False, cache=True)
    assert not h.from_cache
    assert all(torch.equal(before[k], v.cpu()) for k, v in other.state_dict().items())  # train moved it to the device


def test_the_cache_folder_is_read_at_each_call(tmp_path, monkeypatch):
    """ACTLAB_DATA changed after import moves the cache at once (nothing keeps a copy of the folder)."""
    data = actlab.toy_2d("xor", n=64)
    for folder in (tmp_path / "a", tmp_path / "b"):
        monkeypatch.setenv("ACTLAB_DATA", str(folder))
        assert actlab.data.data_dir() == folder
        run((1, 4), data)
        assert len(list(folder.glob("cache/train-*.npz"))) == 1
    monkeypatch.delenv("ACTLAB_DATA")
    assert actlab.data.data_dir().name == "data"


def test_one_corrupt_path_for_runs_and_datasets(tmp_path):
    """Training runs and generated datasets share one load-or-warn path: a file failing its checksum is reported,
    recomputed and replaced, for both."""
    data = actlab.toy_2d("xor", n=64)
    _, first = run((1, 4), data)
    (path,) = tmp_path.glob("cache/train-*.npz")
    for change in ("nothing", "weights", "history"):  # a weight, or a recorded loss (the metadata are checksummed)
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(arrays.pop("__meta__").tobytes())  # with its sha256
        if change == "weights":
            arrays[next(iter(arrays))][...] += 1
        elif change == "history":
            meta["history"]["steps"][0] += 1.0
        np.savez(path, **arrays, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
        if change == "nothing":
            assert run((1, 4), data)[1].from_cache  # rewritten as it was: still a hit
            continue
        with pytest.warns(UserWarning, match=f"cached file {path.name} is corrupt .*fails its checksum"):
            _, again = run((1, 4), data)
        assert not again.from_cache and again.steps == first.steps and run((1, 4), data)[1].from_cache
    images = actlab.cifar_like(20, 10, seed=3, root=tmp_path)
    (file,) = tmp_path.glob("cifar_like-*.npz")
    file.write_bytes(file.read_bytes()[:500])
    with pytest.warns(UserWarning, match=f"cached file {file.name} is corrupt"):
        regenerated = actlab.cifar_like(20, 10, seed=3, root=tmp_path)
    assert regenerated.fingerprint() == images.fingerprint()
    assert actlab.cifar_like(20, 10, seed=3, root=tmp_path).fingerprint() == images.fingerprint()


def _with_default(value):
    def scaled(x, k=value):
        return k * x
    return scaled


def test_a_second_function_s_defaults_count_in_the_digest():
    """Each function's (defaults, kwdefaults) pair is a tuple made while hashing; freed, the next one took its
    address and was hashed as an already-seen object: [f, g] then digested alike whatever g's defaults were (a
    cache could serve a run for other code, and a model's key changed with what had been freed before)."""
    first = _with_default(0.0)
    assert digest([first, _with_default(1.0)]) != digest([first, _with_default(2.0)])
    assert digest([first, _with_default(1.0)]) == digest([first, _with_default(1.0)])  # and equal ones match


def test_an_object_seen_again_is_named_by_which_one_it_is():
    a, b = [1], [2]
    assert digest([a, b, a]) != digest([a, b, b])
    c, d = [1], [2]
    assert digest([a, b, a]) == digest([c, d, c])  # equal values shared alike: equal digests, whatever the objects


def test_digest_follows_values_dtypes_and_shapes():
    x = torch.arange(6)
    assert digest(x) == digest(torch.arange(6)) and len(digest(x)) == 16 and len(digest(x, length=None)) == 64
    assert len({digest(x), digest(x.float()), digest(x.view(2, 3)), digest(x + 1), digest(x.numpy())}) == 5
    assert digest(x, x) == digest(x, x.clone())  # equal data, equal digest, whether or not it is one object
    assert digest("a", "bc") != digest("ab", "c") and digest(b"a", b"bc") != digest(b"ab", b"c")
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1}) != digest({"a": 2, "b": 1})


def test_metadata_with_tuples_passes_its_checksum(tmp_path):
    """JSON turns tuples into lists: a file whose metadata held tuples must still read back (it was 'corrupt')."""
    from actlab.cache import load_arrays, save_arrays

    save_arrays(tmp_path / "f.npz", {"w": np.zeros(3)}, {"shape": (3, 4), "rows": [{"range": (-1.0, 1.0)}]})
    arrays, meta = load_arrays(tmp_path / "f.npz")
    assert meta == {"shape": [3, 4], "rows": [{"range": [-1.0, 1.0]}]} and np.array_equal(arrays["w"], np.zeros(3))


def _digest_in_a_new_process(expression: str) -> str:
    """code_digest of an expression, computed by a fresh Python (the library on this test's path)."""
    import os
    import subprocess
    import sys
    code = f"import actlab.training, tqdm, threading; from actlab.fingerprint import code_digest; print(code_digest({expression}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.strip()


@pytest.mark.parametrize("expression", ["actlab.training.train", "tqdm.tqdm", "threading.current_thread"])
def test_a_code_digest_is_the_same_in_another_process(expression):
    """Hashing a released library's functions walked into its run-time state (threading's live threads, tqdm's
    monitor): code_digest(actlab.training.train) differed from one process to the next, so a key built on it would
    never find a run stored by another process. Released code is now named by its release (released_version)."""
    assert _digest_in_a_new_process(expression) == _digest_in_a_new_process(expression)


def test_released_code_is_named_by_its_release_and_the_course_s_by_its_code():
    from actlab.fingerprint import released_version
    import sys
    import tqdm
    assert released_version("tqdm.std") == f"tqdm {tqdm.__version__}"
    assert released_version("threading") == f"python {sys.version}"
    assert released_version("actlab.training") is None and released_version("__main__") is None
