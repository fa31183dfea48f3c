"""Grids of training runs: several activations times several seeds, as a tidy table with plots."""
from __future__ import annotations

import numbers
import warnings
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn
from tqdm.auto import tqdm

from .data import Dataset
from .diagnostics import dead_units
from .models import MLP, LeNet, resolve_init
from .parallel import RunsInterrupted, map_runs, runs_per_process
from .activations import lookup
from .seeding import seeded
from .training import History, TrainConfig, pick_device, train


@dataclass(frozen=True)
class DefaultModel:
    """A picklable model factory: LeNet for images (image=True), else a 4-layer, 64-unit MLP, features to classes;
    init is one of models.INITS ('recommended': each activation's registry scheme)."""

    image: bool
    features: int
    classes: int
    init: str = "default"

    def __call__(self, name: str, **params) -> nn.Module:
        if self.image:
            return LeNet(name, params, num_classes=self.classes, init=self.init)
        return MLP(4, 64, name, params, in_features=self.features, out_features=self.classes, init=self.init)


def default_model(data: Dataset, init: str = "default") -> DefaultModel:
    """LeNet for images (N, 3, 32, 32), a 4-layer MLP for feature vectors (N, features); picklable. init: one of
    models.INITS for every layer ('recommended': each activation's registry scheme)."""
    resolve_init(init)
    image = data.x_train.dim() == 4
    return DefaultModel(image, 0 if image else int(data.x_train.shape[1]), len(data.classes), init)


@dataclass
class Comparison:
    """The runs of a grid: histories and trained models by (activation, seed), and a tidy table."""

    histories: dict[tuple[str, int], History]
    models: dict[tuple[str, int], nn.Module] = field(repr=False)
    data_source: str

    @property
    def table(self):
        """One row per (activation, seed, epoch): losses, accuracies, seconds, status."""
        import pandas as pd

        rows = []
        for (name, seed), h in self.histories.items():
            for r in h.epochs:
                rows.append({"activation": name, "seed": seed, **r, "status": h.status})
        return pd.DataFrame(rows)

    def summary(self):
        """Per activation: final test accuracy (mean, std, min, max over seeds), seconds per epoch, runs diverged."""
        t = self.table
        last = t[t.epoch == t.groupby(["activation", "seed"]).epoch.transform("max")]
        trained = t[t.epoch > 0]
        out = last.groupby("activation", sort=False).test_acc.agg(["mean", "std", "min", "max"]).add_prefix("test_acc_")
        out["train_loss_final"] = last.groupby("activation", sort=False).train_loss.mean()
        out["seconds_per_epoch"] = trained.groupby("activation", sort=False).seconds.mean()
        out["diverged"] = last.groupby("activation", sort=False).status.apply(lambda s: int((s == "diverged").sum()))
        return out.sort_values("test_acc_mean", ascending=False)

    def dead_fractions(self, data: Dataset, max_examples: int = 2000):
        """Per activation: the fraction of units (over all seeds' trained models) dead on data's training inputs."""
        import pandas as pd

        dead, units = {}, {}
        for (name, _), model in self.models.items():
            report = dead_units(model, data, max_examples=max_examples)
            dead[name] = dead.get(name, 0) + int(report.dead.sum())
            units[name] = units.get(name, 0) + int(report.units.sum())
        return pd.Series({n: dead[n] / units[n] for n in dead}, name="dead_fraction")

    def plot(self, metrics=("train_loss", "test_acc")) -> Figure:
        """Mean curve per activation with a band from the worst to the best seed, one panel per metric.

        Every panel spans the same epochs (0 to the last) with whole-number ticks.
        """
        t = self.table
        fig = Figure(figsize=(5 * len(metrics), 3.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(metrics), sharex=True))
        for ax, metric in zip(axes, metrics):
            rows = t[t.epoch > 0] if metric.startswith("train") else t
            for name, group in rows.groupby("activation", sort=False):
                stats = group.groupby("epoch")[metric].agg(["mean", "min", "max"])
                (line,) = ax.plot(stats.index, stats["mean"], "o-", ms=3, label=name)
                ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.15)
            ax.set(xlabel="epoch", ylabel=metric.replace("_", " "))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        last = max(int(t.epoch.max()), 1) if len(t) else 1
        axes[0].set_xlim(-0.2, last + 0.2)
        axes[-1].legend(fontsize=8)
        seeds = sorted({s for _, s in self.histories})
        fig.suptitle(f"mean and range over seeds {seeds}; data: {self.data_source}", fontsize=9)
        return fig


