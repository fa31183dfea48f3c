"""Experiments of notebooks 09-11 (comparison, PyTorch zoo, custom activations).

09: run settings with a FULL switch, near-dead units (vanishing slope) beside exactly dead ones, a readable summary
table, learning curves on a shared epoch axis, training-step timings measured fresh (never cached), and the
fine-tuning experiment (swap the activation of a converged network, then fine-tune it).
10/11: timings of whole training steps or callables with torch.utils.benchmark, interleaved, ratios with spread.
"""
from __future__ import annotations

import copy
import warnings
import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.nn import functional as F

from ..compare import Comparison
from ..data import Dataset
from ..diagnostics import activation_batches, slope
from ..models import MLP, LeNet, activation_modules, swap_activation
from ..activations import lookup
from .. import vocabulary
from ..seeding import seeded
from ..style import LINESTYLES, PALETTE
from ..model_utils import accuracy
from ..training import Callback, train
from ..tuning import LR_GRID
from .timing import time_callables


# A marker per run beside style's palette and line style, so overlapping lines stay distinguishable in print and
# for readers who cannot tell the colours apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class Settings:
    """The sizes of notebook 09's runs: the quick default or the fuller run (FULL).

    Every activation gets its own SGD rate (momentum 0.9, batch 64) from grid, chosen by actlab.tune_lr on a
    validation split of the first tune_n_train training images (tune_seeds, tune_epochs), then the comparison runs
    at those rates over seeds. digits_epochs, digits_tune_seeds: the same tuned comparison on scikit-learn's digits
    (its default 4-layer MLP), tuned over three seeds so that a rate at which one seed diverges scores infinite and
    is not chosen (with one tuning seed the short run chose rates at which a comparison seed diverged). one_rate:
    the single rate an earlier version gave every activation, kept for the contrast.
    """

    activations: tuple[str, ...]
    seeds: tuple[int, ...]
    epochs: int
    n_train: int
    n_test: int
    grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)  # 0.003 added: at (0.01, ...) every image run chose the lowest rate, the edge
    tune_seeds: tuple[int, ...] = (0,)
    tune_epochs: int = 2
    tune_n_train: int = 2_000
    digits_epochs: int = 10
    digits_tune_seeds: tuple[int, ...] = (0, 1, 2)
    health_examples: int = 1_000  # the fixed probe set of dead/near-dead counts: the first training images
    one_rate: float = 0.02
    finetune_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # the fine-tuning MLP is cheap: 5 seeds
    base_epochs: int = 12
    finetune_epochs: int = 1


def settings(full: bool) -> Settings:
    """The default run (6 activations, 3 seeds, 3 epochs on 3,000 images; 5 rates tuned on 2,000 images, 1 seed,
    2 epochs; the digits 10 epochs, tuned over 3 seeds) or FULL (7 activations, 5 seeds, 15 epochs on 50,000; the
    library's 6-rate grid tuned on 10,000 images over 2 seeds and 5 epochs; the digits 40 epochs)."""
    if full:
        return Settings(("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"), (0, 1, 2, 3, 4), 15,
                        50_000, 10_000, grid=LR_GRID, tune_seeds=(0, 1), tune_epochs=5, tune_n_train=10_000,
                        digits_epochs=40, finetune_seeds=tuple(range(10)), base_epochs=30, health_examples=2_000)
    return Settings(("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"), (0, 1, 2), 3, 3_000, 2_000)


def display(name: str) -> str:
    """The readable name of a registry activation ('leaky_relu' -> 'Leaky ReLU')."""
    return lookup(name).display


def chance_band(n_test: int, classes: int = 10, z: float = 3.0) -> float:
    """Accuracy a guessing classifier exceeds with probability ~0.1%: 1/classes + z binomial standard errors.

    The binomial standard error of an accuracy p measured on n_test examples is sqrt(p (1 - p) / n_test).
    """
    if not (isinstance(n_test, int) and n_test >= 1):
        raise ValueError(f"n_test must be an integer >= 1, got {n_test!r}")
    p = 1 / classes
    return p + z * math.sqrt(p * (1 - p) / n_test)


