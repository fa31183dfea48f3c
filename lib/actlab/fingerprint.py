"""Fingerprints: one sha256 helper (digest) for cache keys, checksums and file names, and the library's own code.

digest(*values) hashes what determines each value's behaviour: for data (tensors, arrays, bytes) its type, shape
and bytes; for code (functions, classes, nn.Modules) its bytecode, constants, closures and referenced globals.
Code is not enough to name what a model computes (a callable object's state, a module attribute a lambda reads, a
closure's weights), so behaviour_digest hashes what a model and its activations compute on a fixed probe.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .seeding import one_thread, seeded

UNKNOWN_VERSION = "0+unknown"  # PEP 440 local version: what no release of actlab is called
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 12
_SCALARS = (type(None), bool, int, float, complex, str)


def digest(*values, length: int | None = 16) -> str:
    """Hex sha256 of values (see the module docstring), cut to length characters (None: all 64).

    Equal values give equal digests in any process; a changed value, dtype, shape or code gives another one.
    """
    h = hashlib.sha256()
    seen: dict = {}  # id -> (the object, its number): held, so that no temporary's id is reused while hashing
    for value in values:
        _feed(h, value, seen)
    return h.hexdigest()[:length]


def code_digest(obj) -> str:
    """A hash of what determines obj's behaviour: for a function its bytecode, constants, closure values and the
    globals it names; for a model every submodule's class code and attributes (activation functions included)."""
    return digest(obj)


def _feed(h, value, seen: dict, depth: int = 0) -> None:
    """Feed what determines value's behaviour into the hash h: code, constants, closures, referenced globals, data."""
    if depth > _MAX_DEPTH:
        h.update(b"<too deep>")
        return
    if id(value) in seen:  # a cycle or a shared object: named by when it was first seen, so [a, b, a] != [a, b, b]
        h.update(f"<seen {seen[id(value)][1]}>".encode())
        return
    if isinstance(value, _SCALARS):
        h.update(repr(value).encode())
        return
    if isinstance(value, bytes):
        h.update(f"bytes{len(value)}:".encode() + value)
        return
    if isinstance(value, (torch.Tensor, np.ndarray)):  # data holds no cycles: the same tensor twice is fed twice
        _feed_tensor(h, value)
        return
    seen[id(value)] = (value, len(seen))  # kept alive: a freed temporary's id (a tuple made here) would be reused
    for kinds, feeder in _FEEDERS:
        if isinstance(value, kinds):
            feeder(h, value, seen, depth)
            return
    if dataclasses.is_dataclass(value):
        _feed_dataclass(h, value, seen, depth)
    else:
        _feed_other(h, value, seen, depth)


def _feed_tensor(h, value) -> None:
    """A tensor or array: its kind, shape, dtype and memory bytes (read in place, without a copy when contiguous)."""
    if isinstance(value, torch.Tensor):
        h.update(f"tensor{tuple(value.shape)}{value.dtype}".encode())
        value = value.detach().cpu().resolve_conj().resolve_neg().contiguous()  # any dtype, bfloat16 included
        h.update(memoryview(value.reshape(-1).view(torch.uint8).numpy()))
        return
    h.update(f"array{value.shape}{value.dtype}".encode())
    value = np.ascontiguousarray(value)
    h.update(value.tobytes() if value.dtype.hasobject else memoryview(value.reshape(-1).view(np.uint8)))


def _feed_collection(h, value, seen: dict, depth: int) -> None:
    """A list, tuple or set (sets in a stable order) or a dict (by sorted keys)."""
    h.update(type(value).__name__.encode())
    if isinstance(value, dict):
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _feed(h, value[k], seen, depth + 1)
        return
    items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
    for item in items:
        _feed(h, item, seen, depth + 1)


def _feed_callable(h, value, seen: dict, depth: int) -> None:
    """A bound method (its function and its class) or a functools.partial (function, arguments)."""
    if isinstance(value, types.MethodType):
        parts = (value.__func__, type(value.__self__))
    else:
        parts = (value.func, value.args, value.keywords)
    for part in parts:
        _feed(h, part, seen, depth + 1)


def _feed_code(h, code: types.CodeType, seen: dict, depth: int) -> None:
    """Bytecode, names and constants (nested functions' code included)."""
    h.update(code.co_code + repr(code.co_names).encode())
    for const in code.co_consts:
        _feed(h, const, seen, depth + 1)


@functools.lru_cache(maxsize=None)
def _distributions() -> dict:
    """Top-level import name -> installed distribution names (read once per process: about 0.5 s)."""
    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=None)
