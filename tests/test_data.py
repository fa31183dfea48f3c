"""Data: determinism, caching with verification, the CIFAR-10 loader's checksum handling, toy sets."""
import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import actlab
from actlab.data import CLASSES, DataError, load_cifar10


def test_cifar_like_shape_classes_and_determinism(tmp_path):
    a = actlab.cifar_like(600, 200, seed=3, root=tmp_path, cache=False)
    b = actlab.cifar_like(600, 200, seed=3, root=tmp_path, cache=False)
    c = actlab.cifar_like(600, 200, seed=4, root=tmp_path, cache=False)
    assert a.x_train.shape == (600, 3, 32, 32) and a.x_train.dtype == torch.uint8
    assert a.classes == CLASSES and set(a.y_train.tolist()) == set(range(10))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert "not real CIFAR-10" in a.source


def test_cifar_like_has_intra_class_variety():
    d = actlab.cifar_like(2000, 10, seed=0, cache=False)
    x = d.x_train.float()
    for k in range(10):
        imgs = x[d.y_train == k]
        # two images of the same class differ a lot more than sensor noise would make them
        assert (imgs[0] - imgs[1]).abs().mean() > 20


def test_cifar_like_cache_is_used_and_verified(tmp_path):
    first = actlab.cifar_like(300, 100, seed=1, root=tmp_path)
    (path,) = tmp_path.glob("cifar_like-*.npz")
    again = actlab.cifar_like(300, 100, seed=1, root=tmp_path)
    assert torch.equal(first.x_train, again.x_train)
    path.write_bytes(path.read_bytes()[:1000])  # truncate: corrupt
    with pytest.warns(UserWarning, match="corrupt"):
        healed = actlab.cifar_like(300, 100, seed=1, root=tmp_path)
    assert torch.equal(first.x_train, healed.x_train)
    assert actlab.cifar_like(300, 100, seed=1, root=tmp_path).x_train.shape[0] == 300


def test_cifar_like_bad_arguments():
    for kwargs, message in (({"n_train": 0}, r"n_train must be an integer in \[1, inf\), got 0"),
                            ({"n_test": 2.5}, r"n_test must be an integer in \[1, inf\), got 2.5"),
                            ({"seed": -1}, r"seed must be an integer in \[0, inf\), got -1")):
        with pytest.raises(ValueError, match=message):
            actlab.cifar_like(**kwargs)


def write_fake_cifar(folder, n=20):
    """Files in the official format (pickled dicts with bytes keys); returns their md5 table."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CLASSES]}))
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_load_cifar10_reads_verified_files(tmp_path):
    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    d = load_cifar10(tmp_path, checksums=table)
    assert d.x_train.shape == (100, 3, 32, 32) and d.x_test.shape == (20, 3, 32, 32)
    assert d.classes == CLASSES and "real" in d.source
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    assert torch.equal(d.x_train[0].flatten(), torch.from_numpy(raw[b"data"][0]))


def test_load_cifar10_refuses_unverified_files_before_unpickling(tmp_path, monkeypatch):
    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    unpickled = []
    monkeypatch.setattr(actlab.data._ArraysOnlyUnpickler, "load", lambda self: unpickled.append(1))
    with pytest.raises(DataError, match="fails its checksum"):
        load_cifar10(tmp_path)  # the official table: our fake files do not match
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(DataError, match="test_batch fails its checksum"):
        load_cifar10(tmp_path, checksums=table)
    assert unpickled == []


class Payload:
    """Unpickling this runs code: it writes a marker file (a stand-in for os.system or worse)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def plant_payload(folder, marker) -> str:
    """Replace data_batch_3 by a batch whose data unpickles through exec; its md5."""
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": [0] * 20}))
    return hashlib.md5((folder / "data_batch_3").read_bytes()).hexdigest()


def test_a_planted_pickle_payload_never_runs(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    table = write_fake_cifar(folder)
    marker = tmp_path / "payload-ran"
    table["data_batch_3"] = plant_payload(folder, marker)
    assert pickle.loads((folder / "data_batch_3").read_bytes())[b"data"] is None and marker.exists()  # it works
    marker.unlink()
    partial = {k: v for k, v in table.items() if k != "data_batch_3"}
    with pytest.raises(DataError, match=r"data_batch_3 asks to load builtins.exec.*refused"):
        load_cifar10(tmp_path, checksums=table)  # its checksum matches: the unpickler itself refuses
    for checksums in (partial, {}):
        with pytest.raises(DataError, match="no known checksum"):
            load_cifar10(tmp_path, checksums=checksums)
        with pytest.warns(UserWarning, match="without a checksum"):
            with pytest.raises(DataError, match=r"builtins.exec.*refused"):
                load_cifar10(tmp_path, checksums=checksums, allow_unknown=True)
    assert not marker.exists()


def test_load_cifar10_opens_each_file_once(tmp_path, monkeypatch):
    """The bytes checked are the bytes loaded: no check, then re-open (a file swapped in between would load)."""
    import builtins
    import io

    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    opened = []
    real_open = io.open

    def counting_open(file, *args, **kwargs):
        opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    load_cifar10(tmp_path, checksums=table)
    monkeypatch.undo()
    assert sorted(n for n in opened if n in table) == sorted(table)


def test_load_cifar10_without_some_checksums_needs_an_explicit_opt_out(tmp_path):
    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    partial = {k: v for k, v in table.items() if k != "test_batch"}
    with pytest.raises(DataError, match="test_batch has no known checksum.*allow_unknown=True"):
        load_cifar10(tmp_path, checksums=partial)
    with pytest.warns(UserWarning, match="without a checksum.*test_batch"):
        d = load_cifar10(tmp_path, checksums=partial, allow_unknown=True)
    assert d.x_test.shape == (20, 3, 32, 32) and "test_batch unverified" in d.source
    sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "cifar-10-batches-py").iterdir()}
    assert torch.equal(load_cifar10(tmp_path, checksums=sha).x_train, d.x_train)  # sha256 works as md5 does
    with pytest.raises(ValueError, match="allow_unknown must be True or False"):
        load_cifar10(tmp_path, checksums=table, allow_unknown="yes")


class Python2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2 str (BINSTRING), as the official CIFAR-10 batches were written by cPickle."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        self.write(pickle.BINSTRING + len(obj).to_bytes(4, "little") + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def test_load_cifar10_reads_batches_written_as_python_2_did(tmp_path):
    """Protocol 2, numpy.core.multiarray._reconstruct (NumPy 1's module name), Python ints, py2 strings."""
    folder = tmp_path / "cifar-10-batches-py"
    table = write_fake_cifar(folder)
    images = np.arange(20 * 3072, dtype=np.uint32).astype(np.uint8).reshape(20, 3072)
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump({b"batch_label": b"testing batch 1 of 1", b"data": images,
                                             b"labels": [i % 10 for i in range(20)], b"filenames": [b"a.png"] * 20})
    data = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct" in data and b"_codecs" not in data
    (folder / "test_batch").write_bytes(data)
    table["test_batch"] = hashlib.md5(data).hexdigest()
    d = load_cifar10(tmp_path, checksums=table)
    assert torch.equal(d.x_test, torch.from_numpy(images).reshape(20, 3, 32, 32))
    assert d.y_test.tolist() == [i % 10 for i in range(20)]


