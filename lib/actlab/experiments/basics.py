"""Experiments of notebooks 00-03 (non-linearity, sigmoid, vanishing gradients, tanh).

Each function runs one small experiment for one seed and returns plain numbers (a dict or a DataFrame), so that
a notebook can decide its claims over several seeds with `actlab.over_seeds` and `actlab.claim_*`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..checks import check_choice, check_number
from ..data import Dataset, toy_2d
from ..diagnostics import Callback, dead_units, inputs_of
from ..fingerprint import code_digest
from ..models import MLP
from ..seeding import one_thread, seeded
from ..model_utils import accuracy
from ..training import train
from ..vocabulary import SATURATED_FRACTION, is_saturated, module_peak_slope

FLOAT64_EPS = torch.finfo(torch.float64).eps
GLOROT_SIGMOID_GAIN = 4.0  # Glorot & Bengio (2010): sigma(x) ~ 1/2 + x/4 near 0, so slope 1/4 needs weights x 4


# ---------------------------------------------------------------------------------------------------------------
# 00: a problem only a non-linear net solves; the Heaviside step gives no gradient
# ---------------------------------------------------------------------------------------------------------------

def toy_models(width: int = 32) -> dict[str, nn.Module]:
    """The three models of notebook 00: one linear layer, three linear layers without activation, and the same
    three layers with ReLU (2 inputs, 2 classes); initialised from torch's global generator."""
    width = int(check_number("width", width, 1, integer=True))
    return {
        "linear layer": nn.Linear(2, 2),
        "3 linear layers, no activation": nn.Sequential(nn.Linear(2, width), nn.Linear(width, width),
                                                        nn.Linear(width, 2)),
        "3 layers with ReLU": MLP(depth=2, width=width, activation="relu"),
    }


@functools.lru_cache(maxsize=16)
def train_toy_models(seed: int, epochs: int = 20, n: int = 1000) -> tuple[Dataset, dict[str, nn.Module]]:
    """Train toy_models() on toy_2d('circles', n, seed=seed) with SGD (lr 0.05, momentum 0.9, batch 64);
    (data, trained models).

    Cached per (seed, epochs, n), so that a notebook can plot seed 0 and decide over seeds without retraining.
    """
    check_number("seed", seed, 0, integer=True)
    check_number("epochs", epochs, 1, integer=True)
    data = toy_2d("circles", n=int(check_number("n", n, 8, integer=True)), noise=0.1, seed=seed)
    with seeded(seed), one_thread():  # tiny models: one thread is faster than two fighting for a loaded core
        models = toy_models()
        for model in models.values():
            train(model, data, epochs=epochs, lr=0.05, batch_size=64, seed=seed, progress=False)
    return data, models


def toy_accuracies(seed: int, epochs: int = 20, n: int = 1000) -> dict[str, float]:
    """Test accuracy (0-1) of each trained toy model for one seed (data, initialisation and batch order)."""
    data, models = train_toy_models(seed, epochs, n)
    return {name: accuracy(model, data) for name, model in models.items()}


def zero_change_fraction(model: nn.Module, x: torch.Tensor, y: torch.Tensor, names: str = "hidden",
                         step: float = 1e-6, trials: int = 50, seed: int = 0) -> float:
    """Fraction of random directions d (|d| = step) in the parameters whose names start with `names` along which
    the cross-entropy loss does not change at all: a finite-difference test of a zero gradient without autograd.

    Computed in float64 on a copy of model (the model is untouched), where a smooth loss moves by about
    step x |gradient|, far above float64 rounding. A loss that is flat in these parameters (a network of step
    units, unless a pre-activation lies within about step of 0) gives 1.0; a smooth one gives 0.0.
    """
    import copy

    check_number("step", step, 0, low_open=True)
    check_number("trials", trials, 1, integer=True)
    model = copy.deepcopy(model).double()
    parameters = [p for n, p in model.named_parameters() if n.startswith(names)]
    if not parameters:
        raise ValueError(f"names={names!r} matches no parameter of the model")
    x = x.double()
    gen = torch.Generator().manual_seed(seed)
    unchanged = 0
    with torch.no_grad():
        base = F.cross_entropy(model(x), y).item()
        originals = [p.detach().clone() for p in parameters]
        for _ in range(trials):
            directions = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in parameters]
            norm = math.sqrt(sum(float((d * d).sum()) for d in directions))
            for p, p0, d in zip(parameters, originals, directions):
                p.copy_(p0 + step * d / norm)
            unchanged += F.cross_entropy(model(x), y).item() == base
    return unchanged / trials


