"""The training engine: seeded, cached, interruptible training with a plottable history.

train(model, data, **settings) builds a TrainConfig (every setting, checked on creation), a Trainer runs it in three
short parts (fit / fit_epoch / fit_batch, as d2l's Trainer) and calls the callbacks by event name (as fastai's
Callback); with cache=True the run goes through actlab.cache, a layer around training, not inside it.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .cache import cached
from .checks import check_choice, check_number
from .cores import CoreTurns
from .seeding import deterministic_cudnn
from .data import Dataset, data_dir
from .fingerprint import code_digest  # noqa: F401 - re-exported: diagnostics imports it from here
from .model_utils import evaluate

OPTIMIZERS = ("sgd", "adam", "adamw")
DEVICES = ("cpu", "cuda", "mps")


def _available(kind: str) -> bool:
    """Whether a device kind ('cpu', 'cuda', 'mps') can be used on this machine."""
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return True


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: None picks CUDA, then Apple MPS, then CPU; an explicit choice is checked.

    Raises ValueError for a device that is not 'cpu', 'cuda' or 'mps' (with an optional index), or is not
    available here.
    """
    if device is None:
        return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if _available(kind)))
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be None (pick automatically), a torch.device or one of "
                         f"{', '.join(map(repr, DEVICES))}, got {device!r}") from None
    check_choice("device", device.type, DEVICES)
    if not _available(device.type):
        raise ValueError(f"device={str(device)!r} was asked for but {device.type.upper()} is not available here; "
                         "use device=None to pick automatically")
    return device


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, checked on creation (as nanoGPT's GPTConfig holds a model's settings).

    epochs >= 0 (0: evaluate only); lr > 0; optimizer one of OPTIMIZERS; momentum >= 0 (SGD only);
    batch_size >= 1; seed in [0, 2**64 - 1] (seeds the data order's own torch.Generator); device None (automatic),
    'cpu', 'cuda' or 'mps'; weight_decay >= 0; callbacks a sequence of Callback instances; progress and cache
    True or False; channels_last None (automatic: images on CPU), True or False. Raises ValueError naming the
    setting, the value and the valid range, TypeError for a callback given as a class.
    """

    epochs: int = 3
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    batch_size: int = 64
    seed: int = 0
    device: str | torch.device | None = None
    weight_decay: float = 0.0
    callbacks: tuple = ()
    progress: bool = True
    cache: bool = False
    channels_last: bool | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "seed"):  # numpy integers (np.arange seeds) are integers too
            if isinstance(getattr(self, name), np.integer):
                object.__setattr__(self, name, int(getattr(self, name)))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        check_number("epochs", self.epochs, 0, integer=True)
        check_number("lr", self.lr, 0, low_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("momentum", self.momentum, 0)
        check_number("batch_size", self.batch_size, 1, integer=True)
        check_number("seed", self.seed, 0, 2**64 - 1, integer=True)
        pick_device(self.device)
        check_number("weight_decay", self.weight_decay, 0)
        check_choice("progress", self.progress, (True, False))
        check_choice("cache", self.cache, (True, False))
        check_choice("channels_last", self.channels_last, (None, True, False))
        for cb in self.callbacks:
            if isinstance(cb, type):
                raise TypeError(f"callbacks must be instances, got the class {cb.__name__}: write {cb.__name__}()")


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
    """Hooks into training; subclasses override what they need (the trainer calls a method by its event name,
    so any object with some of these methods works as a callback too).

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

    def on_batch_end(self, model: nn.Module, step: int, loss: float) -> None:
        """Called after each optimiser step, with the step's number (from 1) and its training loss."""

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict:
        """Called at epoch 0 (before training) and after each epoch; returns metrics for that epoch's record."""
        return {}


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The optimiser config names (sgd with momentum, adam, adamw), with its lr and weight_decay."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    optimizer = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return optimizer(params, lr=config.lr, weight_decay=config.weight_decay)


class Trainer:
    """One training run in short parts (as d2l's Trainer): fit runs the epochs, fit_epoch one pass over the data,
    fit_batch one optimiser step (the one place for per-batch work). Callbacks are called by event name."""

    def __init__(self, model: nn.Module, data: Dataset, config: TrainConfig):
        if not isinstance(data, Dataset):
            raise TypeError("data must be an actlab Dataset (cifar_like, load_cifar10, toy_2d), "
                            f"got {type(data).__name__}")
        self.model, self.data, self.config, self.callbacks = model, data, config, list(config.callbacks)
        self.device = pick_device(config.device)
        automatic = data.x_train.dim() == 4 and self.device.type == "cpu"
        self.channels_last = automatic if config.channels_last is None else config.channels_last
        self.history = History(config=self.settings(), data_source=data.source)

    def settings(self) -> dict:
        """The run's settings as History.config records them (and the cache key starts from)."""
        c, model = self.config, self.model
        return {"model": getattr(model, "activation_name", type(model).__name__), "model_class": type(model).__name__,
                "epochs": c.epochs, "lr": c.lr, "optimizer": c.optimizer, "momentum": c.momentum,
                "batch_size": c.batch_size, "seed": c.seed, "weight_decay": c.weight_decay, "device": str(self.device),
                "channels_last": self.channels_last}

    def _event(self, name: str, *args) -> dict:
        """Call method name(*args) of every callback that has it (as fastai does); merge the dicts they return."""
        merged = {}
        for cb in self.callbacks:
            method = getattr(cb, name, None)
            if method is not None:
                merged.update(method(*args) or {})
        return merged

    def _prepare(self) -> None:
        """Model and data on the device (channels-last when chosen), the optimiser and the data order's generator."""
        device, layout = self.device, self.channels_last
        self.model.to(device)
        if layout:
            self.model.to(memory_format=torch.channels_last)
        self.x_train, self.x_test = (self.data.inputs(split, device, layout) for split in ("train", "test"))
        self.y_train, self.y_test = self.data.labels("train", device), self.data.labels("test", device)
        self.optimizer = make_optimizer(self.config, self.model.parameters())
        self.generator = torch.Generator().manual_seed(self.config.seed)  # never the global generator
        self.steps_per_epoch = math.ceil(len(self.x_train) / self.config.batch_size)

    def fit(self) -> History:
        """Record epoch 0, then train config.epochs epochs; divergence or an interrupt stops early, history kept.
        On a GPU the whole run uses cuDNN's deterministic algorithms, so a seeded run repeats (seeding.py)."""
        with deterministic_cudnn(self.device.type == "cuda"):
            return self._fit()

    def _fit(self) -> History:
        """fit's body: prepare, epoch 0, the epochs; the progress bar closed and the memory format restored."""
        self._prepare()
        self._event("on_train_begin", self.model, self.optimizer)
        self.bar = tqdm(total=self.config.epochs * self.steps_per_epoch, desc=self.history.config["model"],
                        disable=not self.config.progress, leave=False)
        self._record(0, float("nan"), float("nan"), 0.0)
        self.turns = CoreTurns(enabled=None if self.device.type == "cpu" else False)  # see actlab.cores
        try:
            with self.turns:
                for epoch in range(1, self.config.epochs + 1):
                    self.fit_epoch(epoch)
                    if self.history.status == "diverged":
                        break
        except KeyboardInterrupt:
            self._stop("interrupted", f"interrupted at step {len(self.history.steps)}: the history so far is kept "
                                      f"({len(self.history.epochs) - 1} complete epochs); nothing was cached")
        finally:
            self.bar.close()
            if self.channels_last:
                self.model.to(memory_format=torch.contiguous_format)
        return self.history

    def fit_epoch(self, epoch: int) -> None:
        """One pass over the training set in an order drawn from the run's generator; records the epoch."""
        self.model.train()
        order = torch.randperm(len(self.x_train), generator=self.generator).to(self.device)
        size, start = self.config.batch_size, time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(self.steps_per_epoch):
            idx = order[i * size:(i + 1) * size]
            result = self.fit_batch(epoch, idx)
            if result is None:
                break
            loss_sum, correct, seen = loss_sum + result[0] * len(idx), correct + result[1], seen + len(idx)
        # An epoch cut short by divergence averages over its finished steps; with none finished it has no value.
        nan = float("nan")
        self._record(epoch, loss_sum / seen if seen else nan, correct / seen if seen else nan,
                     time.perf_counter() - start)

    def fit_batch(self, epoch: int, idx: torch.Tensor) -> tuple[float, int] | None:
        """One optimiser step on the training examples idx: (mean loss, number correct); None when the loss is not
        finite (the run is marked diverged and no step is taken)."""
        logits = self.model(self.x_train[idx])
        loss = F.cross_entropy(logits, self.y_train[idx])
        value = loss.item()
        self.history.steps.append(value)
        step = len(self.history.steps)
        if not math.isfinite(value):
            self._stop("diverged", f"loss became {value} at step {step} (epoch {epoch}): training stopped; the "
                                   f"history so far is kept. Try a lower learning rate.")
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._event("on_after_backward", self.model, step)
        self.optimizer.step()
        self._event("on_batch_end", self.model, step, value)
        self.bar.update()
        self.turns.tick()  # another process training on these cores gets its turn after each slice
        return value, (logits.argmax(1) == self.y_train[idx]).sum().item()

    def _record(self, epoch: int, train_loss: float, train_acc: float, seconds: float) -> None:
        """Append an epoch's record: the training figures given, test loss and accuracy, the callbacks' metrics."""
        test_loss, test_acc = evaluate(self.model, self.x_test, self.y_test)
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss,
               "test_acc": test_acc, "seconds": seconds}
        row.update(self._event("on_epoch_end", self.model, epoch))
        self.history.epochs.append(row)

    def _stop(self, status: str, message: str) -> None:
        """Mark the run as stopped early (diverged, interrupted) and say why."""
        self.history.status, self.history.message = status, message


