"""The live training playground: a real PyTorch MLP learning a 2-D data set, redrawn while it trains.

In the spirit of TensorFlow Playground (Smilkov and Carter, 2016), with any registry activation per layer, deep
nets and the per-layer diagnostics of `actlab.stats`. `Engine` is the headless core (seeded, deterministic);
`Playground` is the widget around it. While it trains, an asyncio task on the kernel's event loop trains in
slices of SLICE seconds and yields after each, redrawing FPS times a second, so button clicks, slider moves and
other cells run in between (checked in tests/test_browser_playground.py). One loop at most, whatever the clicks:
pause and reset cancel it, and start waits for a cancelled one to end (Playground._stop).

Design for speed: the figures are drawn once with their static parts cached (matplotlib blitting); a frame
restores the cache, draws only the moving artists and encodes small JPEGs; the decision boundary is a
GRID x GRID forward pass upsampled by PIL under a fixed overlay of the data points. Titles and axis labels are
pinned after the first draw (no placement when the axes widen); a wider step axis redraws only that axis over a
cached base; the per-layer statistics and panel come every LAYER_EVERY-th frame; the measurement passes run on
one thread; and a frame that costs much CPU (a big net) lowers the frame rate rather than training's share of
the time below TRAIN_SHARE. There is no training thread: training and drawing take turns on the kernel's one thread, so
neither waits on the other for the GIL. `bench()` measures it.
"""
from __future__ import annotations

import asyncio
import base64
import csv as csv_module
import functools
import math
import time
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from PIL import Image
from torch import nn
from torch.nn import functional as F

from .cores import CoreTurns, sharing_enabled
from .seeding import one_thread, seeded
from .data import Dataset, check_split, toy_2d
from .activations import activation_names, get_activation, lookup
from .stats import GUIDE_RATIO, HIST_BINS, activation_stats, hist_range
from .training import OPTIMIZERS

DATASETS = ("xor", "circles", "spirals", "gaussians", "moons")
INITS = ("recommended", "default", "kaiming", "xavier", "lecun", "orthogonal", "small")
MAX_DEPTH, MAX_WIDTH, MAX_POINTS = 32, 512, 20000
TORCH_GAINS = {"sigmoid", "tanh", "relu", "leaky_relu", "selu"}  # names torch.nn.init.calculate_gain knows
FPS = 11  # frames per second the live view aims at
TRAIN_SHARE = 0.85  # the least share of the live loop's time left to training: a costly frame lowers the frame rate
LAYER_EVERY = 2  # the per-layer statistics and panel are measured and drawn every LAYER_EVERY-th frame
SLICE = 0.03  # seconds of training between two yields to the event loop: bounds the delay before a click is seen
GRID = 40  # decision-boundary resolution (GRID x GRID points)
BOUNDARY_PX = 264  # side of the boundary image in pixels
JPEG_QUALITY = 92  # live frames are JPEG: 1-2 ms to encode where PNG takes 5-10 ms (measured), no visible loss
PROBE = 256  # training points the per-layer statistics are measured on
COLOURS = np.array([[245, 147, 34], [8, 119, 189], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                    [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]]) / 255
DEFAULTS = {"dataset": "spirals", "n": 1000, "noise": 0.1, "test_fraction": 0.25, "depth": 4, "width": 16,
            "activation": "relu", "params": None, "init": "recommended", "batch_norm": False, "optimizer": "adam",
            "lr": 0.01, "batch_size": 32, "seed": 0, "csv": None}
BENCH_CONFIG = {"dataset": "spirals", "n": 1000, "depth": 4, "width": 16, "activation": "relu", "batch_size": 32}
LIVE = ("activation", "params", "optimizer", "lr", "batch_size")  # take effect on the next step, weights kept


# ----------------------------------------------------------------------------- data


def gaussians(n: int = 1000, noise: float = 0.1, seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """Two Gaussian blobs at (+-0.5, +-0.5), spread 0.1 + noise (TensorFlow Playground's 'Gaussian' set).

    actlab.toy_2d has no such kind, so it lives here. n >= 8; noise in [0, 2]; test_fraction in (0, 1).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 8:
        raise ValueError(f"n must be an integer >= 8, got {n!r}")
    if not (isinstance(noise, (int, float)) and 0 <= noise <= 2):
        raise ValueError(f"noise must be in [0, 2], got {noise!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    centre = torch.where(y[:, None] == 1, torch.tensor([0.5, 0.5]), torch.tensor([-0.5, -0.5]))
    x = centre + torch.randn(n, 2, generator=gen) * (0.1 + noise * 0.5)
    n_test = max(1, int(n * test_fraction))
    return Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test], ("0", "1"),
                   f"gaussians(n={n}, noise={noise}, seed={seed})")


CSV_COLUMNS = ("x1", "x2", "label")


def _csv_number(path, line: int, column: int, cell: str) -> float:
    """One cell of a data row as a finite float; ValueError naming the file, line and column otherwise."""
    where = f"csv {path}: line {line}, column {column} ({CSV_COLUMNS[column - 1]})"
    if not cell.strip():
        raise ValueError(f"{where}: the value is missing")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {cell!r} is not a finite number")
    return value


def _is_header(row: list[str]) -> bool:
    """A first row is a header when none of its cells is a number (e.g. x1,x2,label)."""
    def number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    return not any(number(cell) for cell in row)


def read_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """(x of shape (n, 2), y of n labels) from a CSV file of rows x1, x2, label (float, float, integer).

    Read with the standard library's csv module as UTF-8, with or without a byte-order mark ('utf-8-sig': a
    spreadsheet's "CSV UTF-8"). The first non-blank row is a header when none of its cells is a number, and is
    then skipped; every other row is data and is checked alike: exactly three values (trailing empty cells are
    ignored), finite numbers, an integer label. Blank lines are skipped. Raises ValueError naming the line
    (1-based, in the file) and column of a bad or missing value, or a file with no data rows.
    """
    rows, first = [], True
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv_module.reader(handle)
            for row in reader:
                while row and not row[-1].strip():
                    row = row[:-1]  # trailing empty cells (a spreadsheet's unused columns)
                if not row:
                    continue
                if first and _is_header(row):
                    first = False
                    continue
                first = False
                rows.append(_csv_row(path, reader.line_num, row))
    except UnicodeDecodeError as exc:
        raise ValueError(f"csv {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise ValueError(f"csv {path}: no data rows (need rows of x1, x2, label)")
    table = np.array(rows)
    return table[:, :2], table[:, 2]


def _csv_row(path, line: int, row: list[str]) -> list[float]:
    """[x1, x2, label] from one data row; ValueError naming the line and column of what is wrong."""
    if len(row) > 3:
        raise ValueError(f"csv {path}: line {line}, column 4: {len(row)} values; need three (x1, x2, label)")
    values = [_csv_number(path, line, column, cell)
              for column, cell in enumerate(row + [""] * (3 - len(row)), 1)]
    if values[2] != round(values[2]) or values[2] < 0:
        raise ValueError(f"csv {path}: line {line}, column 3 (label): {row[2]!r} is not an integer >= 0")
    return values


def arrays_dataset(x, y, test_fraction: float = 0.25, seed: int = 0, source: str = "your data") -> Dataset:
    """A Dataset from user arrays: x of shape (n, 2), y of n integer labels 0..K-1 (K <= 10, each of them present),
    split at random with `seed`. Raises ValueError naming what is wrong (labels {1, 2} are refused, not remapped)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y_float = np.asarray(y, dtype=np.float64).ravel()
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"data: x must have shape (n, 2) (two features), got {tuple(x.shape)}")
    if len(y_float) != len(x):
        raise ValueError(f"data: x has {len(x)} rows but y has {len(y_float)} labels")
    if len(x) < 8:
        raise ValueError(f"data: need at least 8 points, got {len(x)}")
    if not np.isfinite(x.numpy()).all() or not np.isfinite(y_float).all():
        raise ValueError("data: x and y must be finite")
    if (y_float != np.round(y_float)).any() or y_float.min() < 0 or y_float.max() > 9:
        raise ValueError("data: labels must be integers 0..9")
    y = torch.as_tensor(y_float.astype(np.int64))
    found = torch.unique(y).tolist()
    if len(found) < 2:
        raise ValueError(f"data: labels must contain at least two classes; found only {found}")
    if found != list(range(len(found))):  # {1, 2} would build a 3-class net with a class that never occurs
        raise ValueError(f"data: labels must be 0..K-1 with every class present (K = number of classes); found "
                         f"{found}: renumber them, e.g. y = np.unique(y, return_inverse=True)[1]")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    n_test = max(1, int(len(x) * test_fraction))
    classes = tuple(str(k) for k in range(int(y.max()) + 1))
    return Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test], classes, source)


def standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) of shape (n, features), each feature standardised with the training mean and (unbiased)
    standard deviation, computed in float64, returned as float32.

    A feature whose training spread is within its dtype's rounding of its magnitude (std <= eps * max |x|, eps
    the machine epsilon of the input dtype, 2^-23 for float32) is constant up to rounding: it becomes 0 in both
    parts (it carries nothing, and gives no NaN). The floor is relative to the data's scale, so features of size
    1e-9 standardise to std 1 like those of size 1 (Dataset.channel_stats applies the same rule in float32 for the
    image sets; here the 2-D sets are small, so float64 rounds each value once).
    """
    x = train.double()
    mean, std = x.mean(0), x.std(0)
    eps = torch.finfo(train.dtype).eps if train.is_floating_point() else 0.0
    varies = std > eps * x.abs().amax(0)
    spread = torch.where(varies, std, torch.ones_like(std))
    return tuple(torch.where(varies, (t.double() - mean) / spread, 0.0).float() for t in (train, test))


def make_dataset(config: dict, data=None) -> Dataset:
    """The configured data set: user arrays (data=(x, y)), a CSV file, or a toy set by name."""
    if data is not None:
        x, y = data
        return arrays_dataset(x, y, config["test_fraction"], config["seed"])
    if config["csv"]:
        x, y = read_csv(config["csv"])
        return arrays_dataset(x, y, config["test_fraction"], config["seed"], f"csv {Path(config['csv']).name}")
    kind = config["dataset"]
    if kind == "gaussians":
        return gaussians(config["n"], config["noise"], config["seed"], config["test_fraction"])
    return toy_2d(kind, config["n"], config["noise"], config["seed"], config["test_fraction"])


# ----------------------------------------------------------------------------- configuration


def _int_in(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def _float_in(name: str, value, low: float, high: float, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value if open_low else low <= value) or value > high:
        raise ValueError(f"{name} must be a number in {'(' if open_low else '['}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _per_layer(name: str, value, depth: int, check) -> list:
    """value for every layer: one value repeated, or a list of exactly depth values, each checked."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * depth
    if len(values) != depth:
        raise ValueError(f"{name}: a list needs one entry per layer ({depth}), got {len(values)}")
    return [check(v) for v in values]


def check_config(config: dict) -> dict:
    """A validated, complete configuration; raises ValueError (or TypeError) naming the bad field and its range."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; valid: {', '.join(DEFAULTS)}")
    c = {**DEFAULTS, **config}
    if c["dataset"] not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {c['dataset']!r}")
    c["n"] = _int_in("n", c["n"], 8, MAX_POINTS)
    c["noise"] = _float_in("noise", c["noise"], 0, 2)
    c["test_fraction"] = _float_in("test_fraction", c["test_fraction"], 0, 0.9, open_low=True)
    c["depth"] = _int_in("depth", c["depth"], 1, MAX_DEPTH)
    c["width"] = _int_in("width", c["width"], 1, MAX_WIDTH)
    names = _per_layer("activation", c["activation"], c["depth"], lambda a: lookup(a).name)
    params = _per_layer("params", c["params"] or {}, c["depth"], lambda p: dict(p or {}))
    for layer, (name, p) in enumerate(zip(names, params), 1):
        try:
            lookup(name).resolve(**p)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"layer {layer}: {exc}") from None
    c["activation"], c["params"] = names, params
    if c["init"] not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {c['init']!r}")
    if not isinstance(c["batch_norm"], bool):
        raise ValueError(f"batch_norm must be True or False, got {c['batch_norm']!r}")
    if c["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {c['optimizer']!r}")
    c["lr"] = _float_in("lr", c["lr"], 0, 10, open_low=True)
    c["batch_size"] = _int_in("batch_size", c["batch_size"], 1, MAX_POINTS)
    c["seed"] = _int_in("seed", c["seed"], 0, 2**31 - 1)
    if c["batch_norm"] and c["batch_size"] < 2:
        raise ValueError("batch_size must be at least 2 with batch_norm=True (batch statistics need two examples)")
    if c["csv"] is not None and not Path(c["csv"]).is_file():
        raise ValueError(f"csv: no such file {c['csv']!r}")
    return c


def code_line(config: dict, data_name: str | None = None) -> str:
    """The configuration as one line of Python that rebuilds the same run: actlab.playground(...)."""
    c = check_config(config)
    out = {k: v for k, v in c.items() if k not in ("activation", "params") and v != DEFAULTS[k]}
    if len(set(c["activation"])) == 1 and all(p == c["params"][0] for p in c["params"]):
        if c["activation"][0] != DEFAULTS["activation"]:
            out["activation"] = c["activation"][0]
        if c["params"][0]:
            out["params"] = c["params"][0]
    else:
        out["activation"] = c["activation"]
        if any(c["params"]):
            out["params"] = c["params"]
    order = [k for k in DEFAULTS if k in out]
    args = ", ".join(f"{k}={out[k]!r}" for k in order)
    if data_name:
        args = f"data={data_name}" + (", " + args if args else "")
    return f"actlab.playground({args})"


# ----------------------------------------------------------------------------- the network


def recommended_gain(name: str, params: dict | None = None) -> float:
    """The init gain for an activation: torch.nn.init.calculate_gain where PyTorch defines one (sigmoid, tanh,
    relu, leaky_relu, selu); otherwise the g with E[f(g u)^2] = 1 for u ~ N(0, 1), so that unit second moment is
    a fixed point layer after layer (He et al. 2015's argument, which gives sqrt(2) for ReLU), found by bisection
    on the registry formula in [0.1, 10]; 1.0 where no such g exists (bounded activations)."""
    s = lookup(name)
    values = s.resolve(**(params or {}))
    compute = _gain.__wrapped__ if s.custom else _gain  # a custom entry may be re-registered under its name
    return compute(s.name, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=256)
def _gain(name: str, values: tuple) -> float:
    """recommended_gain's computation, remembered per built-in activation and parameter values."""
    s, values = lookup(name), dict(values)
    if s.name in TORCH_GAINS:
        return nn.init.calculate_gain(s.name, values.get("alpha", 0.01) if s.name == "leaky_relu" else None)
    u = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    density = torch.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)

    def second_moment(g: float) -> float:
        return torch.trapezoid(s.forward(g * u, **values) ** 2 * density, u).item()

    low, high = 0.1, 10.0
    if not second_moment(low) < 1 < second_moment(high):
        return 1.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if second_moment(mid) < 1 else (low, mid)
    return (low + high) / 2


def init_layer(layer: nn.Linear, init: str, gain: float) -> None:
    """Initialise a linear layer by name: kaiming N(0, gain^2/fan_in), xavier N(0, gain^2 2/(fan_in+fan_out)),
    lecun N(0, 1/fan_in), orthogonal (scaled by gain), small N(0, 0.01^2); biases 0. 'default' keeps PyTorch's."""
    if init == "default":
        return
    fan_out, fan_in = layer.weight.shape
    with torch.no_grad():
        if init in ("kaiming", "recommended"):
            layer.weight.normal_(0, gain / math.sqrt(fan_in))
        elif init == "xavier":
            layer.weight.normal_(0, gain * math.sqrt(2 / (fan_in + fan_out)))
        elif init == "lecun":
            layer.weight.normal_(0, 1 / math.sqrt(fan_in))
        elif init == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain)
        elif init == "small":
            layer.weight.normal_(0, 0.01)
        layer.bias.zero_()


