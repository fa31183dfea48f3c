"""Small utilities on a model that models, training and the diagnostics share: its device, a measurement that leaves
it as found, and its loss and accuracy on a labelled set. Imports nothing of actlab's above it (models and training
import it; it imports neither)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from .checks import check_number

if TYPE_CHECKING:
    from .data import Dataset


@contextmanager
def preserved_state(model: nn.Module):
    """Run a measurement on model and leave it as found: every module's train/eval mode, buffers (BatchNorm running
    statistics), parameters' gradients and requires_grad flags are restored afterwards, also on error."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    params = [(p, p.grad, p.requires_grad) for p in model.parameters()]
    try:
        yield model
    finally:
        for module, mode in modes:
            module.training = mode
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for param, grad, requires_grad in params:
            param.grad = grad
            param.requires_grad_(requires_grad)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of model on (x, y), in eval mode; the model is left as found.

    A model whose outputs are not all finite (a diverged one) has no defined prediction: both are NaN. x and y
    are moved to the model's device. Raises ValueError for batch_size < 1, an empty x, or x and y of different
    lengths.
    """
    check_number("batch_size", batch_size, 1, integer=True)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number (>= 1) of examples, got {len(x)} and {len(y)}")
    device = model_device(model)
    x, y = x.to(device), y.to(device)
    loss_sum, correct = 0.0, 0
    with preserved_state(model):
        model.eval()
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size])
            if not torch.isfinite(logits).all():
                return float("nan"), float("nan")
            target = y[i:i + batch_size]
            loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    return loss_sum / len(x), correct / len(x)


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's first parameter or buffer (CPU for a model with neither)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def accuracy(model: nn.Module, data: Dataset, split: str = "test") -> float:
    """Accuracy of model on a Dataset's test (or train) split, normalised as in training."""
    device = model_device(model)
    return evaluate(model, data.inputs(split, device), data.labels(split, device))[1]
