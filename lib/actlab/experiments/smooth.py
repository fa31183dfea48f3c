"""Experiments of notebooks 06-08 (Leaky ReLU/PReLU/RReLU, ELU/SELU/CELU, GELU/Swish/Mish).

Dead and near-dead units in the course's one vocabulary (actlab.vocabulary): an activation "cannot die" only when
its slope is never exactly 0 (vocabulary.DEAD); a unit whose slope stays below 1% of the activation's peak slope at
every input is near-dead (vocabulary.NEAR_DEAD): it still passes almost no gradient. `near_dead_units` and
`pushed_negative` count both with actlab.dead_units, which applies those definitions.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..custom import gaussian_mean
from ..data import Dataset
from ..diagnostics import dead_units
from ..models import MLP, recommended_init
from ..activations import get_activation, lookup
from ..seeding import seeded
from .. import vocabulary


def prelu_slopes(model: nn.Module) -> dict[str, float]:
    """Mean learned negative slope alpha of every nn.PReLU in model, by module name; ValueError if there is none."""
    slopes = {name: m.weight.detach().mean().item() for name, m in model.named_modules() if isinstance(m, nn.PReLU)}
    if not slopes:
        raise ValueError("prelu_slopes: the model has no nn.PReLU modules")
    return slopes


def merge_runs(*comparisons, seeds=None):
    """One Comparison holding the runs of several (e.g. one activation over more seeds than the rest).

    seeds: keep only the runs of these seeds (default: all).
    """
    from ..compare import Comparison

    if not comparisons:
        raise ValueError("merge_runs needs at least one Comparison")
    histories, models = {}, {}
    for comparison in comparisons:
        histories.update(comparison.histories)
        models.update(comparison.models)
    if seeds is not None:
        keep = set(seeds)
        histories = {k: v for k, v in histories.items() if k[1] in keep}
        models = {k: v for k, v in models.items() if k[1] in keep}
    return Comparison(histories, models, comparisons[0].data_source)


def plot_runs(comparison) -> Figure:
    """comparison.plot() with whole-number epoch ticks and the legend at full size."""
    from matplotlib.ticker import MaxNLocator

    fig = comparison.plot()
    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.axes[-1].legend()
    return fig


def final_values(comparison, metric: str = "train_loss"):
    """A DataFrame (seed x activation) of each run's metric after its last epoch; NaN where the run diverged."""
    table = comparison.table
    if metric not in table:
        raise ValueError(f"metric must be one of {', '.join(c for c in table.columns if c not in ('activation', 'seed'))}, got {metric!r}")
    last = table[table.epoch == table.groupby(["activation", "seed"]).epoch.transform("max")].copy()
    last.loc[last.status == "diverged", metric] = float("nan")
    return last.pivot(index="seed", columns="activation", values=metric)[list(dict.fromkeys(last.activation))]


def timing_sentences(timings, kind: str = "forward") -> str:
    """One line per activation of a time_activations table: its median time ratio and the range over rounds."""
    if f"{kind} ratio" not in timings:
        raise ValueError(f"kind must be 'forward' or 'forward+backward' (a column of the table), got {kind!r}")
    reference = timings.attrs.get("reference", timings.index[0])
    return "\n".join(f"{name}: {row[f'{kind} ratio']:.2f}x {reference}'s {kind} time "
                     f"(rounds: {row[f'{kind} ratio min']:.2f}x to {row[f'{kind} ratio max']:.2f}x)"
                     for name, row in timings.iterrows() if name != reference)


def near_dead_units(model: nn.Module, x: torch.Tensor, batch_size: int = 500):
    """Per activation layer: units dead and near-dead on the inputs x, in the vocabulary's terms (actlab.vocabulary).

    x: model inputs (already normalised), shape (N, ...); all N are probed. A unit is a feature (dim 1) or a whole
    channel. Dead: slope exactly 0 at every input and position (vocabulary.DEAD); near-dead: slope below 1% of the
    activation's peak slope at every input (vocabulary.NEAR_DEAD; dead units are near-dead). The model is run in eval
    mode (actlab.dead_units). Returns a DataFrame indexed by layer: units, dead, near_dead, dead_fraction,
    near_dead_fraction, zero_fraction (share of outputs exactly 0: exact sparsity). Raises ValueError for a model
    without activation modules or one the registry does not know.
    """
    table = dead_units(model, (x, None), batch_size=batch_size, max_examples=len(x))
    return table[["units", "dead", "near_dead", "dead_fraction", "near_dead_fraction", "zero_fraction"]]