def accuracy_se(p: float, n_test: int) -> float:
    """Binomial standard error of an accuracy p (0 to 1) measured on n_test examples: sqrt(p (1 - p) / n)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must be an accuracy in [0, 1], got {p!r}")
    if not (isinstance(n_test, int) and n_test >= 1):
        raise ValueError(f"n_test must be an integer >= 1, got {n_test!r}")
    return math.sqrt(p * (1 - p) / n_test)


# ---------------------------------------------------------------------------
# Dead and near-dead units
# ---------------------------------------------------------------------------

def _any_per_unit(mask: torch.Tensor) -> torch.Tensor:
    """Per unit (dim 1: channel or feature), whether mask is true for any example or position."""
    return mask.any(dim=tuple(d for d in range(mask.dim()) if d != 1))


def unit_health(model: nn.Module, data, max_examples: int = 2000, batch_size: int = 500) -> dict[str, float]:
    """How much of a model's activation layers passes back (almost) no gradient, on the first max_examples
    training inputs, in the course's one vocabulary (actlab.vocabulary); a unit is a channel of a convolution or a
    feature of a fully connected layer.

    Returns fractions (0 to 1) over all units: 'dead' (vocabulary.DEAD: slope exactly 0 on every input and
    position), 'near_dead' (vocabulary.NEAR_DEAD: saturated, |f'(z)| below 1% of the activation's peak slope, on
    every input and position) and 'flat' (the mean over units of the share of their inputs and positions that are
    saturated). data: a Dataset or an (x, y) pair. Raises ValueError for a model without registry activations.
    """
    modules = dict(activation_modules(model))
    if not modules:
        raise ValueError("unit_health: the model has no activation modules")
    peaks = {name: vocabulary.module_peak_slope(module) for name, module in modules.items()}
    alive, steep, flat, entries = {}, {}, {}, {}
    with torch.no_grad():
        for sites in activation_batches(model, data, batch_size, max_examples):
            for site, (name, z, _) in sites.items():
                slopes = slope(modules[name], z)
                low = torch.as_tensor(vocabulary.is_saturated(slopes, peaks[name]))
                alive[site] = alive.get(site, False) | ~torch.as_tensor(vocabulary.is_dead(slopes))
                steep[site] = steep.get(site, False) | ~torch.as_tensor(vocabulary.is_near_dead(slopes, peaks[name]))
                other = tuple(d for d in range(low.dim()) if d != 1)
                flat[site] = flat.get(site, 0) + low.sum(dim=other)
                entries[site] = entries.get(site, 0) + low.numel() // low.shape[1]
    units = sum(m.numel() for m in alive.values())
    return {"dead": sum(int((~m).sum()) for m in alive.values()) / units,
            "near_dead": sum(int((~m).sum()) for m in steep.values()) / units,
            "flat": sum((flat[n].double() / entries[n]).sum().item() for n in flat) / units}


def health_frame(result: Comparison, data, max_examples: int = 2000):
    """unit_health of every trained model of a comparison: one row per (activation, seed)."""
    import pandas as pd

    rows = [{"activation": name, "seed": seed, **unit_health(model, data, max_examples)}
            for (name, seed), model in result.models.items()]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Tables and figures
# ---------------------------------------------------------------------------

def final_accuracies(result: Comparison, classes: int = 10):
    """Final test accuracy per run (0 to 1): a DataFrame with one row per seed and one column per activation.

    A run that diverged has no final accuracy (its last record is NaN): a network whose weights are NaN predicts
    nothing, so it is scored at chance, 1 / classes, and a warning names the runs. Divergence at an activation's
    tuned rate then counts against that activation, instead of stopping every claim that averages over seeds.
    """
    table = result.table
    last = table[table.epoch == table.groupby(["activation", "seed"]).epoch.transform("max")]
    acc = last.pivot(index="seed", columns="activation", values="test_acc")[list(dict.fromkeys(table.activation))]
    diverged = [(name, seed) for (name, seed), h in result.histories.items() if h.status == "diverged"]
    if diverged:
        warnings.warn(f"{len(diverged)} run(s) diverged and are scored at chance (1/{classes}): "
                      + ", ".join(f"{name} seed {seed}" for name, seed in diverged), stacklevel=2)
        for name, seed in diverged:
            acc.loc[seed, name] = 1 / classes
    return acc


def readable_summary(result: Comparison, health=None):
    """One row per activation (display names), sorted by mean final test accuracy, with short readable headers:
    rank, test accuracy mean and sd over seeds, final training loss, and (if health is given, from
    health_frame) the mean dead and near-dead fractions of units and the flat share of values, in percent."""
    import pandas as pd

    acc = final_accuracies(result)
    table = result.table
    last = table[table.epoch == table.groupby(["activation", "seed"]).epoch.transform("max")]
    out = pd.DataFrame({"test acc": acc.mean(), "sd": acc.std(ddof=1),
                        "train loss": last.groupby("activation").train_loss.mean()})
    if health is not None:
        by = health.groupby("activation")
        out["dead %"] = 100 * by.dead.mean()
        out["near-dead %"] = 100 * by.near_dead.mean()
        out["flat %"] = 100 * by.flat.mean()
    out = out.sort_values("test acc", ascending=False)
    out.insert(0, "rank", range(1, len(out) + 1))
    out.index = [display(name) for name in out.index]
    out.index.name = "activation"
    return out


def _mean_step_curve(result: Comparison, name: str, window: int):
    """(epochs, mean smoothed training loss over seeds) of one activation, on a fractional epoch axis."""
    curves = [h.smoothed_loss(window) for (n, _), h in result.histories.items() if n == name]
    length = min(len(c) for c in curves)
    if length == 0:
        return np.array([]), np.array([])
    first = next(h for (n, _), h in result.histories.items() if n == name)
    steps_per_epoch = len(first.steps) / max(len(first.epochs) - 1, 1)
    x = (np.arange(length) + window) / steps_per_epoch
    return x, np.mean([c[:length] for c in curves], axis=0)


def plot_runs(result: Comparison, window: int = 20) -> Figure:
    """Two panels on one shared epoch axis (0 to the last epoch, whole-number ticks): the training loss
    (moving average over window steps, mean over seeds) and the test accuracy per epoch (mean, with a band
    from the worst to the best seed). Each activation has its own colour, line style and marker."""
    table = result.table
    names = list(dict.fromkeys(table.activation))
    last_epoch = int(table.epoch.max())
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2, sharex=True)
    for i, name in enumerate(names):
        style = dict(color=PALETTE[i % len(PALETTE)], linestyle=LINESTYLES[i % len(LINESTYLES)], lw=2,
                     label=display(name))
        x, loss = _mean_step_curve(result, name, window)
        ax_loss.plot(x, loss, **style)
        stats = table[table.activation == name].groupby("epoch").test_acc.agg(["mean", "min", "max"])
        ax_acc.plot(stats.index, stats["mean"], marker=MARKERS[i % len(MARKERS)], ms=6, **style)
        ax_acc.fill_between(stats.index, stats["min"], stats["max"], color=style["color"], alpha=0.12)
    ax_loss.axhline(math.log(10), color="0.5", lw=1, ls=":")
    ax_loss.text(0.02, math.log(10), " ln 10: chance", va="bottom", fontsize=10, color="0.35",
                 transform=ax_loss.get_yaxis_transform())
    ax_acc.axhline(0.1, color="0.5", lw=1, ls=":")
    ax_loss.set(ylabel=f"training loss ({window}-step moving average)", title="training loss, mean over seeds")
    ax_acc.set(ylabel="test accuracy", title="test accuracy: mean, band = worst to best seed")
    for ax in (ax_loss, ax_acc):
        ax.set_xlim(0, last_epoch)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    ax_acc.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=11)
    seeds = sorted({s for _, s in result.histories})
    fig.suptitle(f"{len(names)} activations, seeds {seeds}; data: {result.data_source}", fontsize=11)
    return fig


# ---------------------------------------------------------------------------
# Convergence speed (the "6x faster" claim)
# ---------------------------------------------------------------------------

def steps_to_common_loss(history_a, history_b, window: int = 50) -> tuple[float, int, int]:
    """(level, steps of a, steps of b) until each run's moving-average training loss first reaches the worse of
    the two runs' best smoothed losses, a level both reach. ValueError if a run has fewer than window steps."""
    smoothed = [h.smoothed_loss(window) for h in (history_a, history_b)]
    if any(len(s) == 0 for s in smoothed):
        raise ValueError(f"both runs need at least window={window} training steps")
    level = float(max(s.min() for s in smoothed))
    return level, history_a.steps_to(level, window), history_b.steps_to(level, window)


