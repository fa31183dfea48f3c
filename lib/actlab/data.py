"""Data: a procedural CIFAR-style image set, the real CIFAR-10 loader, and small 2-D problems."""
from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .cache import DataError, load, save_arrays
from .checks import check_choice, check_number
from .fingerprint import digest

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
GENERATOR_VERSION = 1
RENDER_CHUNK = 1000  # images per rendering pass: small enough to stay in the CPU cache (4x faster than 10k)
_REPOSITORY_DATA = Path(__file__).resolve().parents[2] / "data"

# Official md5 of each file of the CIFAR-10 python version (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = tuple(CIFAR10_MD5)  # the files load_cifar10 reads


def data_dir() -> Path:
    """The data folder: $ACTLAB_DATA when set (read at each call, so a change takes effect at once), else the
    repository's data/."""
    return Path(os.environ.get("ACTLAB_DATA") or _REPOSITORY_DATA)


@dataclass
class Dataset:
    """Train and test tensors, class names and where the data came from."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # channel stats, see _memoised

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise ValueError(f"x_{split} has {len(x)} rows but y_{split} has {len(y)}")

    def __repr__(self) -> str:
        shape = tuple(self.x_train.shape[1:])
        return f"Dataset({self.source}: {len(self.x_train)} train, {len(self.x_test)} test, shape {shape}, {len(self.classes)} classes)"

    @property
    def is_image(self) -> bool:
        """True for uint8 images (N, 3, H, W)."""
        return self.x_train.dtype == torch.uint8

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first n_train / n_test examples (both sets are already shuffled)."""
        n_train = len(self.x_train) if n_train is None else check_number("n_train", n_train, 1, len(self.x_train), True)
        n_test = len(self.x_test) if n_test is None else check_number("n_test", n_test, 1, len(self.x_test), True)
        return Dataset(self.x_train[:n_train], self.y_train[:n_train], self.x_test[:n_test], self.y_test[:n_test],
                       self.classes, f"{self.source} (subset {n_train}/{n_test})")

    def _memoised(self, name: str, compute):
        """compute() once per content of x_train: its bytes are hashed at each call (a write through a NumPy view or
        any other alias changes no version counter, so a version counter cannot say that the data are unchanged)."""
        content = digest(self.x_train)
        entry = self._memo.get(name)
        if entry is None or entry[0] != content:
            entry = self._memo[name] = (content, compute())
        return entry[1]

    def fingerprint(self) -> str:
        """A short hash of the contents (dtypes, shapes and the tensors' memory bytes), used in cache keys.

        Hashed afresh at each call (sha256; about 0.2 s for 60,000 CIFAR-sized uint8 images, measured by `python -m
        actlab.bench key`): nothing is remembered, as a write through a NumPy view changes no version counter.
        """
        return digest(self.x_train, self.y_train, self.x_test, self.y_test)

    def channel_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (or per-feature) mean and standard deviation of the training inputs (follows the data).

        Feature vectors are reduced in float64; images (uint8, exact in float32) in float32, which keeps 50,000 of them
        at 0.6 GB. A feature whose spread is within float32 rounding of its magnitude (std <= eps * max |x|) is
        constant: its std is returned as +inf, so (x - mean) / std maps it to exactly 0 (never NaN). The test is
        relative to the feature's scale, so features of size 1e-9 standardise to spread 1 like those of size 1."""
        def compute():
            image = self.x_train.dim() == 4
            x = self.x_train.float() if image else self.x_train.double()
            dims = [0, 2, 3] if image else [0]
            mean, std = x.mean(dims), x.std(dims)
            varies = std > torch.finfo(torch.float32).eps * x.abs().amax(dims)
            return mean.float(), torch.where(varies, std, math.inf).float()

        return self._memoised("stats", compute)

    def inputs(self, split: str = "train", device=None, channels_last: bool = False) -> torch.Tensor:
        """A split's inputs as float32, standardised with the training statistics, on device."""
        check_choice("split", split, ("train", "test"))
        mean, std = self.channel_stats()
        x = self.x_train if split == "train" else self.x_test
        shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
        x = ((x.float() - mean.view(shape)) / std.view(shape)).to(device or "cpu")
        return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x

    def labels(self, split: str = "train", device=None) -> torch.Tensor:
        """A split's labels on device."""
        check_choice("split", split, ("train", "test"))
        return (self.y_train if split == "train" else self.y_test).to(device or "cpu")


