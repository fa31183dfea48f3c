"""Static figures: an activation with its derivative, and several overlaid."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from . import style
from .checks import check_list, check_number, check_range
from .activations import activation_names, get_activation, lookup
from .style import DERIVATIVE_COLOUR, FUNCTION_COLOUR, REFERENCE_COLOUR

style.apply()


@dataclass
class Curves:
    """An activation sampled on a grid: values, autograd derivative and analytic derivative."""

    x: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    dy_analytic: np.ndarray
    label: str


def curves(name: str, x_range=(-6, 6), points: int = 401, **params) -> Curves:
    """Sample the activation's module and its autograd derivative, plus the registry's analytic derivative."""
    entry = lookup(name)
    low, high = check_range("x_range", x_range)
    values = entry.resolve(**params)
    module = get_activation(entry.name, **values).double().eval()
    x = torch.linspace(low, high, int(check_number("points", points, 2, integer=True)), dtype=torch.float64,
                       requires_grad=True)
    y = module(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    with torch.no_grad():
        analytic = entry.derivative(x.detach(), **values)
    return Curves(x.detach().numpy(), y.detach().numpy(), dy.numpy(), analytic.numpy(), entry.label(**values))


def plot_activation(name: str, x_range=(-6, 6), points: int = 401, **params) -> Figure:
    """A two-panel figure: the activation and its derivative (autograd solid, analytic dashed)."""
    c = curves(name, x_range, points, **params)
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax_f, ax_d = fig.subplots(1, 2)
    ax_f.plot(c.x, c.y, color=FUNCTION_COLOUR, lw=2)
    style.origin_axes(ax_f, c.label)
    ax_f.set_ylabel("f(x)")
    ax_d.plot(c.x, c.dy, color=DERIVATIVE_COLOUR, lw=2, label="autograd")
    ax_d.plot(c.x, c.dy_analytic, color=REFERENCE_COLOUR, lw=1, ls="--", label="analytic")
    style.origin_axes(ax_d, "derivative f'(x)")
    ax_d.legend(loc="best")
    return fig


def plot_compare(names, x_range=(-6, 6), points: int = 401, params: dict | None = None) -> Figure:
    """Several activations overlaid, functions left and derivatives right; params maps name -> kwargs."""
    names = check_list("names", names)
    params = params or {}
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_f, ax_d = fig.subplots(1, 2)
    for name in names:
        c = curves(name, x_range, points, **params.get(name, {}))
        (line,) = ax_f.plot(c.x, c.y, lw=2, label=c.label)
        ax_d.plot(c.x, c.dy, lw=2, color=line.get_color())
    style.origin_axes(ax_f, "f(x)")
    style.origin_axes(ax_d, "f'(x)")
    ax_f.legend()
    return fig


def plot_images(data, per_class: int = 8, split: str = "train") -> Figure:
    """A grid of example images, one row per class, titled with the data's source."""
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    if x.dim() != 4:
        raise ValueError("plot_images needs image data (N, 3, H, W)")
    fig = Figure(figsize=(per_class * 0.7 + 1.2, len(data.classes) * 0.7 + 0.4), layout="constrained")
    axes = fig.subplots(len(data.classes), per_class, squeeze=False)
    for k, name in enumerate(data.classes):
        rows = (y == k).nonzero().flatten()[:per_class]
        for j, ax in enumerate(axes[k]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(rows):
                ax.imshow(x[rows[j]].permute(1, 2, 0).numpy())
        axes[k, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
    fig.suptitle(data.source, fontsize="medium")
    return fig


def plot_gallery(names, x_range=(-4, 4), columns: int = 5) -> Figure:
    """Small multiples: each activation (solid) with its derivative (dashed) at default parameters."""
    names = list(names)
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(2.3 * columns, 2.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).flatten()
    for ax, name in zip(axes, names):
        c = curves(name, x_range, 201)
        ax.plot(c.x, c.y, color=FUNCTION_COLOUR, lw=1.8)
        ax.plot(c.x, c.dy, color=DERIVATIVE_COLOUR, lw=1.2, ls="--")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_title(lookup(name).torch_name or lookup(name).display, fontsize="medium")
        ax.tick_params(labelsize="small")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle("function (solid) and derivative (dashed), default parameters")
    return fig


def registry_table(names=None):
    """The registry's facts as a table: module, parameters, range and property flags, and what each is for."""
    import pandas as pd

    rows = []
    for name in names or activation_names():
        s = lookup(name)
        low, high = s.output_range(**s.defaults())
        rows.append({"activation": s.display, "torch.nn": s.torch_name or "", "parameters": ", ".join(
            f"{p.name}={p.default:g} in [{p.low:g}, {p.high:g}]" for p in s.params), "range": f"({low:.3g}, {high:.3g})",
            "monotonic": s.monotonic, "smooth": s.smooth, "saturates": s.saturates, "zero-centred": s.zero_centred,
            "needs exp": s.needs_exp, "what for": s.note})
    return pd.DataFrame(rows).set_index("activation")


def plot_softmax(logits, temperature: float = 1.0) -> Figure:
    """Softmax and Softmin of a vector of logits at a temperature, as bars."""
    check_number("temperature", temperature, 0, low_open=True)
    z = torch.as_tensor(logits, dtype=torch.float64)
    fig = Figure(figsize=(9, 2.8), layout="constrained")
    ax_z, ax_max, ax_min = fig.subplots(1, 3)
    ax_z.bar(range(len(z)), z.numpy(), color="0.5")
    ax_z.set_title("logits z", fontsize="medium")
    for ax, module, colour in ((ax_max, torch.nn.Softmax(dim=0), style.BLUE), (ax_min, torch.nn.Softmin(dim=0), style.ORANGE)):
        ax.bar(range(len(z)), module(z / temperature).numpy(), color=colour)
        ax.set(ylim=(0, 1))
        ax.set_title(f"{type(module).__name__}(z / {temperature:g})", fontsize="medium")
    return fig