def _params_by_name(params: dict | None, names: list[str], check_values: bool) -> dict[str, dict]:
    """params keyed by canonical activation name; any spelling lookup() accepts works, other keys raise ValueError.

    With check_values, each dict must hold valid parameters of its activation (what the default models pass on).
    """
    out: dict[str, dict] = {}
    for key, values in (params or {}).items():
        try:
            name = lookup(key).name
        except (ValueError, TypeError) as exc:
            raise ValueError(f"params key {key!r} is not an activation: {exc}") from None
        if name not in names:
            raise ValueError(f"params key {key!r} names {name!r}, which is not among the activations compared "
                             f"({', '.join(names)})")
        if name in out:
            raise ValueError(f"params gives {name!r} twice (key {key!r} is another spelling of it)")
        if not isinstance(values, dict):
            raise ValueError(f"params[{key!r}] must be a dict of parameter values, got {values!r}")
        if check_values:
            lookup(name).resolve(**values)  # unknown parameters or values out of range: an error naming them, now
        out[name] = values
    return out


def _rates_by_name(lr, names: list[str]) -> dict[str, float]:
    """The learning rate of each activation: lr for all, or lr[name] from a dict keyed by any spelling lookup()
    accepts; ValueError naming a missing or unknown activation (the rates themselves are checked by TrainConfig)."""
    if not isinstance(lr, dict):
        return {name: lr for name in names}
    rates = {lookup(key).name: value for key, value in lr.items()}
    missing, extra = [n for n in names if n not in rates], [n for n in rates if n not in names]
    if missing or extra:
        raise ValueError(f"lr as a dict needs exactly one rate per activation compared ({', '.join(names)}); "
                         f"missing: {', '.join(missing) or 'none'}, not compared: {', '.join(extra) or 'none'}")
    return rates


def _train_one(job: tuple[str, dict, int, float], make: Callable, data: Dataset, train_kwargs: dict,
               keep_model: bool):
    """Train make(name, **params) on data, seeded from seed alone; (History, the model or its CPU state dict).

    The global random state is forked: init and training draw from manual_seed(seed), the caller's generator is
    left as it was, so the run gives the same numbers in any process. A run cut short by an interrupt raises
    KeyboardInterrupt (its partial history is not a finished run).
    """
    name, params, seed, lr = job
    with seeded(seed):
        net = make(name, **params)
        history = train(net, data, seed=seed, lr=lr, **train_kwargs)
    if history.status == "interrupted":
        raise KeyboardInterrupt(history.message)
    return history, net if keep_model else {k: v.detach().cpu() for k, v in net.state_dict().items()}


def _describe(job: tuple[str, dict, int, float]) -> str:
    """A run as the progress bar names it: 'relu, seed 1'."""
    return f"{job[0]}, seed {job[2]}"


def _rebuilt(make: Callable, name: str, params: dict, state: dict, device) -> nn.Module:
    """A model from make with a run's trained weights, on device; the caller's random state is left as it was."""
    with seeded(0):  # any seed: the weights drawn here are replaced by state
        net = make(name, **params)
    net.load_state_dict(state)
    return net.to(device)