def trained_layer_stats(comparison, data, max_examples: int = 1000):
    """Per run of a Comparison: the size of its layers' mean outputs and their share of exact zeros, over layers.

    Each trained model is probed on the first max_examples training inputs of data (a Dataset or an (x, y) pair;
    actlab.dead_units, eval mode). Columns: 'mean |mean output|' (each activation layer's mean output, its absolute
    value averaged over the layers) and 'zero fraction' (each layer's share of outputs exactly 0, averaged over the
    layers: exact sparsity, 0 to 1) and 'near-dead units' (their count over all layers, vocabulary.NEAR_DEAD on these
    inputs). Returns a DataFrame indexed by (activation, seed).
    """
    import pandas as pd

    rows = []
    for (name, seed), model in comparison.models.items():
        table = dead_units(model, data, max_examples=max_examples)
        rows.append({"activation": name, "seed": seed, "mean |mean output|": table["mean_activation"].abs().mean(),
                     "zero fraction": table["zero_fraction"].mean(), "near-dead units": int(table["near_dead"].sum())})
    return pd.DataFrame(rows).set_index(["activation", "seed"])


def timing_comparison(small, large, name: str, kind: str = "forward") -> str:
    """Whether name's time ratio (to the reference) is smaller, larger or indistinguishable on the large tensor.

    small, large: time_activations tables. Decided only when the ranges over rounds separate: 'smaller' when the large
    tensor's highest round is below the small tensor's lowest, 'larger' the other way round, else 'cannot tell'.
    Returns one sentence with both ratios and ranges. Raises ValueError for an unknown name or kind.
    """
    column = f"{kind} ratio"
    for label, table in (("small", small), ("large", large)):
        if column not in table:
            raise ValueError(f"kind must be 'forward' or 'forward+backward' (a column of the table), got {kind!r}")
        if name not in table.index:
            raise ValueError(f"name must be one of {list(table.index)} (the {label} table), got {name!r}")
    s, l = small.loc[name], large.loc[name]
    if l[f"{column} max"] < s[f"{column} min"]:
        verdict = "smaller on the large tensor than on the small one (the ranges over rounds separate)"
    elif l[f"{column} min"] > s[f"{column} max"]:
        verdict = "larger on the large tensor than on the small one (the ranges over rounds separate)"
    else:
        verdict = "not decided by this run: the ranges over rounds overlap, so it cannot tell the sizes apart"
    return (f"{name}'s {kind} time ratio is {verdict}: small {s[column]:.2f}x ({s[f'{column} min']:.2f} to "
            f"{s[f'{column} max']:.2f}), large {l[column]:.2f}x ({l[f'{column} min']:.2f} to {l[f'{column} max']:.2f})")


def pushed_negative(activation: str, shifts, data: Dataset, seed: int = 0, width: int = 128, n_inputs: int = 1000):
    """Dead and near-dead fractions (actlab.vocabulary) of one hidden layer after its biases are pushed down by each shift.

    A fresh one-hidden-layer MLP (width units, the activation's recommended initialisation, seed) sees the first
    n_inputs training inputs of data; every bias is lowered by `shift` (as one large gradient step could), and
    `near_dead_units` counts the units. Returns a DataFrame indexed by shift: dead_fraction, near_dead_fraction.
    """
    import pandas as pd

    x = data.inputs("train")[:n_inputs]
    with seeded(seed):
        model = MLP(1, width, activation, in_features=x[0].numel(), out_features=len(data.classes),
                    init=recommended_init(activation))
    layer = model.hidden.linear1
    bias = layer.bias.detach().clone()
    rows = []
    for shift in shifts:
        with torch.no_grad():
            layer.bias.copy_(bias - shift)
        counts = near_dead_units(model, x)
        rows.append({"shift": float(shift), **counts[["dead_fraction", "near_dead_fraction"]].iloc[0].to_dict()})
    return pd.DataFrame(rows).set_index("shift")


