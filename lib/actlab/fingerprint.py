"""Fingerprints for cache keys: what determines a function's or a model's behaviour, and the library's own code."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Every source file of the package, read once at import: the code that is running (a cache key must change
# with the code even when the version number does not).
_SOURCES = sorted(Path(__file__).parent.glob("*.py"))
LIBRARY_DIGEST = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in _SOURCES)).hexdigest()[:16]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 12


def _feed(h, value, seen: set, depth: int = 0) -> None:
    """Feed what determines value's behaviour into the hash h: code, constants, closures, referenced globals, data."""
    if depth > _MAX_DEPTH or id(value) in seen:
        h.update(b"<cycle>")
        return
    if isinstance(value, (type(None), bool, int, float, complex, str, bytes)):
        h.update(repr(value).encode())
        return
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        h.update(f"tensor{tuple(value.shape)}{value.dtype}".encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(value, np.ndarray):
        h.update(f"array{value.shape}{value.dtype}".encode() + np.ascontiguousarray(value).tobytes())
    elif isinstance(value, types.FunctionType):
        _feed_function(h, value, seen, depth)
    elif isinstance(value, types.MethodType):
        _feed(h, value.__func__, seen, depth + 1)
        _feed(h, type(value.__self__), seen, depth + 1)
    elif isinstance(value, functools.partial):
        for part in (value.func, value.args, value.keywords):
            _feed(h, part, seen, depth + 1)
    elif isinstance(value, types.CodeType):
        _feed_code(h, value, seen, depth)
    elif isinstance(value, types.ModuleType):
        h.update(f"module {value.__name__}".encode())
    elif isinstance(value, type):
        _feed_class(h, value, seen, depth)
    elif isinstance(value, (list, tuple, set, frozenset)):
        h.update(type(value).__name__.encode())
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        for item in items:
            _feed(h, item, seen, depth + 1)
    elif isinstance(value, dict):
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _feed(h, value[k], seen, depth + 1)
    elif dataclasses.is_dataclass(value):
        _feed(h, type(value), seen, depth + 1)
        for f in dataclasses.fields(value):
            h.update(f.name.encode())
            _feed(h, getattr(value, f.name), seen, depth + 1)
    elif isinstance(value, nn.Module):
        _feed_module(h, value, seen, depth)
    else:  # builtins (torch.relu), other objects: their type and repr (memory addresses removed)
        _feed(h, type(value), seen, depth + 1)
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - an object whose repr fails is identified by its type alone
            text = "<no repr>"
        h.update(_ADDRESS.sub("", text).encode())


def _feed_code(h, code: types.CodeType, seen: set, depth: int) -> None:
    """Bytecode, names and constants (nested functions' code included)."""
    h.update(code.co_code + repr(code.co_names).encode())
    for const in code.co_consts:
        _feed(h, const, seen, depth + 1)


def _feed_function(h, fn: types.FunctionType, seen: set, depth: int) -> None:
    """A function's code, defaults, closure values and the globals its code names (other functions, constants)."""
    h.update(f"function {fn.__module__}.{fn.__qualname__}".encode())
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


def _feed_class(h, cls: type, seen: set, depth: int) -> None:
    """A class by name; for classes outside torch, the code of every method along its MRO."""
    h.update(f"class {cls.__module__}.{cls.__qualname__}".encode())
    for base in cls.__mro__:
        if _from_torch(base):
            continue
        for name, member in sorted(vars(base).items()):
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, types.FunctionType):
                h.update(name.encode())
                _feed(h, member, seen, depth + 1)


def _feed_module(h, module: nn.Module, seen: set, depth: int) -> None:
    """Every submodule's class code and plain attributes (parameters and buffers are in the init digest)."""
    for name, sub in module.named_modules():
        h.update(f"submodule {name}".encode())
        _feed(h, type(sub), seen, depth + 1)
        for attr, value in sorted(vars(sub).items()):
            if attr.startswith("_") or attr == "training":
                continue
            h.update(attr.encode())
            _feed(h, value, seen, depth + 1)


def code_digest(obj) -> str:
    """A hash of what determines obj's behaviour: for a function its bytecode, constants, closure values and the
    globals it names; for a model every submodule's class code and attributes (activation functions included)."""
    h = hashlib.sha256()
    _feed(h, obj, set())
    return h.hexdigest()[:16]