# ---------------------------------------------------------------------------
# The procedural CIFAR-style set
# ---------------------------------------------------------------------------

# Each class is a union of primitives in object coordinates (u, v in about [-1, 1]):
# ("ellipse", cx, cy, rx, ry) or ("box", cx, cy, half-width, half-height) or ("tri", cx, cy, size).
SHAPES = {
    "airplane": [("box", 0, 0, 0.9, 0.12), ("box", 0.05, 0, 0.14, 0.75), ("box", -0.75, 0, 0.08, 0.3)],
    "automobile": [("box", 0, 0.05, 0.8, 0.25), ("box", 0, -0.3, 0.4, 0.18), ("ellipse", -0.5, 0.35, 0.18, 0.18), ("ellipse", 0.5, 0.35, 0.18, 0.18)],
    "bird": [("ellipse", 0, 0.05, 0.45, 0.28), ("ellipse", 0.45, -0.25, 0.18, 0.18), ("tri", -0.15, -0.25, 0.35)],
    "cat": [("ellipse", 0, 0.1, 0.5, 0.45), ("tri", -0.32, -0.42, 0.28), ("tri", 0.32, -0.42, 0.28)],
    "deer": [("ellipse", 0, 0.15, 0.3, 0.5), ("box", -0.3, -0.55, 0.05, 0.3), ("box", 0.3, -0.55, 0.05, 0.3), ("box", 0, -0.75, 0.4, 0.05)],
    "dog": [("ellipse", 0, 0.05, 0.5, 0.45), ("ellipse", -0.5, 0.1, 0.15, 0.35), ("ellipse", 0.5, 0.1, 0.15, 0.35)],
    "frog": [("ellipse", 0, 0.15, 0.7, 0.35), ("ellipse", -0.3, -0.2, 0.15, 0.15), ("ellipse", 0.3, -0.2, 0.15, 0.15)],
    "horse": [("ellipse", 0, -0.05, 0.6, 0.25), ("box", -0.4, 0.45, 0.07, 0.3), ("box", 0.4, 0.45, 0.07, 0.3), ("ellipse", 0.6, -0.35, 0.15, 0.28)],
    "ship": [("tri", 0, 0.2, -0.9), ("box", 0, -0.25, 0.05, 0.5), ("box", 0.15, -0.35, 0.2, 0.15)],
    "truck": [("box", -0.15, -0.05, 0.6, 0.35), ("box", 0.6, 0.05, 0.22, 0.25), ("ellipse", -0.45, 0.4, 0.16, 0.16), ("ellipse", 0.55, 0.4, 0.16, 0.16)],
}
# Typical object and background colours (RGB in [0, 1]) per class; samples are jittered a lot around them.
OBJECT_RGB = {
    "airplane": (0.75, 0.75, 0.8), "automobile": (0.7, 0.15, 0.15), "bird": (0.55, 0.4, 0.25), "cat": (0.6, 0.45, 0.3),
    "deer": (0.55, 0.35, 0.2), "dog": (0.5, 0.38, 0.25), "frog": (0.3, 0.55, 0.2), "horse": (0.45, 0.3, 0.2),
    "ship": (0.5, 0.5, 0.55), "truck": (0.6, 0.55, 0.2),
}
BACKGROUND_RGB = {
    "airplane": (0.5, 0.7, 0.9), "automobile": (0.5, 0.5, 0.5), "bird": (0.55, 0.75, 0.9), "cat": (0.55, 0.5, 0.45),
    "deer": (0.35, 0.55, 0.25), "dog": (0.5, 0.55, 0.4), "frog": (0.4, 0.5, 0.25), "horse": (0.4, 0.6, 0.3),
    "ship": (0.2, 0.4, 0.65), "truck": (0.55, 0.55, 0.55),
}