class PlaygroundNet(nn.Module):
    """An MLP with its own activation per hidden layer: linear, optional batch norm, activation; linear output."""

    def __init__(self, config: dict, in_features: int = 2, classes: int = 2):
        super().__init__()
        c = check_config(config)
        self.linears, self.norms, self.acts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        features = in_features
        for name, params in zip(c["activation"], c["params"]):
            layer = nn.Linear(features, c["width"])
            init_layer(layer, c["init"], recommended_gain(name, params))
            self.linears.append(layer)
            if c["batch_norm"]:
                self.norms.append(nn.BatchNorm1d(c["width"]))
            self.acts.append(self._activation(name, params))
            features = c["width"]
        self.out = nn.Linear(features, classes)
        init_layer(self.out, c["init"], 1.0)

    @staticmethod
    def _activation(name: str, params: dict) -> nn.Module:
        module = get_activation(name, **params)
        module.actlab_name, module.actlab_params = lookup(name).name, dict(params)
        module.actlab_range = hist_range(name, params)
        return module

    def set_activation(self, layer: int, name: str, params: dict) -> None:
        """Replace hidden layer `layer`'s activation (0-based), keeping every weight."""
        self.acts[layer] = self._activation(name, params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms = self.norms if len(self.norms) else [None] * len(self.linears)
        for linear, norm, act in zip(self.linears, norms, self.acts):
            x = linear(x)
            if norm is not None:
                x = norm(x)
            x = act(x)
        return self.out(x)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """sgd (momentum 0.9), adam or adamw, by name."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return (torch.optim.Adam if name == "adam" else torch.optim.AdamW)(params, lr=lr)


# ----------------------------------------------------------------------------- the headless engine





def _on_own_generator(method):
    """An Engine method run inside engine.own_generator() (see there)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.own_generator():
            return method(self, *args, **kwargs)

    return wrapper


class Engine:
    """Seeded training of a PlaygroundNet on a 2-D data set, step by step, with recorded history and statistics.

    Seeded without global state: the data, the batch order and the initial weights follow config["seed"] alone, and
    building or training leaves torch's global generator as the caller had it (see own_generator)."""

    def __init__(self, config: dict | None = None, data=None):
        self.data_arrays = data
        self.config = check_config(config or {})
        self.build()

    def build(self) -> None:
        """(Re)create data, network, optimiser and batch order from the configuration: the same seed, the same run."""
        c = self.config
        dataset = make_dataset(c, self.data_arrays)
        check_split(dataset, c["test_fraction"])  # these may raise: nothing of the run is replaced before them
        self.dataset = dataset
        self.x_train, self.x_test = standardise(dataset.x_train, dataset.x_test)  # float64: one rounding per value
        self.y_train, self.y_test = dataset.labels("train"), dataset.labels("test")
        self.classes = len(self.dataset.classes)
        with seeded(c["seed"]):  # nn.Linear draws its initial weights from the global generator: forked, restored
            self.model = PlaygroundNet(c, 2, self.classes)
            self.rng_state = torch.get_rng_state()  # the run's own state of it, for what draws in training (RReLU)
        self._own_rng = False
        self.optimizer = make_optimizer(c["optimizer"], self.model.parameters(), c["lr"])
        self.generator = torch.Generator().manual_seed(c["seed"])
        self.order, self.cursor = torch.randperm(len(self.x_train), generator=self.generator), 0
        self.step_count, self.loss_sum, self.loss_steps = 0, torch.zeros(()), 0
        self.history: list[dict] = []
        self.layer_records: list[dict] = []
        self.hists: list[np.ndarray] = []
        self.ratios: dict[int, float] = {}
        self.status, self.message = "ready", ""
        self.probe = self.x_train[:PROBE]
        self.grid, self.grid_extent = self._grid()

    @contextmanager
    def own_generator(self):
        """Run the block on this run's own state of torch's global CPU generator; the caller's is restored after.

        nn.RReLU draws its slopes in training from the global generator, and PyTorch gives it no generator argument;
        so each run keeps its own state of it (started from its seed in build) and swaps it in while it computes: the
        run follows only its seed, and the caller's random state is left as it was (the library's rule, checked in
        tests/test_api.py). Nested blocks use the outer one's state."""
        if self._own_rng:
            yield
            return
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.rng_state)
            self._own_rng = True
            try:
                yield
            finally:
                self._own_rng = False
                self.rng_state = torch.get_rng_state()

    def _grid(self) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
        """GRID x GRID points over the (standardised) data with a margin, and their extent (x0, x1, y0, y1)."""
        x = torch.cat([self.x_train, self.x_test])
        low, high = x.min(0).values - 0.3, x.max(0).values + 0.3
        u = torch.linspace(low[0].item(), high[0].item(), GRID)
        v = torch.linspace(low[1].item(), high[1].item(), GRID)
        gu, gv = torch.meshgrid(u, v, indexing="xy")
        return torch.stack([gu.ravel(), gv.ravel()], 1), (low[0].item(), high[0].item(), low[1].item(), high[1].item())

    def update(self, **changes) -> list[str]:
        """Apply settings: live ones (activation, params, optimizer, lr, batch_size) keep the weights; any other
        rebuilds the run from its seed. Returns the names of the settings that changed. Raises ValueError, leaving
        the run as it was."""
        depth = changes.get("depth", self.config["depth"])
        if depth != self.config["depth"]:  # a new depth keeps the layers' activations, the last one repeated
            for key in ("activation", "params"):
                if key not in changes:
                    old = self.config[key]
                    changes[key] = (list(old) + [old[-1]] * depth)[:depth]
        new = check_config({**self.config, **changes})
        changed = [k for k in DEFAULTS if new[k] != self.config[k]]
        rebuild = [k for k in changed if k not in LIVE]
        old, self.config = self.config, new
        if rebuild:
            try:
                self.build()
            except Exception:  # refused data (a bad file, a split too small): the run in use stays as it was
                self.config = old
                raise
            return changed
        for layer, (name, params) in enumerate(zip(new["activation"], new["params"])):
            module = self.model.acts[layer]
            if module.actlab_name != name or module.actlab_params != params:
                self.model.set_activation(layer, name, params)
        if "optimizer" in changed or any(k in changed for k in ("activation", "params")):
            state = self.optimizer.state_dict() if "optimizer" not in changed else None
            self.optimizer = make_optimizer(new["optimizer"], self.model.parameters(), new["lr"])
            if state is not None:  # new activation parameters (PReLU) start fresh; the rest keep their state
                try:
                    self.optimizer.load_state_dict(state)
                except ValueError:
                    pass
        for group in self.optimizer.param_groups:
            group["lr"] = new["lr"]
        return changed

    @_on_own_generator
    def step(self, measure: bool = False) -> None:
        """One optimiser step on the next mini-batch; measure=True records each layer's update ratio."""
        bs = min(self.config["batch_size"], len(self.order))
        if self.cursor + bs > len(self.order):  # the incomplete last batch is dropped (batch norm needs 2+)
            self.order, self.cursor = torch.randperm(len(self.x_train), generator=self.generator), 0
        idx = self.order[self.cursor:self.cursor + bs]
        self.cursor += bs
        loss = F.cross_entropy(self.model(self.x_train[idx]), self.y_train[idx])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if measure:
            before = [layer.weight.detach().clone() for layer in self.model.linears]
        self.optimizer.step()
        self.loss_sum += loss.detach()
        self.loss_steps += 1
        self.step_count += 1
        if measure:
            for i, (layer, old) in enumerate(zip(self.model.linears, before)):
                update, weight = (layer.weight.detach() - old).std().item(), old.std().item()
                self.ratios[i] = math.log10(update / weight) if update > 0 and weight > 0 else -math.inf

    @one_thread()
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Full-set loss and accuracy on train and test (evaluation mode)."""
        was = self.model.training
        self.model.eval()
        out = {}
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            logits = self.model(x)
            out[f"{split}_loss"] = F.cross_entropy(logits, y).item()
            out[f"{split}_acc"] = (logits.argmax(1) == y).float().mean().item()
        self.model.train(was)
        return out

    @_on_own_generator
    @one_thread()
    def record(self, layers: bool = True) -> dict:
        """Append the current losses, accuracies and (layers=True) per-layer statistics to the history; return
        the history row. The live view passes layers=False on all but every LAYER_EVERY-th frame."""
        row = {"step": self.step_count, **self.evaluate()}
        stepped = self.loss_steps > 0  # no step since the last record: no mini-batch loss, and no divergence
        batch_loss = (self.loss_sum / self.loss_steps).item() if stepped else math.nan
        row["batch_loss"] = batch_loss
        self.loss_sum, self.loss_steps = torch.zeros(()), 0
        self.history.append(row)
        if not math.isfinite(row["train_loss"]) or (stepped and not math.isfinite(batch_loss)):
            self.status = "diverged"
            self.message = f"the loss became non-finite by step {self.step_count}: lower the learning rate and reset"
            return row
        if not layers:
            return row
        modules = [(f"acts.{i}", m) for i, m in enumerate(self.model.acts)]
        stats = activation_stats(self.model, self.probe, HIST_BINS, modules)
        hists = []
        for i, s in enumerate(stats):
            grad = self.model.linears[i].weight.grad
            hists.append(s.pop("hist"))
            s.pop("module")
            self.layer_records.append({"step": self.step_count, **s,
                                       "grad_norm": grad.norm().item() if grad is not None else math.nan,
                                       "update_ratio": self.ratios.get(i, math.nan)})
        self.hists.append(np.array(hists))
        return row

    @_on_own_generator
    def run(self, steps: int, record_every: int = 10) -> "Engine":
        """Train `steps` steps synchronously, recording every record_every steps (and at the start and end)."""
        _int_in("steps", steps, 0, 10**7)
        _int_in("record_every", record_every, 1, 10**7)
        if not self.history:
            self.record()
        with CoreTurns() as turns:  # other processes training on these cores take turns with this one
            for i in range(1, steps + 1):
                if self.status == "diverged":
                    break
                due = i % record_every == 0 or i == steps
                self.step(measure=due)
                if due:
                    self.record()
                turns.tick()
        return self

    @_on_own_generator
    def train_for(self, seconds: float, share_cores: bool | None = None) -> int:
        """Train until `seconds` have passed (at least one step); returns the steps taken.

        share_cores: take turns at the cores with other processes (actlab.cores.CoreTurns); None decides by
        ACTLAB_SHARE_CORES (ValueError naming it for a value that is not a boolean word), False trains without."""
        deadline, done = time.perf_counter() + seconds, 0
        with CoreTurns(enabled=share_cores) as turns:  # waits while another process has its turn at the cores
            while True:
                self.step()
                done += 1
                turns.tick()
                if time.perf_counter() >= deadline or self.status == "diverged":
                    return done

    def histograms(self) -> dict[int, tuple[np.ndarray, np.ndarray, str, tuple[float, float]]]:
        """Per hidden layer: (steps, shares (records, bins), activation, range), as stats.plot_colorful_dimension takes."""
        steps = np.array(sorted({r["step"] for r in self.layer_records}))
        depth = len(self.model.acts)
        rows = self.layer_records[-depth:] if self.layer_records else []
        shares = np.array(self.hists)
        return {r["layer"]: (steps[-len(shares):], shares[:, i], r["activation"], r["range"]) for i, r in enumerate(rows)}

    def history_frame(self):
        """One row per record: step, train/test loss and accuracy, mean mini-batch loss since the last record."""
        import pandas as pd

        return pd.DataFrame(self.history)

    def layer_frame(self):
        """One row per (record, hidden layer): activation statistics, gradient norm and log10 update ratio."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in r.items() if k != "range"} for r in self.layer_records])

    @one_thread()
    @torch.no_grad()
    def boundary(self) -> np.ndarray:
        """RGB image (GRID, GRID, 3) in [0, 1] of the predicted class over the grid, paler where less sure."""
        was = self.model.training
        self.model.eval()
        probs = F.softmax(self.model(self.grid), 1).numpy()
        self.model.train(was)
        if self.classes == 2:
            p = probs[:, 1:2]
            rgb = COLOURS[0] * (1 - p) + COLOURS[1] * p
            sure = np.abs(2 * p - 1)
        else:
            rgb = COLOURS[probs.argmax(1) % len(COLOURS)]
            sure = (probs.max(1, keepdims=True) - 1 / self.classes) / (1 - 1 / self.classes)
        rgb = 1 - (1 - rgb) * (0.15 + 0.6 * sure)
        return rgb.reshape(GRID, GRID, 3)


