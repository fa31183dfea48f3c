"""Per-layer training diagnostics: activation statistics, update-to-data ratios, a monitor, and their plots.

The views follow the teachers who made them popular: per-layer activation histograms in one axes and the
update-to-data ratio with a 1e-3 guide (Karpathy, "Building makemore part 3", 2022), the "colorful dimension"
(fastai course, 2019: a histogram of activations per step, one panel per layer), and gradient histograms per
layer at initialisation (Lippe, UvA deep learning tutorial 3, "Activation functions", 2022).

Definitions, per activation layer, in the course's vocabulary (`actlab.vocabulary`; f is the layer's activation,
z its input, f' taken by autograd through the layer's own module, learned parameters included): saturated fraction:
share of (example, unit) pairs with |f'(z)| below 1% of f's peak slope (vocabulary.SATURATED); dead fraction:
share of units whose slope is exactly 0 on every probe example (vocabulary.DEAD); near-dead fraction: share of units
saturated on every probe example (vocabulary.NEAR_DEAD); near-zero fraction: share of outputs with |f(z)| <
NEAR_ZERO (a histogram statistic, not a vocabulary term).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from .checks import check_number
from .diagnostics import slope
from .hooks import Recorder
from .models import activation_modules
from .activations import Activation, lookup
from .model_utils import model_device, preserved_state
from .training import Callback, code_digest
from .vocabulary import is_dead, is_near_dead, is_saturated, module_peak_slope, registry_entry

NEAR_ZERO = 0.01  # an output counts as near zero below this magnitude
HIST_BINS = 41
HIST_LIMIT = 4.0  # histogram ranges are clipped to [-HIST_LIMIT, HIST_LIMIT]; outliers fall in the edge bins
GUIDE_RATIO = -3.0  # Karpathy's rule of thumb: log10 update/data ratio near -3


def activation_name(module: nn.Module) -> str | None:
    """The registry name of an activation module (None when the registry does not know its class)."""
    found = registry_entry(module)
    return found[0].name if found else None


def hist_range(name: str | None, params: dict | None = None) -> tuple[float, float]:
    """Histogram range for an activation's outputs: its registry output range clipped to +-HIST_LIMIT."""
    if name is None:
        return -HIST_LIMIT, HIST_LIMIT
    s = lookup(name)
    low, high = s.output_range(**s.resolve(**(params or {})))
    low, high = max(low, -HIST_LIMIT), min(high, HIST_LIMIT)
    if high - low < 1e-6:
        return low - 1.0, high + 1.0
    return low, high


def layer_stats(z: torch.Tensor, a: torch.Tensor, d: torch.Tensor, value_range=(-HIST_LIMIT, HIST_LIMIT),
                bins: int = HIST_BINS, *, peak_slope: float = 1.0) -> dict:
    """Statistics of one layer from its inputs z, outputs a and slopes d = |f'(z)|, each (examples, units).

    peak_slope: the activation's peak slope (actlab.vocabulary.peak_slope; 1 for ReLU, tanh and most rectifiers,
    1/4 for the sigmoid), which the saturation thresholds are relative to. Returns mean, std, saturated_fraction,
    dead_fraction, near_dead_fraction, near_zero_fraction (all floats; fractions in [0, 1], in the vocabulary's terms
    with every (example, unit) column a unit) and hist: the share of outputs in each of `bins` equal bins over
    value_range (outliers in the edge bins).
    """
    a2, d2 = a.reshape(a.shape[0], -1) if a.dim() > 1 else a[:, None], d.reshape(d.shape[0], -1) if d.dim() > 1 else d[:, None]
    low, high = value_range
    hist = torch.histc(a2.float().clamp(low, high), bins=bins, min=low, max=high)
    return {"mean": a2.mean().item(), "std": a2.std().item() if a2.numel() > 1 else 0.0,
            "saturated_fraction": is_saturated(d2, peak_slope).float().mean().item(),
            "dead_fraction": is_dead(d2).float().mean().item(),
            "near_dead_fraction": is_near_dead(d2, peak_slope).float().mean().item(),
            "near_zero_fraction": (a2.abs() < NEAR_ZERO).float().mean().item(),
            "hist": (hist / max(a2.numel(), 1)).cpu().numpy()}


