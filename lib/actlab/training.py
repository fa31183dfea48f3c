"""The training engine: seeded, cached, interruptible training with a plottable history, and activation grids."""
from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import __version__
from .checks import check_choice, check_number
from .cores import CoreTurns
from .data import DATA_DIR, DataError, Dataset, load_arrays, save_arrays
from .fingerprint import LIBRARY_DIGEST, code_digest

OPTIMIZERS = ("sgd", "adam", "adamw")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: CUDA, then Apple MPS, then CPU; an explicit choice is checked."""
    if device is not None:
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for but CUDA is not available here; use device=None to pick automatically")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device='mps' was asked for but MPS is not available here; use device=None to pick automatically")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class History:
    """What one training run produced: per-step loss, per-epoch records, status and the data it used."""

    config: dict
    data_source: str
    steps: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    status: str = "completed"
    message: str = ""
    from_cache: bool = False

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        d = asdict(self)
        d.pop("from_cache")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of to_dict."""
        return cls(**d)

    @property
    def final(self) -> dict:
        """The last epoch's record."""
        return self.epochs[-1] if self.epochs else {}

    def smoothed_loss(self, window: int = 50) -> np.ndarray:
        """Moving average of the per-step training loss (empty if there are fewer steps than window)."""
        if len(self.steps) < window:
            return np.array([])
        return np.convolve(self.steps, np.ones(window) / window, mode="valid")

    def steps_to(self, loss: float, window: int = 50) -> int | None:
        """First step at which the moving average of the training loss is at or below loss (None if never)."""
        hits = np.nonzero(self.smoothed_loss(window) <= loss)[0]
        return int(hits[0]) + window if len(hits) else None

    def frame(self):
        """Per-epoch records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.epochs)

    def plot(self, title: str | None = None) -> Figure:
        """Loss per step (left) and train/test accuracy per epoch (right)."""
        fig = Figure(figsize=(9, 3.2), layout="constrained")
        ax_loss, ax_acc = fig.subplots(1, 2)
        ax_loss.plot(self.steps, lw=0.8)
        ax_loss.set(xlabel="step", ylabel="training loss", title="loss per step")
        epochs = [r["epoch"] for r in self.epochs]
        ax_acc.plot(epochs, [r["train_acc"] for r in self.epochs], "o-", label="train")
        ax_acc.plot(epochs, [r["test_acc"] for r in self.epochs], "s-", label="test")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax_acc.legend()
        for ax in (ax_loss, ax_acc):
            ax.grid(alpha=0.3)
        fig.suptitle(title or f"{self.config.get('model', '')}, {self.status}; data: {self.data_source}", fontsize=9)
        return fig


class Callback:
    """Hooks into training; subclasses override what they need.

    A run with callbacks is cached (train(cache=True)) only when every callback says what identifies its
    effect (key) and can save and restore what it records (state, load_state); the defaults refuse.
    """

    def key(self) -> str | None:
        """What identifies this callback's effect on a run (its settings; its class's code is added), for the cache
        key; None: the run cannot be cached."""
        return None

    def state(self) -> dict:
        """What this callback recorded during the last run, JSON-serialisable (saved with a cached run)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore what state() returned, as if the run had happened (called on a cache hit)."""

    def on_train_begin(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Called once before the first step, with the optimiser (e.g. to schedule its learning rate)."""

    def on_after_backward(self, model: nn.Module, step: int) -> None:
        """Called after each backward pass, before the optimiser step."""

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict:
        """Called at epoch 0 (before training) and after each epoch; returns metrics for that epoch's record."""
        return {}


# ---------------------------------------------------------------------------
# Cache keys: everything that changes a run's result
# ---------------------------------------------------------------------------

def cache_key(model: nn.Module, data: Dataset, config: dict, callbacks) -> dict:
    """Everything that changes a run's result: settings, code (model, activations, library, torch), data, callbacks.

    Raises ValueError when a callback cannot be cached (its key() is None).
    """
    refused = [type(cb).__name__ for cb in callbacks if cb.key() is None]
    if refused:
        raise ValueError(f"cache=True cannot restore what callback(s) {', '.join(refused)} record: give them key(), "
                         "state() and load_state() methods (see actlab.Callback), or train with cache=False")
    return {**config, "version": __version__, "library": LIBRARY_DIGEST, "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "default_dtype": str(torch.get_default_dtype()), "architecture": repr(model), "init": _state_digest(model),
            "code": code_digest(model), "data": data.fingerprint(),
            "callbacks": [(cb.key(), code_digest(type(cb))) for cb in callbacks],
            "rng": code_digest(torch.get_rng_state())}  # dropout, RReLU and the like draw from the global generator


def _state_digest(model: nn.Module) -> str:
    """A hash of the model's parameters and buffers: identifies its initial weights."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


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

    A model whose outputs are not all finite (a diverged one) has no defined prediction: both are NaN.
    """
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


def cache_path(key: dict, folder: Path | None = None) -> Path:
    """Where the result for a configuration is cached."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return Path(folder or DATA_DIR / "cache") / f"train-{digest}.npz"


def _load_cached(path: Path, model: nn.Module, callbacks) -> History | None:
    """The cached history (loading its weights into model and its records into callbacks), or None if absent.

    A corrupt or incomplete entry is reported and treated as absent; nothing is changed then.
    """
    if not path.exists():
        return None
    try:
        arrays, meta = load_arrays(path)
        history = History.from_dict(meta["history"])
        states = meta["callbacks"]
        if len(states) != len(callbacks):
            raise KeyError("callback records")
        weights = {k: torch.from_numpy(v) for k, v in arrays.items()}
        current = model.state_dict()
        if set(weights) != set(current) or any(weights[k].shape != current[k].shape for k in current):
            raise KeyError("the weights do not fit the model")  # checked first: a model is never half-loaded
        model.load_state_dict(weights)
    except (DataError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        warnings.warn(f"cached result {path.name} is corrupt ({exc}); retraining", stacklevel=3)
        return None
    for cb, state in zip(callbacks, states):
        cb.load_state(state)
    history.from_cache = True
    return history


def _save_cached(path: Path, model: nn.Module, history: History, callbacks) -> None:
    """Cache history, final weights and the callbacks' records atomically."""
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    save_arrays(path, arrays, {"history": history.to_dict(), "callbacks": [cb.state() for cb in callbacks]})


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """An optimiser by name."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train(model: nn.Module, data: Dataset, epochs: int = 3, lr: float = 0.01, optimizer: str = "sgd",
          momentum: float = 0.9, batch_size: int = 64, seed: int = 0, device=None, weight_decay: float = 0.0,
          callbacks=(), progress: bool = True, cache: bool = False, channels_last: bool | None = None) -> History:
    """Train model on data with cross-entropy; return its History (cached on disk when cache=True).

    A loss that turns NaN or infinite stops the run (status 'diverged'; an epoch with no finished step records
    NaN); Ctrl-C or a kernel interrupt stops it too (status 'interrupted', never cached). Either way the history
    so far is returned. The cache key (see cache_key) covers the settings, the model's code and initial weights,
    the activation functions' code, the library's and torch's code, the data as it is now, the global random
    state and the callbacks; it is computed only when cache=True. Callbacks without key() make cache=True raise.
    """
    check_number("epochs", epochs, 0, integer=True)
    check_number("lr", lr, 0, low_open=True)
    check_number("batch_size", batch_size, 1, integer=True)
    check_number("momentum", momentum, 0)
    check_number("weight_decay", weight_decay, 0)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    callbacks = list(callbacks)
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an actlab Dataset (cifar_like, load_cifar10, toy_2d), got {type(data).__name__}")
    device = pick_device(device)
    channels_last = data.x_train.dim() == 4 and device.type == "cpu" if channels_last is None else channels_last
    config = {
        "model": getattr(model, "activation_name", type(model).__name__), "model_class": type(model).__name__,
        "epochs": epochs, "lr": lr, "optimizer": optimizer, "momentum": momentum, "batch_size": batch_size,
        "seed": seed, "weight_decay": weight_decay, "device": str(device), "channels_last": channels_last,
    }
    path = cache_path(cache_key(model, data, config, callbacks)) if cache else None
    if cache:
        cached = _load_cached(path, model, callbacks)
        if cached is not None:
            model.to(device)
            return cached

    history = History(config=config, data_source=data.source)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    x_train, x_test = (data.inputs(split, device, channels_last) for split in ("train", "test"))
    y_train, y_test = data.labels("train", device), data.labels("test", device)
    opt = _make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)

    def record(epoch: int, train_loss: float, train_acc: float, seconds: float) -> None:
        test_loss, test_acc = evaluate(model, x_test, y_test)
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss,
               "test_acc": test_acc, "seconds": seconds}
        for cb in callbacks:
            row.update(cb.on_epoch_end(model, epoch))
        history.epochs.append(row)

    for cb in callbacks:
        cb.on_train_begin(model, opt)
    bar = tqdm(total=epochs * steps_per_epoch, desc=config["model"], disable=not progress, leave=False)
    record(0, float("nan"), float("nan"), 0.0)
    # Other processes that train on these cores take turns with this loop (actlab.cores), rather than fight.
    with CoreTurns(enabled=None if device.type == "cpu" else False) as turns:
        try:
            for epoch in range(1, epochs + 1):
                model.train()
                order = torch.randperm(len(x_train), generator=gen).to(device)
                start, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
                for i in range(steps_per_epoch):
                    idx = order[i * batch_size:(i + 1) * batch_size]
                    logits = model(x_train[idx])
                    loss = F.cross_entropy(logits, y_train[idx])
                    value = loss.item()
                    history.steps.append(value)
                    if not math.isfinite(value):
                        history.status = "diverged"
                        history.message = (f"loss became {value} at step {len(history.steps)} (epoch {epoch}): "
                                           f"training stopped; the history so far is kept. Try a lower learning rate.")
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    for cb in callbacks:
                        cb.on_after_backward(model, len(history.steps))
                    opt.step()
                    loss_sum += value * len(idx)
                    correct += (logits.argmax(1) == y_train[idx]).sum().item()
                    seen += len(idx)
                    bar.update()
                    turns.tick()
                # An epoch cut short by divergence averages over its finished steps; with none finished it has no value.
                record(epoch, loss_sum / seen if seen else float("nan"), correct / seen if seen else float("nan"),
                       time.perf_counter() - start)
                if history.status == "diverged":
                    break
        except KeyboardInterrupt:
            history.status = "interrupted"
            history.message = (f"interrupted at step {len(history.steps)}: the history so far is kept "
                               f"({len(history.epochs) - 1} complete epochs); nothing was cached")
        finally:
            bar.close()
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    if history.message:
        warnings.warn(history.message, stacklevel=2)
    if cache and history.status != "interrupted":
        _save_cached(path, model, history, callbacks)
    return history