def convergence_steps(result: Comparison, fast: str, slow: str, window: int = 50):
    """Per seed of a comparison: the common loss level of fast and slow (steps_to_common_loss), the steps each
    took to reach it, and their ratio slow / fast (above 1: fast got there first). A DataFrame indexed by seed."""
    import pandas as pd

    seeds = sorted(s for n, s in result.histories if n == fast)
    if not seeds or any((slow, s) not in result.histories for s in seeds):
        raise ValueError(f"the comparison needs runs of both {fast!r} and {slow!r} for the same seeds")
    rows = []
    for seed in seeds:
        level, a, b = steps_to_common_loss(result.histories[(fast, seed)], result.histories[(slow, seed)], window)
        rows.append({"seed": seed, "loss level": level, f"{display(fast)} steps": a, f"{display(slow)} steps": b,
                     "ratio": b / a})
    return pd.DataFrame(rows).set_index("seed")


def side_by_side(runs: dict):
    """One row per activation, two column groups per data set: the tuned rate ('lr'), and the final test accuracy's
    mean and sd over seeds. runs: {data label: (Tuning, Comparison)}; activations missing from a set are NaN."""
    import pandas as pd

    parts = {}
    for label, (tuning, result) in runs.items():
        acc = final_accuracies(result)
        parts[label] = pd.DataFrame({"lr": pd.Series(tuning.rates), "test acc": acc.mean(), "sd": acc.std(ddof=1)})
    table = pd.concat(parts, axis=1)
    table.index = [display(name) for name in table.index]
    table.index.name = "activation"
    return table


# ---------------------------------------------------------------------------
# Timings (fresh on every call: never cached)
# ---------------------------------------------------------------------------

def _training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """A zero-argument callable: one SGD step of model on (x, y) with cross-entropy."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def time_training_steps(names, data: Dataset, batch_size: int = 64, rounds: int = 5, min_run_time: float = 0.05,
                        seed: int = 0):
    """Time one LeNet training step (forward, backward, SGD update) on one batch of data per activation,
    interleaved (time_callables); index: display names; reference: the first activation. Each LeNet starts from
    seed; the caller's global random state is left as it was (an RReLU step draws from it)."""
    if not (isinstance(batch_size, int) and 1 <= batch_size <= len(data.x_train)):
        raise ValueError(f"batch_size must be an integer in [1, {len(data.x_train)}], got {batch_size!r}")
    x, y = data.inputs("train")[:batch_size], data.labels("train")[:batch_size]
    steps = {}
    for name in names:
        with seeded(seed):  # each activation's LeNet starts from the same weights
            steps[display(name)] = _training_step(LeNet(name), x, y)
    with seeded(seed):  # the timed steps' own draws (RReLU in training mode) leave the caller's state alone
        return time_callables(steps, rounds=rounds, min_run_time=min_run_time)


# ---------------------------------------------------------------------------
# Fine-tuning: swap the activation of a converged network
# ---------------------------------------------------------------------------

def pooled_features(data: Dataset, size: int = 8) -> Dataset:
    """The images average-pooled to size x size and flattened: (N, 3 * size**2) float features for a fast MLP.

    size must divide the image side (32 for CIFAR): 1, 2, 4, 8, 16 or 32.
    """
    side = data.x_train.shape[-1]
    if data.x_train.dim() != 4:
        raise ValueError("pooled_features needs image data (N, C, H, W)")
    if not (isinstance(size, int) and 1 <= size <= side and side % size == 0):
        raise ValueError(f"size must be an integer dividing the image side {side}, got {size!r}")
    pool = lambda x: F.adaptive_avg_pool2d(x.float() / 255, size).flatten(1)  # noqa: E731
    return Dataset(pool(data.x_train), data.y_train, pool(data.x_test), data.y_test, data.classes,
                   f"{data.source}, average-pooled to {size}x{size}")