def step_vs_sigmoid(seed: int, epochs: int = 20, n: int = 1000) -> dict[str, float]:
    """Train a 2x16 MLP of Heaviside step units and the same MLP of sigmoid units on circles (one seed), each
    with Adam (lr 0.01, batch 64): Adam moves every parameter that has a non-zero gradient, whatever its scale.

    Returns: 'step hidden weights unchanged' (1.0 or 0.0), 'step accuracy', 'sigmoid accuracy' (test, 0-1).
    """
    data = toy_2d("circles", n=int(check_number("n", n, 8, integer=True)), noise=0.1, seed=seed)
    with one_thread():  # tiny models: one thread is faster than two fighting for a loaded core
        return _step_vs_sigmoid(data, seed, epochs)


def _step_vs_sigmoid(data: Dataset, seed: int, epochs: int) -> dict[str, float]:
    """step_vs_sigmoid's two trainings on data (see there)."""
    with seeded(seed):
        step_net = MLP(depth=2, width=16, activation="heaviside")
        before = [p.detach().clone() for p in step_net.hidden.parameters()]
        train(step_net, data, epochs=epochs, lr=0.01, optimizer="adam", batch_size=64, seed=seed, progress=False)
    unchanged = all(torch.equal(a, b.cpu()) for a, b in zip(before, step_net.hidden.parameters()))  # any device
    with seeded(seed):
        sigmoid_net = MLP(depth=2, width=16, activation="sigmoid")
        train(sigmoid_net, data, epochs=epochs, lr=0.01, optimizer="adam", batch_size=64, seed=seed, progress=False)
    return {"step hidden weights unchanged": float(unchanged), "step accuracy": accuracy(step_net, data),
            "sigmoid accuracy": accuracy(sigmoid_net, data)}


# ---------------------------------------------------------------------------------------------------------------
# 01: derivatives by finite differences, saturation, same-sign updates
# ---------------------------------------------------------------------------------------------------------------

def central_difference(f, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    """(f(x + h) - f(x - h)) / (2h), evaluated in float64; x any shape, h > 0."""
    h = check_number("h", h, 0, low_open=True)
    x = x.detach().to(torch.float64)
    with torch.no_grad():
        return (f(x + h) - f(x - h)) / (2 * h)


def central_difference_bound(h: float, max_value: float, max_slope: float, max_third: float, max_abs_x: float,
                             ulps: float = 4.0) -> float:
    """Worst-case error of central_difference in float64: truncation h^2/6 max|f'''| plus rounding.

    Rounding: each f(x +- h) is off by at most `ulps` units in the last place of max|f| (eps = 2^-52), and x +- h
    is rounded to within eps/2 |x| + h, which moves f by max|f'| times that; both are divided by 2h.
    Source: the Taylor remainder of the central difference (e.g. Nocedal & Wright, Numerical Optimization, 8.1).
    """
    h = check_number("h", h, 0, low_open=True)
    truncation = h * h / 6 * max_third
    rounding = (2 * ulps * FLOAT64_EPS * max_value + max_slope * FLOAT64_EPS * (max_abs_x + h)) / (2 * h)
    return truncation + rounding


def saturation_point(name: str, fraction: float = SATURATED_FRACTION) -> float:
    """The |x| beyond which the derivative of 'sigmoid' or 'tanh' is below `fraction` (0 < fraction < 1) of its peak;
    the default is the vocabulary's saturation (actlab.vocabulary.SATURATED: 1% of the peak).

    Closed forms: sigmoid' = s(1 - s) = fraction/4 at s = (1 + sqrt(1 - fraction))/2, x = ln(s / (1 - s));
    tanh' = 1 - t^2 = fraction at t = sqrt(1 - fraction), x = atanh(t).
    """
    if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    if name == "sigmoid":
        s = (1 + math.sqrt(1 - fraction)) / 2
        return math.log(s / (1 - s))
    if name == "tanh":
        return math.atanh(math.sqrt(1 - fraction))
    raise ValueError(f"name must be 'sigmoid' or 'tanh', got {name!r}")


def saturated_fraction_normal(name: str, std: float, fraction: float = SATURATED_FRACTION) -> float:
    """Exact probability that z ~ N(0, std^2) lands where the derivative of name is below `fraction` of its peak
    (by default: is saturated in the vocabulary's sense): P(|z| > x*) = erfc(x* / (std sqrt 2)),
    x* = saturation_point(name, fraction)."""
    std = check_number("std", std, 0, low_open=True)
    return math.erfc(saturation_point(name, fraction) / (std * math.sqrt(2)))


def gradient_sign_agreement(inputs: str = "sigmoid", batch_size: int = 1, batches: int = 200, units: int = 8,
                            seed: int = 0) -> float:
    """Fraction of (batch, neuron) pairs whose incoming weight gradients all share one sign.

    A Linear(units, 3) layer receives `units` inputs squashed by 'sigmoid' (all positive) or 'tanh' (either sign),
    a = f(2 z) with z ~ N(0, 1), and fits random N(0, 1) targets with a squared error; the gradient of one neuron's
    weights is the sum over the batch of delta_i a_i. batch_size 1 shows a single example.
    """
    if inputs not in ("sigmoid", "tanh"):
        raise ValueError(f"inputs must be 'sigmoid' or 'tanh', got {inputs!r}")
    batch_size, batches, units = (int(check_number(n, v, 1, integer=True)) for n, v in
                                  (("batch_size", batch_size), ("batches", batches), ("units", units)))
    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):
        layer = nn.Linear(units, 3)
    squash = torch.sigmoid if inputs == "sigmoid" else torch.tanh
    agree = 0
    for _ in range(batches):
        a = squash(2 * torch.randn(batch_size, units, generator=gen))
        target = torch.randn(batch_size, 3, generator=gen)
        layer.zero_grad()
        (layer(a) - target).pow(2).sum().backward()
        grad = layer.weight.grad
        agree += int(((grad > 0).all(1) | (grad < 0).all(1)).sum())
    return agree / (3 * batches)


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


def zigzag_steps(seed: int, steps: int = 300, lr: float = 0.5, batch_size: int = 1) -> dict[str, float]:
    """Steps the SGD path of same_sign_updates needs to come within 0.1 of w* = (1, -1), with sigmoid and
    with tanh inputs, and the fraction of the sigmoid path's moves (before it arrives) that change both weights
    in the same direction."""
    paths = {name: same_sign_updates(name, steps=steps, lr=lr, seed=seed, batch_size=batch_size)
             for name in ("sigmoid", "tanh")}
    arrived = {name: steps_to_reach(path) for name, path in paths.items()}
    moves = np.diff(paths["sigmoid"][:arrived["sigmoid"] + 1], axis=0)
    return {"sigmoid steps": arrived["sigmoid"], "tanh steps": arrived["tanh"],
            "sigmoid same-sign moves": float((moves[:, 0] * moves[:, 1] > 0).mean())}


def input_conditioning(inputs: str, n: int = 100_000, seed: int = 0) -> float:
    """Condition number of E[a a^T] for the two inputs a = f(2 z), z ~ N(0, I_2), f 'sigmoid' or 'tanh' (Monte
    Carlo over n samples): the curvature ratio of the squared-error loss of same_sign_updates. A non-zero mean
    adds mean mean^T, one large eigenvalue, so gradient descent zig-zags (LeCun et al. 1998, Efficient BackProp)."""
    if inputs not in ("sigmoid", "tanh"):
        raise ValueError(f"inputs must be 'sigmoid' or 'tanh', got {inputs!r}")
    n = int(check_number("n", n, 2, integer=True))
    z = 2 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    a = torch.sigmoid(z) if inputs == "sigmoid" else torch.tanh(z)
    eigenvalues = torch.linalg.eigvalsh(a.T @ a / len(a))
    return (eigenvalues.max() / eigenvalues.min()).item()


# ---------------------------------------------------------------------------------------------------------------
# 02-03: deep MLPs, the activation's effect separated from the initialisation's
# ---------------------------------------------------------------------------------------------------------------

def deep_mlp(activation: str, init: str = "xavier", gain: float = 1.0, depth: int = 10, width: int = 64,
             in_features: int = 3072, out_features: int = 10, seed: int = 0, output_scale: float = 1.0) -> MLP:
    """An MLP whose every linear layer is initialised by init ('xavier' or 'kaiming', both normal, fan_in for
    Kaiming) times gain, biases zero. Xavier: std = gain sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010);
    Kaiming: std = gain sqrt(2 / fan_in) with the sqrt(2) of ReLU included (He et al. 2015), so use gain 1 there.
    output_scale (> 0) multiplies the output layer's weights (small values give small initial logits). Deterministic
    from seed; the caller's global random state is left as it was.
    """
    with seeded(seed):
        return _deep_mlp(activation, init, gain, depth, width, in_features, out_features, output_scale)


def _deep_mlp(activation: str, init: str, gain: float, depth: int, width: int, in_features: int, out_features: int,
              output_scale: float) -> MLP:
    """deep_mlp drawn from torch's global generator as it stands: call it inside seeded(seed)."""
    check_choice("init", init, ("xavier", "kaiming"))  # the two schemes of models.INITS that deep_mlp scales by gain
    check_number("gain", gain, 0, low_open=True)
    depth, width = (int(check_number(n, v, 1, integer=True)) for n, v in (("depth", depth), ("width", width)))
    model = MLP(depth, width, activation, in_features=in_features, out_features=out_features)
    with torch.no_grad():
        for layer in model.linear_layers():
            if init == "xavier":
                nn.init.xavier_normal_(layer.weight, gain=gain)
            else:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                layer.weight.mul_(gain)
            layer.bias.zero_()
        model.out.weight.mul_(check_number("output_scale", output_scale, 0, low_open=True))
    return model


def layer_signals(model: MLP, x: torch.Tensor, y: torch.Tensor) -> "pd.DataFrame":
    """One forward and backward pass of the cross-entropy on (x, y); per hidden layer l (1 = input side):

    'delta': RMS over the batch of |dL/dz_l| per example (the error signal at the pre-activations, times the batch
    size so it does not depend on it), 'weight grad': norm of dL/dW_l, 'input': RMS norm of the layer's input per
    example, 'rms slope': sqrt(mean f'(z_l)^2), 'weight scale': sqrt(fan_out mean W_(l+1)^2) of the layer above
    (the output layer for the last), 'saturated': fraction of (example, unit) saturated in the vocabulary's sense
    (actlab.vocabulary.is_saturated: |f'(z_l)| below 1% of the activation's peak slope), 'mean output': the mean of
    the layer's activations over examples and units.
    """
    import pandas as pd

    if not isinstance(model, MLP):
        raise TypeError(f"model must be an actlab.MLP, got {type(model).__name__}")
    linears = model.linear_layers()
    pre, inputs, outputs, h = _forward_keeping_layers(model, x)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model.out(h), y).backward()
    activation = [m for n, m in model.hidden.named_children() if n.startswith("act")][0]
    peak = module_peak_slope(activation)
    rows = []
    for i, z in enumerate(pre):
        zz = z.detach().clone().requires_grad_(True)
        (slope,) = torch.autograd.grad(activation(zz).sum(), zz)
        above = linears[i + 1].weight.detach()
        rows.append({"layer": i + 1,
                     "delta": (z.grad.pow(2).sum(1).mean().sqrt() * len(x)).item(),
                     "weight grad": linears[i].weight.grad.norm().item(),
                     "input": inputs[i].pow(2).sum(1).mean().sqrt().item(),
                     "rms slope": slope.pow(2).mean().sqrt().item(),
                     "weight scale": (above.shape[0] * above.pow(2).mean()).sqrt().item(),
                     "saturated": is_saturated(slope, peak).float().mean().item(),
                     "mean output": outputs[i].mean().item()})
    model.zero_grad(set_to_none=True)
    return pd.DataFrame(rows).set_index("layer")


def _forward_keeping_layers(model: MLP, x: torch.Tensor) -> tuple[list, list, list, torch.Tensor]:
    """The hidden part of model on x: pre-activations (gradients retained), each linear layer's input, each
    activation's output, and the last hidden output."""
    pre, inputs, outputs, h = [], [], [], x
    for name, module in model.hidden.named_children():
        if isinstance(module, nn.Linear):
            inputs.append(h.detach())
            h = module(h)
            h.retain_grad()
            pre.append(h)
        else:
            h = module(h)
            if name.startswith("act"):
                outputs.append(h.detach())
    return pre, inputs, outputs, h


def init_signals(activation: str, init: str, gain: float, data: Dataset, seed: int = 0, depth: int = 10,
                 width: int = 64, batch_size: int = 256) -> "pd.DataFrame":
    """layer_signals of a fresh deep_mlp on the first batch_size training examples of data."""
    x, y = inputs_of(data)
    model = deep_mlp(activation, init, gain, depth, width, x[0].numel(), int(y.max()) + 1, seed)
    return layer_signals(model, x[:batch_size].flatten(1), y[:batch_size])


