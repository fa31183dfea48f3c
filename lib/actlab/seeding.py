"""Seeding without hidden global state: library functions draw from a torch.Generator they own, or, where PyTorch
offers no generator argument (module construction and nn.init, nn.RReLU and nn.Dropout in training mode), from
the global generator inside `seeded(seed)`, which restores the caller's random state on exit."""
from __future__ import annotations

import contextlib
import operator

import torch


@contextlib.contextmanager
def seeded(seed: int):
    """Run the block with torch's global generator seeded to seed; on exit the caller's random state is restored.

    A context manager around torch.random.fork_rng (the CPU generator and those of the visible accelerators are
    forked). seed: an integer in [0, 2**63). Raises ValueError for anything else. Nested blocks are fine: each
    restores the state it found.
    """
    try:
        seed = operator.index(seed)
    except TypeError:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}") from None
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield
