"""Caching on disk, as one layer: what identifies a result (cache_key), where it lives (cache_path), atomic saving
(save_arrays) and the library's only "load it, or warn that it is corrupt and recompute" path (load).

Files are pickle-free .npz archives whose metadata carry a sha256 of the arrays and the metadata; a truncated,
unreadable or altered file is reported and treated as absent, never half-used.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch
from torch import nn

from .fingerprint import LIBRARY_DIGEST, OpaqueBehaviour, behaviour_digest, code_digest, digest, package_version

T = TypeVar("T")
# What a restore function raises for an entry that does not fit (a missing part, a wrong shape or type).
CORRUPT = (KeyError, RuntimeError, TypeError, ValueError)


class DataError(RuntimeError):
    """A data file is missing, corrupt or fails its checksum."""


def atomic_write(path: Path, write: Callable) -> None:
    """Call write(file) on a temporary file in path's folder, then rename it into place (never a partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays and JSON metadata atomically as a pickle-free .npz, with a sha256 of both in the metadata."""
    meta = json.loads(json.dumps(meta))  # the checksum covers the metadata as a reader gets it (tuples as lists ...)
    meta = {**meta, "sha256": digest(arrays, meta, length=None)}
    payload = {**arrays, "__meta__": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    atomic_write(Path(path), lambda f: np.savez(f, **payload))


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by save_arrays; raise DataError if it is unreadable or fails its checksum."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(arrays.pop("__meta__").tobytes())
    except Exception as exc:  # zip, json or numpy errors all mean the same: corrupt
        raise DataError(f"{path} is unreadable ({type(exc).__name__}: {exc})") from exc
    if meta.pop("sha256", None) != digest(arrays, meta, length=None):
        raise DataError(f"{path} fails its checksum")
    return arrays, meta


def load(path: Path, restore: Callable[[dict, dict], T]) -> T | None:
    """restore(arrays, meta) of the file at path; None when there is none.

    A corrupt entry (unreadable, failing its checksum, or refused by restore with KeyError, RuntimeError,
    TypeError or ValueError) is reported in a UserWarning and treated as absent. restore must check everything
    before it changes anything, so that a refused entry leaves no trace.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        return restore(*load_arrays(path))
    except (DataError, *CORRUPT) as exc:
        warnings.warn(f"cached file {path.name} is corrupt ({exc}); it is recomputed", stacklevel=3)
        return None


# ---------------------------------------------------------------------------
# Training runs
# ---------------------------------------------------------------------------

def cache_key(model: nn.Module, data, config: dict, callbacks) -> dict:
    """Everything that changes a run's result: settings, code (model, activations, library, torch), behaviour (what
    the model and its activations compute on a fixed probe: fingerprint.behaviour_digest), data (its bytes),
    callbacks.

    Code alone cannot name a run: a callable object's state, a module attribute a lambda reads or a closure's
    weights change what runs and not how its code looks; the behaviour probe sees them. Raises ValueError when a
    callback cannot be cached (it has no key() or its key() is None); OpaqueBehaviour when the model's behaviour
    cannot be probed (then the run must not be cached, see cached).
    """
    keys = [getattr(cb, "key", lambda: None)() for cb in callbacks]
    refused = [type(cb).__name__ for cb, key in zip(callbacks, keys) if key is None]
    if refused:
        raise ValueError(f"cache=True cannot restore what callback(s) {', '.join(refused)} record: give them key(), "
                         "state() and load_state() methods (see actlab.Callback), or train with cache=False")
    return {**config, "version": package_version(), "library": LIBRARY_DIGEST, "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "default_dtype": str(torch.get_default_dtype()), "architecture": repr(model),
            "init": digest(model.state_dict()), "code": code_digest(model), "data": data.fingerprint(),
            "behaviour": behaviour_digest(model, tuple(data.x_train.shape[1:])),
            "callbacks": [(key, code_digest(type(cb))) for cb, key in zip(callbacks, keys)],
            "rng": digest(*_generator_states(config.get("device", "cpu")))}


def _generators(device: str) -> list[tuple[Callable, Callable]]:
    """(get_state, set_state) of each generator a run on device draws from (dropout, RReLU and the like): the
    CPU's, and on a CUDA or MPS device that device's own one too."""
    pairs = [(torch.get_rng_state, torch.set_rng_state)]
    if str(device).startswith("cuda"):
        gpu = torch.device(device)
        pairs.append((lambda: torch.cuda.get_rng_state(gpu), lambda state: torch.cuda.set_rng_state(state, gpu)))
    elif str(device).startswith("mps"):
        pairs.append((lambda: torch.mps.get_rng_state(), lambda state: torch.mps.set_rng_state(state)))
    return pairs


def _generator_states(device: str) -> list[torch.Tensor]:
    """The current states of _generators(device)."""
    return [get() for get, _ in _generators(device)]


def cache_path(key: dict, folder: Path) -> Path:
    """Where the result for a key is cached in folder (a name made of the key's digest)."""
    return Path(folder) / f"train-{digest(key, length=20)}.npz"


def load_run(path: Path, model: nn.Module, callbacks, parse: Callable[[dict], T], device: str = "cpu") -> T | None:
    """The saved run at path as parse(its history dict), its final weights loaded into model, its callbacks'
    records into callbacks and the random generators of device left as the run left them; None when absent or
    corrupt (then nothing is changed: a model is never half-loaded)."""
    def restore(arrays: dict, meta: dict):
        history, states = parse(meta["history"]), meta["callbacks"]
        generators = [torch.tensor(g, dtype=torch.uint8) for g in meta["generators"]]
        if len(states) != len(callbacks) or len(generators) != len(_generators(device)):
            raise KeyError("callback records or generator states")
        weights = {k: torch.from_numpy(v) for k, v in arrays.items()}
        current = model.state_dict()
        if set(weights) != set(current) or any(weights[k].shape != current[k].shape for k in current):
            raise KeyError("the weights do not fit the model")
        model.load_state_dict(weights)
        return history, states, generators

    found = load(path, restore)
    if found is None:
        return None
    for cb, state in zip(callbacks, found[1]):
        cb.load_state(state)
    for (_, set_state), state in zip(_generators(device), found[2]):  # later draws match those after a fresh run
        set_state(state)
    return found[0]


def save_run(path: Path, model: nn.Module, history: dict, callbacks, device: str = "cpu") -> None:
    """Save a run atomically: its history dict, the model's final weights, the callbacks' state() and the states
    the run left device's random generators in."""
    arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    generators = [state.tolist() for state in _generator_states(device)]
    save_arrays(path, arrays, {"history": history, "callbacks": [cb.state() for cb in callbacks],
                               "generators": generators})


def cached(run: Callable[[], T], model: nn.Module, data, config: dict, callbacks, parse: Callable[[dict], T],
           folder: Path) -> T:
    """The layer around training: the result saved in folder for a run with the same cache_key when there is one
    (from_cache set, the random generators left as the run left them), else run() saved unless it was
    interrupted. A result has status, from_cache and to_dict(). What the key cannot see is never served: a model
    whose behaviour cannot be probed (OpaqueBehaviour) is run, not cached, with a UserWarning saying why."""
    try:
        key = cache_key(model, data, config, callbacks)
    except OpaqueBehaviour as exc:
        warnings.warn(f"cache=True: this run is neither served from nor saved to the cache, because the cache key "
                      f"cannot see what the model computes: {exc}", stacklevel=3)
        return run()
    path, device = cache_path(key, folder), config.get("device", "cpu")
    result = load_run(path, model, callbacks, parse, device)
    if result is not None:
        result.from_cache = True
        return result
    result = run()
    if result.status != "interrupted":
        save_run(path, model, result.to_dict(), callbacks, device)
    return result
