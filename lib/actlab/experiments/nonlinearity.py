"""Experiments of notebook 00 (why non-linearity): a stack of linear layers collapsed to one, and 2-D classifiers'
decision regions (formerly in actlab.demos)."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..data import Dataset
from ..model_utils import accuracy, model_device


def collapse_linear(layers: list[nn.Linear]) -> nn.Linear:
    """The single linear layer equal to a stack of linear layers (no activations between them)."""
    weight, bias = layers[0].weight.detach(), layers[0].bias.detach()
    for layer in layers[1:]:
        weight = layer.weight.detach() @ weight
        bias = layer.weight.detach() @ bias + layer.bias.detach()
    out = nn.utils.skip_init(nn.Linear, weight.shape[1], weight.shape[0])  # no random initialisation to overwrite
    with torch.no_grad():
        out.weight.copy_(weight)
        out.bias.copy_(bias)
    return out


def plot_decision_regions(models: dict[str, nn.Module], data: Dataset, resolution: int = 200) -> Figure:
    """Each 2-D classifier's predicted regions with the test points on top, one panel per model (on any device)."""
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
            pred = model(((grid - mean) / std).to(model_device(model))).argmax(1).cpu().reshape(resolution, resolution)
        acc = accuracy(model, data)
        ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#cfe2f3", "#f4cccc"])
        ax.scatter(data.x_test[:, 0], data.x_test[:, 1], c=data.y_test, cmap="coolwarm", s=6)
        ax.set_title(f"{title}\ntest accuracy {acc:.0%}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
