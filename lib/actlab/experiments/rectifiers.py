"""Experiments of notebooks 04-05 (ReLU, dying ReLU): seeded training runs, learning-rate and clipping callbacks,
dead and near-dead unit counts, and the checks of what keeps a dead layer dead."""
from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ..checks import check_number
from ..data import Dataset
from ..diagnostics import DeadUnitMonitor, capture_activations, inputs_of, slope
from ..models import MLP, activation_modules
from ..seeding import seeded
from ..vocabulary import is_dead, is_near_dead, module_peak_slope
from ..training import Callback, History, train

def _check_number(name: str, value, low: float, high: float = math.inf, low_open: bool = False) -> None:
    """Raise ValueError naming the parameter unless low <= value <= high (low < value when low_open)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if low_open else value >= low) and value <= high:
        return
    bracket = "(" if low_open else "["
    raise ValueError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")


class LinearWarmUp(Callback):
    """Raise the learning rate linearly from lr/steps to its set value over the first `steps` steps."""

    def __init__(self, steps: int):
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        self.steps = steps
        self.optimizer, self.base_lrs = None, []

    def key(self) -> str:
        return f"LinearWarmUp({self.steps})"

    def on_train_begin(self, model, optimizer):
        self.optimizer, self.base_lrs = optimizer, [g["lr"] for g in optimizer.param_groups]
        self._set(1)

    def _set(self, step: int) -> None:
        """Set every group's lr for the given (1-based) step."""
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * min(1.0, step / self.steps)

    def on_after_backward(self, model, step):
        self._set(step)  # step counts from 1; the optimiser steps right after this call


class LearningRateDrop(Callback):
    """Set the learning rate to new_lr from step `at_step` on (1-based), keeping the optimiser and its momentum."""

    def __init__(self, at_step: int, new_lr: float):
        if isinstance(at_step, bool) or not isinstance(at_step, int) or at_step < 1:
            raise ValueError(f"at_step must be an integer >= 1, got {at_step!r}")
        _check_number("new_lr", new_lr, 0.0, low_open=True)
        self.at_step, self.new_lr, self.optimizer = at_step, new_lr, None

    def key(self) -> str:
        return f"LearningRateDrop({self.at_step}, {self.new_lr})"

    def on_train_begin(self, model, optimizer):
        self.optimizer = optimizer

    def on_after_backward(self, model, step):
        if step == self.at_step:
            for group in self.optimizer.param_groups:
                group["lr"] = self.new_lr


class ClipGradNorm(Callback):
    """Clip the global gradient norm to max_norm before each optimiser step (Pascanu et al. 2013); records norms."""

    def __init__(self, max_norm: float):
        _check_number("max_norm", max_norm, 0.0, low_open=True)
        self.max_norm, self.norms = max_norm, []

    def key(self) -> str:
        return f"ClipGradNorm({self.max_norm})"

    def on_after_backward(self, model, step):
        self.norms.append(nn.utils.clip_grad_norm_(model.parameters(), self.max_norm).item())

    def clipped_fraction(self) -> float:
        """Fraction of steps whose gradient norm exceeded max_norm (and was scaled down)."""
        return float(np.mean(np.asarray(self.norms) > self.max_norm)) if self.norms else 0.0


def make_mlp(seed: int, activation: str = "relu", depth: int = 4, width: int = 128, init: str = "kaiming",
             batch_norm: bool = False, bias: float = 0.0, dropout: float = 0.0, in_features: int = 3072,
             out_features: int = 10) -> nn.Module:
    """A seeded actlab MLP; hidden biases start at `bias` (after init); Dropout(p = dropout, in [0, 1)) after each
    activation. ValueError for a dropout outside [0, 1), or (from MLP) bad sizes or init. The caller's global
    random state is left as it was."""
    with seeded(seed):
        return _mlp(activation=activation, depth=depth, width=width, init=init, batch_norm=batch_norm, bias=bias,
                    dropout=dropout, in_features=in_features, out_features=out_features)


def _mlp(activation: str = "relu", depth: int = 4, width: int = 128, init: str = "kaiming", batch_norm: bool = False,
         bias: float = 0.0, dropout: float = 0.0, in_features: int = 3072, out_features: int = 10) -> nn.Module:
    """make_mlp drawn from torch's global generator as it stands: call it inside seeded(seed)."""
    _check_number("dropout", dropout, 0.0, 1.0)
    if dropout == 1.0:
        raise ValueError("dropout must be below 1 (p = 1 drops every unit)")
    model = MLP(depth, width, activation, in_features=in_features, out_features=out_features, init=init,
                batch_norm=batch_norm)
    if bias:
        with torch.no_grad():
            for layer in model.linear_layers()[:-1]:
                layer.bias.fill_(bias)
    if dropout:
        layers = []
        for name, module in model.hidden.named_children():
            layers.append((name, module))
            if name.startswith("act"):
                layers.append((f"drop{name[3:]}", nn.Dropout(dropout)))
        model.hidden = nn.Sequential(OrderedDict(layers))
    return model