def signal_summary(signals: "pd.DataFrame") -> dict[str, float]:
    """Per-seed summary of layer_signals: log10 first/last ratios of delta and of weight-gradient norm, and the
    per-layer backward factor measured (geometric mean of delta_l / delta_(l+1)) and predicted by
    weight scale x rms slope (the |w| f'(z) factor of each layer)."""
    delta, grad = signals["delta"].to_numpy(), signals["weight grad"].to_numpy()
    predicted = (signals["weight scale"].to_numpy()[:-1] * signals["rms slope"].to_numpy()[:-1])
    return {"log10 delta first/last": float(np.log10(delta[0] / delta[-1])),
            "log10 weight grad first/last": float(np.log10(grad[0] / grad[-1])),
            "measured factor": float((delta[0] / delta[-1]) ** (1 / (len(delta) - 1))),
            "predicted factor": float(np.exp(np.log(predicted).mean())),
            "rms slope": float(signals["rms slope"].mean()), "saturated": float(signals["saturated"].mean())}


class SaturationMonitor(Callback):
    """Adds the saturated fraction of every activation layer (actlab.vocabulary.SATURATED: |f'(z)| below 1% of the
    activation's peak slope) to each epoch record, measured by actlab.dead_units on fixed inputs: the first
    max_examples (>= 1) training inputs of data, taken when the monitor is made. Raises ValueError for max_examples
    below 1."""

    def __init__(self, data: Dataset, max_examples: int = 1000):
        self.max_examples = check_number("max_examples", max_examples, 1, integer=True)
        x, y = inputs_of(data)
        self.inputs = (x[:self.max_examples], y[:self.max_examples])

    def key(self) -> str:
        """What the records depend on besides the run: the count and a digest of the inputs measured on."""
        return f"SaturationMonitor({self.max_examples}, inputs {code_digest(self.inputs[0])})"

    def on_epoch_end(self, model, epoch):
        report = dead_units(model, self.inputs, max_examples=self.max_examples)
        return {f"saturated/{layer}": value for layer, value in report["saturated_fraction"].items()}


class FirstLastRatio(Callback):
    """Records, at step 1 and every `every` steps after it, the ratio of the first to the last hidden layer's
    weight-gradient norm."""

    def __init__(self, every: int = 5):
        self.every, self.ratios = check_number("every", every, 1, integer=True), []

    def key(self) -> str:
        return f"FirstLastRatio({self.every})"

    def on_after_backward(self, model, step):
        if (step - 1) % self.every == 0:
            hidden = [m for m in model.hidden if isinstance(m, nn.Linear)]
            self.ratios.append((hidden[0].weight.grad.norm() / hidden[-1].weight.grad.norm()).item())


def train_deep(activation: str, init: str, gain: float, data: Dataset, seed: int = 0, epochs: int = 3,
               lr: float = 0.01, depth: int = 10, width: int = 64, monitor=None) -> dict:
    """Train a deep_mlp (SGD, momentum 0.9, batch 64) and measure what notebooks 02 and 03 discuss (one seed).

    Returns numbers: 'test accuracy' (0-1), 'log10 median grad ratio' (first / last hidden layer's weight-gradient
    norm, median over training), 'log10 moved first/last' (relative distance from init, mean of the first three
    hidden layers over the last hidden layer), 'saturated first layer at init' and '... after training'
    (fractions); and 'model', 'history', 'moved' (per-layer relative distance from init) for plots (pass monitor,
    e.g. a GradNormMonitor, to record more).
    """
    from ..diagnostics import distance_from_init, snapshot_weights

    x, y = inputs_of(data)
    ratio = FirstLastRatio(every=5)
    callbacks = [ratio] + ([monitor] if monitor is not None else [])
    with seeded(seed):  # the initial weights, and whatever training draws from the global generator
        model = _deep_mlp(activation, init, gain, depth, width, x[0].numel(), int(y.max()) + 1, 1.0)
        start = snapshot_weights(model)
        saturated_before = dead_units(model, data, max_examples=1000)["saturated_fraction"].iloc[0]
        history = train(model, data, epochs=epochs, lr=lr, seed=seed, callbacks=callbacks, progress=False)
    distance = distance_from_init(model, start)
    moved = list(distance.values())[:depth]
    return {"test accuracy": history.final["test_acc"],
            "log10 median grad ratio": float(np.log10(np.median(ratio.ratios))),
            "log10 moved first/last": float(np.log10(np.mean(moved[:3]) / moved[-1])),
            "saturated first layer at init": float(saturated_before),
            "saturated first layer after training":
                float(dead_units(model, data, max_examples=1000)["saturated_fraction"].iloc[0]),
            "model": model, "history": history, "moved": distance}


