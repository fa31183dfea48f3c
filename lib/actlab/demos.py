"""Small experiments the notebooks run: each returns numbers a notebook can plot and check."""
from __future__ import annotations

import time

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .data import Dataset
from .models import MLP
from .registry import get_activation, spec
from .training import accuracy


def collapse_linear(layers: list[nn.Linear]) -> nn.Linear:
    """The single linear layer equal to a stack of linear layers (no activations between them)."""
    weight, bias = layers[0].weight.detach(), layers[0].bias.detach()
    for layer in layers[1:]:
        weight = layer.weight.detach() @ weight
        bias = layer.weight.detach() @ bias + layer.bias.detach()
    out = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        out.weight.copy_(weight)
        out.bias.copy_(bias)
    return out


def plot_decision_regions(models: dict[str, nn.Module], data: Dataset, resolution: int = 200) -> Figure:
    """Each 2-D classifier's predicted regions with the test points on top, one panel per model."""
    x = torch.cat([data.x_train, data.x_test])
    low, high = x.min(0).values - 0.2, x.max(0).values + 0.2
    gx, gy = torch.meshgrid(torch.linspace(low[0], high[0], resolution), torch.linspace(low[1], high[1], resolution), indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mean, std = data.channel_stats()
    fig = Figure(figsize=(3.3 * len(models), 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(models)))
    for ax, (title, model) in zip(axes, models.items()):
        model.eval()
        with torch.no_grad():
            pred = model((grid - mean) / std).argmax(1).reshape(resolution, resolution)
        acc = accuracy(model, data)
        ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#cfe2f3", "#f4cccc"])
        ax.scatter(data.x_test[:, 0], data.x_test[:, 1], c=data.y_test, cmap="coolwarm", s=6)
        ax.set_title(f"{title}\ntest accuracy {acc:.0%}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def same_sign_updates(inputs: str = "sigmoid", steps: int = 200, lr: float = 0.5, seed: int = 0) -> np.ndarray:
    """SGD path of two weights fitting w* = (1, -1) from inputs squashed by sigmoid (all positive) or tanh.

    Each example's gradient is delta * a: with all-positive a, both weights always move in the same
    direction, so reaching (1, -1) takes a zig-zag path.
    """
    if inputs not in ("sigmoid", "tanh"):
        raise ValueError(f"inputs must be 'sigmoid' or 'tanh', got {inputs!r}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(steps, 2, generator=gen) * 2
    a = torch.sigmoid(z) if inputs == "sigmoid" else torch.tanh(z)
    target = torch.tensor([1.0, -1.0])
    w = torch.zeros(2)
    path = [w.clone()]
    for a_i in a:
        delta = (w - target) @ a_i  # d/dy of 0.5 * (y - y*)^2 with y = w . a
        w = w - lr * delta * a_i
        path.append(w.clone())
    return torch.stack(path).numpy()


def steps_to_reach(path: np.ndarray, target=(1.0, -1.0), tolerance: float = 0.1) -> int:
    """First step at which the path is within tolerance of the target (len(path) if never)."""
    distance = np.linalg.norm(path - np.asarray(target), axis=1)
    hits = np.nonzero(distance < tolerance)[0]
    return int(hits[0]) if len(hits) else len(path)


def time_activations(names, n: int = 1_000_000, repeats: int = 30, backward: bool = True):
    """Median time per call (ms) of each activation on n float32 values: forward, and forward+backward."""
    import pandas as pd

    x = torch.randn(n)
    rows = []
    for name in names:
        module = get_activation(name)
        times = {"forward": [], "forward+backward": []}
        for _ in range(repeats + 3):
            start = time.perf_counter()
            with torch.no_grad():
                module(x)
            times["forward"].append(time.perf_counter() - start)
            if backward:
                xg = x.clone().requires_grad_(True)
                start = time.perf_counter()
                module(xg).sum().backward()
                times["forward+backward"].append(time.perf_counter() - start)
        row = {"activation": spec(name).display, "needs exp": spec(name).needs_exp}
        row.update({k: 1000 * float(np.median(v[3:])) for k, v in times.items() if v})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("activation")
    table["relative to fastest"] = table["forward"] / table["forward"].min()
    return table


def born_dead_fraction(depth: int, width: int, trials: int = 100, n_inputs: int = 256, in_features: int = 2,
                       init: str = "kaiming", seed: int = 0) -> float:
    """Fraction of freshly initialised ReLU MLPs born dead: some hidden layer outputs exactly 0 for every input.

    Such a network computes a constant, and no gradient reaches anything below the dead layer.
    """
    torch.manual_seed(seed)
    x = torch.randn(n_inputs, in_features)
    dead = 0
    with torch.no_grad():
        for _ in range(trials):
            model = MLP(depth, width, "relu", in_features=in_features, out_features=1, init=init)
            dead += any(not h.any() for _, h in model.hidden_outputs(x))  # stops at the first dead layer
    return dead / trials


def signal_through_depth(activation: str, depth: int = 50, width: int = 256, init: str = "lecun", n: int = 2000,
                         seed: int = 0):
    """Mean and standard deviation of each layer's outputs when N(0, 1) inputs pass a fresh deep MLP."""
    import pandas as pd

    torch.manual_seed(seed)
    model = MLP(depth, width, activation, in_features=width, out_features=1, init=init)
    with torch.no_grad():
        rows = [{"layer": i, "mean": h.mean().item(), "std": h.std().item()}
                for i, h in model.hidden_outputs(torch.randn(n, width))]
    return pd.DataFrame(rows).set_index("layer")


def gaussian_mean(forward, **params) -> float:
    """E[forward(z)] for z ~ N(0, 1), by numerical integration on [-12, 12]."""
    z = torch.linspace(-12, 12, 240001, dtype=torch.float64)
    density = torch.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    with torch.no_grad():
        return torch.trapezoid(forward(z, **params) * density, z).item()


def normal_mean(name: str, **params) -> float:
    """E[f(z)] for z ~ N(0, 1) of a registry activation."""
    s = spec(name)
    return gaussian_mean(s.forward, **s.resolve(**params))