def _probe_sites(model: nn.Module, x: torch.Tensor, modules: list[tuple[str, nn.Module]]) -> dict:
    """{site: (module, input, output)} of every call of modules during one forward pass of x (Recorder.sites).

    No gradient is taken; the model is left as found (BatchNorm running statistics, modes, gradients)."""
    by_name = dict(modules)
    with torch.no_grad(), preserved_state(model), Recorder(modules) as recorder:
        model(x)
    return {site: (by_name[name], z, a) for site, (name, z, a) in recorder.sites().items()}


def _value_range(module: nn.Module, act: str | None) -> tuple[float, float]:
    """Histogram range of a module's outputs: the playground's actlab_range if set, else from the registry."""
    value_range = getattr(module, "actlab_range", None)  # set by the playground: no registry look-up per call
    if value_range is None:
        params = module.params if isinstance(module, Activation) else getattr(module, "actlab_params", None)
        value_range = hist_range(act, params)
    return value_range


def activation_stats(model: nn.Module, x: torch.Tensor, bins: int = HIST_BINS,
                     modules: list[tuple[str, nn.Module]] | None = None) -> list[dict]:
    """Per activation call site (input side first): layer, module, activation, histogram range and layer_stats of x.

    modules: (name, module) of the activations to watch (default: every registry activation in the model); a
    module called k times in one pass gives k rows ("name (call k)"), an uncalled one none. The probe runs in
    the model's current mode (in training, batch norm uses the batch statistics) and leaves the model as found,
    running statistics included; in-place activations are measured on their true inputs. x is moved to the
    model's device. Raises ValueError when the model has no activation modules.
    """
    check_number("bins", bins, 1, integer=True)
    modules = activation_modules(model) if modules is None else modules
    if not modules:
        raise ValueError("activation_stats: the model has no activation modules")
    rows = []
    x = x.to(model_device(model))
    for layer, (site, (module, z, a)) in enumerate(_probe_sites(model, x, modules).items(), 1):
        act = getattr(module, "actlab_name", None) or activation_name(module)
        value_range = _value_range(module, act)
        rows.append({"layer": layer, "module": site, "activation": act or type(module).__name__,
                     "range": value_range,
                     **layer_stats(z, a, slope(module, z), value_range, bins, peak_slope=module_peak_slope(module))})
    return rows


