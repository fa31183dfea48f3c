"""The playground's headless engine: the network, one training step, and the records (no widgets, no figures).

Engine trains a PlaygroundNet on a 2-D data set step by step, seeded without global state, and records the losses
and, per hidden layer, actlab.stats' activation statistics plus what each diagnostic of panels.PANELS measures.
"""
from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..activations import get_activation, lookup
from ..checks import check_number
from ..cores import CoreTurns
from ..data import Dataset, check_split, toy_2d
from ..models import init_linear
from ..points import arrays_dataset, read_csv, standardise
from ..seeding import RandomStream, one_thread
from ..stats import HIST_BINS, activation_stats, hist_range
from ..style import PALETTE
from ..training import TrainConfig, make_optimizer
from .panels import PANELS
from .settings import DEFAULTS, LIVE, check_config

GRID = 40  # decision-boundary resolution (GRID x GRID points)
PROBE = 256  # training points the per-layer statistics are measured on
COLOURS = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE[1::-1] + PALETTE[2:]]) / 255
ADAMW_DECAY = 0.01  # torch.optim.AdamW's own default weight decay, which the playground's 'adamw' keeps


def boundary_pixels(rgb: np.ndarray) -> np.ndarray:
    """Boundary colours (GRID, GRID, 3) in [0, 1] (Engine.boundary: row 0 at the lowest y) as uint8 pixels
    (GRID, GRID, 3), rounded, row 0 at the top (the order an image is drawn); NaN (a diverged net's outputs) is
    white. The live board and the static picture both draw these. Raises ValueError for another shape."""
    if rgb.shape != (GRID, GRID, 3):
        raise ValueError(f"rgb must have shape ({GRID}, {GRID}, 3), got {rgb.shape}")
    return np.round(np.clip(np.nan_to_num(rgb[::-1], nan=1.0), 0, 1) * 255).astype(np.uint8)


def make_dataset(config: dict, data=None) -> Dataset:
    """The configured data set: user arrays (data=(x, y)), a CSV file, or toy_2d's set by name."""
    if data is not None:
        x, y = data
        return arrays_dataset(x, y, config["test_fraction"], config["seed"])
    if config["csv"]:
        x, y = read_csv(config["csv"])
        return arrays_dataset(x, y, config["test_fraction"], config["seed"], f"csv {Path(config['csv']).name}")
    return toy_2d(config["dataset"], config["n"], config["noise"], config["seed"], config["test_fraction"])


def optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """training.make_optimizer's sgd (momentum 0.9), adam or adamw (weight decay ADAMW_DECAY) at learning rate lr."""
    decay = ADAMW_DECAY if name == "adamw" else 0.0
    return make_optimizer(TrainConfig(lr=lr, optimizer=name, weight_decay=decay, device="cpu"), params)


class PlaygroundNet(nn.Module):
    """An MLP with its own activation per hidden layer: linear, optional batch norm, activation; linear output.

    Input (N, in_features), output logits (N, classes). Every layer is initialised by models.init_linear with the
    configuration's init (one of models.INITS), so an init name draws the same weight scale here as in MLP and LeNet."""

    def __init__(self, config: dict, in_features: int = 2, classes: int = 2):
        super().__init__()
        c = check_config(config)
        self.linears, self.norms, self.acts = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        features = in_features
        for name, params in zip(c["activation"], c["params"]):
            layer = nn.Linear(features, c["width"])
            init_linear(layer, c["init"], name, params)  # models' one table and gain rule, as in MLP and LeNet
            self.linears.append(layer)
            if c["batch_norm"]:
                self.norms.append(nn.BatchNorm1d(c["width"]))
            self.acts.append(self._activation(name, params))
            features = c["width"]
        self.out = nn.Linear(features, classes)
        init_linear(self.out, c["init"])

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
        self.stream = RandomStream(c["seed"])  # the run's own stream of the global generator (seeding.RandomStream)
        with self.stream:  # nn.Linear draws its initial weights from the global generator; RReLU later, in training
            self.model = PlaygroundNet(c, 2, self.classes)
        self.optimizer = optimizer(c["optimizer"], self.model.parameters(), c["lr"])
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

    def own_generator(self) -> RandomStream:
        """Run the block on this run's own state of torch's global CPU generator; the caller's is restored after.

        nn.RReLU draws its slopes in training from the global generator, and PyTorch gives it no generator argument;
        so each run keeps its own state of it (started from its seed in build) and swaps it in while it computes: the
        run follows only its seed, and the caller's random state is left as it was (the library's rule, checked in
        tests/test_api.py). Nested blocks use the outer one's state."""
        return self.stream

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
            self.optimizer = optimizer(new["optimizer"], self.model.parameters(), new["lr"])
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
        measured = [panel.measure(self) for panel in PANELS]  # read at call time: a panel added later measures too
        for i, s in enumerate(stats):
            s.pop("module")
            extra = {k: v for values in measured if values for k, v in values[i].items()}
            self.layer_records.append({"step": self.step_count, **{k: v for k, v in s.items() if k != "hist"},
                                       **extra})
        self.hists.append(np.array([s["hist"] for s in stats]))
        return row

    @_on_own_generator
    @one_thread()  # a small net on 2-D points: a second thread only waits (00's headless run took minutes under load)
    def run(self, steps: int, record_every: int = 10) -> "Engine":
        """Train `steps` steps synchronously, recording every record_every steps (and at the start and end)."""
        check_number("steps", steps, 0, 10**7, integer=True)
        check_number("record_every", record_every, 1, 10**7, integer=True)
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
    @one_thread()
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

    def records(self) -> list[dict]:
        """The last record's rows, one per hidden layer (input side first); [] before the first layer record."""
        return self.layer_records[-len(self.model.acts):] if self.layer_records else []

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
        """One row per (record, hidden layer): activation statistics and what each panel of PANELS measures
        (gradient norm, log10 update ratio)."""
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