def plot_pushed_negative(tables: dict) -> Figure:
    """Fraction of units near-dead (solid) and dead (dashed), vocabulary.NEAR_DEAD and DEAD, against the bias shift."""
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots()
    for label, table in tables.items():
        (line,) = ax.plot(table.index, table["near_dead_fraction"], "o-", ms=3, label=label)
        ax.plot(table.index, table["dead_fraction"], "--", color=line.get_color())
    ax.set(xlabel="every bias pushed down by", ylabel="fraction of units",
           title=f"solid: near-dead, |f'(z)| < {vocabulary.NEAR_DEAD_FRACTION:.0%} of the peak slope on every input\n"
                 "dashed: dead, f'(z) exactly 0 on every input (actlab.vocabulary)")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def rrelu_slopes(lower: float = 1 / 8, upper: float = 1 / 3, n: int = 100_000, seed: int = 0) -> dict[str, torch.Tensor]:
    """The negative slopes nn.RReLU(lower, upper) applies, measured as output / input on n negative inputs.

    Returns {'train': n slopes in training mode, 'eval': n slopes in eval mode}. 0 <= lower <= upper <= 1.
    """
    if not (0 <= lower <= upper <= 1):
        raise ValueError(f"need 0 <= lower <= upper <= 1, got lower={lower!r}, upper={upper!r}")
    gen = torch.Generator().manual_seed(seed)
    negative = -torch.rand(n, generator=gen, dtype=torch.float64) - 0.01
    module = nn.RReLU(lower, upper)
    out = {}
    with seeded(seed):  # RReLU draws its slopes from the global generator
        for mode in ("train", "eval"):
            module.train(mode == "train")
            out[mode] = module(negative) / negative
    return out


def paper_rrelu_slopes(low_divisor: float = 3.0, high_divisor: float = 8.0, n: int = 100_000, seed: int = 0) -> dict:
    """RReLU as Xu et al. (2015, Sec. 2.4) ran it: y = x / a, a ~ U(3, 8) in training, y = x / ((3 + 8) / 2) at test.

    Returns {'train': n sampled slopes 1/a, 'train_mean': E[1/a] = ln(high/low) / (high - low) exactly,
    'test': 2 / (low + high)}. Needs 0 < low_divisor < high_divisor.
    """
    if not (0 < low_divisor < high_divisor):
        raise ValueError(f"need 0 < low_divisor < high_divisor, got {low_divisor!r}, {high_divisor!r}")
    gen = torch.Generator().manual_seed(seed)
    a = low_divisor + (high_divisor - low_divisor) * torch.rand(n, generator=gen, dtype=torch.float64)
    return {"train": 1 / a, "train_mean": math.log(high_divisor / low_divisor) / (high_divisor - low_divisor),
            "test": 2 / (low_divisor + high_divisor)}


def signal_drift(activation: str, init: str, seed: int, depth: int = 50, width: int = 256, n: int = 1000) -> dict:
    """How far a fresh deep MLP's hidden outputs drift from mean 0 and std 1 (N(0, 1) inputs), worst layer.

    Returns {'worst |mean|', 'worst |std - 1|', 'last std'} over the depth layers (MLP of actlab.models).
    """
    means, stds = [], []
    with seeded(seed), torch.no_grad():
        model = MLP(depth, width, activation, in_features=width, out_features=1, init=init)
        for _, h in model.hidden_outputs(torch.randn(n, width)):
            means.append(h.mean().item())
            stds.append(h.std().item())
    return {"worst |mean|": max(abs(m) for m in means), "worst |std - 1|": max(abs(s - 1) for s in stds),
            "last std": stds[-1]}


