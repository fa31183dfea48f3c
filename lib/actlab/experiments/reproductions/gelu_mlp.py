"""Hendrycks and Gimpel (2016): 8 x 128 MLP, Adam, each activation at its learning rate chosen on a validation
split, median training loss, GELU/ReLU/ELU.

A paper module of actlab.experiments.reproductions (the protocol is in that package's docstring)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ...checks import check_choice
from ...data import Dataset, validation_split
from ...evidence import describe
from ...models import MLP
from ...seeding import seeded
from ...style import LINESTYLES, PALETTE
from ...training import train
from ..comparison import MARKERS, pooled_features
from . import krizhevsky
from ._common import per_seed

NAME = "gelu_mlp"
TITLE = "Hendrycks and Gimpel (2016): GELU ends with the lowest training loss of GELU, ReLU and ELU"
ACTIVATIONS = ("gelu", "relu", "elu")


@dataclass(frozen=True)
class Settings:
    """8 x 128 MLP, Adam, batch 128, on CIFAR-style images average-pooled to 8x8; each rate of lrs."""

    full: bool
    seeds: tuple[int, ...]
    n_train: int = 1500
    epochs: int = 4
    lrs: tuple[float, ...] = (1e-3, 1e-4)
    validation: float = 0.2  # share of the training images held out to choose each activation's rate
    depth: int = 8
    width: int = 128


def settings(full: bool = False) -> Settings:
    """The notebook's short run (full=False) or make reproduce's full run (full=True)."""
    if full:
        return Settings(True, (0, 1, 2, 3, 4), n_train=10000, epochs=50, lrs=(1e-3, 1e-4, 1e-5))
    return Settings(False, (0, 1, 2))


def images(n_train: int) -> Dataset:
    """The CIFAR-style images (or real CIFAR-10) average-pooled to 8x8: 192 features per image."""
    return pooled_features(krizhevsky.images(n_train))


def data(s: Settings) -> tuple[str, str]:
    """(fingerprint, description) of the images the runs train on."""
    found = images(s.n_train)
    return found.fingerprint(), found.source


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


def items(s: Settings) -> list[dict]:
    """One plain, picklable item per (activation, learning rate, seed)."""
    return [{"activation": a, "lr": lr, "seed": seed, "epochs": s.epochs, "n_train": s.n_train, "depth": s.depth,
             "width": s.width, "validation": s.validation} for a in ACTIVATIONS for lr in s.lrs for seed in s.seeds]


def run(item: dict) -> dict:
    """One (activation, lr, seed): an 8 x 128 MLP with unit-norm weight rows (as the paper) trained with Adam,
    batch 128, on the training images less a stratified validation share (item['validation'], the paper's "5k
    validation examples from the training set"; actlab.validation_split, seed 0: the test split is never read).
    Returns the training loss per epoch (mean over its batches), the final one and the final validation loss."""
    found = validation_split(images(item["n_train"]), item["validation"])
    with seeded(item["seed"]):
        model = unit_norm_rows_(MLP(item["depth"], item["width"], item["activation"],
                                    in_features=found.x_train.shape[1], out_features=len(found.classes)))
        history = train(model, found, epochs=item["epochs"], lr=item["lr"], optimizer="adam", batch_size=128,
                        seed=item["seed"], progress=False)
    losses = [e["train_loss"] for e in history.epochs[1:]]
    return {**item, "losses": losses, "final_loss": losses[-1], "val_loss": history.final["test_loss"]}


def rates(rows) -> dict:
    """Each activation's learning rate: the grid's rate with the lowest median (over seeds) final validation loss,
    as Hendrycks and Gimpel tuned each activation on validation examples; ties go to the larger rate. A diverged
    run (NaN loss) counts as infinitely bad. Returns {activation: lr}; ValueError when an activation has no run."""
    chosen = {}
    for name in ACTIVATIONS:
        by_lr = {}
        for r in rows:
            if r["activation"] == name:
                by_lr.setdefault(r["lr"], []).append(r["val_loss"] if math.isfinite(r["val_loss"]) else math.inf)
        if not by_lr:
            raise ValueError(f"no runs of activation {name!r}")
        chosen[name] = min(by_lr, key=lambda lr: (np.median(by_lr[lr]), -lr))
    return chosen


def table(rows, value: str = "final_loss"):
    """Median over seeds of value ('final_loss': training; 'val_loss': validation), one row per activation, one
    column per learning rate. Raises ValueError for another value."""
    import pandas as pd

    check_choice("value", value, ("final_loss", "val_loss"))
    frame = pd.DataFrame(rows)
    return frame.pivot_table(index="activation", columns="lr", values=value, aggfunc="median").loc[list(ACTIVATIONS)]


def plot(rows) -> Figure:
    """Median training loss per epoch (over seeds), one panel per learning rate, one line per activation."""
    lrs = sorted({r["lr"] for r in rows}, reverse=True)
    fig = Figure(figsize=(3.6 * len(lrs), 3.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(lrs), sharey=True))
    for ax, lr in zip(axes, lrs):
        for i, name in enumerate(ACTIVATIONS):
            curves = np.array([r["losses"] for r in rows if r["activation"] == name and r["lr"] == lr])
            epochs = range(1, curves.shape[1] + 1)
            ax.plot(epochs, np.median(curves, 0), color=PALETTE[i], linestyle=LINESTYLES[i], marker=MARKERS[i],
                    lw=2, label=name)
        ax.set(title=f"Adam, lr {lr:g}", xlabel="epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (median over seeds)")
    axes[-1].legend()
    return fig


def verdict(result, family) -> list[str]:
    """Record the paper's claims in family (an actlab.ClaimFamily; reported, not required) and return the lines to
    print: GELU ends with a lower training loss than ReLU and than ELU, each at its own rate."""
    chosen, c, full = rates(result.rows), result.settings, settings(True)
    loss = {a: per_seed(result.rows, "final_loss", activation=a, lr=chosen[a]) for a in ACTIVATIONS}
    lines = ["final training loss at each activation's rate: " + "; ".join(
        f"{a} (lr {chosen[a]:g}) {describe(loss[a])}" for a in loss)]
    claims = [family.less(loss["gelu"], loss[other], f"GELU ends with a lower training loss than {label}, each at its "
                          "own rate", required=False) for other, label in (("relu", "ReLU"), ("elu", "ELU"))]
    lines += [str(v) for v in claims]
    if result.full:
        lines.append("the full run answers the paper's question in our setup: GELU lowest is "
                     + ("reproduced" if all(v.holds for v in claims) else
                        "contradicted" if any(v.outcome == "contradicted" for v in claims) else "undecided")
                     + " (before Holm; the family's decision is in the summary)")
    else:
        lines.append(f"the paper's question (lowest training loss after 50 epochs) is undecided by this short run of "
                     f"{c['epochs']} epochs: the outcomes above describe the start of training only. `make "
                     f"reproduce` runs {full.epochs} epochs on {full.n_train:,} images and this notebook then shows "
                     "that run.")
    return lines