def train_seed(seed: int, data: Dataset, lr: float, epochs: int, callbacks=(), optimizer: str = "sgd",
               monitor: bool = True, **model_options) -> tuple[nn.Module, History]:
    """Train make_mlp(seed, **model_options) on data with SGD (momentum 0.9, batch 64) or another optimiser.

    The seed sets the initial weights and the batch order. With monitor=True a DeadUnitMonitor on the first
    2,000 training inputs adds per-layer dead fractions to every epoch record.
    """
    callbacks = [*callbacks, *([DeadUnitMonitor(data)] if monitor else [])]
    with seeded(seed):  # the initial weights, then dropout's masks during training
        model = _mlp(**model_options)
        history = train(model, data, epochs=epochs, lr=lr, optimizer=optimizer, seed=seed, callbacks=callbacks,
                        progress=False)
    return model, history


@torch.no_grad()
def pre_activations(model: nn.Module, data, train_mode: bool = False, batch_size: int = 64,
                    max_examples: int = 5000) -> dict[str, torch.Tensor]:
    """Per activation layer, its inputs z (examples x units) on data, fed in batches of batch_size.

    Eval mode by default; train_mode=True runs a copy of the model in training mode (BatchNorm normalises with
    each batch's statistics, dropout drops units), so the model itself and its running statistics are untouched.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    x, _ = inputs_of(data, next(model.parameters()).device)
    runner = copy.deepcopy(model).train() if train_mode else model
    was_training = model.training
    if not train_mode:
        model.eval()
    try:
        with capture_activations(runner) as captured:
            for i in range(0, min(len(x), max_examples), batch_size):
                runner(x[i:min(i + batch_size, max_examples)])
    finally:
        model.train(was_training)
    return {name: torch.cat([z for z, _ in records]).flatten(1) for name, records in captured.items()}


def unit_status(model: nn.Module, data, train_mode: bool = False, batch_size: int = 64,
                max_examples: int = 5000) -> dict[str, dict[str, torch.Tensor]]:
    """Per activation layer, boolean masks over units in the course's vocabulary (actlab.vocabulary): 'dead' (slope
    exactly 0 at every input: vocabulary.is_dead) and 'near_dead' (slope below 1% of the activation's peak slope at
    every input: vocabulary.is_near_dead; Leaky ReLU's 0.01 is not below it). train_mode and batch_size as in
    pre_activations; ValueError (from module_peak_slope) for an activation the registry does not know."""
    modules = dict(activation_modules(model))
    status = {}
    for name, z in pre_activations(model, data, train_mode, batch_size, max_examples).items():
        slopes = slope(modules[name], z)
        status[name] = {"dead": torch.as_tensor(is_dead(slopes)),
                        "near_dead": torch.as_tensor(is_near_dead(slopes, module_peak_slope(modules[name])))}
    return status


def fractions(status: dict[str, dict[str, torch.Tensor]], kind: str = "dead") -> float:
    """Fraction of all units (over every layer) of the given kind ('dead' or 'near_dead')."""
    if kind not in ("dead", "near_dead"):
        raise ValueError(f"kind must be 'dead' or 'near_dead', got {kind!r}")
    masks = [s[kind] for s in status.values()]
    return sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)


def dead_layer_anatomy(model: MLP, data, layer: int, units: torch.Tensor | None = None) -> dict:
    """What keeps units of hidden layer `layer` (1-based, >= 2) of an MLP dead on data's training inputs.

    units: a boolean mask over the layer's units (e.g. unit_status(...)[name]['dead']), default all of them.
    Returns, over those units: 'units' (how many); 'negative_weights_and_bias' (units whose incoming weights are all
    < 0 and bias < 0: dead for every non-negative input); 'max_z' (largest pre-activation over the training inputs;
    -inf for no unit); 'active_on_permuted' (fraction of them active on at least one input when each input's
    features from the layer below are randomly permuted: same values, new arrangement; NaN for no unit).
    ValueError for a bad layer or a mask of the wrong shape.
    """
    linears = [m for m in model.hidden if isinstance(m, nn.Linear)]
    if not (isinstance(layer, int) and 2 <= layer <= len(linears)):
        raise ValueError(f"layer must be an integer from 2 to {len(linears)} (a layer with a ReLU layer below), got {layer!r}")
    lin = linears[layer - 1]
    mask = torch.ones(lin.out_features, dtype=torch.bool) if units is None else torch.as_tensor(units).cpu()
    if mask.dtype != torch.bool or mask.shape != (lin.out_features,):
        raise ValueError(f"units must be a boolean mask of shape ({lin.out_features},), got {mask.dtype} {tuple(mask.shape)}")
    x, _ = inputs_of(data, next(model.parameters()).device)
    below = dict(model.hidden_outputs(x))
    with torch.no_grad():
        a = below[layer - 1]
        z = lin(a)[:, mask.to(a.device)]
        gen = torch.Generator().manual_seed(0)
        permuted = torch.stack([row[torch.randperm(row.numel(), generator=gen).to(row.device)] for row in a])
        z_perm = lin(permuted)[:, mask.to(a.device)]
    negative = ((lin.weight < 0).all(1) & (lin.bias < 0)).cpu() & mask
    n = int(mask.sum())
    return {"units": n, "negative_weights_and_bias": int(negative.sum()),
            "max_z": z.max().item() if n else -math.inf,
            "active_on_permuted": (z_perm > 0).any(0).float().mean().item() if n else math.nan}


def newly_alive(before: dict[str, dict[str, torch.Tensor]], after: dict[str, dict[str, torch.Tensor]]) -> int:
    """Units dead in `before` and not dead in `after` (two unit_status results of the same model), summed over
    the layers of `after`. KeyError if a layer of `after` is missing from `before`."""
    return sum(int((before[name]["dead"].cpu() & ~s["dead"].cpu()).sum()) for name, s in after.items())


class PeakActivation(Callback):
    """Records, before every optimiser step, the largest |output| of any hidden layer of an MLP on fixed inputs
    (inf for NaN or inf)."""

    def __init__(self, x: torch.Tensor):
        self.x, self.peaks = x, []

    def on_after_backward(self, model, step):
        with torch.no_grad():
            peak = max(h.abs().max().item() for _, h in model.hidden_outputs(self.x))
        self.peaks.append(peak if math.isfinite(peak) else math.inf)


def grow_run(seed: int, activation: str, data: Dataset, lr: float, steps: int, depth: int = 4,
             width: int = 64) -> np.ndarray:
    """Largest |hidden activation| on data's training inputs before each of `steps` SGD steps (the first value is at
    initialisation) of a seeded MLP without normalisation (Kaiming init, Xavier for tanh) trained at lr (batch 64);
    inf from the step at which the loss overflowed (the run stops there). Shape (steps,)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    x, _ = inputs_of(data)
    peak = PeakActivation(x)
    epochs = math.ceil(steps / math.ceil(len(x) / 64))
    with seeded(seed):
        model = _mlp(activation, depth, width, init="xavier" if activation == "tanh" else "kaiming",
                     in_features=x[0].numel(), out_features=int(data.y_train.max()) + 1)
        train(model, data, epochs=epochs, lr=lr, seed=seed, callbacks=[peak], progress=False)
    peaks = np.full(steps, math.inf)
    done = peak.peaks[:steps]
    peaks[:len(done)] = done
    return peaks