def compare(activations, data: Dataset, seeds=(0,), model: Callable | None = None, params: dict | None = None,
            executor: Executor | None = None, threads: int | None = None, init: str = "default",
            **train_kwargs) -> Comparison:
    """Train one fresh model per (activation, seed) with the same settings; seed fixes both init and data order.

    params maps an activation (any spelling lookup() accepts) to its parameters, e.g. {"LeakyReLU": {"alpha": 0.5}}.
    init: the default model's initialisation (models.INITS; 'recommended': each activation's registry scheme, as
    a fair comparison uses). lr is one learning rate for all, or a dict giving each activation its own (e.g. Tuning.rates from tune_lr; every
    activation compared must have one).
    Each (activation, seed) is one run, seeded from its seed alone (seeding.seeded: the caller's random state
    is untouched). executor runs them elsewhere: a concurrent.futures.ProcessPoolExecutor or a Dask
    Client.get_executor() (model must then be picklable: the default is; no lambdas); the trained weights come back.
    threads: torch threads per run (default: cores // workers on a pool or cluster, your own setting when sequential;
    see actlab.parallel.map_runs). With the same threads per run every executor gives identical histories and
    weights; LeNet's CPU convolutions round differently with another thread count (threads=1 everywhere: identical).
    An executor that runs several trainings in one process (a thread pool, Dask workers with several threads) is
    refused (ValueError): they would share torch's global random generator. With progress (the
    default) a bar counts the finished runs. On an interrupt the finished runs are returned (with a warning); the
    run cut short is dropped.
    """
    names, seeds = _check_grid(activations, seeds, executor)
    params = _params_by_name(params, names, check_values=model is None)
    rates = _rates_by_name(train_kwargs.pop("lr", TrainConfig.lr), names)
    if model is not None and init != "default":
        raise ValueError("give either model or init: init only chooses the default model's initialisation")
    make = model or default_model(data, init)
    jobs = [(name, params.get(name, {}), seed, rates[name]) for name in names for seed in seeds]
    progress = train_kwargs.pop("progress", True)
    local = executor is None
    run = partial(_train_one, make=make, data=data, train_kwargs={**train_kwargs, "progress": progress and local},
                  keep_model=local)
    keys = [(name, seed) for name, _, seed, _ in jobs]
    overall = tqdm(total=len(jobs), disable=not progress, leave=False, position=0)
    try:
        results = dict(zip(keys, map_runs(run, jobs, executor, threads=threads, bar=overall, describe=_describe)))
    except RunsInterrupted as stop:
        results = {keys[i]: result for i, result in sorted(stop.done.items())}
        warnings.warn(f"compare was interrupted: the {len(results)} finished runs of {len(jobs)} are kept",
                      stacklevel=2)
    finally:
        overall.close()
    histories = {key: history for key, (history, _) in results.items()}
    device = None if local else pick_device(train_kwargs.get("device"))
    models = {key: out if local else _rebuilt(make, key[0], params.get(key[0], {}), out, device)
              for key, (_, out) in results.items()}
    return Comparison(histories, models, data.source)


def _check_grid(activations, seeds, executor) -> tuple[list[str], list[int]]:
    """Canonical activation names and the seeds as a list; ValueError for a bad grid or a process-sharing executor."""
    if isinstance(activations, str) or not len(activations):
        raise ValueError(f"activations must be a non-empty list of names, got {activations!r}")
    names = [lookup(a).name for a in activations]
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    seeds = [int(s) for s in seeds]  # NumPy integers (np.arange) as plain ints, as TrainConfig takes them
    sharing = runs_per_process(executor)
    if sharing is not None and sharing > 1:
        raise ValueError(f"executor runs up to {sharing} trainings in one process at once, where they would share "
                         "torch's global random generator (initialisation, dropout): use a ProcessPoolExecutor, or "
                         "Dask workers with one thread each (LocalCluster(threads_per_worker=1), dask worker "
                         "--nthreads 1), or executor=None")
    return names, seeds