@dataclass(frozen=True)
class DeepMLP:
    """A picklable model factory for actlab.tune_lr and actlab.compare: the deep MLP of notebooks 02-03 (depth hidden
    layers of width units, in_features inputs, out_features classes) with each activation's recommended
    initialisation from the registry (init='recommended': Xavier for sigmoid and tanh, Kaiming for ReLU)."""

    depth: int = 10
    width: int = 64
    in_features: int = 3072
    out_features: int = 10

    def __call__(self, name: str, **params) -> MLP:
        depth = int(check_number("depth", self.depth, 1, integer=True))
        width = int(check_number("width", self.width, 1, integer=True))
        return MLP(depth, width, name, params or None, in_features=self.in_features, out_features=self.out_features,
                   init="recommended")


def numbers_only(result: dict) -> dict[str, float]:
    """The numeric entries of a result dict (drops 'model', 'history'), for actlab.over_seeds."""
    return {k: v for k, v in result.items() if isinstance(v, (int, float))}


# ---------------------------------------------------------------------------------------------------------------
# 03: initialisation gains and the initial loss
# ---------------------------------------------------------------------------------------------------------------

def initial_loss(activation: str, init: str, gain: float, data: Dataset, seed: int = 0, depth: int = 10,
                 width: int = 64, n: int = 1000, output_scale: float = 1.0) -> dict[str, float]:
    """Cross-entropy of a fresh deep_mlp on n training examples, and the terms that predict it.

    Per example, loss = lse(l) - l_y with logits l over K classes. Expanding log-sum-exp around the logits' mean,
    lse(l) = ln K + mean(l) + s^2 / 2 + R, s^2 the variance of l over the classes and |R| <= range(l)^3 / 6 (the
    third derivative of lse along u is a third central moment of u, at most range^3). So
    loss = ln K + s^2 / 2 - (l_y - mean(l)) + R, averaged over examples. A fresh net's logits do not depend on the
    label, so the label term l_y - mean(l) is zero on average over initialisations; its size for one net is set by
    how the K class means of the logits scatter, about s / sqrt(K), 3 s / sqrt(K) at three standard deviations.

    Returns 'loss', 'ln K', 'second order' (mean s^2 / 2), 'label term' (mean l_y - mean(l)), 'remainder bound'
    (mean range^3 / 6) and 'predicted' (ln K + second order - label term). No tolerance for |loss - ln K| is derived
    from these logits: a margin computed from the run it judges lets almost any network pass (notebook 03 states
    its tolerance in advance and shows that a mis-scaled output layer fails it).
    """
    x, y = inputs_of(data)
    x, y = x[:n].flatten(1), y[:n]
    classes = int(y.max()) + 1
    model = deep_mlp(activation, init, gain, depth, width, x.shape[1], classes, seed, output_scale)
    with torch.no_grad():
        logits = model(x).double()
        loss = F.cross_entropy(logits, y).item()
    variance = logits.var(dim=1, unbiased=False)
    label_term = (logits.gather(1, y[:, None])[:, 0] - logits.mean(1)).mean().item()
    remainder = ((logits.max(1).values - logits.min(1).values) ** 3 / 6).mean().item()
    second = variance.mean().item() / 2
    return {"loss": loss, "ln K": math.log(classes), "second order": second, "label term": label_term,
            "remainder bound": remainder, "predicted": math.log(classes) + second - label_term}


def timing_sentence(table, name: str, kind: str = "forward") -> str:
    """One sentence on a timing.time_activations table: name's time ratio to the reference for kind ('forward'
    or 'forward+backward'), with the lowest and highest round, and what the spread allows one to conclude."""
    if kind not in ("forward", "forward+backward"):
        raise ValueError(f"kind must be 'forward' or 'forward+backward', got {kind!r}")
    row = table.loc[name]
    ratio, low, high = (row[f"{kind} ratio"], row[f"{kind} ratio min"], row[f"{kind} ratio max"])
    reference = table.attrs.get("reference", "the reference")
    if low > 1.2:  # 20%: well above the round-to-round noise of a quiet machine
        verdict = f"slower than {reference} in every round"
    elif high < 1 / 1.2:
        verdict = f"faster than {reference} in every round"
    else:
        verdict = f"not distinguishable from {reference} on this run (some round lies within 20% of it or beyond)"
    return f"{name}, {kind}: {ratio:.2g}x {reference} (rounds {low:.2g} to {high:.2g}): {verdict}"