def _primitive(kind: str, u: torch.Tensor, v: torch.Tensor, a, b, c, d=None) -> torch.Tensor:
    """Soft mask (0..1) of one primitive on object coordinates."""
    edge = 0.06
    if kind == "ellipse":
        r = torch.sqrt(((u - a) / c) ** 2 + ((v - b) / d) ** 2)
        return torch.clamp((1 - r) / edge * min(c, d) * 3, 0, 1)
    if kind == "box":
        dist = torch.maximum((u - a).abs() - c, (v - b).abs() - d)
        return torch.clamp(-dist / edge, 0, 1)
    if kind == "tri":  # isosceles triangle, apex up for size > 0, down for size < 0
        size = abs(c)
        vv = (v - b) * (1 if c > 0 else -1)
        inside = torch.minimum(vv + size / 2, size / 2 - vv - 2 * (u - a).abs())
        return torch.clamp(inside / edge, 0, 1)
    raise ValueError(f"unknown primitive {kind!r}; known: ellipse, box, tri")


def _render(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Render uint8 images (N, 3, 32, 32) for the given labels: background, clutter, the object, exposure, noise."""
    n = len(labels)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    image = _clutter(_background(labels, gen), xs, ys, gen)
    mask, v = _object_mask(labels, xs, ys, gen)
    colour = torch.tensor([OBJECT_RGB[CLASSES[i]] for i in range(10)])[labels]
    colour = (colour + torch.randn(n, 3, generator=gen) * 0.2).clamp(0, 1)
    shading = 1 + 0.35 * v.unsqueeze(1) * (torch.rand(n, 1, 1, 1, generator=gen) - 0.3)
    obj = colour.view(n, 3, 1, 1) * shading
    image = image * (1 - mask.unsqueeze(1)) + obj * mask.unsqueeze(1)
    exposure = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen)
    image = image * exposure + torch.randn(n, 3, 32, 32, generator=gen) * 0.06  # sensor noise
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def _background(labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(N, 3, 32, 32): a class-typical colour mixed with a random one, low-frequency texture, and a horizon."""
    n = len(labels)
    bg_class = torch.tensor([BACKGROUND_RGB[CLASSES[i]] for i in range(10)])[labels]
    mix = torch.rand(n, 1, generator=gen) * 0.8
    bg = (1 - mix) * bg_class + mix * torch.rand(n, 3, generator=gen)
    texture = F.interpolate(torch.randn(n, 3, 4, 4, generator=gen), size=32, mode="bicubic", align_corners=False)
    shift, strength = torch.rand(n, 1, 1, 1, generator=gen) - 0.5, torch.rand(n, 1, 1, 1, generator=gen) - 0.5
    horizon = (torch.linspace(-1, 1, 32).view(1, 1, 32, 1) - shift).sigmoid() * strength * 0.5
    return bg.view(n, 3, 1, 1) + texture * 0.12 + horizon


def _clutter(image: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """image with up to three random blobs of random colour painted over it."""
    n = len(image)
    rand = functools.partial(torch.rand, generator=gen)
    for _ in range(3):
        cx, cy, r = rand(n, 1, 1) * 2 - 1, rand(n, 1, 1) * 2 - 1, rand(n, 1, 1) * 0.3 + 0.05
        on = (rand(n, 1, 1) < 0.6).float()
        blob = torch.clamp((r - torch.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)) / 0.05, 0, 1) * on
        image = image * (1 - blob.unsqueeze(1)) + blob.unsqueeze(1) * rand(n, 3, 1, 1)
    return image


def _object_mask(labels: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (N, 32, 32) of each image's class shape at a random pose, the pose's vertical coordinate v)."""
    n = len(labels)
    rand, randn = functools.partial(torch.rand, generator=gen), functools.partial(torch.randn, generator=gen)
    angle = randn(n, 1, 1) * 0.35
    flip = torch.where(rand(n, 1, 1) < 0.5, -1.0, 1.0)
    scale = rand(n, 1, 1) * 0.5 + 0.55
    aspect = 1 + randn(n, 1, 1) * 0.12
    tx, ty = (rand(n, 1, 1) - 0.5) * 0.7, (rand(n, 1, 1) - 0.5) * 0.7
    xr, yr = xs - tx, ys - ty
    u = (torch.cos(angle) * xr + torch.sin(angle) * yr) / scale * flip * aspect
    v = (-torch.sin(angle) * xr + torch.cos(angle) * yr) / scale / aspect
    mask = torch.zeros(n, 32, 32)
    for k, name in enumerate(CLASSES):
        rows = (labels == k).nonzero().flatten()
        for kind, *args in SHAPES[name] if len(rows) else ():
            mask[rows] = torch.maximum(mask[rows], _primitive(kind, u[rows], v[rows], *args))
    return mask, v


def _generate(n_train: int, n_test: int, seed: int) -> Dataset:
    """Generate the set in chunks (bounded memory), deterministically from seed."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n_train + n_test,), generator=gen)
    chunks = [_render(labels[i:i + RENDER_CHUNK], gen) for i in range(0, len(labels), RENDER_CHUNK)]
    images = torch.cat(chunks)
    return Dataset(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:], CLASSES,
                   f"cifar_like(seed={seed}), procedurally generated, not real CIFAR-10")