def train(model: nn.Module, data: Dataset, epochs: int = 3, lr: float = 0.01, optimizer: str = "sgd",
          momentum: float = 0.9, batch_size: int = 64, seed: int = 0, device=None, weight_decay: float = 0.0,
          callbacks=(), progress: bool = True, cache: bool = False, channels_last: bool | None = None, *,
          config: TrainConfig | None = None) -> History:
    """Train model on data with cross-entropy; return its History (cached on disk when cache=True).

    The settings (see TrainConfig for their ranges) come as arguments or as config=TrainConfig(...), not both
    (ValueError). A loss that turns NaN or infinite stops the run (status 'diverged'; an epoch with no finished step
    records NaN); Ctrl-C or a kernel interrupt stops it too (status 'interrupted', never cached). Either way the
    history so far is returned and a warning says so. The cache (actlab.cache.cache_key, in data_dir()/cache) covers
    the settings, the model's code and initial weights, what the model and its activations compute on a fixed probe
    (so a callable object's state, a global a lambda reads or a closure's weights count), the library's and torch's
    code, the data's bytes as they are now, the global random state and the callbacks; it is computed only when
    cache=True. A model the probe cannot see (it fails on the probe, or answers one probe two ways) is trained
    without the cache, with a warning. Callbacks without key() make cache=True raise.
    """
    given = TrainConfig(epochs, lr, optimizer, momentum, batch_size, seed, device, weight_decay, tuple(callbacks),
                        progress, cache, channels_last)
    if config is None:
        config = given
    elif given != TrainConfig():
        changed = [f.name for f in fields(TrainConfig) if getattr(given, f.name) != getattr(TrainConfig(), f.name)]
        raise ValueError(f"give the settings either in config=TrainConfig(...) or as arguments, not both "
                         f"(got config and {', '.join(changed)})")
    trainer = Trainer(model, data, config)
    if not config.cache:
        history = trainer.fit()
    else:
        history = cached(trainer.fit, model, data, trainer.history.config, trainer.callbacks, History.from_dict,
                         data_dir() / "cache")
        if history.from_cache:
            model.to(trainer.device)
    if history.message and not history.from_cache:
        warnings.warn(history.message, stacklevel=2)
    return history
