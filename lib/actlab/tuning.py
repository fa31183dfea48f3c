"""Fair comparisons: each activation at its own learning rate, chosen on a validation split, never the test set.

A comparison at one shared learning rate measures how well each activation suits that rate, not the activation.
The papers the course cites tuned per network: Krizhevsky et al. (2012) chose each network's rate for its own
fastest progress; Hendrycks and Gimpel (2016, section 3) report each activation at the best of several rates.
`tune_lr` does the same on a small grid: every (activation, rate, seed) is trained on the training split minus a
stratified validation part (data.validation_split), scored by its final validation loss (cross-entropy, nats;
a diverged run scores +inf), and the rate with the lowest mean over seeds is chosen. The test split is never
read. `compare(..., lr=tuning.rates)` then runs the comparison itself, each activation at its rate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from .compare import compare, default_model
from .data import Dataset, validation_split
from .activations import lookup
from .checks import check_list, check_number
from .style import LINESTYLES, PALETTE

# Half-decade steps from 0.003 to 1 (SGD with momentum 0.9): wide enough that sigmoid's high window (Dive into Deep
# Learning trains its sigmoid LeNet at 0.9) and ReLU's lower one both fall inside for the course's models.
LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass
class Tuning:
    """The outcome of tune_lr: every run's validation score, the rate chosen per activation and what they came from.

    table: one row per (activation, lr, seed) with val_loss (nats), val_acc (0 to 1) and status; rates: the chosen
    learning rate per canonical activation name; validation: the validation data's description.
    """

    table: object  # pandas.DataFrame
    rates: dict[str, float]
    validation: str

    def scores(self):
        """Mean validation loss per (activation, lr) over seeds; a diverged or non-finite run makes its cell +inf."""
        loss = self.table.val_loss.where(np.isfinite(self.table.val_loss) & (self.table.status == "completed"),
                                         math.inf)
        return loss.groupby([self.table.activation, self.table.lr]).mean().unstack("lr")

    def summary(self):
        """Per activation: the chosen rate, its mean validation loss and accuracy, and whether it lies at the grid's
        edge (then the best rate may lie outside the grid: widen it)."""
        import pandas as pd

        grid = sorted(self.table.lr.unique())
        rows = []
        for name, lr in self.rates.items():
            runs = self.table[(self.table.activation == name) & (self.table.lr == lr)]
            rows.append({"activation": lookup(name).display, "chosen lr": lr,
                         "val loss": runs.val_loss.mean(), "val accuracy": runs.val_acc.mean(),
                         "at grid edge": lr in (grid[0], grid[-1])})
        return pd.DataFrame(rows).set_index("activation")

    def plot(self, title: str | None = None) -> Figure:
        """Mean validation loss against the learning rate (log axis) per activation, the chosen rate circled;
        a diverged rate is drawn as a cross at the top edge."""
        scores = self.scores()
        fig = Figure(figsize=(7.5, 4.2))
        ax = fig.subplots()
        finite = scores.to_numpy()[np.isfinite(scores.to_numpy())]
        top = float(finite.max()) * 1.08 if finite.size else 1.0
        for i, (name, row) in enumerate(scores.iterrows()):
            colour, style = PALETTE[i % len(PALETTE)], LINESTYLES[i % len(LINESTYLES)]
            lrs, values = row.index.to_numpy(float), row.to_numpy(float)
            ok = np.isfinite(values)
            ax.plot(lrs[ok], values[ok], color=colour, linestyle=style, marker="o", label=lookup(name).display)
            ax.plot(lrs[~ok], np.full((~ok).sum(), top), color=colour, marker="x", linestyle="none")
            ax.plot([self.rates[name]], [row[self.rates[name]]], marker="o", markersize=13, fillstyle="none",
                    color=colour, linestyle="none")
        ax.set(xscale="log", xlabel="learning rate (SGD, momentum 0.9)", ylabel="validation loss (nats)",
               ylim=(0, top * 1.04))
        ax.set_title(title or "each activation's rate is chosen on the validation split (circled); x: diverged",
                     fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        return fig

    def __str__(self) -> str:
        rates = ", ".join(f"{lookup(n).display} {lr:g}" for n, lr in self.rates.items())
        return f"learning rates chosen on {self.validation}: {rates}"


def tune_lr(activations, data: Dataset, grid=LR_GRID, seeds=(0,), fraction: float = 0.2, split_seed: int = 0,
            init: str = "recommended", model=None, params: dict | None = None, executor=None, progress: bool = True,
            **train_kwargs) -> Tuning:
    """Choose each activation's learning rate from grid on a validation split of data's training set.

    activations: registry names; grid: learning rates > 0 (at least 2); seeds: the tuning runs per rate; fraction:
    the share of each class held out for validation (0 to 1, exclusive), drawn by split_seed; init: one of
    models.INITS for the default model ('recommended': each activation's registry scheme); model, params, executor
    and train_kwargs (epochs, batch_size, optimizer, ...) as in compare. data.x_test is never used. Raises
    ValueError naming a bad argument. Returns a Tuning (rates, scores, plot).
    """
    grid = sorted(check_number("grid", float(lr) if isinstance(lr, np.floating) else lr, 0, low_open=True)
                  for lr in check_list("grid", grid, min_length=2))
    if model is not None and init != "recommended":
        raise ValueError("give either model or init: init only chooses the default model's initialisation")
    validation = validation_split(data, fraction, split_seed)
    make = model or default_model(validation, init)
    rows = []
    for lr in grid:
        runs = compare(activations, validation, seeds, model=make, params=params, executor=executor, lr=lr,
                       progress=progress, **train_kwargs)
        for (name, seed), history in runs.histories.items():
            final = history.final
            rows.append({"activation": name, "lr": lr, "seed": seed, "val_loss": final.get("test_loss", math.nan),
                         "val_acc": final.get("test_acc", math.nan), "status": history.status})
    import pandas as pd

    table = pd.DataFrame(rows)
    tuning = Tuning(table, {}, validation.source)
    scores = tuning.scores()
    tuning.rates = {name: float(scores.loc[name].idxmin()) for name in dict.fromkeys(table.activation)}
    return tuning
