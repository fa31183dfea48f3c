"""What every reproduction shares: the Result a run gives, its cache key and file (stored through actlab.cache), and
the wrappers that pin a run to one torch thread and log it. No paper's code lives here."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...cache import load, save_arrays
from ...data import data_dir
from ...fingerprint import LIBRARY_DIGEST, digest
from ...seeding import one_thread

# Every run is pinned to one torch thread: its numbers do not depend on the executor or the machine's load.
THREADS_PER_RUN = 1


@dataclass
class Result:
    """One reproduction's rows (one dict per run), whether they are the full runs, and where they came from."""

    name: str
    rows: list
    full: bool
    settings: dict
    data_source: str
    from_cache: bool = False
    seconds: float = 0.0
    machine: dict | None = None  # how a full result was computed: torch threads per run, CPU kernels (also its key)

    def frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def which(self) -> str:
        """A sentence saying which results these are (full from make reproduce's cache, or the short run)."""
        if self.full:
            how = (f"loaded from the cache of `make reproduce`, which computed them in {self.seconds:.0f} s"
                   if self.from_cache else f"run now in {self.seconds:.0f} s")
            if self.machine:  # thread counts and CPU kernels change the last bits of training runs: both are keyed
                how += (f", {self.machine['threads_per_run']} torch thread(s) per run, "
                        f"{self.machine['cpu_capability']} CPU kernels")
            return f"{self.name}: FULL results ({how}); data: {self.data_source}"
        return (f"{self.name}: SHORT run ({self.seconds:.1f} s; `make reproduce` runs the full version and the "
                f"notebook then shows it); data: {self.data_source}")


def machine() -> dict:
    """What changes a run's last bits besides code, settings and data: torch threads per run and the CPU kernels."""
    return {"threads_per_run": THREADS_PER_RUN, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def cache_key(paper, settings, data_fp: str) -> dict:
    """Everything that changes a paper's full result: its name and settings (a dataclass), the code (the library's
    source, and the paper module's own source file, so that a paper kept outside the library is covered too),
    torch's version, machine() and the data's fingerprint; as it reads back from JSON.

    Source bytes of the paper's file: make reproduce and the notebook are two processes, and the key must be the same
    in both; the file's bytes name all of its code, whichever functions the run reaches."""
    key = {"name": paper.NAME, "settings": dataclasses.asdict(settings), "library": LIBRARY_DIGEST,
           "code": digest(Path(paper.__file__).read_bytes()), "torch": torch.__version__, "machine": machine(),
           "data": data_fp}
    return {**key, "settings": _as_json(key["settings"])}


def _as_json(value):
    """value as JSON gives it back (tuples become lists), so that a stored key compares equal to a fresh one."""
    import json

    return json.loads(json.dumps(value))


def cache_folder() -> Path:
    """The folder of cached full results: <data folder>/cache (ACTLAB_DATA, read at call time)."""
    return data_dir() / "cache"


def cache_file(key: dict) -> Path:
    """Where the full result for a key is cached: <cache folder>/repro-<name>-<digest of the key>.npz."""
    return cache_folder() / f"repro-{key['name']}-{digest(key)}.npz"


def save_result(key: dict, rows: list, seconds: float) -> Path:
    """Store a full result atomically with its key, through actlab.cache.save_arrays (sha256 over the contents)."""
    path = cache_file(key)
    save_arrays(path, {}, {"key": key, "rows": rows, "seconds": seconds, "machine": machine()})
    return path


def load_result(key: dict) -> dict | None:
    """The stored payload (key, rows, seconds, machine) for key, or None when absent; through actlab.cache.load, so
    a corrupt or edited file (failing its sha256) is reported in a UserWarning and treated as absent."""
    def restore(arrays: dict, meta: dict) -> dict:
        if meta.get("key") != key:  # a file under this key's name holding another key: not this result
            raise KeyError("the stored key differs from the file's name")
        return meta

    return load(cache_file(key), restore)


class OneThread:
    """A run function run on one torch thread (seeding.one_thread; THREADS_PER_RUN in the key; picklable)."""

    def __init__(self, run):
        self.run = run

    def __call__(self, item: dict):
        with one_thread():
            return self.run(item)


class Logged:
    """A run function that prints one line per finished run (picklable: module-level class, plain fields)."""

    def __init__(self, run, name: str):
        self.run, self.name = run, name

    def __call__(self, item: dict):
        start = time.perf_counter()
        out = self.run(item)
        what = ", ".join(f"{k} {item[k]}" for k in ("activation", "init", "depth", "width", "lr", "seed") if k in item)
        print(f"  {self.name}: {what}: {time.perf_counter() - start:.1f} s", flush=True)
        return out


def per_seed(rows, value: str, **where) -> np.ndarray:
    """The `value` of the rows matching every where[key] == row[key], ordered by seed (one number per seed).

    Raises ValueError when no row matches."""
    chosen = sorted((r for r in rows if all(r[k] == v for k, v in where.items())), key=lambda r: r["seed"])
    if not chosen:
        raise ValueError(f"no rows match {where}")
    return np.array([r[value] for r in chosen], dtype=float)
