"""Instruments: gradient norms per layer, dead and saturated units, mean activations; as calls and as training callbacks.

Dead, near-dead and saturated are the course's vocabulary (`actlab.vocabulary`): slopes |f'(z)| by autograd through
each activation module, thresholds relative to the activation's peak slope from the registry.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from .checks import check_choice, check_number
from .data import Dataset
from .hooks import Recorder
from .models import MLP, activation_modules, recommended_init
from .seeding import seeded
from .model_utils import model_device, preserved_state
from .training import Callback, code_digest
from .vocabulary import SATURATED_FRACTION, is_dead, is_near_dead, is_saturated, module_peak_slope

# Kept while actlab.experiments.basics moves to actlab.vocabulary: the old absolute slope (|f'(z)| < 0.01). The
# vocabulary's saturation is relative to the activation's peak slope (is_saturated); use that.
SATURATION_SLOPE = SATURATED_FRACTION


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of every Linear and Conv layer, in registration order (input side first)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def layer_grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of each weight layer's current weight gradient (0 where there is none)."""
    return {n: (m.weight.grad.norm().item() if m.weight.grad is not None else 0.0) for n, m in weight_layers(model)}


def inputs_of(data, device=None, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (x, y) tensors of a Dataset's split ('train' or 'test'), or an (x, y) pair as given; both on
    device when one is given."""
    if isinstance(data, Dataset):
        return data.inputs(split, device), data.labels(split, device)
    x, y = data
    if device is None:
        return x, y
    return x.to(device), (y.to(device) if y is not None else None)


def grad_norms(model: nn.Module, data, batch_size: int = 256) -> dict[str, float]:
    """Per-layer weight-gradient norms of the cross-entropy loss on one batch (the first batch_size examples).

    The model runs in the mode it is in; it is left as found (modes, BatchNorm statistics, gradients, flags).
    """
    check_number("batch_size", batch_size, 1, integer=True)
    x, y = inputs_of(data, model_device(model))
    with preserved_state(model):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[:batch_size]), y[:batch_size]).backward()
        return layer_grad_norms(model)


def init_grad_profiles(activations, data, depth: int = 10, width: int = 64, seed: int = 0) -> dict[str, dict]:
    """Per-layer gradient norms at initialisation of a deep MLP, for each activation with its recommended init; every
    model is drawn inside seeded(seed), so the caller's random state is left as it was."""
    x, y = inputs_of(data)
    profiles = {}
    for name in activations:
        init = recommended_init(name)
        with seeded(seed):  # RReLU draws its slopes in the forward pass too: build and measure inside
            model = MLP(depth, width, name, in_features=x[0].numel(), out_features=int(y.max()) + 1, init=init)
            profiles[f"{name} ({init} init)"] = grad_norms(model, (x, y))
    return profiles


class GradNormMonitor(Callback):
    """Records every layer's gradient norm at every training step (or every `every` steps)."""

    def __init__(self, every: int = 1):
        check_number("every", every, 1, integer=True)
        self.every = every
        self.records: list[dict] = []
        self._run_start = 0

    def key(self) -> str:
        return f"GradNormMonitor(every={self.every})"

    def state(self) -> dict:
        """The records of the last run."""
        return {"records": self.records[self._run_start:]}

    def load_state(self, state: dict) -> None:
        """Append a cached run's records, as the run itself would have."""
        self._run_start = len(self.records)
        self.records.extend(state["records"])

    def on_train_begin(self, model, optimizer):
        self._run_start = len(self.records)

    def on_after_backward(self, model, step):
        if step % self.every == 0:
            self.records.append({"step": step, **layer_grad_norms(model)})

    def frame(self):
        """Steps as rows, layers as columns."""
        import pandas as pd

        return pd.DataFrame(self.records).set_index("step")


def plot_layer_profile(profiles: dict[str, dict[str, float]], ylabel: str, log: bool = True, title: str = "") -> Figure:
    """One line per model over its layers (input side first): e.g. gradient norms or distance from init."""
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.subplots()
    for label, values in profiles.items():
        ax.plot(range(1, len(values) + 1), list(values.values()), "o-", ms=4, label=label)
    ax.set(xlabel="layer (1 = input side)", ylabel=ylabel, title=title, yscale="log" if log else "linear")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_grad_norms(norms, kind: str = "lines", title: str = "") -> Figure:
    """Gradient norm per layer: a dict (one batch) as bars, or a step x layer frame as lines or a heat map."""
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.subplots()
    if isinstance(norms, dict):
        ax.bar(range(len(norms)), list(norms.values()), color="tab:blue")
        ax.set_xticks(range(len(norms)), list(norms), rotation=45, ha="right", fontsize=8)
        ax.set(yscale="log", ylabel="gradient norm", xlabel="layer (input side first)")
    elif kind == "heatmap":
        image = ax.imshow(np.log10(norms.to_numpy().T + 1e-12), aspect="auto", cmap="viridis",
                          extent=[norms.index[0], norms.index[-1], len(norms.columns) - 0.5, -0.5])
        ax.set_yticks(range(len(norms.columns)), list(norms.columns), fontsize=8)
        ax.set(xlabel="step", ylabel="layer")
        fig.colorbar(image, ax=ax, label="log10 gradient norm")
    elif kind == "lines":
        for column in norms.columns:
            ax.plot(norms.index, norms[column], lw=1, label=column)
        ax.set(yscale="log", xlabel="step", ylabel="gradient norm")
        ax.legend(fontsize=7, ncol=2)
    else:
        check_choice("kind", kind, ("lines", "heatmap"))
    ax.set_title(title)
    return fig


@contextmanager
def capture_activations(model: nn.Module):
    """Record (input, output) of every activation module during forward passes; hooks are always removed.

    Yields {name: [(input, output) per call]}. Both are copies taken as the module runs, so in-place activations
    (nn.ReLU(inplace=True)) and later in-place operations do not change them, and the model's outputs are not
    changed either.
    """
    with Recorder(activation_modules(model)) as recorder:
        yield recorder.records


def slope(module: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """|f'(z)| of an activation module at z (same shape), by autograd; an in-place module works on a copy, never on z."""
    z = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(module(z * 1).sum(), z)
    return grad.abs()


def activation_batches(model: nn.Module, data, batch_size: int, max_examples: int):
    """Yield, batch by batch, {site: (module name, input, output)} of every activation call (Recorder.sites), with
    the model in eval mode; the model is left as found, also when the caller stops early or a batch raises."""
    check_number("batch_size", batch_size, 1, integer=True)
    check_number("max_examples", max_examples, 1, integer=True)
    x, _ = inputs_of(data, model_device(model))
    x = x[:max_examples]
    with preserved_state(model), Recorder(activation_modules(model)) as recorder:
        model.eval()
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
            sites = recorder.sites()
            recorder.clear()
            yield sites


def _nan_max(a: torch.Tensor) -> float:
    """The largest entry of a, NaN if any entry is NaN (a diverged layer has no largest output)."""
    return math.nan if a.isnan().any() else a.max().item()


def _tally(module: nn.Module, z: torch.Tensor, a: torch.Tensor, peak: float) -> dict:
    """One batch's counts at one activation call site (inputs z, outputs a; the module's peak slope), to be summed over
    batches by _merge: units not dead and not near-dead (vocabulary), saturated entries, and the output statistics."""
    d = slope(module, z)
    return {"alive": ~is_dead(d), "steep": ~is_near_dead(d, peak), "saturated": is_saturated(d, peak).sum().item(),
            "undefined": d.isnan().sum().item(), "slopes": d.numel(), "sum": a.sum().item(),
            "zeros": (a == 0).sum().item(), "count": a.numel(), "peak": _nan_max(a)}


def _merge(total: dict | None, part: dict) -> dict:
    """Two tallies as one: units alive in either, the larger peak (NaN wins), every count summed."""
    if total is None:
        return part
    peak = math.nan if math.isnan(total["peak"]) or math.isnan(part["peak"]) else max(total["peak"], part["peak"])
    merged = {key: total[key] + part[key] for key in part if key not in ("alive", "steep", "peak")}
    return {**merged, "alive": total["alive"] | part["alive"], "steep": total["steep"] | part["steep"], "peak": peak}


def _dead_row(site: str, kind: str, t: dict) -> dict:
    """dead_units' row of one call site from its merged tally t."""
    dead, near_dead = ~t["alive"], ~t["steep"]
    return {"layer": site, "activation": kind, "units": dead.numel(), "dead": int(dead.sum()),
            "dead_fraction": dead.float().mean().item(), "near_dead": int(near_dead.sum()),
            "near_dead_fraction": near_dead.float().mean().item(),
            "saturated_fraction": math.nan if t["undefined"] else t["saturated"] / t["slopes"],  # NaN is not "not saturated"
            "zero_fraction": t["zeros"] / t["count"], "mean_activation": t["sum"] / t["count"],
            "max_activation": t["peak"]}


@torch.no_grad()
def dead_units(model: nn.Module, data, batch_size: int = 1000, max_examples: int = 5000):
    """Per activation layer: dead and near-dead units, saturation, sparsity, mean and largest output.

    data is a Dataset (its training inputs are used) or an (x, y) pair; at most max_examples inputs are used.
    One row per activation call site (a module used twice gets "name (call 1)", "name (call 2)"). The model
    is measured in eval mode and left as found; in-place activations are measured like out-of-place ones.
    Columns: activation (class name), units; dead, dead_fraction (slope exactly 0 on every input: vocabulary.DEAD;
    for ReLU, output 0 on every input); near_dead, near_dead_fraction (saturated on every input:
    vocabulary.NEAR_DEAD); saturated_fraction (share of (input, unit) entries with |f'(z)| below 1% of the
    activation's peak slope: vocabulary.SATURATED; NaN where an input is NaN); zero_fraction (outputs exactly 0);
    mean_activation; max_activation (NaN if any output is NaN). A unit is a feature or a convolution channel.
    Raises ValueError for a model without activation modules or one the registry does not know.
    """
    import pandas as pd

    modules = dict(activation_modules(model))
    if not modules:
        raise ValueError("dead_units: the model has no activation modules")
    peaks = {name: module_peak_slope(module) for name, module in modules.items()}
    names, tallies = {}, {}
    for batch in activation_batches(model, data, batch_size, max_examples):
        for site, (name, z, a) in batch.items():
            names[site] = name
            tallies[site] = _merge(tallies.get(site), _tally(modules[name], z, a, peaks[name]))
    rows = [_dead_row(site, type(modules[names[site]]).__name__, t) for site, t in tallies.items()]
    return pd.DataFrame(rows).set_index("layer")


@torch.no_grad()
def dead_masks(model: nn.Module, data, batch_size: int = 1000, max_examples: int = 5000) -> dict[str, torch.Tensor]:
    """Per activation call site, a boolean mask of the dead units (vocabulary.DEAD: slope exactly 0 on every input of
    data; for ReLU, output 0 on every input). Arguments as in dead_units."""
    modules = dict(activation_modules(model))
    alive: dict[str, torch.Tensor] = {}
    for batch in activation_batches(model, data, batch_size, max_examples):
        for site, (name, z, _) in batch.items():
            alive[site] = alive.get(site, False) | ~is_dead(slope(modules[name], z))
    return {name: ~mask for name, mask in alive.items()}


class DeadUnitMonitor(Callback):
    """Adds each layer's dead fraction (and overall) to every epoch record, measured by dead_masks on fixed inputs
    (the first max_examples of data's training inputs). Raises ValueError for max_examples below 1."""

    def __init__(self, data, max_examples: int = 2000):
        check_number("max_examples", max_examples, 1, integer=True)
        x, y = inputs_of(data)
        self.inputs = (x[:max_examples], y[:max_examples])
        self.max_examples = max_examples

    def key(self) -> str:
        return f"DeadUnitMonitor({self.max_examples}, inputs {code_digest(self.inputs[0])})"

    def on_epoch_end(self, model, epoch):
        masks = dead_masks(model, self.inputs, max_examples=self.max_examples)
        out = {f"dead/{layer}": mask.float().mean().item() for layer, mask in masks.items()}
        out["dead_fraction"] = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
        return out


def distance_from_init(model: nn.Module, initial: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per weight layer: ||W - W0|| / ||W0||, how far training moved it from its initial value (W0 on any device)."""
    start = {n: initial[n].to(m.weight.device) for n, m in weight_layers(model)}
    return {n: ((m.weight.detach() - start[n]).norm() / start[n].norm()).item() for n, m in weight_layers(model)}


def snapshot_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every weight layer's weight, for distance_from_init."""
    return {n: m.weight.detach().clone() for n, m in weight_layers(model)}