def test_load_cifar10_missing(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 not found.*cifar-10-batches-py/data_batch_1"):
        load_cifar10(tmp_path)
    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 is missing"):
        load_cifar10(tmp_path, checksums=table)


def test_image_data_prefers_real_cifar(tmp_path, monkeypatch):
    assert "procedurally generated" in actlab.image_data(50, 10, root=tmp_path).source
    table = write_fake_cifar(tmp_path / "cifar-10-batches-py")
    monkeypatch.setattr(actlab.data, "CIFAR10_MD5", table)
    assert "real" in actlab.image_data(50, 10, root=tmp_path).source


@pytest.mark.parametrize("kind", ["xor", "circles", "spirals", "moons"])
def test_toy_2d(kind):
    d = actlab.toy_2d(kind, n=400, seed=1)
    assert d.x_train.shape == (300, 2) and d.x_test.shape == (100, 2)
    assert set(d.y_train.tolist()) == {0, 1}
    assert torch.equal(d.x_train, actlab.toy_2d(kind, n=400, seed=1).x_train)


def test_toy_2d_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of .*got 'spiral'. Did you mean 'spirals'"):
        actlab.toy_2d("spiral")
    with pytest.raises(ValueError, match=r"n must be an integer in \[8, inf\)"):
        actlab.toy_2d("xor", n=3)


def test_inputs_are_standardised_with_training_statistics():
    d = actlab.cifar_like(500, 100, seed=0, cache=False)
    x = d.inputs("train")
    assert x.dtype == torch.float32 and x.shape == (500, 3, 32, 32)
    torch.testing.assert_close(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std((0, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)
    assert d.inputs("test", channels_last=True).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(d.labels("test"), d.y_test)
    with pytest.raises(ValueError, match="split must be one of 'train', 'test', got"):
        d.inputs("validation")


def test_fingerprint_and_statistics_follow_the_data():
    d = actlab.toy_2d("xor", n=400)
    first = d.fingerprint()
    assert d.fingerprint() == first == actlab.toy_2d("xor", n=400).fingerprint()
    d.y_train = 1 - d.y_train  # a new tensor
    assert d.fingerprint() != first
    part = d.subset(100, 50)
    before, part_before = d.fingerprint(), part.fingerprint()
    d.x_train.mul_(2)  # in place: the subset's view shares the change
    assert d.fingerprint() != before and part.fingerprint() != part_before
    x = d.inputs("train")  # standardised with the statistics of the changed data: mean 0, standard deviation 1
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5) and torch.allclose(x.std(0), torch.ones(2), atol=1e-5)


def test_cifar_like_cache_file_names_the_generator_code(tmp_path, monkeypatch):
    import actlab.data as data_module

    actlab.cifar_like(50, 10, seed=0, root=tmp_path)
    (path,) = tmp_path.glob("cifar_like-*.npz")
    assert data_module.generator_digest() in path.name
    monkeypatch.setitem(data_module.SHAPES, "cat", [("ellipse", 0, 0, 0.2, 0.2)])  # the generator changed
    assert data_module.generator_digest() not in path.name
    actlab.cifar_like(50, 10, seed=0, root=tmp_path)
    assert len(list(tmp_path.glob("cifar_like-*.npz"))) == 2


def _features(x: torch.Tensor) -> actlab.Dataset:
    y = torch.arange(len(x)) % 2
    return actlab.Dataset(x, y, x[:10], y[:10], ("0", "1"), "features")


def test_inputs_standardise_features_of_any_scale_to_spread_one():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=gen) * torch.tensor([1e-9, 1.0])  # an absolute floor of 1e-6 gave 0.001
    std = _features(x).inputs("train").std(0)
    assert torch.allclose(std, torch.ones(2), atol=1e-5), std


def test_a_constant_feature_standardises_to_exactly_zero():
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(1))
    x[:, 1], x[:, 2] = 0.1, 0.0  # 0.1's float32 mean differs from 0.1 in the last bit: a floor would blow it up
    z = _features(x).inputs("train")
    assert z[:, 1:].eq(0).all() and not z.isnan().any()


def test_toy_2d_refuses_a_split_that_leaves_a_class_too_few_points():
    with pytest.raises(ValueError, match=r"test_fraction=0.9 splits 8 points into 1 for training and 7 for test"):
        actlab.toy_2d("xor", n=8, test_fraction=0.9)
