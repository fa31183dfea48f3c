"""How the library reaches into a model: hooks that are always removed, and replacing a module by its dotted name.

`Hooks` follows fastai's Hook/Hooks (fastai.callback.hook): the object that registers the hooks owns their
handles and removes them when its block ends, also when the block raises. `Recorder` is the one way the library
records what modules see and return.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import torch
from torch import nn


class Hooks:
    """Forward-pre, forward and full-backward hooks on (name, module) pairs, registered for the length of a with block.

    pre(name, module, args), forward(name, module, args, output) and backward(name, module, grad_input,
    grad_output) are called with the module's name first (None: no such hook); what they return is what a
    PyTorch hook returns (None leaves the call unchanged). On exit every handle is removed, also when the
    block raises or registration fails part-way. PyTorch refuses full-backward hooks on a module that
    changes its input in place (nn.ReLU(inplace=True)): use forward hooks there.
    """

    def __init__(self, modules: Iterable[tuple[str, nn.Module]], pre: Callable | None = None,
                 forward: Callable | None = None, backward: Callable | None = None):
        self.modules = list(modules)
        self.calls = {"pre": pre, "forward": forward, "backward": backward}
        self.handles: list = []

    def _register(self, kind: str, module: nn.Module, hook: Callable):
        """One PyTorch hook of the given kind on module; returns its handle."""
        if kind == "pre":
            return module.register_forward_pre_hook(hook)
        if kind == "forward":
            return module.register_forward_hook(hook)
        return module.register_full_backward_hook(hook)

    def __enter__(self) -> "Hooks":
        try:
            for name, module in self.modules:
                for kind, call in self.calls.items():
                    if call is not None:
                        self.handles.append(self._register(kind, module, functools.partial(call, name)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this object registered (safe to call twice)."""
        while self.handles:
            self.handles.pop().remove()


class Recorder(Hooks):
    """Hooks that record a copy of (input, output) of every call of each module: records[name] is a list of pairs.

    Copies are taken as the module runs, so an in-place module (nn.ReLU(inplace=True)) does not overwrite the
    input it was given, later in-place operations (a residual `out += identity`) do not change the output,
    and the model's own outputs are not changed.
    """

    def __init__(self, modules: Iterable[tuple[str, nn.Module]]):
        super().__init__(modules, pre=self._before, forward=self._after)
        self.records: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {name: [] for name, _ in self.modules}
        self._pending: dict[str, torch.Tensor] = {}

    def _before(self, name: str, module: nn.Module, args: tuple) -> None:
        self._pending[name] = args[0].detach().clone()

    def _after(self, name: str, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.records[name].append((self._pending.pop(name), output.detach().clone()))

    def sites(self) -> dict[str, tuple[str, torch.Tensor, torch.Tensor]]:
        """{site: (name, input, output)} of every recorded call; a site is the module's name, or "name (call k)"
        for a module called k times (torchvision's BasicBlock calls one ReLU twice). Uncalled modules are left out."""
        out = {}
        for name, records in self.records.items():
            for k, (z, a) in enumerate(records, 1):
                out[name if len(records) == 1 else f"{name} (call {k})"] = (name, z, a)
        return out

    def clear(self) -> None:
        """Forget what was recorded (the hooks stay)."""
        for records in self.records.values():
            records.clear()


def replace_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put module at the dotted path name inside model (e.g. "hidden.act1"), in place of what is there.

    Raises ValueError for the empty name (a model cannot replace itself) and AttributeError, from PyTorch,
    when the path's parent does not exist.
    """
    if not name:
        raise ValueError("name must be a dotted path to a submodule such as 'hidden.act1', got '': "
                         "a model cannot replace itself")
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)
