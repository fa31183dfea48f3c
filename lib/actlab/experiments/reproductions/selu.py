"""Klambauer, Unterthiner, Mayr and Hochreiter (2017): SELU's fixed point through depth with LeCun-normal weights.

A paper module of actlab.experiments.reproductions (the protocol is in that package's docstring)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ..smooth import signal_through_depth
from ...models import MLP
from ...seeding import seeded
from ...style import LINESTYLES, PALETTE

NAME = "selu"
TITLE = "Klambauer et al. (2017): SELU keeps mean 0 and variance 1 through depth with LeCun-normal weights"


@dataclass(frozen=True)
class Settings:
    """A fresh depth x width MLP on n N(0, I) inputs, each case of CASES."""

    full: bool
    seeds: tuple[int, ...]
    depth: int = 50
    width: int = 256
    n: int = 500


def settings(full: bool = False) -> Settings:
    """The notebook's short run (full=False) or make reproduce's full run (full=True)."""
    if full:
        return Settings(True, (0, 1, 2, 3, 4), n=2000)
    return Settings(False, (0, 1, 2))


def data(s: Settings) -> tuple[str, str]:
    """(fingerprint, description) of the inputs: generated from each run's seed, named by their recipe."""
    return "gaussian-inputs", "random N(0, 1) inputs (no data set)"


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


CASES = (("selu", "lecun"), ("selu", "gain_selu"), ("relu", "lecun"), ("tanh", "lecun"), ("relu", "kaiming"))
LABELS = {("selu", "lecun"): "SELU, LeCun normal (gain 1)", ("selu", "gain_selu"): "SELU, calculate_gain('selu') = 3/4",
          ("relu", "lecun"): "ReLU, LeCun normal", ("tanh", "lecun"): "tanh, LeCun normal",
          ("relu", "kaiming"): "ReLU, He normal"}


def items(s: Settings) -> list[dict]:
    """One plain, picklable item per (case, seed)."""
    return [{"activation": a, "init": i, "seed": seed, "depth": s.depth, "width": s.width, "n": s.n}
            for a, i in CASES for seed in s.seeds]


def run(item: dict) -> dict:
    """One (activation, init, seed): per-layer mean and variance of a fresh deep MLP's outputs on N(0, 1) inputs.

    init 'lecun': N(0, 1/fan_in) (nonlinearity='linear'); 'gain_selu': N(0, (3/4)^2/fan_in), i.e.
    kaiming_normal_(nonlinearity='selu'), whose gain is calculate_gain('selu') = 3/4; 'kaiming': N(0, 2/fan_in).
    """
    with seeded(item["seed"]):
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


def last_layer(rows, activation: str, init: str) -> dict:
    """Per seed, the last hidden layer's mean and variance (arrays ordered by seed)."""
    chosen = sorted((r for r in rows if r["activation"] == activation and r["init"] == init), key=lambda r: r["seed"])
    return {"mean": np.array([r["layers"][-1]["mean"] for r in chosen]),
            "var": np.array([r["layers"][-1]["var"] for r in chosen])}


def plot(rows) -> Figure:
    """Mean and variance of each layer's outputs through depth (mean over seeds), one line per case."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_mean, ax_var = fig.subplots(1, 2, sharex=True)
    for i, case in enumerate(CASES):
        chosen = [r for r in rows if (r["activation"], r["init"]) == case]
        layers = [x["layer"] for x in chosen[0]["layers"]]
        style = dict(color=PALETTE[i % len(PALETTE)], linestyle=LINESTYLES[i % len(LINESTYLES)], lw=2,
                     label=LABELS[case])
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


def verdict(result, family) -> list[str]:
    """Record the paper's claims in family (an actlab.ClaimFamily) and return the lines to print: SELU with LeCun
    normal weights stays near the fixed point (0, 1); with calculate_gain('selu') = 3/4 the variance collapses."""
    lecun, gain = last_layer(result.rows, "selu", "lecun"), last_layer(result.rows, "selu", "gain_selu")
    # "Near the fixed point": variance within a factor of 2 of 1, mean within a tenth of the unit standard deviation.
    return [str(family.close(np.log2(lecun["var"]), 0.0, 1.0, "SELU + LeCun normal keeps the variance within a "
                             f"factor 2 of 1 after {result.settings['depth']} layers")),
            str(family.close(lecun["mean"], 0.0, 0.1, "... and the mean within 0.1 of 0")),
            str(family.less(np.log2(gain["var"]), -1.0,
                            "with calculate_gain('selu') = 3/4 the variance falls below 1/2: no fixed point at 1"))]
