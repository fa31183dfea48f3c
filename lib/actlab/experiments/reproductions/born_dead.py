"""Lu, Shin, Su and Karniadakis (2019/2020): born-dead deep narrow ReLU nets, He vs an asymmetric initialisation.

A paper module of actlab.experiments.reproductions (the protocol is in that package's docstring)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ... import vocabulary
from ...checks import check_choice, check_number
from ...diagnostics import slope
from ...evidence import describe
from ...style import PALETTE
from ._common import per_seed

NAME = "born_dead"
TITLE = "Lu et al. (2019): deep narrow ReLU nets born dead, He vs an asymmetric initialisation"


@dataclass(frozen=True)
class Settings:
    """Fresh ReLU MLPs on n_inputs N(0, I) points in in_features dimensions, `trials` nets per cell and seed."""

    full: bool
    seeds: tuple[int, ...]
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    trials: int
    inputs: int = 256
    in_features: int = 2


def settings(full: bool = False) -> Settings:
    """The notebook's short run (full=False) or make reproduce's full run (full=True)."""
    if full:
        return Settings(True, (0, 1, 2, 3, 4), depths=(1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50),
                        widths=(2, 3, 4, 5, 10), trials=1000)
    return Settings(False, (0, 1, 2), depths=(1, 2, 5, 10, 20), widths=(2, 3, 4), trials=100)


def data(s: Settings) -> tuple[str, str]:
    """(fingerprint, description) of the inputs: generated from each run's seed, named by their recipe."""
    return "gaussian-inputs", "random N(0, 1) inputs (no data set)"


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
    actlab.experiments.rectifiers.born_dead_fraction is the one-net-at-a-time definition it is checked against."""
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


def items(s: Settings) -> list[dict]:
    """One plain, picklable item per (init, width, depth, seed) cell."""
    return [{"depth": d, "width": w, "init": init, "seed": seed, "trials": s.trials, "n_inputs": s.inputs,
             "in_features": s.in_features}
            for init in ("he", "rai") for w in s.widths for d in s.depths for seed in s.seeds]


def run(item: dict) -> dict:
    """One (depth, width, init, seed) cell: the fraction of item['trials'] fresh nets born dead."""
    value = born_dead(item["depth"], item["width"], item["init"], item["trials"], item["n_inputs"],
                      item["in_features"], seed=item["seed"])
    return {**item, "born_dead": value}


def plot(rows) -> Figure:
    """Born-dead fraction against depth, one line per width (mean over seeds, band: lowest to highest seed), He
    and asymmetric initialisation side by side; dotted: the single-input bound 1 - (1 - 2^-width)^depth."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    widths = sorted({r["width"] for r in rows})
    depths = sorted({r["depth"] for r in rows})
    for ax, init, title in zip(axes, ("he", "rai"), ("He (symmetric) initialisation", "asymmetric (RAI-style)")):
        for i, w in enumerate(widths):
            values = np.array([per_seed(rows, "born_dead", init=init, width=w, depth=d) for d in depths])
            line, = ax.plot(depths, values.mean(1), "o-", color=PALETTE[i % len(PALETTE)], label=f"width {w}")
            ax.fill_between(depths, values.min(1), values.max(1), color=line.get_color(), alpha=0.15)
            if init == "he":
                ax.plot(depths, [single_input_bound(d, w) for d in depths], ":", color=line.get_color())
        ax.set(title=title, xlabel="depth (hidden layers)", xscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of nets born dead")
    axes[1].legend(fontsize=9)
    fig.suptitle("fresh ReLU nets, zero biases; dotted: the single-input bound (He)", fontsize=10)
    return fig


def verdict(result, family) -> list[str]:
    """Record the paper's claims in family (an actlab.ClaimFamily) and return the lines to print: more depth and
    less width leave more He-initialised nets born dead; the asymmetric initialisation leaves fewer deep nets dead."""
    rows, depths, widths = result.rows, result.settings["depths"], result.settings["widths"]
    narrow, wide, mid, deep = min(widths), max(widths), depths[len(depths) // 2], max(depths)

    def he(**k):
        return per_seed(rows, "born_dead", init="he", **k)

    def rai(**k):
        return per_seed(rows, "born_dead", init="rai", **k)

    deep_cells = [(d, w) for d in depths for w in widths if d >= 10]
    he_deep = np.mean([he(depth=d, width=w) for d, w in deep_cells], axis=0)
    rai_deep = np.mean([rai(depth=d, width=w) for d, w in deep_cells], axis=0)
    return [f"He, width {narrow}: depth {mid}: {describe(he(depth=mid, width=narrow))}; "
            f"depth {deep}: {describe(he(depth=deep, width=narrow))}",
            str(family.greater(he(depth=deep, width=narrow), he(depth=mid, width=narrow),
                               f"with He's initialisation, more depth ({deep} vs {mid}) leaves more width-{narrow} "
                               "nets born dead")),
            str(family.greater(he(depth=deep, width=narrow), he(depth=deep, width=wide),
                               f"at depth {deep}, width {narrow} nets are born dead more often than width {wide} "
                               "nets")),
            str(family.less(rai_deep, he_deep, "the asymmetric initialisation leaves fewer deep nets (depth >= 10) "
                            "born dead than He's (mean over those cells, per seed)"))]
