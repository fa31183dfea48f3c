"""Notebook 12's reproductions: published results re-measured, one module per paper, found by one registry.

Short runs for the notebook, full runs for `make reproduce` (python -m actlab.experiments.reproductions --full
--workers N), whose results are cached (actlab.cache: atomic, with a sha256 over the contents) under the data
folder's cache/ and shown by the notebook when they are there.

A paper is one module of this package (names starting with "_" are helpers, not papers). It defines:
    NAME                  its name (the module's name), used by `--only` and result(name)
    TITLE                 one line: the paper and what is re-measured
    settings(full)        a frozen dataclass with fields `full` and `seeds` and the paper's sizes: the notebook's
                          short run (full=False) or make reproduce's full run (full=True)
    data(settings)        (fingerprint, description) of the data the runs read (part of the cache key)
    items(settings)       the sweep: plain, picklable dicts, each seeding its own run
    run(item)             one run: a dict of plain values (picklable, JSON-able)
    plot(rows)            a matplotlib Figure of the rows
    verdict(result, family)  records the paper's claims in family (an actlab.ClaimFamily) and returns the lines
                          to print (individual verdicts, and "undecided: ..." where the run cannot decide)
Adding a paper is adding such a module (and its test, and its section in notebook 12): papers() finds it.

A full result is keyed (_common.cache_key) by the paper's name and settings, the library's source (which holds every
paper module) and the paper module's own source, torch's version, the CPU kernels, the torch threads per
run (always 1: each run is pinned to one thread, so results do not depend on the executor) and the data's
fingerprint: a cached result is never served for other code, data or settings.

The papers (see each module's docstring):
1. born_dead: Lu, Shin, Su and Karniadakis (2019/2020), born-dead deep narrow ReLU nets.
2. saturation: Glorot and Bengio (2010), figure 2, per-layer activations of a sigmoid MLP over training.
3. selu: Klambauer, Unterthiner, Mayr and Hochreiter (2017), SELU's fixed point through depth.
4. krizhevsky: Krizhevsky, Sutskever and Hinton (2012), figure 1, epochs to a training-error target, tanh vs ReLU.
5. gelu_mlp: Hendrycks and Gimpel (2016), 8 x 128 MLP, GELU/ReLU/ELU each at its own learning rate.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import time
from concurrent.futures import Executor
from types import ModuleType

from ...checks import check_choice
from ...data import data_dir
from ...evidence import ClaimFamily
from ...parallel import map_runs
from ._common import (THREADS_PER_RUN, Logged, OneThread, Result, cache_file, cache_folder, cache_key, load_result,
                      machine, per_seed, save_result)

PROTOCOL = ("NAME", "TITLE", "settings", "data", "items", "run", "plot", "verdict")
__all__ = ["PROTOCOL", "THREADS_PER_RUN", "Logged", "OneThread", "Result", "cached_full", "data_dir", "machine",
           "main", "names", "paper", "papers", "per_seed", "result"]


def papers() -> dict[str, ModuleType]:
    """Every paper module of this package, {NAME: module}, by name: each module in the package's folders whose name
    does not start with "_". Raises TypeError naming a module that lacks part of PROTOCOL or whose NAME is not its
    module's name."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        missing = [part for part in PROTOCOL if not hasattr(module, part)]
        if missing or module.NAME != info.name:
            raise TypeError(f"paper module {module.__name__} must define {', '.join(PROTOCOL)} with NAME = "
                            f"{info.name!r}; it lacks {', '.join(missing) or 'that NAME'}")
        found[info.name] = module
    return found


def names() -> tuple[str, ...]:
    """The papers' names, in papers()' order."""
    return tuple(papers())


def paper(name: str) -> ModuleType:
    """The paper module called name (one of names(); ValueError naming the choices otherwise)."""
    found = papers()
    check_choice("name", name, tuple(found))
    return found[name]


def result(name: str, full: bool = False, executor: Executor | None = None, use_cache: bool = True,
           progress: bool = False) -> Result:
    """One reproduction: the full results when cached (or when full=True: run and cache them), else the short run.

    name: one of names() (ValueError otherwise). executor: any concurrent.futures.Executor for the runs (None: one
    after another). use_cache: serve a cached full result when there is one. progress: print a line per finished run.
    """
    module = paper(name)
    if use_cache:
        cached = cached_full(name)
        if cached is not None:
            payload, data_source = cached
            return Result(name, payload["rows"], True, payload["key"]["settings"], data_source, from_cache=True,
                          seconds=payload.get("seconds", 0.0), machine=payload.get("machine"))
    s = module.settings(full)
    data_fp, data_source = module.data(s)
    start = time.perf_counter()
    run = OneThread(Logged(module.run, name) if progress else module.run)
    rows = map_runs(run, module.items(s), executor)
    seconds = time.perf_counter() - start
    if full:
        save_result(cache_key(module, s, data_fp), rows, seconds)
    return Result(name, rows, full, dataclasses.asdict(s), data_source, seconds=seconds, machine=machine())


def cached_full(name: str) -> tuple[dict, str] | None:
    """(payload, data description) of the cached full result of the paper called name for the current code, data
    and settings, or None. The full data's fingerprint is computed only when some cached file of that paper
    exists, so a cold start never builds the full data set."""
    module = paper(name)
    if not any(cache_folder().glob(f"repro-{name}-*.npz")):
        return None
    s = module.settings(True)
    data_fp, data_source = module.data(s)
    payload = load_result(cache_key(module, s, data_fp))
    return None if payload is None else (payload, data_source)


def main(argv=None) -> int:
    """python -m actlab.experiments.reproductions [--full] [--workers N] [--only NAME ...]"""
    choices = names()
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--full", action="store_true", help="the full runs (cached under the data folder)")
    parser.add_argument("--workers", type=int, default=1, help="processes, each run on one torch thread (1: one "
                        "after another in this process); up to the number of cores")
    parser.add_argument("--only", nargs="*", choices=choices, default=list(choices))
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be an integer >= 1, got {args.workers}")
    executor = None
    if args.workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"))
    start = time.perf_counter()
    try:
        for name in args.only:
            _reproduce(name, args.full, executor, args.workers)
    finally:
        if executor is not None:
            executor.shutdown()
    print(f"reproduce: done in {time.perf_counter() - start:.0f} s; results under {cache_folder()}")
    return 0


def _reproduce(name: str, full: bool, executor: Executor | None, workers: int) -> None:
    """Run one paper for main and print what it gave: which results, where they are cached, the paper's verdict."""
    module = paper(name)
    print(f"reproduce: {name} ({'full' if full else 'short'}, {workers} worker(s)) ...", flush=True)
    res = result(name, full=full, executor=executor, use_cache=full, progress=True)
    print(f"  {res.which()}", flush=True)
    if full:
        s = module.settings(True)
        print(f"  cached in {cache_file(cache_key(module, s, module.data(s)[0]))}", flush=True)
    family = ClaimFamily(f"make reproduce: {name}")
    lines = module.verdict(res, family)
    print(f"  {module.TITLE}; claims each at 95% one-sided before Holm (notebook 12 decides them together):")
    print("\n".join(f"    {line}" for line in lines), flush=True)
