"""Timing activations on the same values with torch.utils.benchmark, interleaved rounds, ratios with their spread
(notebooks 01, 04, 06, 07, 09, 11; formerly actlab.demos.time_activations)."""
from __future__ import annotations

import numpy as np
import torch

from ..activations import get_activation, lookup
from ..checks import check_list, check_number


def _timer(name: str, x: torch.Tensor, backward: bool):
    """A torch.utils.benchmark Timer of one activation's forward (or forward+backward) on the tensor x."""
    from torch.utils import benchmark

    module = get_activation(name).eval()
    if backward:
        x = x.clone().requires_grad_(True)
        stmt = "module(x).backward(grad)"
        extra = {"grad": torch.ones_like(x)}
    else:
        stmt = "with torch.no_grad(): module(x)"
        extra = {}
    return benchmark.Timer(stmt=stmt, globals={"module": module, "x": x, "torch": torch, **extra},
                           num_threads=torch.get_num_threads(), label=name)


def interleaved(timers: dict, rounds: int, min_run_time: float) -> dict:
    """Seconds per call of each torch.utils.benchmark Timer, one entry per round: {key: list of rounds' medians}.

    Each round runs every timer once (blocked_autorange: warm-up, then blocks of calls for at least min_run_time
    s), in an order rotated by one each round, so that no timer is always first (the course's one timing loop).
    """
    check_number("rounds", rounds, 1, integer=True)
    check_number("min_run_time", min_run_time, 0, low_open=True)
    keys = list(timers)
    times = {key: [] for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            times[key].append(timers[key].blocked_autorange(min_run_time=min_run_time).median)
    return times


def ratio_columns(times, reference_times, prefix: str = "") -> dict:
    """The columns of a timing table for one contender: median ms per call and the ratio to the reference's time of
    the same round, as the median over rounds with the lowest and highest round ('ratio min', 'ratio max')."""
    ours, ratios = np.array(times), np.array(times) / np.array(reference_times)
    return {f"{prefix}ms": 1000 * float(np.median(ours)), f"{prefix}ratio": float(np.median(ratios)),
            f"{prefix}ratio min": float(ratios.min()), f"{prefix}ratio max": float(ratios.max())}


def time_activations(names, n: int = 1_000_000, rounds: int = 5, min_run_time: float = 0.05,
                     backward: bool = True, reference: str | None = None, seed: int = 0):
    """Time each activation on the same n float32 values with torch.utils.benchmark, interleaved over rounds
    (interleaved): forward, and forward+backward when backward.

    Reported per activation: the median time per call (ms) and the ratio to `reference` (default: the first name),
    as the median over rounds with the lowest and highest round beside it (columns '... ratio min',
    '... ratio max'). Timings vary between runs and machines: read the ratios, and never assert them. Returns a
    pandas DataFrame indexed by display name. Raises ValueError for an empty names, rounds or n < 1.
    """
    import pandas as pd

    names = [lookup(name).name for name in check_list("names", names)]
    check_number("rounds", rounds, 1, integer=True)
    check_number("n", n, 1, integer=True)
    reference = lookup(reference).name if reference else names[0]
    if reference not in names:
        names = [reference, *names]
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    kinds = {"forward": False, **({"forward+backward": True} if backward else {})}
    timers = {(name, kind): _timer(name, x, with_backward) for name in names for kind, with_backward in kinds.items()}
    times = interleaved(timers, rounds, min_run_time)
    rows = []
    for name in names:
        row = {"activation": lookup(name).display, "needs exp": lookup(name).needs_exp}
        for kind in kinds:
            row.update(ratio_columns(times[(name, kind)], times[(reference, kind)], prefix=f"{kind} "))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("activation")
    table.attrs["reference"] = lookup(reference).display
    return table


def time_callables(functions: dict, rounds: int = 5, min_run_time: float = 0.05, reference: str | None = None):
    """Time each zero-argument callable with torch.utils.benchmark, interleaved over rounds (interleaved). Per
    callable: median ms per call and its ratio to `reference` (default: the first key), the median over rounds with
    the lowest and highest round ('ratio min', 'ratio max'). Never assert the result. Raises ValueError for no
    callables, rounds < 1 or a reference that is not a key."""
    import pandas as pd
    from torch.utils import benchmark

    names = list(functions)
    if not names:
        raise ValueError("functions must hold at least one callable")
    reference = names[0] if reference is None else reference
    if reference not in functions:
        raise ValueError(f"reference must be one of {names}, got {reference!r}")
    timers = {name: benchmark.Timer(stmt="f()", globals={"f": f}, num_threads=torch.get_num_threads())
              for name, f in functions.items()}
    times = interleaved(timers, rounds, min_run_time)
    table = pd.DataFrame([{"": name, **ratio_columns(times[name], times[reference])} for name in names]).set_index("")
    table.attrs["reference"] = reference
    return table
