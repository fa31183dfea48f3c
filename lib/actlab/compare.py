"""Grids of training runs: several activations times several seeds, as a tidy table with plots."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn
from tqdm.auto import tqdm

from .data import Dataset
from .diagnostics import dead_units
from .models import MLP, LeNet
from .registry import spec
from .training import History, train


def default_model(data: Dataset) -> Callable[[str], nn.Module]:
    """LeNet for images, a 4-layer MLP for feature vectors."""
    if data.x_train.dim() == 4:
        return lambda name, **params: LeNet(name, params)
    features, classes = data.x_train.shape[1], len(data.classes)
    return lambda name, **params: MLP(4, 64, name, params, in_features=features, out_features=classes)


@dataclass
class Comparison:
    """The runs of a grid: histories and trained models by (activation, seed), and a tidy table."""

    histories: dict[tuple[str, int], History]
    models: dict[tuple[str, int], nn.Module] = field(repr=False)
    data_source: str

    @property
    def table(self):
        """One row per (activation, seed, epoch): losses, accuracies, seconds, status."""
        import pandas as pd

        rows = []
        for (name, seed), h in self.histories.items():
            for r in h.epochs:
                rows.append({"activation": name, "seed": seed, **r, "status": h.status})
        return pd.DataFrame(rows)

    def summary(self):
        """Per activation: final test accuracy (mean, std, min, max over seeds), seconds per epoch, runs diverged."""
        t = self.table
        last = t[t.epoch == t.groupby(["activation", "seed"]).epoch.transform("max")]
        trained = t[t.epoch > 0]
        out = last.groupby("activation", sort=False).test_acc.agg(["mean", "std", "min", "max"]).add_prefix("test_acc_")
        out["train_loss_final"] = last.groupby("activation", sort=False).train_loss.mean()
        out["seconds_per_epoch"] = trained.groupby("activation", sort=False).seconds.mean()
        out["diverged"] = last.groupby("activation", sort=False).status.apply(lambda s: int((s == "diverged").sum()))
        return out.sort_values("test_acc_mean", ascending=False)

    def dead_fractions(self, data: Dataset, max_examples: int = 2000):
        """Per activation: the fraction of units (over all seeds' trained models) dead on data's training inputs."""
        import pandas as pd

        dead, units = {}, {}
        for (name, _), model in self.models.items():
            report = dead_units(model, data, max_examples=max_examples)
            dead[name] = dead.get(name, 0) + int(report.dead.sum())
            units[name] = units.get(name, 0) + int(report.units.sum())
        return pd.Series({n: dead[n] / units[n] for n in dead}, name="dead_fraction")

    def plot(self, metrics=("train_loss", "test_acc")) -> Figure:
        """Mean curve per activation with a band from the worst to the best seed, one panel per metric.

        Every panel spans the same epochs (0 to the last) with whole-number ticks.
        """
        t = self.table
        fig = Figure(figsize=(5 * len(metrics), 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(metrics), sharex=True))
        for ax, metric in zip(axes, metrics):
            rows = t[t.epoch > 0] if metric.startswith("train") else t
            for name, group in rows.groupby("activation", sort=False):
                stats = group.groupby("epoch")[metric].agg(["mean", "min", "max"])
                (line,) = ax.plot(stats.index, stats["mean"], "o-", ms=3, label=name)
                ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.15)
            ax.set(xlabel="epoch", ylabel=metric.replace("_", " "))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        last = max(int(t.epoch.max()), 1) if len(t) else 1
        axes[0].set_xlim(-0.2, last + 0.2)
        axes[-1].legend(fontsize=8)
        seeds = sorted({s for _, s in self.histories})
        fig.suptitle(f"mean and range over seeds {seeds}; data: {self.data_source}", fontsize=9)
        return fig


def _params_by_name(params: dict | None, names: list[str], check_values: bool) -> dict[str, dict]:
    """params keyed by canonical activation name; any spelling spec() accepts works, other keys raise ValueError.

    With check_values, each dict must hold valid parameters of its activation (what the default models pass on).
    """
    out: dict[str, dict] = {}
    for key, values in (params or {}).items():
        try:
            name = spec(key).name
        except (ValueError, TypeError) as exc:
            raise ValueError(f"params key {key!r} is not an activation: {exc}") from None
        if name not in names:
            raise ValueError(f"params key {key!r} names {name!r}, which is not among the activations compared "
                             f"({', '.join(names)})")
        if name in out:
            raise ValueError(f"params gives {name!r} twice (key {key!r} is another spelling of it)")
        if not isinstance(values, dict):
            raise ValueError(f"params[{key!r}] must be a dict of parameter values, got {values!r}")
        if check_values:
            spec(name).resolve(**values)  # unknown parameters or values out of range: an error naming them, now
        out[name] = values
    return out


def compare(activations, data: Dataset, seeds=(0,), model: Callable | None = None, params: dict | None = None,
            **train_kwargs) -> Comparison:
    """Train one fresh model per (activation, seed) with the same settings; seed fixes both init and data order.

    params maps an activation (any spelling spec() accepts) to its parameters, e.g. {"LeakyReLU": {"alpha": 0.5}}.
    With progress (the default) an overall bar counts the runs ("run 5 of 14") above each run's own bar.
    """
    if isinstance(activations, str) or not len(activations):
        raise ValueError(f"activations must be a non-empty list of names, got {activations!r}")
    names = [spec(a).name for a in activations]
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    params = _params_by_name(params, names, check_values=model is None)
    make = model or default_model(data)
    histories, models = {}, {}
    runs = [(name, seed) for name in names for seed in seeds]
    overall = tqdm(total=len(runs), disable=not train_kwargs.get("progress", True), leave=False, position=0)
    try:
        for number, (name, seed) in enumerate(runs, 1):
            overall.set_description(f"run {number} of {len(runs)}: {name}, seed {seed}")
            torch.manual_seed(seed)
            net = make(name, **params.get(name, {}))
            histories[(name, seed)] = train(net, data, seed=seed, **train_kwargs)
            models[(name, seed)] = net
            overall.update()
    finally:
        overall.close()
    return Comparison(histories, models, data.source)