class CosineDecay(Callback):
    """Learning rate lr0 * (1 + cos(pi * step / total_steps)) / 2: from the optimiser's rate down to 0 at the
    last step (Loshchilov and Hutter 2017, without restarts), so a run ends at a minimum, not mid-bounce."""

    def __init__(self, total_steps: int):
        if not (isinstance(total_steps, int) and total_steps >= 1):
            raise ValueError(f"total_steps must be an integer >= 1, got {total_steps!r}")
        self.total_steps = total_steps

    def key(self) -> str:
        return f"CosineDecay({self.total_steps})"

    def on_train_begin(self, model, optimizer):
        self.optimizer = optimizer
        self.lr0 = [group["lr"] for group in optimizer.param_groups]

    def on_after_backward(self, model, step):
        factor = (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps)) / 2
        for group, lr0 in zip(self.optimizer.param_groups, self.lr0):
            group["lr"] = lr0 * factor


def finetune_mlp(features: Dataset, width: int = 128, depth: int = 3) -> MLP:
    """The fine-tuning experiment's ReLU MLP for a feature set (Kaiming init)."""
    return MLP(depth, width, "relu", in_features=features.x_train.shape[1], out_features=len(features.classes),
               init="kaiming")


def swap_and_finetune(features: Dataset, activations, seed: int, base_epochs: int = 12, finetune_epochs: int = 1,
                      lr: float = 0.05, finetune_lr: float = 0.005, batch_size: int = 128) -> dict[str, float]:
    """Train a ReLU MLP on features to convergence (SGD, cosine decay to 0, weight decay 5e-4; cached), then for
    each activation: swap it in without touching a weight, measure test accuracy, fine-tune for finetune_epochs
    at the constant finetune_lr, measure again. 'relu' is the control (no swap, the same fine-tuning).
    Returns flat numbers for over_seeds: 'base', 'swap/<name>' and 'tuned/<name>' (test accuracies, 0 to 1).
    Deterministic from seed; the caller's global random state is left as it was."""
    with seeded(seed):
        return _swap_and_finetune(features, activations, seed, base_epochs, finetune_epochs, lr, finetune_lr,
                                  batch_size)


def _swap_and_finetune(features: Dataset, activations, seed: int, base_epochs: int, finetune_epochs: int,
                       lr: float, finetune_lr: float, batch_size: int) -> dict[str, float]:
    """swap_and_finetune drawn from torch's global generator as it stands: call it inside seeded(seed)."""
    base = finetune_mlp(features)
    steps = base_epochs * math.ceil(len(features.x_train) / batch_size)
    train(base, features, epochs=base_epochs, lr=lr, weight_decay=5e-4, batch_size=batch_size, seed=seed,
          callbacks=[CosineDecay(steps)], cache=True, progress=False)
    out = {"base": accuracy(base, features)}
    for name in activations:
        net = copy.deepcopy(base)
        if name != "relu":
            swap_activation(net, name)
        out[f"swap/{name}"] = accuracy(net, features)
        train(net, features, epochs=finetune_epochs, lr=finetune_lr, batch_size=batch_size, seed=seed + 1000,
              progress=False)
        out[f"tuned/{name}"] = accuracy(net, features)
    return out


# ---------------------------------------------------------------------------
# Notebook 11: train several model factories from the same seed
# ---------------------------------------------------------------------------

def train_each(factories: dict, data: Dataset, seed: int, epochs: int = 2, lr: float = 0.02,
               extras: dict | None = None) -> dict[str, float]:
    """Train a fresh model from each zero-argument factory with the same seed (same initial draw, same batches):
    final test accuracy (0 to 1) per name, plus the numbers extras[name](model) returns for that model."""
    if not factories:
        raise ValueError("factories must map at least one name to a model factory")
    unknown = set(extras or {}) - set(factories)
    if unknown:
        raise ValueError(f"extras names {sorted(unknown)} are not in factories {sorted(factories)}")
    out = {}
    for name, make in factories.items():
        with seeded(seed):
            model = make()
            out[name] = train(model, data, epochs=epochs, lr=lr, seed=seed, progress=False).final["test_acc"]
            if extras and name in extras:
                out.update(extras[name](model))
    return out
