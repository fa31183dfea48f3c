"""Experiments of notebook 12 (reproductions): five published results re-measured, short runs for the notebook and
full runs for `make reproduce` (python -m actlab.experiments.reproductions --full --workers N).

Every sweep is a list of plain items (dicts) mapped by actlab.parallel.map_runs over a module-level run function;
each run seeds itself from its item inside torch.random.fork_rng, so any executor gives the same numbers. Full
results are cached as JSON under the data folder (ACTLAB_DATA, read at call time), written atomically, keyed by the
settings, this module's and the library's source, torch's version, the CPU kernels, the torch threads per run (always
1: each run is pinned to one thread, so results do not depend on the executor) and the data's fingerprint, and saved
through actlab.cache.save_arrays (a sha256 over the file's contents: an edited or truncated file is never served).

1. Lu, Shin, Su and Karniadakis (2019/2020): born-dead deep narrow ReLU nets, He vs an asymmetric initialisation.
2. Glorot and Bengio (2010), figure 2: per-layer activations of a sigmoid MLP over training.
3. Klambauer, Unterthiner, Mayr and Hochreiter (2017): SELU's fixed point through depth with LeCun-normal weights.
4. Krizhevsky, Sutskever and Hinton (2012), figure 1: epochs to a training-error target, tanh vs ReLU.
5. Hendrycks and Gimpel (2016): 8 x 128 MLP, Adam, each activation at its learning rate chosen on a validation split,
   median training loss, GELU/ReLU/ELU.
"""
from __future__ import annotations

import argparse
import json
import math
import warnings
import sys
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from ..checks import check_choice, check_number
from .. import vocabulary
from ..cache import DataError, load_arrays, save_arrays
from ..data import Dataset, data_dir, image_data, validation_split
from ..seeding import one_thread
from .smooth import signal_through_depth
from ..fingerprint import LIBRARY_DIGEST, digest
from ..models import MLP, LeNet
from ..diagnostics import slope
from ..parallel import map_runs
from ..training import Callback, train
from .comparison import LINE_STYLES, MARKERS, OKABE_ITO, pooled_features

EXPERIMENTS = ("born_dead", "saturation", "selu", "krizhevsky", "gelu_mlp")
THREADS_PER_RUN = 1  # every run is pinned to one torch thread: its numbers do not depend on the executor or machine load
# ---------------------------------------------------------------------------
# Settings: the notebook's short runs and make reproduce's full runs
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """Sizes of all five reproductions; settings(full) gives the two standard sets."""

    full: bool
    seeds: tuple[int, ...]
    # 1. born dead: fresh ReLU MLPs on n_inputs N(0, I) points in in_features dimensions, trials nets per seed
    dead_depths: tuple[int, ...]
    dead_widths: tuple[int, ...]
    dead_trials: int
    dead_inputs: int = 256
    dead_in_features: int = 2
    # 2. saturation: sigmoid MLP on Shapeset-style images, SGD, batch 10, activations recorded every sat_every steps
    # on 300 fixed test images. Glorot and Bengio's figure 2 net has four hidden layers (section 3.1: their
    # five-layer net "never escaped" saturation), so both runs use 4.
    sat_depth: int = 4
    sat_width: int = 200
    sat_steps: int = 800
    sat_every: int = 50
    sat_n_train: int = 2000
    sat_lr: float = 0.1
    sat_image: int = 32
    # 3. SELU fixed point: depth x width MLP on N(0, I) inputs
    selu_depth: int = 50
    selu_width: int = 256
    selu_n: int = 500
    # 4. Krizhevsky: LeNet, SGD momentum 0.9, batch 64, no regularisation; epochs to a training error target
    kriz_n_train: int = 800
    kriz_epochs: int = 5
    kriz_target: float = 0.8  # short runs cannot reach the paper's 0.25 training error; the full runs use 0.25
    kriz_lrs: tuple[float, ...] = (0.03, 0.06)
    # 5. Hendrycks and Gimpel: 8 x 128 MLP, Adam, batch 128, on CIFAR-style images average-pooled to 8x8
    gelu_n_train: int = 1500
    gelu_epochs: int = 4
    gelu_lrs: tuple[float, ...] = (1e-3, 1e-4)
    gelu_validation: float = 0.2  # share of the training images held out to choose each activation's rate
    gelu_depth: int = 8
    gelu_width: int = 128


def settings(full: bool = False) -> Settings:
    """The notebook's short runs (full=False) or make reproduce's full runs (full=True)."""
    if full:
        return Settings(True, (0, 1, 2, 3, 4), dead_depths=(1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50),
                        dead_widths=(2, 3, 4, 5, 10), dead_trials=1000, sat_depth=4, sat_width=500,
                        sat_steps=30000, sat_every=500, sat_n_train=20000, selu_n=2000, kriz_n_train=10000, kriz_epochs=60,
                        kriz_target=0.25, kriz_lrs=(0.01, 0.03, 0.06), gelu_n_train=10000, gelu_epochs=50,
                        gelu_lrs=(1e-3, 1e-4, 1e-5))
    return Settings(False, (0, 1, 2), dead_depths=(1, 2, 5, 10, 20), dead_widths=(2, 3, 4), dead_trials=100)