def inactive_rows(layer: nn.Linear, head, x: torch.Tensor) -> dict:
    """For one input x (shape 1 x in_features): boolean masks over the units of `layer`, 'inactive' (z <= 0) and
    'zero_rows' (weight row and bias get exactly zero gradient when head(relu(layer(x))).sum() is
    back-propagated), and the pre-activations 'z'. head: any callable of the layer's ReLU outputs (e.g. the rest
    of the network and its loss). ValueError if x is not one input."""
    if x.dim() != 2 or x.shape[0] != 1:
        raise ValueError(f"x must be one input of shape (1, {layer.in_features}), got {tuple(x.shape)}")
    layer.zero_grad(set_to_none=True)
    z = layer(x)
    head(torch.relu(z)).sum().backward()
    zero_rows = (layer.weight.grad == 0).all(1) & (layer.bias.grad == 0)
    inactive = z[0].detach() <= 0
    return {"inactive": inactive, "zero_rows": zero_rows, "z": z[0].detach()}


def born_dead_fraction(depth: int, width: int, trials: int = 100, n_inputs: int = 256, in_features: int = 2,
                       init: str = "kaiming", seed: int = 0) -> float:
    """Fraction of freshly initialised ReLU MLPs born dead: some hidden layer outputs exactly 0 for every input.

    Such a network computes a constant, and no gradient reaches anything below the dead layer. Deterministic
    from seed; the caller's global random state is left as it was. depth, width, trials, n_inputs, in_features:
    integers >= 1 (ValueError naming the parameter otherwise).
    """
    for name, value in (("depth", depth), ("width", width), ("trials", trials), ("n_inputs", n_inputs),
                        ("in_features", in_features)):
        check_number(name, value, 1, integer=True)
    dead = 0
    with seeded(seed), torch.no_grad():
        x = torch.randn(n_inputs, in_features)
        for _ in range(trials):
            model = MLP(depth, width, "relu", in_features=in_features, out_features=1, init=init)
            dead += any(not h.any() for _, h in model.hidden_outputs(x))  # stops at the first dead layer
    return dead / trials