def output_std(name: str, points, noise_std: float, **params):
    """Exact standard deviation of f(p + noise_std * Z), Z ~ N(0, 1), for each operating point p (float64).

    By the trapezoid rule on z in [-12, 12] with step 1e-3 (relative error about 1e-6 even across a kink).
    points: a number (returns a float) or a sequence (returns a numpy array). noise_std > 0.
    """
    if not (isinstance(noise_std, (int, float)) and noise_std > 0):
        raise ValueError(f"noise_std must be a number > 0, got {noise_std!r}")
    s = lookup(name)
    p = s.resolve(**params)
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    density = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    centres = torch.as_tensor(np.atleast_1d(points), dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        out = s.forward(centres + noise_std * z, **p)
        first = torch.trapezoid(out * density, z, dim=1)
        second = torch.trapezoid(out * out * density, z, dim=1)
    result = (second - first * first).clamp_min(0).sqrt().numpy()
    return float(result[0]) if np.ndim(points) == 0 else result


def noise_passed(names, points, noise_std: float = 0.5, n: int = 100_000, seed: int = 0):
    """Output std of each activation for inputs point + noise_std * Z: Monte Carlo (n samples) beside the exact value.

    Returns a DataFrame with columns activation, operating point, monte carlo, exact, se (the standard error of
    a sample std, sd * sqrt((kurtosis - 1) / (4 n)), with the sample kurtosis). A random activation (RReLU) draws
    from the global generator seeded by seed; the caller's random state is left as it was.
    """
    import pandas as pd

    noise = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * noise_std
    rows = []
    for point in points:
        for name in names:
            with seeded(seed):
                out = get_activation(name)(point + noise)
            centred = out - out.mean()
            sd = centred.std().item()
            kurtosis = (centred ** 4).mean().item() / max((centred ** 2).mean().item() ** 2, 1e-300)
            rows.append({"activation": name, "operating point": point, "monte carlo": sd,
                         "exact": output_std(name, point, noise_std),
                         "se": sd * math.sqrt(max(kurtosis - 1, 0.0) / (4 * n))})
    return pd.DataFrame(rows)


def stochastic_gelu(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """x * m with m ~ Bernoulli(Phi(x)) drawn per element (Hendrycks and Gimpel 2016, Sec. 2): E[x m] = x Phi(x)."""
    keep = torch.special.ndtr(x)
    return x * (torch.rand(x.shape, generator=generator, dtype=x.dtype) < keep).to(x.dtype)


def stochastic_vs_gelu(x: torch.Tensor, depth: int = 3, width: int = 64, samples: int = 1000, seed: int = 0,
                       min_count: float = 10.0):
    """Monte Carlo mean of an MLP whose units are stochastic gates x * Bernoulli(Phi(x)), against the GELU MLP.

    The same weights (a fresh actlab MLP, Kaiming initialisation, seed, float64) run x (N, features) once with
    GELU and `samples` times with the stochastic gate. Per hidden layer and element, z = (Monte Carlo mean - GELU
    output) / its standard error (sample sd / sqrt(samples)); only elements whose gate varied enough for the
    normal approximation are tested (samples * p * (1 - p) >= min_count, p the kept fraction). If the GELU output
    is the expectation, z is about N(0, 1): mean z^2 is 1 within 'tolerance' = 5 sqrt(2.2 / tested) (Var z^2 =
    kurtosis - 1 <= 2.2 for such binomial counts; 5 standard errors). Returns a DataFrame indexed by layer:
    tested, mean z^2, tolerance, largest |gap|, matches (|mean z^2 - 1| < tolerance).
    """
    import pandas as pd

    if not (isinstance(samples, int) and samples >= 10):
        raise ValueError(f"samples must be an integer >= 10, got {samples!r}")
    with seeded(seed):
        model = MLP(depth, width, "gelu", in_features=x.shape[1], out_features=1, init="kaiming").double()
    x = x.double()
    linears = [m for m in model.hidden if isinstance(m, nn.Linear)]
    exact, total, squares, kept = _gate_moments(linears, x, samples, torch.Generator().manual_seed(seed))
    rows = [_gate_test_row(i + 1, e, total[i], squares[i], kept[i], samples, min_count) for i, e in enumerate(exact)]
    return pd.DataFrame(rows).set_index("layer")


@torch.no_grad()
def _gate_moments(linears: list, x: torch.Tensor, samples: int, gen: torch.Generator) -> tuple[list, ...]:
    """Per hidden layer: the GELU outputs, and the stochastic gate's sum, sum of squares and count of kept units."""
    first = linears[0](x)  # the first layer's input is fixed: its pre-activation is computed once
    exact, h = [], first
    for layer in linears[1:]:
        exact.append(nn.functional.gelu(h))
        h = layer(exact[-1])
    exact.append(nn.functional.gelu(h))
    total, squares, kept = ([torch.zeros_like(e) for e in exact] for _ in range(3))
    for _ in range(samples):
        h = first
        for i, layer in enumerate([nn.Identity(), *linears[1:]]):
            h = stochastic_gelu(layer(h), gen)
            total[i] += h
            squares[i] += h * h
            kept[i] += (h != 0).to(h.dtype)
    return exact, total, squares, kept


def _gate_test_row(layer: int, exact, total, squares, kept, samples: int, min_count: float) -> dict:
    """One layer's z-test of the Monte Carlo mean against the GELU output (see stochastic_vs_gelu)."""
    mean = total / samples
    var = (squares / samples - mean * mean) * samples / (samples - 1)
    p = kept / samples
    tested = (samples * p * (1 - p) >= min_count) & (var > 0)
    z = (mean - exact)[tested] / (var[tested] / samples).sqrt()
    count = int(tested.sum())
    mean_z2 = (z * z).mean().item() if count else float("nan")
    tolerance = 5 * math.sqrt(2.2 / count) if count else float("nan")
    return {"layer": layer, "tested": count, "mean z^2": mean_z2, "tolerance": tolerance,
            "largest |gap|": (mean - exact).abs().max().item(), "matches": bool(abs(mean_z2 - 1) < tolerance)}


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