# ---------------------------------------------------------------------------
# Results: run or load, cached atomically when full
# ---------------------------------------------------------------------------

@dataclass
class Result:
    """One reproduction's rows (one dict per run), whether they are the full runs, and where they came from."""

    name: str
    rows: list
    full: bool
    settings: dict
    data_source: str
    from_cache: bool = False
    seconds: float = 0.0
    machine: dict | None = None  # how a full result was computed: torch threads per run, CPU kernels (also its key)

    def frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def which(self) -> str:
        """A sentence saying which results these are (full from make reproduce's cache, or the short run)."""
        if self.full:
            how = (f"loaded from the cache of `make reproduce`, which computed them in {self.seconds:.0f} s"
                   if self.from_cache else f"run now in {self.seconds:.0f} s")
            if self.machine:  # thread counts and CPU kernels change the last bits of training runs: both are keyed
                how += (f", {self.machine['threads_per_run']} torch thread(s) per run, "
                        f"{self.machine['cpu_capability']} CPU kernels")
            return f"{self.name}: FULL results ({how}); data: {self.data_source}"
        return (f"{self.name}: SHORT run ({self.seconds:.1f} s; `make reproduce` runs the full version and the "
                f"notebook then shows it); data: {self.data_source}")


def machine() -> dict:
    """What changes a run's last bits besides code, settings and data: torch threads per run and the CPU kernels."""
    return {"threads_per_run": THREADS_PER_RUN, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _key(name: str, s: Settings, data_fp: str) -> dict:
    """Everything that changes a full result: settings, this module's and the library's source, torch, the CPU
    kernels and threads per run (machine()), data."""
    key = {"name": name, "settings": asdict(s), "library": LIBRARY_DIGEST,  # the library digest covers this module
           "torch": torch.__version__, "machine": machine(), "data": data_fp}
    return json.loads(json.dumps(key))  # as it reads back from JSON (tuples become lists)


def cache_file(name: str, s: Settings, data_fp: str) -> Path:
    """Where a full result is cached: data/cache/repro-<name>-<hash of the key>.npz."""
    return data_dir() / "cache" / f"repro-{name}-{digest(_key(name, s, data_fp))}.npz"


def _save(path: Path, payload: dict) -> None:
    """Write a payload (JSON-able) atomically with its sha256 (actlab.cache.save_arrays, no arrays)."""
    save_arrays(path, {}, payload)


def _load(path: Path) -> dict | None:
    """A cached payload, or None if absent; an unreadable or edited file (failing its checksum) is reported in a
    UserWarning and treated as absent (it is overwritten by the next full run)."""
    try:
        return load_arrays(path)[1]
    except FileNotFoundError:
        return None
    except DataError as exc:
        warnings.warn(f"cached reproduction {path.name} is not served: {exc}", stacklevel=2)
        return None


class OneThread:
    """A run function run on one torch thread (seeding.one_thread; THREADS_PER_RUN in the key; picklable)."""

    def __init__(self, run):
        self.run = run

    def __call__(self, item: dict):
        with one_thread():
            return self.run(item)


class Logged:
    """A run function that prints one line per finished run (picklable: module-level class, plain fields)."""

    def __init__(self, run, name: str):
        self.run, self.name = run, name

    def __call__(self, item: dict):
        start = time.perf_counter()
        out = self.run(item)
        what = ", ".join(f"{k} {item[k]}" for k in ("activation", "init", "depth", "width", "lr", "seed") if k in item)
        print(f"  {self.name}: {what}: {time.perf_counter() - start:.1f} s", flush=True)
        return out


def result(name: str, full: bool = False, executor: Executor | None = None, use_cache: bool = True,
           progress: bool = False) -> Result:
    """One reproduction: the full results when cached (or when full=True: run and cache them), else the short run.

    name: one of EXPERIMENTS. executor: any concurrent.futures.Executor for the runs (None: one after another).
    progress: print a line as each run finishes.
    """
    check_choice("name", name, EXPERIMENTS)
    if use_cache:
        cached = cached_full(name)
        if cached is not None:
            payload, data_source = cached
            return Result(name, payload["rows"], True, payload["key"]["settings"], data_source, from_cache=True,
                          seconds=payload.get("seconds", 0.0), machine=payload.get("machine"))
    s = settings(full)
    data_fp, data_source = _data_identity(name, s)
    start = time.perf_counter()
    run = OneThread(Logged(RUNNERS[name], name) if progress else RUNNERS[name])
    rows = map_runs(run, items(name, s), executor)
    seconds = time.perf_counter() - start
    if full:
        _save(cache_file(name, s, data_fp), {"key": _key(name, s, data_fp), "rows": rows, "seconds": seconds,
                                             "machine": machine()})
    return Result(name, rows, full, asdict(s), data_source, seconds=seconds, machine=machine())


def cached_full(name: str) -> tuple[dict, str] | None:
    """(payload, data description) of a cached full result that matches the current key, or None. The full data's
    fingerprint is computed only when some cached file exists, so a cold start never builds the full data set."""
    candidates = sorted((data_dir() / "cache").glob(f"repro-{name}-*.npz"))
    if not candidates:
        return None
    data_fp, data_source = _data_identity(name, settings(True))
    key = _key(name, settings(True), data_fp)
    for path in candidates:
        payload = _load(path)
        if payload is not None and payload.get("key") == key:
            return payload, data_source
    return None


def _data_identity(name: str, s: Settings) -> tuple[str, str]:
    """(fingerprint, description) of the data a reproduction trains on; generated inputs are named by their recipe."""
    if name == "krizhevsky":
        data = kriz_data(s.kriz_n_train)
        return data.fingerprint(), data.source
    if name == "gelu_mlp":
        data = gelu_data(s.gelu_n_train)
        return data.fingerprint(), data.source
    if name == "saturation":
        return f"shapeset-{s.sat_n_train}-{s.sat_image}", (f"Shapeset-3x2-style images generated here "
                                                           f"({s.sat_image}x{s.sat_image} grey, 9 classes)")
    return "gaussian-inputs", "random N(0, 1) inputs (no data set)"


# ---------------------------------------------------------------------------
# 1. Lu et al.: born-dead ReLU networks, He vs asymmetric initialisation
# ---------------------------------------------------------------------------

def init_weights(init: str, trials: int, fan_in: int, width: int, gen: torch.Generator) -> torch.Tensor:
    """(trials, fan_in + 1, width) weights with the bias as the last row, for `trials` independent layers.

    'he': He-normal weights N(0, 2 / fan_in), biases 0 (actlab's init='kaiming'; He et al. 2015).
    'rai': our reading of Lu et al.'s randomized asymmetric initialisation: as 'he', but in each unit one entry
    of (weights, bias), chosen uniformly, is drawn from Beta(2, 1) instead, so it is positive. The paper designs
    its own variances (not checked here); the asymmetry, one positive entry per unit, is what this tests.
    """
    check_choice("init", init, ("he", "rai"))
    w = torch.randn(trials, fan_in + 1, width, generator=gen) * math.sqrt(2.0 / fan_in)
    w[:, fan_in] = 0.0
    if init == "rai":
        pick = torch.randint(0, fan_in + 1, (trials, width), generator=gen)
        positive = torch.rand(trials, width, generator=gen).sqrt()  # Beta(2, 1) by inversion: its CDF is x^2
        w.scatter_(1, pick[:, None, :], positive[:, None, :])
    return w


def born_dead(depth: int, width: int, init: str = "he", trials: int = 100, n_inputs: int = 256,
              in_features: int = 2, seed: int = 0) -> float:
    """Fraction (0 to 1) of `trials` fresh ReLU nets (depth hidden layers of width units) born dead: some hidden
    layer has every unit dead (actlab.vocabulary.is_dead: ReLU's slope exactly 0 at all n_inputs N(0, I) inputs,
    which for ReLU is an output of exactly 0). The trials run as one batch of matrix products;
    actlab.demos.born_dead_fraction is the one-net-at-a-time definition it is checked against."""
    check_number("depth", depth, 1, integer=True)
    check_number("width", width, 1, integer=True)
    check_number("trials", trials, 1, integer=True)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_inputs, in_features, generator=gen)
    h = x.expand(trials, n_inputs, in_features)
    dead = torch.zeros(trials, dtype=torch.bool)
    for _ in range(depth):
        w = init_weights(init, trials, h.shape[-1], width, gen)
        z = torch.baddbmm(w[:, -1:, :], h, w[:, :-1, :])  # (trials, n_inputs, width)
        h = torch.relu(z)
        slopes = slope(torch.nn.ReLU(), z)  # ReLU's |f'| by autograd: 0 where z <= 0
        units = vocabulary.is_dead(slopes.transpose(0, 1).flatten(1))  # (trials * width,): dead units
        dead |= units.view(trials, width).all(1)
    return dead.double().mean().item()


