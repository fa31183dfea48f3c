"""Small experiments the notebooks run: each returns numbers a notebook can plot and check."""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .checks import check_choice, check_list, check_number
from .custom import gaussian_mean
from .data import Dataset
from .models import MLP
from .activations import get_activation, lookup
from .seeding import seeded
from .model_utils import accuracy, model_device


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


def same_sign_updates(inputs: str = "sigmoid", steps: int = 200, lr: float = 0.5, seed: int = 0,
                      batch_size: int = 1) -> np.ndarray:
    """SGD path (steps + 1 points, shape (steps + 1, 2)) of two weights fitting w* = (1, -1) from inputs squashed
    by sigmoid (all positive) or tanh, a = f(2 z) with z ~ N(0, 1), squared error, batch_size examples per step.

    Each example's gradient is delta * a: with all-positive a and batch_size 1, both weights always move in the
    same direction, so reaching (1, -1) takes a zig-zag path. A batch's gradient is the mean of delta_i a_i, whose
    deltas can differ in sign, so its two components need not share one.
    """
    check_choice("inputs", inputs, ("sigmoid", "tanh"))
    check_number("steps", steps, 0, integer=True)
    check_number("batch_size", batch_size, 1, integer=True)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(steps, batch_size, 2, generator=gen) * 2
    a = torch.sigmoid(z) if inputs == "sigmoid" else torch.tanh(z)
    target = torch.tensor([1.0, -1.0])
    w = torch.zeros(2)
    path = [w.clone()]
    for a_batch in a:
        delta = a_batch @ (w - target)  # d/dy of 0.5 * (y - y*)^2 with y = w . a, one per example
        w = w - lr * (delta[:, None] * a_batch).mean(0)
        path.append(w.clone())
    return torch.stack(path).numpy()


def steps_to_reach(path: np.ndarray, target=(1.0, -1.0), tolerance: float = 0.1) -> int:
    """First step at which the path is within tolerance of the target (len(path) if never)."""
    distance = np.linalg.norm(path - np.asarray(target), axis=1)
    hits = np.nonzero(distance < tolerance)[0]
    return int(hits[0]) if len(hits) else len(path)


def _timer(name: str, x: torch.Tensor, backward: bool):
    """A torch.utils.benchmark Timer of one activation's forward (or forward+backward) on the tensor x."""
    from torch.utils import benchmark

    module = get_activation(name).eval()
    if backward:
        x = x.clone().requires_grad_(True)
        stmt = "module(x).backward(grad)"
        extra = {"grad": torch.ones_like(x)}
    else:
        stmt = "with torch.no_grad(): module(x)"
        extra = {}
    return benchmark.Timer(stmt=stmt, globals={"module": module, "x": x, "torch": torch, **extra},
                           num_threads=torch.get_num_threads(), label=name)


def time_activations(names, n: int = 1_000_000, rounds: int = 5, min_run_time: float = 0.05,
                     backward: bool = True, reference: str | None = None, seed: int = 0):
    """Time each activation on the same n float32 values with torch.utils.benchmark, interleaved over rounds.

    Each round times every activation once (blocked_autorange: warm-up, then blocks of calls for at least
    min_run_time s), in a rotated order so that no activation is always first. Reported per activation: the
    median time per call (ms) and the ratio to `reference` (default: the first name), as the median over rounds
    with the lowest and highest round beside it (columns '... ratio min', '... ratio max'). Timings vary between runs and machines: read the ratios, and
    never assert them. Returns a pandas DataFrame indexed by display name.
    """
    import pandas as pd

    names = [lookup(name).name for name in check_list("names", names)]
    check_number("rounds", rounds, 1, integer=True)
    check_number("n", n, 1, integer=True)
    reference = lookup(reference).name if reference else names[0]
    if reference not in names:
        names = [reference, *names]
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    kinds = {"forward": False, **({"forward+backward": True} if backward else {})}
    times = {(name, kind): [] for name in names for kind in kinds}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for kind, with_backward in kinds.items():
                measurement = _timer(name, x, with_backward).blocked_autorange(min_run_time=min_run_time)
                times[(name, kind)].append(measurement.median)
    rows = []
    for name in names:
        row = {"activation": lookup(name).display, "needs exp": lookup(name).needs_exp}
        for kind in kinds:
            ours, ref = np.array(times[(name, kind)]), np.array(times[(reference, kind)])
            ratios = ours / ref
            row[f"{kind} ms"] = 1000 * float(np.median(ours))
            row[f"{kind} ratio"] = float(np.median(ratios))
            row[f"{kind} ratio min"], row[f"{kind} ratio max"] = float(ratios.min()), float(ratios.max())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("activation")
    table.attrs["reference"] = lookup(reference).display
    return table


def born_dead_fraction(depth: int, width: int, trials: int = 100, n_inputs: int = 256, in_features: int = 2,
                       init: str = "kaiming", seed: int = 0) -> float:
    """Fraction of freshly initialised ReLU MLPs born dead: some hidden layer outputs exactly 0 for every input.

    Such a network computes a constant, and no gradient reaches anything below the dead layer. Deterministic
    from seed; the caller's global random state is left as it was.
    """
    dead = 0
    with seeded(seed), torch.no_grad():
        x = torch.randn(n_inputs, in_features)
        for _ in range(trials):
            model = MLP(depth, width, "relu", in_features=in_features, out_features=1, init=init)
            dead += any(not h.any() for _, h in model.hidden_outputs(x))  # stops at the first dead layer
    return dead / trials


def signal_through_depth(activation: str, depth: int = 50, width: int = 256, init: str = "lecun", n: int = 2000,
                         seed: int = 0):
    """Mean and standard deviation of each layer's outputs when N(0, 1) inputs pass a fresh deep MLP (seeded;
    the caller's global random state is left as it was)."""
    import pandas as pd

    with seeded(seed), torch.no_grad():
        model = MLP(depth, width, activation, in_features=width, out_features=1, init=init)
        rows = [{"layer": i, "mean": h.mean().item(), "std": h.std().item()}
                for i, h in model.hidden_outputs(torch.randn(n, width))]
    return pd.DataFrame(rows).set_index("layer")


def normal_mean(name: str, **params) -> float:
    """E[f(z)] for z ~ N(0, 1) of a registry activation."""
    s = lookup(name)
    return gaussian_mean(s.forward, **s.resolve(**params))