def generator_digest() -> str:
    """A hash of the generator's code (bytecode, constants, shape tables) and torch's version: names the cache file,
    so a changed generator or torch never loads images made by another."""
    return digest(_generate, torch.__version__, length=10)


def _dataset_from_arrays(arrays: dict[str, np.ndarray], meta: dict) -> Dataset:
    """A procedural set saved by cifar_like (raises KeyError for a file that lacks a part)."""
    return Dataset(*(torch.from_numpy(arrays[k]) for k in ("x_train", "y_train", "x_test", "y_test")), CLASSES,
                   meta["source"])


def cifar_like(n_train: int = 50000, n_test: int = 10000, seed: int = 0, cache: bool = True,
               root: str | Path | None = None) -> Dataset:
    """A procedurally generated CIFAR-style set: 32x32 RGB, 10 classes, deterministic from seed; cached in data/."""
    check_number("n_train", n_train, 1, integer=True)
    check_number("n_test", n_test, 1, integer=True)
    check_number("seed", seed, 0, integer=True)
    path = Path(root or data_dir()) / f"cifar_like-v{GENERATOR_VERSION}-{generator_digest()}-s{seed}-{n_train}-{n_test}.npz"
    data = load(path, _dataset_from_arrays) if cache else None
    if data is not None:
        return data
    data = _generate(n_train, n_test, seed)
    if cache:
        arrays = {k: getattr(data, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
        save_arrays(path, arrays, {"source": data.source})
    return data


# ---------------------------------------------------------------------------
# Real CIFAR-10
# ---------------------------------------------------------------------------

def find_cifar10(root: str | Path | None = None) -> Path | None:
    """The cifar-10-batches-py folder under root (or data/), or None if it is not there."""
    root = Path(root or data_dir())
    for candidate in (root / CIFAR10_FOLDER, root):
        if (candidate / "data_batch_1").exists() or (candidate / "test_batch").exists():
            return candidate
    return None


# What the CIFAR-10 python batches may name when unpickled: NumPy's array (and scalar) reconstruction, taken from
# NumPy's own reductions rather than imported by name. The official batches (Python 2 cPickle) name
# numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype; NumPy 2 spells the module numpy._core, and
# pickle protocol 5 rebuilds arrays with _frombuffer. None of them runs code: they build arrays from bytes.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(0).__reduce_ex__(5)[0]
_SCALAR = np.int64(0).__reduce__()[0]
PICKLE_ALLOWED = {
    **{(module, "_reconstruct"): _RECONSTRUCT for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): _SCALAR for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): _FROMBUFFER for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts, lists, strings, numbers and NumPy arrays, and nothing that runs code."""

    def __init__(self, data: bytes, name: str):
        super().__init__(io.BytesIO(data), encoding="bytes")
        self.name = name

    def find_class(self, module: str, name: str):
        """The allowed NumPy reconstruction functions; DataError for any other global (os.system, eval ...)."""
        if (module, name) in PICKLE_ALLOWED:
            return PICKLE_ALLOWED[(module, name)]
        raise DataError(f"{self.name} asks to load {module}.{name}, which a CIFAR-10 batch never holds: refused "
                        "(a pickle file can run code when loaded); the file is not the official one")


def _checksum_matches(data: bytes, expected: str) -> tuple[bool, str]:
    """(whether data's digest equals expected, the digest): md5 for a 32-digit hex string, sha256 for 64 digits."""
    algorithm = {32: "md5", 64: "sha256"}.get(len(expected))
    if algorithm is None:
        raise ValueError(f"checksums values must be md5 (32 hex digits) or sha256 (64 hex digits), got {expected!r}")
    actual = hashlib.new(algorithm, data).hexdigest()
    return actual == expected.lower(), actual


def _verified_bytes(folder: Path, checksums: dict[str, str], allow_unknown: bool) -> tuple[dict[str, bytes], list]:
    """(each CIFAR-10 file's bytes, read once and checked against its checksum; the names of files loaded without
    one); DataError before anything is parsed."""
    contents, unknown = {}, []
    for name in CIFAR10_FILES:
        path = folder / name
        if not path.exists():
            raise DataError(f"{path} is missing: the CIFAR-10 folder is incomplete; nothing was loaded")
        expected = checksums.get(name)
        if expected is None and not allow_unknown:
            raise DataError(f"{path} has no known checksum (checksums lacks {name!r}): refused, nothing was loaded. "
                            "Give its md5 or sha256 in checksums, or pass allow_unknown=True to load it unverified")
        data = path.read_bytes()
        if expected is None:
            unknown.append(name)
        else:
            matches, actual = _checksum_matches(data, expected)
            if not matches:
                raise DataError(f"{path} fails its checksum (expected {expected}, got {actual}): the file is corrupt, "
                                "truncated or not the official one; nothing was loaded")
        contents[name] = data
    if unknown:
        warnings.warn(f"CIFAR-10 files loaded without a checksum (allow_unknown=True): {', '.join(unknown)}; they "
                      "may not be the official data", stacklevel=3)
    return contents, unknown


def _batch(data: bytes, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch's images (N, 3, 32, 32) uint8 and labels (N,) long from its verified bytes; DataError if malformed."""
    d = _ArraysOnlyUnpickler(data, name).load()
    try:
        x = np.asarray(d[b"data"])
        labels = np.asarray(d[b"labels"])
    except (TypeError, KeyError, IndexError) as exc:
        raise DataError(f"{name} is not a CIFAR-10 batch (a dict with b'data' and b'labels'): {exc!r}") from None
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or labels.shape != (len(x),) \
            or not np.issubdtype(labels.dtype, np.integer) or not np.all((labels >= 0) & (labels < len(CLASSES))):
        raise DataError(f"{name} is not a CIFAR-10 batch: data {x.dtype} {x.shape}, labels {labels.dtype} "
                        f"{labels.shape} (expected uint8 (N, 3072) and N integer labels in 0..9)")
    return torch.from_numpy(x.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels.astype(np.int64))


def load_cifar10(root: str | Path | None = None, checksums: dict[str, str] | None = None,
                 allow_unknown: bool = False) -> Dataset:
    """Real CIFAR-10 from the official python batches: 50,000 train and 10,000 test uint8 images (N, 3, 32, 32).

    Each file is read once; its bytes are checked against checksums (file name -> md5 or sha256 hex; default the
    official md5s, CIFAR10_MD5) and those same bytes are unpickled by an unpickler that admits only NumPy's array
    reconstruction, so no file can run code. Raises DataError when the folder or a file is missing, a file fails
    its checksum or is not a CIFAR-10 batch, or a file has no checksum in checksums (allow_unknown=True loads such
    files with a warning, still without the power to run code). Nothing is loaded unless every file passes.
    """
    if checksums is not None and not isinstance(checksums, dict):
        raise ValueError(f"checksums must be a dict of file name -> md5 or sha256 hex, or None, got {checksums!r}")
    if not isinstance(allow_unknown, bool):
        raise ValueError(f"allow_unknown must be True or False, got {allow_unknown!r}")
    folder = find_cifar10(root)
    where = Path(root or data_dir())
    if folder is None:
        raise DataError(
            f"CIFAR-10 not found under {where}. Download cifar-10-python.tar.gz from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html and unpack it so that {where / CIFAR10_FOLDER}/data_batch_1 exists."
        )
    contents, unknown = _verified_bytes(folder, CIFAR10_MD5 if checksums is None else checksums, allow_unknown)
    train = [_batch(contents.pop(f"data_batch_{i}"), f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _batch(contents.pop("test_batch"), "test_batch")
    meta = _ArraysOnlyUnpickler(contents.pop("batches.meta"), "batches.meta").load()
    try:
        classes = tuple(n.decode() for n in meta[b"label_names"])
    except (TypeError, KeyError, AttributeError) as exc:
        raise DataError(f"batches.meta is not CIFAR-10's (a dict with b'label_names', a list of bytes): {exc!r}") from None
    verified = f"{', '.join(unknown)} unverified" if unknown else "checksum-verified"
    return Dataset(torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]), x_test, y_test, classes,
                   f"CIFAR-10 (real, official python batches, {verified})")


def image_data(n_train: int = 10000, n_test: int = 2000, seed: int = 0, root: str | Path | None = None) -> Dataset:
    """Real CIFAR-10 when its files are present, otherwise the procedural set; subset to n_train / n_test."""
    if find_cifar10(root) is not None:
        return load_cifar10(root).subset(n_train, n_test)
    return cifar_like(n_train, n_test, seed, root=root)


def digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Real data that ships with scikit-learn: 1,797 handwritten digits, 8x8 grey levels, as 64 features in [0, 1].

    The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin and Kaynak 1998), read by
    sklearn.datasets.load_digits from its own wheel (no download). Split into train and test stratified by class
    (test_fraction in (0, 1), each class at least 1 on both sides), shuffled by seed. x: float32 (N, 64), pixel
    counts 0-16 divided by 16; y: int64 class 0-9. Raises ValueError naming a bad argument.
    """
    from sklearn.datasets import load_digits

    check_number("test_fraction", test_fraction, 0, 1, low_open=True, high_open=True)
    check_number("seed", seed, 0, 2**32 - 1, integer=True)
    bunch = load_digits()
    x = torch.from_numpy(bunch.data.astype(np.float32) / 16.0)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    train, test = stratified_split(y, test_fraction, seed)
    return Dataset(x[train], y[train], x[test], y[test], tuple(str(c) for c in range(10)),
                   f"scikit-learn digits (real 8x8 handwritten digits; seed {seed})")


def stratified_split(y: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (kept, held out) of labels y (N,), holding out round(fraction * count) of each class, at least 1 and
    at most count - 1, shuffled by seed (numpy's default_rng). Raises ValueError when a class has fewer than 2."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in torch.unique(y).tolist():
        idx = np.flatnonzero(y.numpy() == label)
        if idx.size < 2:
            raise ValueError(f"class {label} has {idx.size} example(s): a split needs at least 2 per class")
        idx = rng.permutation(idx)
        n_held = min(max(1, round(fraction * idx.size)), idx.size - 1)
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    kept, held = np.concatenate(kept), np.concatenate(held)
    return torch.from_numpy(rng.permutation(kept)), torch.from_numpy(rng.permutation(held))


def validation_split(data: Dataset, fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A Dataset for choosing settings: data's training split cut into train and validation, the validation part in
    the test slot; data's own test split is never touched (it stays for the final verdict).

    fraction in (0, 1): the share of each class held out (stratified, at least 1 per class), shuffled by seed.
    """
    check_number("fraction", fraction, 0, 1, low_open=True, high_open=True)
    check_number("seed", seed, 0, 2**32 - 1, integer=True)
    train, held = stratified_split(data.y_train, fraction, seed)
    return Dataset(data.x_train[train], data.y_train[train], data.x_train[held], data.y_train[held], data.classes,
                   f"{data.source}, validation split ({len(held)} of its {len(data.x_train)} training examples)")


# ---------------------------------------------------------------------------
# Small 2-D problems
# ---------------------------------------------------------------------------

TOY_KINDS = ("xor", "circles", "spirals", "gaussians", "moons")

MIN_TRAIN_PER_CLASS = 2  # two training points per class at least: the training spread (standardisation) is defined
MIN_TEST_PER_CLASS = 1  # one test point per class at least: the test accuracy covers every class


def check_split(dataset: Dataset, test_fraction: float) -> None:
    """Refuse a split that leaves any class with fewer than MIN_TRAIN_PER_CLASS training points or fewer than
    MIN_TEST_PER_CLASS test points; the ValueError names test_fraction, the sizes and each short class's counts.

    Why: with n=8, test_fraction=0.9 one point was left to train on; its standard deviation is undefined, the
    inputs became NaN and the loss was NaN at step 0."""
    k = len(dataset.classes)
    train = torch.bincount(dataset.y_train, minlength=k).tolist()
    test = torch.bincount(dataset.y_test, minlength=k).tolist()
    short = [f"class {c}: {train[c] + test[c]} points, {train[c]} for training and {test[c]} for test"
             for c in range(k) if train[c] < MIN_TRAIN_PER_CLASS or test[c] < MIN_TEST_PER_CLASS]
    if short:
        raise ValueError(f"test_fraction={test_fraction:g} splits {len(dataset.y_train) + len(dataset.y_test)} points "
                         f"into {len(dataset.y_train)} for training and {len(dataset.y_test)} for test, which leaves "
                         f"{'; '.join(short)}; each class needs at least {MIN_TRAIN_PER_CLASS} training points and "
                         f"{MIN_TEST_PER_CLASS} test point: lower test_fraction, use more points or another seed")



def toy_2d(kind: str = "xor", n: int = 1000, noise: float = 0.1, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """A 2-D binary classification set (one of TOY_KINDS) of n >= 8 points split into train and test.

    noise in [0, 2]; test_fraction in (0, 1), refused by check_split where it leaves a class too few points.
    'gaussians' is TensorFlow Playground's two Gaussian blobs (Smilkov and Carter 2016): centres (+-0.5, +-0.5),
    spread 0.1 + noise / 2; the others add N(0, (0.3 noise)^2) (xor: (0.15 noise)^2) to points on their curves.
    Deterministic from seed (a torch.Generator of its own: the global random state is not touched).
    """
    check_choice("kind", kind, TOY_KINDS)
    check_number("n", n, 8, integer=True)
    check_number("noise", noise, 0, 2)
    check_number("test_fraction", test_fraction, 0, 1, low_open=True, high_open=True)
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = _gaussians(y, noise, gen) if kind == "gaussians" else _on_curves(kind, y, noise, gen)
    n_test = max(1, int(n * test_fraction))
    data = Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test], ("0", "1"),
                   f"toy_2d({kind!r}, n={n}, noise={noise}, seed={seed})")
    check_split(data, test_fraction)
    return data


def _gaussians(y: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """Points (n, 2) around (0.5, 0.5) for label 1 and (-0.5, -0.5) for label 0, spread 0.1 + noise / 2."""
    centre = torch.where(y[:, None] == 1, torch.tensor([0.5, 0.5]), torch.tensor([-0.5, -0.5]))
    return centre + torch.randn(len(y), 2, generator=gen) * (0.1 + noise * 0.5)


def _on_curves(kind: str, y: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """Points (n, 2) of xor, circles, spirals or moons for labels y, with Gaussian noise."""
    n = len(y)
    t = torch.rand(n, generator=gen)
    if kind == "xor":
        x = torch.rand(n, 2, generator=gen) * 2 - 1
        y.copy_(((x[:, 0] > 0) ^ (x[:, 1] > 0)).long())  # xor's labels follow its points
    elif kind == "circles":
        radius = torch.where(y == 1, 0.5, 1.0)
        angle = t * 2 * math.pi
        x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    elif kind == "spirals":
        r = 0.1 + t * 0.9
        angle = t * 3 * math.pi + y * math.pi
        x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1)
    else:  # moons
        angle = t * math.pi
        x = torch.where(y[:, None] == 0, torch.stack([torch.cos(angle), torch.sin(angle)], 1),
                        torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)) - torch.tensor([0.5, 0.25])
    return x + torch.randn(n, 2, generator=gen) * noise * (0.3 if kind != "xor" else 0.15)