def released_version(module_name: str | None) -> str | None:
    """The release that names a module's code, or None where the code itself must be hashed.

    Python's version for the standard library, the distribution's version for an installed package (tqdm, numpy,
    torch); None for actlab, for an editable install (its code may change without a new version) and for code
    outside both (a notebook's __main__, a local file). Hashing a released library's functions would walk into its
    run-time state (threading's table of live threads, tqdm's monitor), which differs between processes.
    """
    top = (module_name or "").split(".")[0]
    if top in ("", "actlab", "__main__"):
        return None
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return f"python {sys.version}"
    for name in _distributions().get(top, ()):
        dist = importlib.metadata.distribution(name)
        url = json.loads(dist.read_text("direct_url.json") or "{}")
        if not url.get("dir_info", {}).get("editable", False):
            return f"{name} {dist.version}"
    return None


def _feed_function(h, fn: types.FunctionType, seen: dict, depth: int) -> None:
    """A function's code, defaults, closure values and the globals its code names (other functions, constants);
    a released library's function by its name and release (released_version)."""
    h.update(f"function {fn.__module__}.{fn.__qualname__}".encode())
    version = released_version(fn.__module__)
    if version is not None:
        h.update(version.encode())
        return
    _feed_code(h, fn.__code__, seen, depth)
    _feed(h, (fn.__defaults__, fn.__kwdefaults__), seen, depth + 1)
    for cell in fn.__closure__ or ():
        try:
            _feed(h, cell.cell_contents, seen, depth + 1)
        except ValueError:  # an empty cell
            h.update(b"<empty>")
    names = set(fn.__code__.co_names)
    for const in fn.__code__.co_consts:
        if isinstance(const, types.CodeType):
            names.update(const.co_names)
    for name in sorted(names):
        if name in fn.__globals__:
            h.update(name.encode())
            _feed(h, fn.__globals__[name], seen, depth + 1)


def _from_torch(cls: type) -> bool:
    """True for classes of torch and Python itself, whose code the versions in the key identify."""
    return cls.__module__.split(".")[0] in ("torch", "builtins", "typing", "abc")


def _feed_class(h, cls: type, seen: dict, depth: int) -> None:
    """A class by name; along its MRO, a released library's class by its release, any other by its methods' code."""
    h.update(f"class {cls.__module__}.{cls.__qualname__}".encode())
    for base in cls.__mro__:
        version = released_version(base.__module__)
        if version is not None:
            h.update(f"{base.__qualname__} {version}".encode())
            continue
        for name, member in sorted(vars(base).items()):
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, types.FunctionType):
                h.update(name.encode())
                _feed(h, member, seen, depth + 1)


def _feed_module(h, module: nn.Module, seen: dict, depth: int) -> None:
    """Every submodule's class code and plain attributes (parameters and buffers are in the init digest)."""
    for name, sub in module.named_modules():
        h.update(f"submodule {name}".encode())
        _feed(h, type(sub), seen, depth + 1)
        for attr, value in sorted(vars(sub).items()):
            if attr.startswith("_") or attr == "training":
                continue
            h.update(attr.encode())
            _feed(h, value, seen, depth + 1)


def _feed_python_module(h, module: types.ModuleType, seen: dict, depth: int) -> None:
    """A Python module by name (its version is in the key where it matters: torch, the library)."""
    h.update(f"module {module.__name__}".encode())


def _feed_dataclass(h, value, seen: dict, depth: int) -> None:
    """A dataclass instance: its class and each field."""
    _feed(h, type(value), seen, depth + 1)
    for f in dataclasses.fields(value):
        h.update(f.name.encode())
        _feed(h, getattr(value, f.name), seen, depth + 1)


def _feed_other(h, value, seen: dict, depth: int) -> None:
    """Builtins (torch.relu) and other objects: their type and repr (memory addresses removed)."""
    _feed(h, type(value), seen, depth + 1)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - an object whose repr fails is identified by its type alone
        text = "<no repr>"
    h.update(_ADDRESS.sub("", text).encode())


# ---------------------------------------------------------------------------
# Behaviour: what a model and its activations compute, whatever their code looks like
# ---------------------------------------------------------------------------

PROBE_SEED = 2024  # the probe's own generator; the caller's random state is never drawn from
PROBE_BATCH = 8  # inputs in the probe batch: N(0, 1), as the training inputs are standardised
# The activation grid, float64: a step of 0.01 on [-8, 8] and 100 log-spaced points each way out to +-1e3, so that
# a change anywhere in [-1000, 1000] (a clipping threshold, a far tail) changes the probe's values.
PROBE_GRID = torch.cat([-torch.logspace(3, 0.91, 100, dtype=torch.float64),
                        torch.linspace(-8, 8, 1601, dtype=torch.float64),
                        torch.logspace(0.91, 3, 100, dtype=torch.float64)])


class OpaqueBehaviour(RuntimeError):
    """A model whose behaviour the probe cannot see: it fails on the probe, or gives two answers to one probe."""


def behaviour_digest(model: nn.Module, input_shape: tuple[int, ...]) -> str:
    """A hash of what model computes, whatever its code looks like (callable objects, module attributes, closures).

    Probes a copy of model on CPU on one thread, in float64 (else, if that fails, in the model's own dtype) with
    the generator seeded locally (the caller's random state, CPU and GPU, is left as it was; the model is not
    changed), in training and in eval mode: its outputs and parameter gradients on a fixed batch of PROBE_BATCH
    inputs of input_shape (one example's shape), and each activation module's values and derivatives on
    PROBE_GRID. Raises OpaqueBehaviour when the probe fails or two probes disagree (a function that is not
    deterministic).
    """
    with one_thread():
        first, second = _probe(model, tuple(input_shape)), _probe(model, tuple(input_shape))
    if second != first:
        raise OpaqueBehaviour(f"{type(model).__name__} gives different outputs for the same probe (a function that "
                              "is not deterministic given the random seed)")
    return first


def _probe(model: nn.Module, input_shape: tuple[int, ...]) -> str:
    """One probe's digest: in float64, else in the model's own dtype; OpaqueBehaviour if both fail."""
    errors = []
    for dtype in (torch.float64, None):
        try:
            with seeded(PROBE_SEED, cpu_only=True):  # what dropout or RReLU draws on the CPU copy; never starts CUDA
                return digest(*_responses(model, input_shape, dtype), length=None)
        except Exception as exc:  # noqa: BLE001 - any failure means the probe cannot see this model
            errors.append(f"{type(exc).__name__}: {exc}")
    raise OpaqueBehaviour(f"{type(model).__name__} cannot be probed ({'; '.join(errors)})")


def _responses(model: nn.Module, input_shape: tuple[int, ...], dtype) -> list[torch.Tensor]:
    """A CPU copy's outputs and parameter gradients on the probe batch, and its activations' values and
    derivatives on PROBE_GRID, in training then in eval mode (dtype None: the model's own)."""
    copy_ = copy.deepcopy(model).cpu()
    if dtype is not None:
        copy_ = copy_.to(dtype)
    dtype = next((p.dtype for p in copy_.parameters() if p.is_floating_point()), torch.get_default_dtype())
    gen = torch.Generator().manual_seed(PROBE_SEED)
    x = torch.randn((PROBE_BATCH, *input_shape), generator=gen, dtype=dtype)
    responses = []
    for training in (True, False):
        copy_.train(training)
        responses += _model_response(copy_, x, gen)
        for name, module in copy_.named_modules():
            if _is_activation(module):
                responses += [name, *_grid_response(module, PROBE_GRID.to(dtype))]
    return responses


def _model_response(model: nn.Module, x: torch.Tensor, gen: torch.Generator) -> list[torch.Tensor]:
    """The model's outputs on x and the gradients of a random projection of them (from gen) by every parameter."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        out = model(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned a {type(out).__name__}, not a tensor")
        if not params or not out.requires_grad:
            return [out.detach()]
        weights = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)
        grads = torch.autograd.grad((out * weights).sum(), params, allow_unused=True)  # no .grad is touched
    return [out.detach(), *(torch.zeros(0) if g is None else g for g in grads)]


def _is_activation(module: nn.Module) -> bool:
    """True for a module that may be an elementwise function: torch.nn's activations and any leaf module of a
    class from outside torch (actlab's own, or the user's); torch's layers are named by torch's version."""
    cls = type(module)
    return cls.__module__ == "torch.nn.modules.activation" or (not _from_torch(cls) and not any(module.children()))


def _grid_response(module: nn.Module, grid: torch.Tensor) -> list:
    """An activation's values and derivatives on grid; a module that is not elementwise (it refuses a 1-D input)
    says so and is seen through the model's response."""
    x = grid.clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            y = module(x)
            slope = torch.autograd.grad(y.sum(), x)[0] if y.requires_grad else torch.zeros(0)
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        return [f"not elementwise: {type(exc).__name__}"]
    return [y.detach(), slope]


_FEEDERS = (
    (types.FunctionType, _feed_function),
    ((types.MethodType, functools.partial), _feed_callable),
    (types.CodeType, _feed_code),
    (types.ModuleType, _feed_python_module),
    (type, _feed_class),
    ((list, tuple, set, frozenset, dict), _feed_collection),
    (nn.Module, _feed_module),
)

# Every source file of the package (subpackages included), read once at import: the code that is running (a cache
# key must change with the code even when the version number does not).
_PACKAGE = Path(__file__).parent
LIBRARY_DIGEST = digest(*((str(p.relative_to(_PACKAGE)), p.read_bytes()) for p in sorted(_PACKAGE.rglob("*.py"))))


@functools.cache
def package_version() -> str:
    """actlab's version from its installed metadata (pyproject.toml's version, via importlib.metadata), read once.

    UNKNOWN_VERSION ('0+unknown') when actlab is imported without being installed (PYTHONPATH=lib). The metadata
    is the installed distribution's: a checkout put first on PYTHONPATH reports the installed version, which is why
    a cache key also holds LIBRARY_DIGEST, the digest of the code actually imported.
    """
    try:
        return importlib.metadata.version("actlab")
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN_VERSION