def weight_tensors(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """(name, parameter) of every weight matrix or kernel (dim >= 2), input side first, as in Karpathy's plots."""
    return [(n, p) for n, p in model.named_parameters() if p.dim() >= 2]


def update_ratios(before: dict[str, torch.Tensor], model: nn.Module) -> dict[str, float]:
    """log10(std(update) / std(weight before it)) per weight tensor, update = weight now - before (Karpathy 2022).

    -inf where a tensor did not move; NaN where the weight's std is 0. before may be on another device.
    """
    out = {}
    for name, p in weight_tensors(model):
        start = before[name].to(p.device)
        update, weight = (p.detach() - start).std().item(), start.std().item()
        out[name] = math.log10(update / weight) if weight > 0 and update > 0 else (-math.inf if weight > 0 else math.nan)
    return out


def weight_grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of each weight tensor's current gradient (0 where there is none)."""
    return {n: (p.grad.norm().item() if p.grad is not None else 0.0) for n, p in weight_tensors(model)}


class LayerStatsMonitor(Callback):
    """Records activation statistics, gradient norms and update ratios every `every` steps of `actlab.train`.

    probe: the inputs the activation statistics are measured on (a tensor, at most max_examples rows are kept).
    Statistics are taken by activation_stats after the backward pass; the update ratio by a hook after the
    optimiser's step. Cached runs (train(cache=True)) restore the same records. After training: .activations()
    and .updates() give DataFrames, .histograms() arrays for the plots. Raises ValueError for every,
    max_examples or bins below 1.
    """

    def __init__(self, probe: torch.Tensor, every: int = 10, max_examples: int = 512, bins: int = HIST_BINS):
        check_number("every", every, 1, integer=True)
        check_number("max_examples", max_examples, 1, integer=True)
        check_number("bins", bins, 1, integer=True)
        self.probe, self.every, self.bins = probe[:max_examples], every, bins
        self.records: list[dict] = []
        self.ratio_records: list[dict] = []
        self._starts = (0, 0)  # where the last run's records begin in records and ratio_records
        self._before: dict | None = None

    def key(self) -> str:
        return f"LayerStatsMonitor(every={self.every}, bins={self.bins}, probe {code_digest(self.probe)})"

    def state(self) -> dict:
        """The last run's records, JSON-serialisable (histograms as lists)."""
        records = [{**r, "hist": r["hist"].tolist()} for r in self.records[self._starts[0]:]]
        return {"records": records, "ratio_records": self.ratio_records[self._starts[1]:]}

    def load_state(self, state: dict) -> None:
        """Append a cached run's records, as the run itself would have."""
        self._starts = (len(self.records), len(self.ratio_records))
        self.records.extend({**r, "hist": np.array(r["hist"], dtype=np.float32), "range": tuple(r["range"])}
                            for r in state["records"])
        self.ratio_records.extend(state["ratio_records"])

    def on_train_begin(self, model, optimizer):
        self._model, self._starts, self._before = model, (len(self.records), len(self.ratio_records)), None

    def on_after_backward(self, model, step):
        if step % self.every and step != 1:
            return
        self._step, self._norms = step, weight_grad_norms(model)
        for row in activation_stats(model, self.probe.to(model_device(model)), self.bins):
            self.records.append({"step": step, **row})
        self._before = {n: p.detach().clone() for n, p in weight_tensors(model)}

    def on_batch_end(self, model, step, loss) -> None:
        """After the optimiser step: the update ratios of a step whose statistics were recorded."""
        if self._before is None:
            return
        for name, value in update_ratios(self._before, model).items():
            self.ratio_records.append({"step": self._step, "parameter": name, "log10_ratio": value,
                                       "grad_norm": self._norms[name]})
        self._before = None

    def activations(self):
        """One row per (step, layer): mean, std, saturated, dead, near-dead and near-zero fractions (no histograms)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in r.items() if k not in ("hist", "range")} for r in self.records])

    def updates(self):
        """One row per (step, weight tensor): log10 update ratio and gradient norm."""
        import pandas as pd

        return pd.DataFrame(self.ratio_records)

    def histograms(self) -> dict[int, tuple[np.ndarray, np.ndarray, str, tuple[float, float]]]:
        """Per layer: (steps, shares with shape (steps, bins), activation name, histogram range)."""
        out: dict[int, list] = {}
        for r in self.records:
            out.setdefault(r["layer"], [[], [], r["activation"], r["range"]])
            out[r["layer"]][0].append(r["step"])
            out[r["layer"]][1].append(r["hist"])
        return {k: (np.array(s), np.array(h), a, v) for k, (s, h, a, v) in out.items()}


def _layer_colours(n: int):
    """n colours from dark (input side) to light (output side)."""
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def plot_activation_histograms(model: nn.Module, x: torch.Tensor, title: str = "", bins: int = HIST_BINS) -> Figure:
    """Karpathy's layout: every activation layer's output histogram as one line in one axes, with its statistics."""
    rows = activation_stats(model, x, bins)
    low, high = min(r["range"][0] for r in rows), max(r["range"][1] for r in rows)
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.subplots()
    for r, colour in zip(rows, _layer_colours(len(rows))):
        lo, hi = r["range"]
        centres = lo + (np.arange(bins) + 0.5) * (hi - lo) / bins
        ax.plot(centres, r["hist"], color=colour, lw=1.3,
                label=f"layer {r['layer']} ({r['activation']}): mean {r['mean']:+.2f}, std {r['std']:.2f}, "
                      f"saturated {100 * r['saturated_fraction']:.0f}%")
    ax.set(xlim=(low, high), xlabel="activation output", ylabel="share of outputs per bin",
           title=title or "activation histograms per layer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def plot_colorful_dimension(monitor, title: str = "") -> Figure:
    """fastai's colorful dimension: per layer, the histogram of its outputs (log colour) over training steps.

    monitor: a LayerStatsMonitor after training, or anything with the same histograms() method (the playground).
    """
    hists = monitor.histograms()
    if not hists:
        raise ValueError("plot_colorful_dimension: the monitor has recorded nothing yet")
    n = len(hists)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.6 * cols, 2.1 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (layer, (steps, shares, act, (low, high))) in zip(axes, hists.items()):
        ax.imshow(np.log1p(1000 * shares.T), origin="lower", aspect="auto", cmap="viridis",
                  extent=[steps[0], steps[-1] if len(steps) > 1 else steps[0] + 1, low, high])
        ax.set_title(f"layer {layer} ({act})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.supxlabel("training step", fontsize=8)
    fig.supylabel("activation output", fontsize=8)
    fig.suptitle(title or "colorful dimension: histogram of each layer's outputs over training (log colour)", fontsize=9)
    return fig


def init_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """Every trainable weight tensor's gradient entries (flattened, on the CPU) of the cross-entropy loss on (x, y),
    in the model's current mode; frozen weights are left out. The model is left as found (gradients, BatchNorm
    running statistics); x and y are moved to the model's device."""
    device = model_device(model)
    with preserved_state(model):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x.to(device)), y.to(device)).backward()
        return {n: p.grad.detach().flatten().cpu().numpy().copy() for n, p in weight_tensors(model) if p.grad is not None}