def single_input_bound(depth: int, width: int) -> float:
    """P(a He-initialised, zero-bias ReLU net is dead at one given input) = 1 - (1 - 2^-width)^depth.

    Derivation (ours): a layer with a non-zero input h outputs all zeros iff its width independent, symmetric
    pre-activations w.h are all negative, probability 2^-width; depth layers in turn. Being dead at every input
    implies being dead at one, so the born-dead probability is at most this.
    """
    check_number("depth", depth, 1, integer=True)
    check_number("width", width, 1, integer=True)
    return 1 - (1 - 2.0 ** -width) ** depth


def run_born_dead(item: dict) -> dict:
    """One (depth, width, init, seed) cell: the fraction of item['trials'] fresh nets born dead."""
    value = born_dead(item["depth"], item["width"], item["init"], item["trials"], item["n_inputs"],
                      item["in_features"], seed=item["seed"])
    return {**item, "born_dead": value}


# ---------------------------------------------------------------------------
# 2. Glorot and Bengio: per-layer sigmoid activations over training
# ---------------------------------------------------------------------------

SHAPES = ("triangle", "parallelogram", "ellipse")


def _shape_mask(kind: int, u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                shear: torch.Tensor) -> torch.Tensor:
    """Boolean masks (N, H, W) of one shape kind in rotated, centred coordinates u, v (N, H, W); a, b half-sizes."""
    a, b, shear = a[:, None, None], b[:, None, None], shear[:, None, None]
    if kind == 0:  # isosceles triangle, apex up: |u| shrinks linearly from a at v = -b to 0 at v = b
        return (v > -b) & (v < b) & (u.abs() < a * (b - v) / (2 * b))
    if kind == 1:  # parallelogram: a sheared rectangle
        return ((u + shear * v).abs() < a) & (v.abs() < b)
    return (u / a) ** 2 + (v / b) ** 2 < 1  # ellipse


def shapeset(n: int, seed: int = 0, size: int = 32) -> Dataset:
    """Shapeset-3x2-style images (after Glorot and Bengio 2010): size x size grey images holding one or two shapes
    (triangle, parallelogram, ellipse) of random position, size, rotation and grey level on a dark background.

    9 classes: the three single shapes and the six unordered pairs. x: (n, size*size) float in [0, 1]; the test
    split is n // 5 further images. Our own generator: the original's exact rules were not checked here.
    """
    check_number("n", n, 10, integer=True)
    check_number("size", size, 8, integer=True)
    gen = torch.Generator().manual_seed(seed)
    total = n + n // 5
    pairs = [(i,) for i in range(3)] + [(i, j) for i in range(3) for j in range(i, 3)]
    labels = torch.randint(0, len(pairs), (total,), generator=gen)
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    yy, xx = torch.meshgrid(grid, grid, indexing="ij")
    images = torch.zeros(total, size, size)
    for slot in range(2):
        kinds = torch.tensor([pairs[int(k)][slot] if slot < len(pairs[int(k)]) else -1 for k in labels])
        cx, cy = (torch.rand(total, generator=gen) * 1.2 - 0.6 for _ in range(2))
        a = 0.15 + 0.25 * torch.rand(total, generator=gen)
        b = 0.15 + 0.25 * torch.rand(total, generator=gen)
        angle = torch.rand(total, generator=gen) * 2 * math.pi
        shear = torch.rand(total, generator=gen) - 0.5
        grey = 0.4 + 0.6 * torch.rand(total, generator=gen)
        dx, dy = xx[None] - cx[:, None, None], yy[None] - cy[:, None, None]
        cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
        u, v = cos * dx + sin * dy, -sin * dx + cos * dy
        for kind in range(3):
            rows = kinds == kind
            if rows.any():
                mask = _shape_mask(kind, u[rows], v[rows], a[rows], b[rows], shear[rows])
                images[rows] = torch.maximum(images[rows], mask * grey[rows, None, None])
    x = images.flatten(1)
    names = tuple("+".join(SHAPES[i] for i in p) for p in pairs)
    return Dataset(x[:n], labels[:n], x[n:], labels[n:], names,
                   f"Shapeset-3x2-style images ({size}x{size}, seed {seed}, generated by actlab)")


class LayerActivations(Callback):
    """Every `every` steps, each hidden layer's mean and 2nd/98th percentiles of its activations on a fixed batch."""

    def __init__(self, probe: torch.Tensor, every: int):
        self.probe, self.every, self.records = probe, every, []

    def _record(self, model: MLP, step: int) -> None:
        with torch.no_grad():
            for layer, h in model.hidden_outputs(self.probe):
                q = torch.quantile(h.flatten(), torch.tensor([0.02, 0.98], device=h.device))
                self.records.append({"step": step, "layer": layer, "mean": h.mean().item(),
                                     "p02": q[0].item(), "p98": q[1].item()})

    def on_train_begin(self, model, optimizer):
        self._record(model, 0)

    def on_after_backward(self, model, step):
        if step % self.every == 0:
            self._record(model, step)


def saturation_model(depth: int, width: int, in_features: int, classes: int) -> MLP:
    """Glorot and Bengio's 'standard' initialisation (their eq. 1): W ~ U[-1/sqrt(fan_in), 1/sqrt(fan_in)], b = 0.

    PyTorch's default nn.Linear weight init is exactly that uniform; its biases are zeroed here.
    """
    model = MLP(depth, width, "sigmoid", in_features=in_features, out_features=classes, init="default")
    with torch.no_grad():
        for layer in model.linear_layers():
            bound = 1 / math.sqrt(layer.weight.shape[1])
            layer.weight.uniform_(-bound, bound)
            layer.bias.zero_()
    return model


def run_saturation(item: dict) -> dict:
    """One seed of the sigmoid-MLP run: per-layer activation records over training and the final training error."""
    data = shapeset(item["n_train"], seed=1000 + item["seed"], size=item["image"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(item["seed"])
        model = saturation_model(item["depth"], item["width"], data.x_train.shape[1], len(data.classes))
        probe = data.inputs("test")[:300]  # Glorot and Bengio, section 3.1: "a fixed set of 300 test examples"
        recorder = LayerActivations(probe, item["every"])
        epochs = math.ceil(item["steps"] * 10 / len(data.x_train))
        history = train(model, data, epochs=epochs, lr=item["lr"], momentum=0.0, batch_size=10, seed=item["seed"],
                        callbacks=[recorder], progress=False)
    return {"seed": item["seed"], "records": recorder.records, "train_error": 1 - history.final["train_acc"],
            "test_error": 1 - history.final["test_acc"]}


# ---------------------------------------------------------------------------
# 3. Klambauer et al.: SELU's fixed point through depth
# ---------------------------------------------------------------------------

def selu_constants() -> tuple[float, float]:
    """(alpha01, lambda01): SELU's constants for the fixed point (mean 0, variance 1), from their closed forms.

    alpha01 = -sqrt(2/pi) / (erfc(1/sqrt 2) e^(1/2) - 1); lambda01 as written in Klambauer et al.'s own code,
    github.com/bioinf-jku/SNNs, getSELUparameters.ipynb ("the correct expressions for mean zero and unit
    variance"). About (1.6732632423543772, 1.0507009873554805)."""
    e1, e2 = math.erfc(1 / math.sqrt(2)), math.erfc(math.sqrt(2))
    alpha = -math.sqrt(2 / math.pi) / (math.exp(0.5) * e1 - 1)
    lam = (1 - math.sqrt(math.e) * e1) * math.sqrt(2 * math.pi / (
        2 + math.pi - 2 * math.sqrt(math.e) * (2 + math.pi) * e1 + math.e * math.pi * e1 ** 2 + 2 * math.e ** 2 * e2))
    return alpha, lam


SELU_CASES = (("selu", "lecun"), ("selu", "gain_selu"), ("relu", "lecun"), ("tanh", "lecun"), ("relu", "kaiming"))


def run_selu(item: dict) -> dict:
    """One (activation, init, seed): per-layer mean and variance of a fresh deep MLP's outputs on N(0, 1) inputs.

    init 'lecun': N(0, 1/fan_in) (nonlinearity='linear'); 'gain_selu': N(0, (3/4)^2/fan_in), i.e.
    kaiming_normal_(nonlinearity='selu'), whose gain is calculate_gain('selu') = 3/4; 'kaiming': N(0, 2/fan_in).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(item["seed"])
        if item["init"] == "gain_selu":
            gen = torch.Generator().manual_seed(item["seed"])
            model = MLP(item["depth"], item["width"], item["activation"], in_features=item["width"], out_features=1)
            with torch.no_grad():
                for layer in model.linear_layers():
                    gain = torch.nn.init.calculate_gain("selu")
                    layer.weight.normal_(0, gain / math.sqrt(layer.weight.shape[1]), generator=gen)
                    layer.bias.zero_()
                x = torch.randn(item["n"], item["width"], generator=gen)
                rows = [{"layer": i, "mean": h.mean().item(), "var": h.var().item()}
                        for i, h in model.hidden_outputs(x)]
        else:
            frame = signal_through_depth(item["activation"], item["depth"], item["width"], item["init"], item["n"],
                                         seed=item["seed"])
            rows = [{"layer": int(i), "mean": float(r["mean"]), "var": float(r["std"]) ** 2}
                    for i, r in frame.iterrows()]
    return {**item, "layers": rows}


# ---------------------------------------------------------------------------
# 4. Krizhevsky et al.: epochs to a training-error target, tanh vs ReLU
# ---------------------------------------------------------------------------

def kriz_data(n_train: int) -> Dataset:
    """Real CIFAR-10 when its files are in the data folder, otherwise the CIFAR-style set; n_train images."""
    return image_data(n_train, 1000, seed=0, root=data_dir())


def epochs_to(errors, target: float) -> float:
    """Fractional epochs until a per-epoch training-error curve first reaches target (linear between epoch ends).

    errors[0] is the error before training, errors[e] the mean error over epoch e; math.inf if never reached.
    """
    errors = np.asarray(errors, dtype=float)
    hits = np.nonzero(errors <= target)[0]
    if len(hits) == 0:
        return math.inf
    e = int(hits[0])
    if e == 0:
        return 0.0
    before, after = errors[e - 1], errors[e]
    return e - 1 + (before - target) / (before - after)


def run_krizhevsky(item: dict) -> dict:
    """One (activation, lr, seed): LeNet trained with SGD (momentum 0.9, batch 64, no weight decay or dropout);
    the per-epoch training error (running, over each epoch's batches) and the epochs to item['target']."""
    data = kriz_data(item["n_train"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(item["seed"])
        model = LeNet(item["activation"])
        history = train(model, data, epochs=item["epochs"], lr=item["lr"], batch_size=64, seed=item["seed"],
                        progress=False)
    errors = [1 - 1 / len(data.classes)] + [1 - e["train_acc"] for e in history.epochs[1:]]  # training data only
    return {**item, "errors": errors, "epochs_to_target": epochs_to(errors, item["target"]),
            "status": history.status}


def tuned(rows, activation: str) -> float:
    """The learning rate of the grid with which an activation reaches the target fastest (median over seeds;
    a run that never reaches it counts as infinitely slow), as Krizhevsky et al. tuned each network ("to make
    training as fast as possible"). Their criterion is the training error itself, the quantity compared: no test
    set is read (rows hold training errors only; ties go to the smaller rate)."""
    by_lr = {}
    for r in rows:
        if r["activation"] == activation:
            by_lr.setdefault(r["lr"], []).append(r["epochs_to_target"])
    if not by_lr:
        raise ValueError(f"no runs of activation {activation!r}")
    return min(by_lr, key=lambda lr: (np.median(by_lr[lr]), lr))


def speedup(rows) -> dict:
    """Per seed, epochs to target of tanh over ReLU at each one's tuned rate; censored runs (target never reached
    within the epochs run) give a lower bound (tanh censored) or an upper bound (ReLU censored)."""
    lr = {a: tuned(rows, a) for a in ("relu", "tanh")}
    pick = {(r["activation"], r["seed"]): r for r in rows if r["lr"] == lr[r["activation"]]}
    seeds = sorted({s for _, s in pick})
    out = {"lr_relu": lr["relu"], "lr_tanh": lr["tanh"], "seeds": seeds, "relu": [], "tanh": [], "ratio": [],
           "censored": []}
    for s in seeds:
        relu, tanh = pick[("relu", s)]["epochs_to_target"], pick[("tanh", s)]["epochs_to_target"]
        cap = pick[("relu", s)]["epochs"]
        out["relu"].append(relu)
        out["tanh"].append(tanh)
        out["censored"].append(not (math.isfinite(relu) and math.isfinite(tanh)))
        out["ratio"].append(min(tanh, cap) / max(min(relu, cap), 1e-9) if math.isfinite(relu) or math.isfinite(tanh)
                            else math.nan)
    return out


# ---------------------------------------------------------------------------
# 5. Hendrycks and Gimpel: 8 x 128 MLP, Adam, GELU vs ReLU vs ELU
# ---------------------------------------------------------------------------

GELU_ACTIVATIONS = ("gelu", "relu", "elu")


def gelu_data(n_train: int) -> Dataset:
    """The CIFAR-style images (or real CIFAR-10) average-pooled to 8x8: 192 features per image."""
    return pooled_features(kriz_data(n_train))


def unit_norm_rows_(model: torch.nn.Module) -> torch.nn.Module:
    """Give every nn.Linear weight row (one unit's incoming weights) a random direction and Euclidean norm 1.

    Hendrycks and Gimpel (arXiv:1606.08415, section 3.1): "Weights are initialized with unit norm rows". The
    direction is uniform on the sphere (a normalised N(0, I) draw: our choice, the paper does not say); biases
    keep PyTorch's default (the paper does not say). Uses torch's global generator; returns the model."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.Linear):
                rows = torch.randn_like(layer.weight)
                layer.weight.copy_(rows / rows.norm(dim=1, keepdim=True))
    return model


def run_gelu_mlp(item: dict) -> dict:
    """One (activation, lr, seed): an 8 x 128 MLP with unit-norm weight rows (as the paper) trained with Adam,
    batch 128, on the training images less a stratified validation share (item['validation'], the paper's "5k
    validation examples from the training set"; actlab.validation_split, seed 0: the test split is never read).
    Returns the training loss per epoch (mean over its batches), the final one and the final validation loss."""
    data = validation_split(gelu_data(item["n_train"]), item["validation"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(item["seed"])
        model = unit_norm_rows_(MLP(item["depth"], item["width"], item["activation"],
                                    in_features=data.x_train.shape[1], out_features=len(data.classes)))
        history = train(model, data, epochs=item["epochs"], lr=item["lr"], optimizer="adam", batch_size=128,
                        seed=item["seed"], progress=False)
    losses = [e["train_loss"] for e in history.epochs[1:]]
    return {**item, "losses": losses, "final_loss": losses[-1], "val_loss": history.final["test_loss"]}


def gelu_rates(rows) -> dict:
    """Each activation's learning rate: the grid's rate with the lowest median (over seeds) final validation loss,
    as Hendrycks and Gimpel tuned each activation on validation examples; ties go to the larger rate. A diverged
    run (NaN loss) counts as infinitely bad. Returns {activation: lr}."""
    rates = {}
    for name in GELU_ACTIVATIONS:
        by_lr = {}
        for r in rows:
            if r["activation"] == name:
                by_lr.setdefault(r["lr"], []).append(r["val_loss"] if math.isfinite(r["val_loss"]) else math.inf)
        if not by_lr:
            raise ValueError(f"no runs of activation {name!r}")
        rates[name] = min(by_lr, key=lambda lr: (np.median(by_lr[lr]), -lr))
    return rates


# ---------------------------------------------------------------------------
# The sweeps' items
# ---------------------------------------------------------------------------

def items(name: str, s: Settings) -> list[dict]:
    """The plain, picklable items of one reproduction's sweep (each seeds its own run)."""
    check_choice("name", name, EXPERIMENTS)
    if name == "born_dead":
        return [{"depth": d, "width": w, "init": init, "seed": seed, "trials": s.dead_trials,
                 "n_inputs": s.dead_inputs, "in_features": s.dead_in_features}
                for init in ("he", "rai") for w in s.dead_widths for d in s.dead_depths for seed in s.seeds]
    if name == "saturation":
        return [{"seed": seed, "depth": s.sat_depth, "width": s.sat_width, "steps": s.sat_steps,
                 "every": s.sat_every, "n_train": s.sat_n_train, "lr": s.sat_lr, "image": s.sat_image}
                for seed in s.seeds]
    if name == "selu":
        return [{"activation": a, "init": i, "seed": seed, "depth": s.selu_depth, "width": s.selu_width,
                 "n": s.selu_n} for a, i in SELU_CASES for seed in s.seeds]
    if name == "krizhevsky":
        return [{"activation": a, "lr": lr, "seed": seed, "epochs": s.kriz_epochs, "n_train": s.kriz_n_train,
                 "target": s.kriz_target} for a in ("relu", "tanh") for lr in s.kriz_lrs for seed in s.seeds]
    return [{"activation": a, "lr": lr, "seed": seed, "epochs": s.gelu_epochs, "n_train": s.gelu_n_train,
             "depth": s.gelu_depth, "width": s.gelu_width, "validation": s.gelu_validation}
            for a in GELU_ACTIVATIONS for lr in s.gelu_lrs for seed in s.seeds]


RUNNERS = {"born_dead": run_born_dead, "saturation": run_saturation, "selu": run_selu,
           "krizhevsky": run_krizhevsky, "gelu_mlp": run_gelu_mlp}


# ---------------------------------------------------------------------------
# Per-seed numbers for the claims, and the notebook's figures
# ---------------------------------------------------------------------------

def per_seed(rows, value: str, **where) -> np.ndarray:
    """The `value` of the rows matching every where[key] == row[key], ordered by seed (one number per seed)."""
    chosen = sorted((r for r in rows if all(r[k] == v for k, v in where.items())), key=lambda r: r["seed"])
    if not chosen:
        raise ValueError(f"no rows match {where}")
    return np.array([r[value] for r in chosen], dtype=float)


def plot_born_dead(rows) -> Figure:
    """Born-dead fraction against depth, one line per width (mean over seeds, band: lowest to highest seed), He
    and asymmetric initialisation side by side; dotted: the single-input bound 1 - (1 - 2^-width)^depth."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    widths = sorted({r["width"] for r in rows})
    depths = sorted({r["depth"] for r in rows})
    for ax, init, title in zip(axes, ("he", "rai"), ("He (symmetric) initialisation", "asymmetric (RAI-style)")):
        for i, w in enumerate(widths):
            values = np.array([per_seed(rows, "born_dead", init=init, width=w, depth=d) for d in depths])
            line, = ax.plot(depths, values.mean(1), "o-", color=OKABE_ITO[i % 8], label=f"width {w}")
            ax.fill_between(depths, values.min(1), values.max(1), color=line.get_color(), alpha=0.15)
            if init == "he":
                ax.plot(depths, [single_input_bound(d, w) for d in depths], ":", color=line.get_color())
        ax.set(title=title, xlabel="depth (hidden layers)", xscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of nets born dead")
    axes[1].legend(fontsize=9)
    fig.suptitle("fresh ReLU nets, zero biases; dotted: the single-input bound (He)", fontsize=10)
    return fig


def saturation_summary(rows) -> dict:
    """Per seed (arrays ordered by seed): the top hidden layer's mean activation at the start, its lowest and its
    final value, and the lowest mean of any lower layer over the run."""
    out = {"start": [], "lowest": [], "final": [], "lower_layers_lowest": []}
    for r in sorted(rows, key=lambda r: r["seed"]):
        top = max(x["layer"] for x in r["records"])
        series = [x["mean"] for x in r["records"] if x["layer"] == top]
        out["start"].append(series[0])
        out["lowest"].append(min(series))
        out["final"].append(series[-1])
        out["lower_layers_lowest"].append(min(x["mean"] for x in r["records"] if x["layer"] < top))
    return {k: np.array(v) for k, v in out.items()}


def plot_saturation(rows) -> Figure:
    """Glorot and Bengio's figure 2, re-measured: each hidden layer's mean sigmoid output over training (mean over
    seeds) with a band from the 2nd to the 98th percentile of its values (seed 0)."""
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax = fig.subplots()
    first = min(rows, key=lambda r: r["seed"])
    layers = sorted({x["layer"] for x in first["records"]})
    for i, layer in enumerate(layers):
        steps = [x["step"] for x in first["records"] if x["layer"] == layer]
        means = np.mean([[x["mean"] for x in r["records"] if x["layer"] == layer] for r in rows], axis=0)
        lo = [x["p02"] for x in first["records"] if x["layer"] == layer]
        hi = [x["p98"] for x in first["records"] if x["layer"] == layer]
        ax.plot(steps, means, color=OKABE_ITO[i % 8], lw=2, label=f"layer {layer}" + (" (top)" if layer == layers[-1] else ""))
        ax.fill_between(steps, lo, hi, color=OKABE_ITO[i % 8], alpha=0.12)
    ax.set(xlabel="training step (batches of 10)", ylabel="sigmoid output", ylim=(0, 1),
           title="mean activation per hidden layer; band: 2nd to 98th percentile (seed 0)")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


SELU_LABELS = {("selu", "lecun"): "SELU, LeCun normal (gain 1)", ("selu", "gain_selu"): "SELU, calculate_gain('selu') = 3/4",
               ("relu", "lecun"): "ReLU, LeCun normal", ("tanh", "lecun"): "tanh, LeCun normal",
               ("relu", "kaiming"): "ReLU, He normal"}


def selu_last(rows, activation: str, init: str) -> dict:
    """Per seed, the last hidden layer's mean and variance (arrays ordered by seed)."""
    chosen = sorted((r for r in rows if r["activation"] == activation and r["init"] == init), key=lambda r: r["seed"])
    return {"mean": np.array([r["layers"][-1]["mean"] for r in chosen]),
            "var": np.array([r["layers"][-1]["var"] for r in chosen])}


def plot_selu(rows) -> Figure:
    """Mean and variance of each layer's outputs through depth (mean over seeds), one line per case."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_mean, ax_var = fig.subplots(1, 2, sharex=True)
    for i, case in enumerate(SELU_CASES):
        chosen = [r for r in rows if (r["activation"], r["init"]) == case]
        layers = [x["layer"] for x in chosen[0]["layers"]]
        style = dict(color=OKABE_ITO[i % 8], linestyle=LINE_STYLES[i % 8], lw=2, label=SELU_LABELS[case])
        ax_mean.plot(layers, np.mean([[x["mean"] for x in r["layers"]] for r in chosen], 0), **style)
        ax_var.plot(layers, np.mean([[x["var"] for x in r["layers"]] for r in chosen], 0), **style)
    ax_mean.axhline(0, color="0.5", lw=1, ls=":")
    ax_var.axhline(1, color="0.5", lw=1, ls=":")
    ax_mean.set(xlabel="layer", ylabel="mean of the outputs", title="mean (fixed point: 0)")
    ax_var.set(xlabel="layer", ylabel="variance of the outputs", yscale="log", ylim=(1e-6, 10),
               title="variance (fixed point: 1), log scale")
    for ax in (ax_mean, ax_var):
        ax.grid(alpha=0.3)
    ax_var.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    return fig


def plot_krizhevsky(rows) -> Figure:
    """Training error per epoch of every seed at each activation's tuned learning rate, with the target."""
    speed = speedup(rows)
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, (name, style) in enumerate((("relu", "-"), ("tanh", "--"))):
        lr = speed[f"lr_{name}"]
        for j, r in enumerate(sorted((r for r in rows if r["activation"] == name and r["lr"] == lr),
                                     key=lambda r: r["seed"])):
            ax.plot(range(len(r["errors"])), r["errors"], style, color=OKABE_ITO[i], lw=1.8,
                    label=f"{name}, lr {lr:g}" if j == 0 else None)
    target = rows[0]["target"]
    ax.axhline(target, color="0.4", lw=1, ls=":")
    ax.text(0.02, target, f" target {target:.0%}", va="bottom", transform=ax.get_yaxis_transform(), color="0.3")
    ax.set(xlabel="epoch", ylabel="training error (mean over the epoch)", title="LeNet, SGD: one line per seed")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def gelu_table(rows, value: str = "final_loss"):
    """Median over seeds of value ('final_loss': training; 'val_loss': validation), one row per activation, one
    column per learning rate."""
    import pandas as pd

    check_choice("value", value, ("final_loss", "val_loss"))
    frame = pd.DataFrame(rows)
    return frame.pivot_table(index="activation", columns="lr", values=value, aggfunc="median").loc[
        list(GELU_ACTIVATIONS)]


def plot_gelu(rows) -> Figure:
    """Median training loss per epoch (over seeds), one panel per learning rate, one line per activation."""
    lrs = sorted({r["lr"] for r in rows}, reverse=True)
    fig = Figure(figsize=(3.6 * len(lrs), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(lrs), sharey=True))
    for ax, lr in zip(axes, lrs):
        for i, name in enumerate(GELU_ACTIVATIONS):
            curves = np.array([r["losses"] for r in rows if r["activation"] == name and r["lr"] == lr])
            epochs = range(1, curves.shape[1] + 1)
            ax.plot(epochs, np.median(curves, 0), color=OKABE_ITO[i], linestyle=LINE_STYLES[i], marker=MARKERS[i],
                    lw=2, label=name)
        ax.set(title=f"Adam, lr {lr:g}", xlabel="epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (median over seeds)")
    axes[-1].legend()
    return fig


# ---------------------------------------------------------------------------
# make reproduce
# ---------------------------------------------------------------------------

def main(argv=None) -> int:
    """python -m actlab.experiments.reproductions [--full] [--workers N] [--only NAME ...]"""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--full", action="store_true", help="the full runs (cached under the data folder)")
    parser.add_argument("--workers", type=int, default=1, help="processes, each run on one torch thread (1: one "
                        "after another in this process); up to the number of cores")
    parser.add_argument("--only", nargs="*", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be an integer >= 1, got {args.workers}")
    executor = None
    if args.workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
    start = time.perf_counter()
    try:
        for name in args.only:
            print(f"reproduce: {name} ({'full' if args.full else 'short'}, {args.workers} worker(s)) ...", flush=True)
            res = result(name, full=args.full, executor=executor, use_cache=args.full, progress=True)
            where = cache_file(name, settings(True), _data_identity(name, settings(True))[0]) if args.full else None
            print(f"  {res.which()}" + (f"\n  cached in {where}" if where else ""), flush=True)
    finally:
        if executor is not None:
            executor.shutdown()
    print(f"reproduce: done in {time.perf_counter() - start:.0f} s; results under {data_dir() / 'cache'}")
    return 0


if __name__ == "__main__":
    # Run as `python -m` (make reproduce), this file is __main__, and a class defined here (Logged) would be
    # __main__.Logged, which spawned workers cannot import: call main through the module's own name instead.
    from actlab.experiments import reproductions

    sys.exit(reproductions.main())