# ----------------------------------------------------------------------------- drawing


class _Canvas:
    """A figure whose static parts are cached; a frame draws only the animated artists and returns a JPEG.

    background = None makes the next frame draw the static parts again. A canvas with a layered axis
    (layered = (axis, artists above it)) keeps a base without them, so that new limits on that axis alone
    (background = None, base kept) redraw only the axis and the artists above it; base = None draws all.
    """

    def __init__(self, width: float, height: float, dpi: int = 80):
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.background = None
        self.base = None
        self.layered = None
        self.frozen = False
        self.full_draws = 0  # how often the whole figure was drawn
        self.axis_draws = 0  # how often only the layered axis (and the artists above it) was drawn

    def jpeg(self, artists) -> bytes:
        """Restore the cached background (drawing it first if stale), draw artists, encode a JPEG."""
        if self.background is None:
            self._draw_background()
        else:
            self.canvas.restore_region(self.background)
        for artist in artists:
            self.figure.draw_artist(artist)
        buffer = BytesIO()
        width, height = self.canvas.get_width_height()
        rgba = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        rgba.convert("RGB").save(buffer, format="jpeg", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def _draw_background(self) -> None:
        """Draw and cache the static parts: the whole figure, or the cached base with the layered axis and the
        artists above it. Grid lines of the two axes cross where they overlap: same colour and alpha, so the
        order does not change a pixel (alpha blending of equal layers commutes)."""
        if self.layered is None:
            self.canvas.draw()
            self.full_draws += 1
        else:
            layered = [self.layered[0], *self.layered[1]]
            if self.base is None:
                for artist in layered:
                    artist.set_visible(False)
                try:
                    self.canvas.draw()
                finally:
                    for artist in layered:
                        artist.set_visible(True)
                self.base = self.canvas.copy_from_bbox(self.figure.bbox)
                self.full_draws += 1
            else:
                self.canvas.restore_region(self.base)
                self.axis_draws += 1
            for artist in layered:
                self.figure.draw_artist(artist)
        if not self.frozen:
            self._freeze_labels()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _freeze_labels(self) -> None:
        """Pin every axis label where the first draw put it, so that later full draws (new axis limits) skip
        matplotlib's label placement from tick-label bounding boxes (a third of a full draw; measured)."""
        for ax in self.figure.axes:
            for axis in (ax.xaxis, ax.yaxis):  # an empty label is placed too: the cost is the same
                where = axis.label.get_transform().transform(axis.label.get_position())
                axis.set_label_coords(*ax.transAxes.inverted().transform(where))
        self.frozen = True


class View:
    """The three live images: decision boundary with points, loss curves, and the per-layer panel."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.layout()

    def layout(self) -> None:
        """Build the figures for the engine's current network and data (called after every rebuild)."""
        with matplotlib.rc_context({"axes.titley": 1.0}):  # titles at a fixed height: no placement per full draw
            self._build_figures()

    def _build_figures(self) -> None:
        """The loss figure and the per-layer panel; their lines are animated artists redrawn each frame."""
        self.points = self._points_overlay()
        self._build_loss_figure()
        self.layers = _Canvas(10.5, 2.7)
        fig = self.layers.figure
        fig.subplots_adjust(left=0.04, right=0.99, bottom=0.17, top=0.86, wspace=0.3)
        ax_h, ax_f, ax_g, ax_u = fig.subplots(1, 4)
        self._build_histogram_axes(ax_h)
        depth = self.engine.config["depth"]
        layers, line = np.arange(1, depth + 1), dict(ms=3, animated=True)
        for ax in (ax_f, ax_g, ax_u):
            ax.set_xlim(0.5, depth + 0.5)
            ax.set_xlabel("layer (1 = input side)")
            ax.grid(alpha=0.3)
        ax_f.set(ylim=(-0.03, 1.03), title="saturated, near-dead and dead")  # actlab.vocabulary's terms
        self.sat_line = ax_f.plot(layers, np.zeros(depth), "o-", color="tab:orange", label="saturated", **line)[0]
        self.near_dead_line = ax_f.plot(layers, np.zeros(depth), "^--", color="tab:gray", label="near-dead units",
                                        **line)[0]
        self.dead_line = ax_f.plot(layers, np.zeros(depth), "s-", color="k", label="dead units", **line)[0]
        ax_f.legend(fontsize=7, loc="upper left")
        ax_g.set(ylim=(-6, 2), title="log10 weight-gradient norm")
        self.grad_line = ax_g.plot(layers, np.zeros(depth), "o-", color="tab:purple", **line)[0]
        ax_u.set(ylim=(-7, 0), title="log10 update / weight (std)")
        ax_u.axhline(GUIDE_RATIO, color="k", ls="--", lw=1)
        ax_u.text(depth + 0.4, GUIDE_RATIO + 0.15, "1e-3", ha="right", fontsize=7)
        self.ratio_line = ax_u.plot(layers, np.zeros(depth), "o-", color="tab:green", **line)[0]
        self.limit_axes = {"grad": ax_g, "ratio": ax_u}
        self.curve, self.curve_rows, self.curve_of, self.lowest = np.empty((256, 3)), 0, None, math.inf
        self.layers_jpeg, self.layers_for = None, None

    def _build_loss_figure(self) -> None:
        """Train and test loss over steps, log scale; the step axis is the part that widens most often."""
        self.loss = _Canvas(4.2, 3.3)
        self.loss_ax = self.loss.figure.add_axes((0.15, 0.14, 0.8, 0.76))
        self.loss_ax.set(yscale="log", ylim=(1e-2, 5), xlim=(0, 128), xlabel="step", ylabel="cross-entropy loss",
                         title="loss (train: full set, test: held out)")
        self.loss_ax.grid(alpha=0.3)
        self.train_line = self.loss_ax.plot([], [], color="tab:blue", lw=1.5, label="train", animated=True)[0]
        self.test_line = self.loss_ax.plot([], [], color="tab:red", lw=1.5, label="test", animated=True)[0]
        legend = self.loss_ax.legend(loc="upper right", fontsize=8)
        self.loss.layered = (self.loss_ax.xaxis, [*self.loss_ax.spines.values(), legend])

    def _build_histogram_axes(self, ax_h) -> None:
        """The activation histogram panel: one line per layer (dark: layer 1, light: last) in one collection."""
        e = self.engine
        depth = e.config["depth"]
        self.ranges = [hist_range(a, p) for a, p in zip(e.config["activation"], e.config["params"])]
        ax_h.set(xlim=(min(r[0] for r in self.ranges), max(r[1] for r in self.ranges)), yticks=[],
                 title="activation histogram (sqrt scale)", xlabel="output (dark: layer 1, light: last)")
        cmap = matplotlib.colormaps["viridis"]
        self.hist_lines = LineCollection([], colors=[cmap(0.85 * i / max(depth - 1, 1)) for i in range(depth)],
                                         linewidths=1.2, animated=True)  # one artist for every layer: cheap to draw
        ax_h.add_collection(self.hist_lines)
        self.hist_ax = ax_h

    def _points_overlay(self) -> Image.Image:
        """The data points as a transparent RGBA image over the boundary (train: filled, test: ringed)."""
        e = self.engine
        x0, x1, y0, y1 = e.grid_extent
        overlay = Image.new("RGBA", (BOUNDARY_PX, BOUNDARY_PX), (0, 0, 0, 0))
        from PIL import ImageDraw

        draw = ImageDraw.Draw(overlay)
        for x, y, filled in ((e.x_train, e.y_train, True), (e.x_test, e.y_test, False)):
            u = (x[:, 0].numpy() - x0) / (x1 - x0) * (BOUNDARY_PX - 1)
            v = (1 - (x[:, 1].numpy() - y0) / (y1 - y0)) * (BOUNDARY_PX - 1)
            for a, b, k in zip(u, v, y.numpy()):
                colour = tuple(int(255 * c) for c in COLOURS[k % len(COLOURS)])
                box = (a - 2.5, b - 2.5, a + 2.5, b + 2.5)
                if filled:
                    draw.ellipse(box, fill=colour + (255,), outline=(255, 255, 255, 255))
                else:
                    draw.ellipse(box, outline=colour + (255,), width=2)
        return overlay

    def boundary_jpeg(self) -> bytes:
        """The decision boundary (bilinear upsampling of the grid) with the data points, as a JPEG."""
        grid = (self.engine.boundary()[::-1] * 255).astype(np.uint8)  # row 0 at the top
        image = Image.fromarray(grid, "RGB").resize((BOUNDARY_PX, BOUNDARY_PX), Image.BILINEAR).convert("RGBA")
        image.alpha_composite(self.points)
        buffer = BytesIO()
        image.convert("RGB").save(buffer, format="jpeg", quality=JPEG_QUALITY)
        return buffer.getvalue()

    def _fit(self, ax, canvas: _Canvas, values) -> None:
        """Widen ax's y limits (to whole units) if finite values fall outside; the cached background goes stale."""
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            return
        low, high = ax.get_ylim()
        if values.min() < low or values.max() > high:
            ax.set_ylim(min(low, math.floor(values.min())), max(high, math.ceil(values.max())))
            canvas.background = None

    def frame(self) -> tuple[bytes, bytes, bytes]:
        """JPEGs of the boundary, the loss curves and the layer panel at the engine's current state."""
        return self.boundary_jpeg(), self.loss_jpeg(), self.layer_jpeg()

    def _extend_curve(self) -> None:
        """Append the history rows recorded since the last frame to self.curve (step, train loss, test loss):
        a frame costs the same after ten thousand records as after ten."""
        history = self.engine.history
        if self.curve_of is not history or self.curve_rows > len(history):  # a rebuilt run: start again
            self.curve_rows, self.curve_of, self.lowest = 0, history, math.inf
        new = history[self.curve_rows:]
        if not new:
            return
        if self.curve_rows + len(new) > len(self.curve):
            self.curve = np.concatenate([self.curve, np.empty((len(self.curve) + len(new), 3))])
        rows = np.array([(r["step"], r["train_loss"], r["test_loss"]) for r in new], dtype=float).reshape(-1, 3)
        self.curve[self.curve_rows:self.curve_rows + len(new)] = rows
        self.curve_rows += len(new)
        positive = rows[:, 1][rows[:, 1] > 0]
        if len(positive):
            self.lowest = min(self.lowest, float(positive.min()))

    def loss_jpeg(self) -> bytes:
        """The train and test loss curves over the steps as a JPEG; the axes widen (step limit doubled, loss
        limit a decade lower) when the curves leave them, which redraws the cached background."""
        self._extend_curve()
        curve = self.curve[:self.curve_rows]
        if self.curve_rows and curve[-1, 0] > self.loss_ax.get_xlim()[1]:
            self.loss_ax.set_xlim(0, 2 ** math.ceil(math.log2(curve[-1, 0])))
            self.loss.background = None
        low = self.lowest if math.isfinite(self.lowest) else 1.0
        if low < self.loss_ax.get_ylim()[0]:
            self.loss_ax.set_ylim(10 ** math.floor(math.log10(low)), self.loss_ax.get_ylim()[1])
            self.loss.background = self.loss.base = None
        self.train_line.set_data(curve[:, 0], curve[:, 1])
        self.test_line.set_data(curve[:, 0], curve[:, 2])
        return self.loss.jpeg([self.train_line, self.test_line])

    def layer_jpeg(self) -> bytes:
        """The per-layer panel at the last recorded statistics as a JPEG (the previous one if none is new)."""
        e = self.engine
        latest = e.hists[-1] if e.hists else None
        if self.layers_jpeg is not None and latest is self.layers_for and self.layers.background is not None:
            return self.layers_jpeg
        depth = e.config["depth"]
        if latest is not None:
            shares = np.sqrt(latest)
            centres = [lo + (np.arange(shares.shape[1]) + 0.5) * (hi - lo) / shares.shape[1] for lo, hi in self.ranges]
            self.hist_lines.set_segments([np.column_stack([c, h]) for c, h in zip(centres, shares)])
            self.hist_ax.set_ylim(0, float(shares.max()) * 1.05 + 1e-9)  # no tick labels: the background stays valid
            rows = e.layer_records[-depth:]
            self.sat_line.set_ydata([r["saturated_fraction"] for r in rows])
            self.near_dead_line.set_ydata([r["near_dead_fraction"] for r in rows])
            self.dead_line.set_ydata([r["dead_fraction"] for r in rows])
            grads = [math.log10(r["grad_norm"]) if r["grad_norm"] > 0 else -math.inf for r in rows]
            ratios = [r["update_ratio"] for r in rows]
            self._fit(self.limit_axes["grad"], self.layers, grads)
            self._fit(self.limit_axes["ratio"], self.layers, ratios)
            floor = {"grad": self.limit_axes["grad"].get_ylim()[0], "ratio": self.limit_axes["ratio"].get_ylim()[0]}
            self.grad_line.set_ydata([max(g, floor["grad"]) for g in grads])  # -inf (no gradient) on the bottom edge
            self.ratio_line.set_ydata([max(r, floor["ratio"]) for r in ratios])  # -inf: no measurable update
        self.layers_jpeg = self.layers.jpeg([self.hist_lines, self.sat_line, self.near_dead_line, self.dead_line,
                                             self.grad_line, self.ratio_line])
        self.layers_for = latest
        return self.layers_jpeg


# ----------------------------------------------------------------------------- the widget


def _guarded(method):
    """A widget callback that never raises: any error is shown in the widget's status line with its reason."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, never raised into the kernel
            self._refuse(exc)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper



STYLE = {"description_width": "initial"}


def _html_with_class(css_class: str, layout=None) -> widgets.HTML:
    """An HTML widget carrying a CSS class (the browser tests find it by that)."""
    html = widgets.HTML(layout=layout) if layout is not None else widgets.HTML()
    html.add_class(css_class)
    return html


class Playground(widgets.VBox):
    """The live playground widget; `run(steps)` trains headless. Settings as in actlab.playground.

    clock: the monotonic clock (seconds) the live loop paces its frames by, time.perf_counter; tests replace it
    with a fake one so that no verdict depends on the machine's load.
    """

    def __init__(self, data=None, fps: float = FPS, **config):
        self.engine = Engine(config, data)
        self.data_name = "data" if data is not None else None
        self.fps = _float_in("fps", fps, 0.5, 60)
        self.view = View(self.engine)
        self._task = None
        self._running = False
        self._syncing = False
        self._code_for = None
        self._share_cores = None  # CoreTurns(enabled=...) for the live loop; False when ACTLAB_SHARE_CORES is bad
        self.clock = time.perf_counter
        self.frames, self.frame_times, self.frame_cpu = 0, [], []
        self._build_controls()
        self.boundary_image = widgets.Image(format="jpeg", layout=widgets.Layout(width="264px"))
        self.loss_image = widgets.Image(format="jpeg", layout=widgets.Layout(width="336px"))
        self.layer_image = widgets.Image(format="jpeg", layout=widgets.Layout(width="840px"))
        super().__init__([self.controls, widgets.HBox([self.boundary_image, self.loss_image]), self.layer_image,
                          self.readout, self.code])
        self.add_class("actlab-playground")
        if not self.engine.history:
            self.engine.record()
        self.redraw()

    # -- headless API
    def run(self, steps: int, record_every: int = 10) -> "Playground":
        """Train `steps` steps synchronously (no event loop needed), then redraw once."""
        self.engine.run(steps, record_every)
        self.redraw()
        return self

    @property
    def history(self):
        """DataFrame: one row per record (step, train/test loss and accuracy, mean mini-batch loss)."""
        return self.engine.history_frame()

    @property
    def layer_stats(self):
        """DataFrame: one row per (record, hidden layer) with mean, std, saturated, dead, near-dead and near-zero
        fractions (actlab.vocabulary's terms on the PROBE training points, via actlab.stats.layer_stats), gradient
        norm and log10 update ratio."""
        return self.engine.layer_frame()

    @property
    def config(self) -> dict:
        """The current settings, as actlab.playground(**config) takes them."""
        c = dict(self.engine.config)
        c["activation"], c["params"] = list(c["activation"]), [dict(p) for p in c["params"]]
        return c

    def code_line(self) -> str:
        """One line of Python that rebuilds this configuration (user arrays appear as data=data)."""
        return code_line(self.engine.config, self.data_name)

    def plot(self, title: str = "") -> Figure:
        """A static figure of the current state: boundary, loss and the layer panel, stacked (title on top)."""
        fig = Figure(figsize=(10.5, 6.2), dpi=80, layout="constrained")
        if title:
            fig.suptitle(title, fontsize=11)
        top, bottom = fig.subfigures(2, 1, height_ratios=[3.3, 2.7])
        ax_b, ax_l = top.subplots(1, 2, width_ratios=[1, 1.3])
        frames = self.view.frame()
        for ax, jpeg in zip((ax_b, ax_l), frames[:2]):
            ax.imshow(Image.open(BytesIO(jpeg)))
            ax.set_axis_off()
        ax = bottom.subplots()
        ax.imshow(Image.open(BytesIO(frames[2])))
        ax.set_axis_off()
        return fig

    def plot_colorful_dimension(self, title: str = "") -> Figure:
        """fastai's colorful dimension of this run: each hidden layer's output histogram over the recorded steps."""
        from .stats import plot_colorful_dimension

        return plot_colorful_dimension(self.engine, title)

    def updates(self):
        """DataFrame of the recorded update ratios as stats.plot_update_ratios takes them: step, parameter
        (linears.{i}.weight, input side first) and log10_ratio (-inf where a weight did not move)."""
        frame = self.layer_stats
        frame = frame[frame["step"] > 0]  # the record at step 0 comes before any update
        return frame.assign(parameter=[f"linears.{layer - 1}.weight" for layer in frame["layer"]],
                            log10_ratio=frame["update_ratio"])[["step", "parameter", "log10_ratio"]]

    def plot_update_ratios(self, title: str = "") -> Figure:
        """Karpathy's view of this run: each hidden layer's log10 update/weight ratio over the recorded steps,
        with the 1e-3 guide; raises ValueError before the first recorded update."""
        from .stats import plot_update_ratios

        return plot_update_ratios(self.updates(), title)

    def plot_activation_histograms(self, title: str = "") -> Figure:
        """Karpathy's layout at the current weights: every hidden layer's output histogram on the probe points."""
        from .stats import plot_activation_histograms

        with self.engine.own_generator():  # RReLU draws in training mode: from the run's generator
            return plot_activation_histograms(self.engine.model, self.engine.probe, title)

    def plot_gradient_histograms(self, title: str = "") -> Figure:
        """The UvA view at the current weights: a histogram of each weight tensor's gradient on the training set."""
        from .stats import plot_gradient_histograms

        with self.engine.own_generator():
            return plot_gradient_histograms(self.engine.model, self.engine.x_train, self.engine.y_train, title)

    def static_png(self) -> bytes:
        """The current images stacked into one PNG, for viewers that do not run widgets."""
        images = [Image.open(BytesIO(v)).convert("RGB") for v in (self.boundary_image.value, self.loss_image.value,
                                                                  self.layer_image.value)]
        width = max(images[0].width + images[1].width, images[2].width)
        sheet = Image.new("RGB", (width, max(images[0].height, images[1].height) + images[2].height), "white")
        sheet.paste(images[0], (0, 0))
        sheet.paste(images[1], (images[0].width, 0))
        sheet.paste(images[2], (0, max(images[0].height, images[1].height)))
        buffer = BytesIO()
        sheet.save(buffer, format="png")
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "image/png": base64.b64encode(self.static_png()).decode("ascii")}, metadata

    # -- controls
    def _build_controls(self) -> None:
        """The setting widgets, the layer/activation pickers, the buttons and the readouts, laid out in rows."""
        self.w = self._setting_widgets()
        for name, control in self.w.items():
            control.style = STYLE
            control.observe(functools.partial(self._on_widget, name), names="value")
        c, small = self.engine.config, widgets.Layout(width="190px")
        self.layer_pick = widgets.Dropdown(options=self._layer_options(), value="all", description="layer",
                                           layout=small, style=STYLE)
        self.act_pick = widgets.Dropdown(options=activation_names(), value=c["activation"][0],
                                         description="activation", layout=widgets.Layout(width="230px"), style=STYLE)
        self.param_box = widgets.HBox([])
        self.layer_pick.observe(self._on_layer_pick, names="value")
        self.act_pick.observe(self._on_activation, names="value")
        self.buttons = {name: self._button(name, icon) for name, icon in
                        (("start", "play"), ("pause", "pause"), ("step", "step-forward"), ("reset", "undo"))}
        self.status = _html_with_class("actlab-status", widgets.Layout(min_width="360px"))
        self.readout = _html_with_class("actlab-readout")
        self.code = widgets.Textarea(layout=widgets.Layout(width="99%", height="3.2em"), disabled=False)
        self.code.add_class("actlab-code")
        self.controls = widgets.VBox([
            widgets.HBox([self.w[k] for k in ("dataset", "noise", "test_fraction", "n", "csv")]),
            widgets.HBox([self.w[k] for k in ("depth", "width", "init", "batch_norm")]),
            widgets.HBox([self.layer_pick, self.act_pick, self.param_box]),
            widgets.HBox([self.w[k] for k in ("optimizer", "lr", "batch_size", "seed")]),
            widgets.HBox([*self.buttons.values(), self.status]),
        ])
        self._sync_controls()

    def _setting_widgets(self) -> dict:
        """One widget per setting of the configuration (data, network, optimiser, seed), at its current value."""
        c, small = self.engine.config, widgets.Layout(width="190px")
        slider = dict(continuous_update=False, layout=small)
        return {
            "dataset": widgets.Dropdown(options=DATASETS, value=c["dataset"], description="data", layout=small),
            "noise": widgets.FloatSlider(value=c["noise"], min=0, max=2, step=0.05, description="noise", **slider),
            "test_fraction": widgets.FloatSlider(value=c["test_fraction"], min=0.05, max=0.9, step=0.05,
                                                 description="test share", **slider),
            "n": widgets.BoundedIntText(value=c["n"], min=8, max=MAX_POINTS, description="points", layout=small),
            "depth": widgets.IntSlider(value=c["depth"], min=1, max=MAX_DEPTH, description="depth", **slider),
            "width": widgets.IntSlider(value=c["width"], min=1, max=MAX_WIDTH, description="width", **slider),
            "init": widgets.Dropdown(options=INITS, value=c["init"], description="init", layout=small),
            "batch_norm": widgets.Checkbox(value=c["batch_norm"], description="batch norm", indent=False,
                                           layout=widgets.Layout(width="110px")),
            "optimizer": widgets.Dropdown(options=OPTIMIZERS, value=c["optimizer"], description="optimiser",
                                          layout=small),
            "lr": widgets.FloatLogSlider(value=c["lr"], base=10, min=-4, max=1, step=0.1, description="lr",
                                         readout_format=".2g", **slider),
            "batch_size": widgets.BoundedIntText(value=c["batch_size"], min=1, max=MAX_POINTS, description="batch",
                                                 layout=small),
            "seed": widgets.BoundedIntText(value=c["seed"], min=0, max=2**31 - 1, description="seed", layout=small),
            "csv": widgets.Text(value=c["csv"] or "", description="csv file", placeholder="x1, x2, label per row",
                                continuous_update=False, layout=widgets.Layout(width="260px")),
        }

    def _on_widget(self, name: str, change: dict) -> None:
        """A setting widget moved: pass its value on (an empty csv field means no file)."""
        self._on_setting(name, (change["new"] or None) if name == "csv" else change["new"])

    def _button(self, name: str, icon: str) -> widgets.Button:
        """A control button calling self._on_<name>, with a CSS class the browser tests find it by."""
        button = widgets.Button(description=name, icon=icon, layout=widgets.Layout(width="90px"))
        button.add_class(f"actlab-{name}")
        button.on_click(getattr(self, f"_on_{name}"))
        return button

    def _layer_options(self) -> list:
        return ["all"] + list(range(1, self.engine.config["depth"] + 1))

    def _selected_layers(self) -> list[int]:
        pick = self.layer_pick.value
        return list(range(self.engine.config["depth"])) if pick == "all" else [pick - 1]

    def _param_sliders(self) -> None:
        """One slider per parameter of the chosen activation, at the selected layer's values."""
        name = lookup(self.act_pick.value).name
        current = self.engine.config["params"][self._selected_layers()[0]]
        same = self.engine.config["activation"][self._selected_layers()[0]] == name
        sliders = []
        for p in lookup(name).params:
            slider = widgets.FloatSlider(value=current.get(p.name, p.default) if same else p.default, min=p.low,
                                         max=p.high, step=p.step, description=p.name, continuous_update=False,
                                         readout_format=".3g", layout=widgets.Layout(width="220px"))
            slider.observe(self._on_param, names="value")
            sliders.append(slider)
        self.param_box.children = sliders

    def _set_status(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.status.value = f"<span style='color:{colour}'>{text}</span>"

    def _refuse(self, exc: Exception) -> None:
        """Show why a value was refused and put the controls back to the settings in use."""
        self._set_status(f"refused: {exc}", error=True)
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Make every control show the engine's configuration (without triggering the callbacks)."""
        c = self.engine.config
        self._syncing = True
        try:
            for name, control in self.w.items():
                value = (c[name] or "") if name == "csv" else c[name]
                if control.value != value:
                    control.value = value
            own_data = self.engine.data_arrays is not None or bool(c["csv"])
            for name in ("dataset", "noise", "n"):  # they do not apply to the reader's own points
                self.w[name].disabled = own_data
            self.w["csv"].disabled = self.engine.data_arrays is not None
            if list(self.layer_pick.options) != self._layer_options():
                self.layer_pick.options = self._layer_options()
                self.layer_pick.value = "all"
            self.act_pick.value = c["activation"][self._selected_layers()[0]]
            self._param_sliders()
        finally:
            self._syncing = False

    @_guarded
    def _on_setting(self, name: str, value) -> None:
        if self._syncing:
            return
        rebuilt = self._apply(**{name: value})
        what = "rebuilt from the seed" if rebuilt else ("applied on resume" if not self._running else "applied")
        self._set_status(f"{name} = {value!r}: {what}")

    def _apply(self, **changes) -> bool:
        """Apply settings to the engine; redraw the whole view when the run was rebuilt. Returns whether it was."""
        before = self.engine.step_count
        changed = self.engine.update(**changes)
        rebuilt = any(k not in LIVE for k in changed) or (before and self.engine.step_count == 0)
        if rebuilt:
            self.engine.record()
            self.view.layout()
            self._sync_controls()
        elif any(k in changed for k in ("activation", "params")):
            self.view.layout()  # histogram ranges follow the activations
        self.redraw()
        return bool(rebuilt)

    @_guarded
    def _on_layer_pick(self, change=None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.act_pick.value = self.engine.config["activation"][self._selected_layers()[0]]
            self._param_sliders()
        finally:
            self._syncing = False

    def _layer_settings(self, name: str, params: dict) -> dict:
        acts, plist = list(self.engine.config["activation"]), [dict(p) for p in self.engine.config["params"]]
        for i in self._selected_layers():
            acts[i], plist[i] = name, dict(params)
        return {"activation": acts, "params": plist}

    @_guarded
    def _on_activation(self, change=None) -> None:
        if self._syncing:
            return
        name = lookup(self.act_pick.value).name
        self._apply(**self._layer_settings(name, {}))
        self._syncing = True
        try:
            self._param_sliders()
        finally:
            self._syncing = False
        where = "all layers" if self.layer_pick.value == "all" else f"layer {self.layer_pick.value}"
        self._set_status(f"{where}: {lookup(name).display} ({'applied' if self._running else 'applied on resume'})")

    @_guarded
    def _on_param(self, change=None) -> None:
        if self._syncing:
            return
        params = {s.description: s.value for s in self.param_box.children}
        self._apply(**self._layer_settings(lookup(self.act_pick.value).name, params))
        self._set_status(f"{lookup(self.act_pick.value).label(**params)}: {'applied' if self._running else 'applied on resume'}")

    @_guarded
    def _on_start(self, button=None) -> None:
        """Start the live loop unless one runs (clicking again does nothing); see _stop for the one-loop rule."""
        if self._running:
            return
        loop = self._event_loop()
        if loop is None:
            self._set_status("refused: no running event loop here (outside a notebook kernel); use run(steps)",
                             error=True)
            return
        if self.engine.status == "diverged":
            self._set_status(f"refused: {self.engine.message}", error=True)
            return
        self._share_cores, why = self._turns_setting()
        self._running = True
        self.engine.status = "training"
        self._set_status(f"training{why}", error=bool(why))
        self._task = loop.create_task(self._loop(self._task))  # the new loop waits until the old one has ended

    @staticmethod
    def _turns_setting() -> tuple[bool | None, str]:
        """(share_cores for Engine.train_for, a note for the status line): with an ACTLAB_SHARE_CORES that is not a
        boolean word the live loop trains without taking turns at the cores, and the status line says why."""
        try:
            sharing_enabled()
        except ValueError as exc:
            return False, f" without taking turns at the cores: {exc}"
        return None, ""

    @staticmethod
    def _event_loop():
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            try:
                from tornado.ioloop import IOLoop

                return IOLoop.current(instance=False).asyncio_loop if IOLoop.current(instance=False) else None
            except Exception:  # noqa: BLE001 - no kernel loop: the caller says so
                return None

    def _stop(self) -> bool:
        """Stop the live loop: cancel its task (it ends at its next yield, before another step); whether it ran.

        The widget owns at most one live loop, self._task: start makes a new one only when none runs, and the new
        one first waits for the cancelled one to end, so two loops never train at once whatever the clicks."""
        was_running, self._running = self._running, False
        if self._task is not None:
            self._task.cancel()
        return was_running

    @_guarded
    def _on_pause(self, button=None) -> None:
        was_running = self._stop()
        if self.engine.status == "training":
            self.engine.status = "paused"
        if was_running and self.engine.history and self.engine.history[-1]["step"] != self.engine.step_count:
            self.engine.record()  # show the state the pause froze, then say so
            self.redraw()
        self._set_status(f"paused at step {self.engine.step_count}")

    @_guarded
    def _on_step(self, button=None) -> None:
        if self._running or self.engine.status == "diverged":
            return
        self.engine.step(measure=True)
        self.engine.record()
        self.redraw()
        self._set_status(f"one step: now at step {self.engine.step_count}")

    @_guarded
    def _on_reset(self, button=None) -> None:
        self._stop()
        self.engine.build()
        self.engine.record()
        self.view.layout()
        self.redraw()
        self._set_status("reset: the run starts again from its seed")

    def _frame(self) -> None:
        """End a frame: a step (measuring update ratios on layer frames), a record, a redraw (its cost is kept).

        Every LAYER_EVERY-th frame is a layer frame: it also records the per-layer statistics and redraws
        the layer panel; the others redraw the boundary, the loss curves and the readout only."""
        start, cpu = self.clock(), time.thread_time()
        layers = self.frames % LAYER_EVERY == 0
        self.engine.step(measure=layers)
        self.engine.record(layers=layers)
        self.redraw()
        self.frame_times.append(self.clock() - start)
        # CPU of this thread (the measured step, the record, the redraw): process time would add what torch's other
        # OpenMP threads spend spinning at their barriers, and count a 12 ms frame as 30 ms (then the floor below
        # held the playground at 4-5 frames/s).
        self.frame_cpu.append(time.thread_time() - cpu)
        self.frames += 1

    def _training_budget(self) -> float:
        """Seconds to train before the next frame: what the last frame left of 1/fps, but at least enough that
        a typical frame (the median CPU time of the last 10) takes no more than 1 - TRAIN_SHARE of the time.

        CPU time, not wall time: a frame that waits for a core another process holds (a loaded machine, the
        browser on the same cores) does not lower the frame rate; a frame that computes long (a deep, wide
        net) does, and training keeps its share."""
        if not self.frame_times:
            return 1 / self.fps
        floor = float(np.median(self.frame_cpu[-10:])) * TRAIN_SHARE / (1 - TRAIN_SHARE)
        # Frames are due every 1/fps from the last one's due time, so the loop's own overhead (and frames that
        # cost more than the one before) does not pile up into a lower rate; a period already late is not made up.
        now = self.clock()
        self._due = max(getattr(self, "_due", 0.0) + 1 / self.fps, now)
        frame = float(np.median(self.frame_times[-4:]))
        return max(self._due - now - frame, floor, 0.001)

    async def _loop(self, previous: asyncio.Task | None = None) -> None:
        """Train in slices of at most SLICE seconds, yielding to the event loop after each; redraw fps times a second.

        previous: the loop this one replaces (cancelled by pause or reset); this one starts once it has ended."""
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        try:
            while self._running and self.engine.status != "diverged":
                start, steps = self.clock(), 0
                budget = self._training_budget()
                while self._running and self.clock() - start < budget and self.engine.status != "diverged":
                    steps += self.engine.train_for(min(SLICE, budget - (self.clock() - start)), self._share_cores)
                    await asyncio.sleep(0)  # let clicks, slider moves and other cells run
                if not self._running or self.engine.status == "diverged":
                    break
                self._frame()
                self._rate = (steps + 1, self.clock() - start)
                await asyncio.sleep(0)
        except Exception as exc:  # noqa: BLE001 - the task must not die silently
            self._running = False
            self._refuse(exc)
        if self.engine.status == "diverged":  # not reached when pause or reset cancelled the loop
            self._running = False
            self.engine.record()
            self.redraw()
            self._set_status(self.engine.message, error=True)

    def redraw(self) -> None:
        """Send the current images, the readout and the configuration line to the view."""
        boundary, loss, layers = self.view.frame()
        self.boundary_image.value, self.loss_image.value, self.layer_image.value = boundary, loss, layers
        row = self.engine.history[-1] if self.engine.history else {}
        rate = ""
        if getattr(self, "_rate", None) and self._running:
            steps, seconds = self._rate
            rate = f" · {steps / seconds:,.0f} steps/s · {1 / seconds:.1f} frames/s"
        self.readout.value = (f"<span class='actlab-step'>step {self.engine.step_count}</span> · train loss "
                              f"{row.get('train_loss', math.nan):.4f} · test loss {row.get('test_loss', math.nan):.4f}"
                              f" · test accuracy {row.get('test_acc', math.nan):.3f}{rate}")
        if self._code_for is not self.engine.config:  # the line changes only with the configuration
            self.code.value, self._code_for = self.code_line(), self.engine.config


def summary(steps: int, record_every: int = 10, **config) -> dict:
    """Numbers that describe one headless run (no widget) of `steps` steps of a configuration, for over_seeds:
    test_acc and train_loss at the end; dead_start and dead_end, the dead fraction averaged over the hidden layers
    at the first and last record, and near_dead_start and near_dead_end, the near-dead fraction likewise (the terms
    of actlab.vocabulary: dead = slope exactly 0 on every probe point, near-dead = |slope| below 1% of the
    activation's peak slope on every probe point, so dead units are near-dead); ratio_first and ratio_last, layer
    1's and the last hidden layer's log10 update/weight ratio averaged over the recorded updates, each floored at
    log10(2^-24) = -7.2, float32's relative resolution (a weight that did not move gives -inf). Settings as in playground(); ValueError if bad."""
    engine = Engine(config).run(steps, record_every)
    history, layers = engine.history_frame(), engine.layer_frame()
    dead = layers.groupby("step")["dead_fraction"].mean()
    near_dead = layers.groupby("step")["near_dead_fraction"].mean()
    moved = layers[layers["step"] > 0]
    floor = math.log10(2.0 ** -24)
    ratio = moved.groupby("layer")["update_ratio"].mean().clip(lower=floor) if len(moved) else None
    depth = engine.config["depth"]
    return {"test_acc": history["test_acc"].iloc[-1], "train_loss": history["train_loss"].iloc[-1],
            "dead_start": dead.iloc[0], "dead_end": dead.iloc[-1],
            "near_dead_start": near_dead.iloc[0], "near_dead_end": near_dead.iloc[-1],
            "ratio_first": ratio.loc[1] if ratio is not None else math.nan,
            "ratio_last": ratio.loc[depth] if ratio is not None else math.nan}


def playground(data=None, **config) -> Playground:
    """The live training playground. Settings (all optional): dataset (xor, circles, spirals, gaussians, moons),
    n (8..20000 points), noise [0, 2], test_fraction (0, 0.9] (refused where it leaves a class fewer than 2 training
    points or no test point: check_split), depth 1..32, width 1..512, activation (a registry
    name, or one per layer), params (a dict, or one per layer), init (recommended, default, kaiming, xavier, lecun,
    orthogonal, small; scaled by the activation's gain), batch_norm, optimizer (sgd, adam, adamw), lr (0, 10],
    batch_size, seed; data=(x, y) arrays with 2 features, or csv='file.csv' (x1, x2, label). Bad values raise
    ValueError naming the setting."""
    return Playground(data=data, **config)


# ----------------------------------------------------------------------------- speed


async def _live(pg: Playground, seconds: float) -> None:
    """Press start, let the live loop run for `seconds` on this event loop, press pause."""
    pg._on_start()
    await asyncio.sleep(seconds)
    pg._on_pause()


def _bare_loop(seconds: float) -> tuple[int, float, float]:
    """A plain PyTorch loop on the benchmark's net and data for `seconds`: (steps, wall s, CPU s)."""
    engine = Engine(BENCH_CONFIG)
    model, opt, x, y = engine.model, engine.optimizer, engine.x_train, engine.y_train
    gen, bs = torch.Generator().manual_seed(0), BENCH_CONFIG["batch_size"]
    order, cursor, steps = torch.randperm(len(x), generator=gen), 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        if cursor + bs > len(order):
            order, cursor = torch.randperm(len(x), generator=gen), 0
        idx = order[cursor:cursor + bs]
        cursor += bs
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    return steps, time.perf_counter() - start, time.process_time() - cpu


def _draws(pg: Playground) -> np.ndarray:
    """(full figure draws, step-axis-only draws) of a playground's view so far."""
    canvases = (pg.view.loss, pg.view.layers)
    return np.array([sum(c.full_draws for c in canvases), sum(c.axis_draws for c in canvases)])


def _live_loop(seconds: float) -> tuple[int, int, float, float, float, float, np.ndarray]:
    """The widget's own live loop on the benchmark's configuration, from a fresh run: (steps, frames, wall s,
    CPU s, median and mean CPU s per frame, (full figure draws, axis-only draws))."""
    pg = Playground(**BENCH_CONFIG)
    steps, frames = pg.engine.step_count, pg.frames
    draws = _draws(pg)
    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_live(pg, seconds))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    median = float(np.median(pg.frame_cpu)) if pg.frame_cpu else math.nan
    mean = float(np.mean(pg.frame_cpu)) if pg.frame_cpu else math.nan
    draws = _draws(pg) - draws
    return pg.engine.step_count - steps, pg.frames - frames, wall, cpu, median, mean, draws


def bench(seconds: float = 2.0, rounds: int = 3) -> dict:
    """Steps per second of the live playground (training and redrawing) against a bare PyTorch loop, same net
    and data (depth 4, width 16, ReLU, 1,000 spirals points, batch 32, Adam), interleaved rounds; prints ratios.

    Ratios by wall time, and by this process's CPU time (steadier on a shared machine: other processes' load
    cancels out). The live side is the widget's own asyncio loop without a browser (sending images is not
    timed). Call it from a script (`make bench`), not from a notebook cell: it runs its own event loop."""
    import os

    rows = []
    for _ in range(rounds):
        b_steps, b_wall, b_cpu = _bare_loop(seconds)
        l_steps, frames, l_wall, l_cpu, frame_cpu, frame_mean, draws = _live_loop(seconds)
        rows.append({"frame_cpu_ms": 1000 * frame_cpu, "frame_mean_ms": 1000 * frame_mean,
                     "full_draws": draws[0], "axis_draws": draws[1],
                     "step_cpu_ms": 1000 * b_cpu / b_steps, "idle_estimate": 1 - FPS * frame_mean,
                     "ratio": (l_steps / l_wall) / (b_steps / b_wall),
                     "ratio_cpu": (l_steps / l_cpu) / (b_steps / b_cpu),
                     "live_steps_per_s": l_steps / l_wall, "bare_steps_per_s": b_steps / b_wall,
                     "frames_per_s": frames / l_wall, "frames_per_cpu_s": frames / l_cpu})
    out = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    for k in ("ratio", "ratio_cpu"):
        out[f"{k}_min"], out[f"{k}_max"] = min(r[k] for r in rows), max(r[k] for r in rows)
    out["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"playground: {out['live_steps_per_s']:,.0f} steps/s while redrawing {out['frames_per_s']:.1f} frames/s; "
          f"bare loop {out['bare_steps_per_s']:,.0f} steps/s; ratio {out['ratio']:.2f} (min {out['ratio_min']:.2f}, "
          f"max {out['ratio_max']:.2f}); by CPU time {out['ratio_cpu']:.2f} (min {out['ratio_cpu_min']:.2f}, max "
          f"{out['ratio_cpu_max']:.2f}) at {out['frames_per_cpu_s']:.1f} frames per CPU second; target >= 0.80 at "
          f">= 10 frames/s; median of {rounds} interleaved rounds of {seconds:g} s; load average {out['load']:.2f}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"playground: a frame (step, statistics, images) costs {out['frame_cpu_ms']:.1f} ms of CPU (median; mean "
          f"{out['frame_mean_ms']:.1f} ms, with {out['full_draws']:.0f} full figure draws and {out['axis_draws']:.0f} "
          f"step-axis draws per round as the axes widen), "
          f"a bare step {out['step_cpu_ms']:.2f} ms; on an otherwise idle core, {FPS} frames/s would leave "
          f"{out['idle_estimate']:.2f} of the time to training (an estimate from the mean frame)")
    return out


playground.bench = bench  # so that actlab.playground.bench() works when actlab exports the function
playground.summary = summary  # actlab.playground.summary(steps, **config): one headless run's numbers