def plot_gradient_histograms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, title: str = "") -> Figure:
    """The UvA tutorial's view: one histogram of weight-gradient entries per layer, at the model's current weights."""
    grads = init_gradients(model, x, y)
    n = len(grads)
    fig = Figure(figsize=(min(2.2 * n, 14), 2.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)).ravel()
    for ax, (name, g) in zip(axes, grads.items()):
        ax.hist(g, bins=40, color="tab:blue")
        ax.set_title(f"{name}\nstd {g.std():.1e}", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    fig.suptitle(title or "gradient of each weight tensor, one histogram per layer (input side first)", fontsize=9)
    return fig


def plot_update_ratios(updates, title: str = "") -> Figure:
    """log10 update/data ratio per weight tensor over steps (a monitor or its updates() frame), guide at -3."""
    frame = updates.updates() if isinstance(updates, LayerStatsMonitor) else updates
    if len(frame) == 0:
        raise ValueError("plot_update_ratios: no update ratios recorded yet")
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    names = list(dict.fromkeys(frame["parameter"]))
    for name, colour in zip(names, _layer_colours(len(names))):
        part = frame[frame["parameter"] == name]
        ax.plot(part["step"], part["log10_ratio"], color=colour, lw=1.2, label=name)
    ax.axhline(GUIDE_RATIO, color="k", ls="--", lw=1, label="1e-3 guide")
    finite = frame["log10_ratio"][np.isfinite(frame["log10_ratio"])]
    if len(finite):  # keep the guide in view
        ax.set_ylim(min(finite.min(), GUIDE_RATIO) - 0.3, max(finite.max(), GUIDE_RATIO) + 0.3)
    ax.set(xlabel="training step", ylabel="log10 std(update) / std(weight)", title=title or "update-to-data ratio per weight tensor")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig
