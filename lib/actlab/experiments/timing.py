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


def time_activations(names, n: int = 1_000_000, rounds: int = 5, min_run_time: float = 0.05,
                     backward: bool = True, reference: str | None = None, seed: int = 0):
    """Time each activation on the same n float32 values with torch.utils.benchmark, interleaved over rounds.

    Each round times every activation once (blocked_autorange: warm-up, then blocks of calls for at least
    min_run_time s), in a rotated order so that no activation is always first. Reported per activation: the
    median time per call (ms) and the ratio to `reference` (default: the first name), as the median over rounds
    with the lowest and highest round beside it (columns '... ratio min', '... ratio max'). Timings vary between runs and machines: read the ratios, and
    never assert them. Returns a pandas DataFrame indexed by display name.
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
    times = {(name, kind): [] for name in names for kind in kinds}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for kind, with_backward in kinds.items():
                measurement = _timer(name, x, with_backward).blocked_autorange(min_run_time=min_run_time)
                times[(name, kind)].append(measurement.median)
    rows = []
    for name in names:
        row = {"activation": lookup(name).display, "needs exp": lookup(name).needs_exp}
        for kind in kinds:
            ours, ref = np.array(times[(name, kind)]), np.array(times[(reference, kind)])
            ratios = ours / ref
            row[f"{kind} ms"] = 1000 * float(np.median(ours))
            row[f"{kind} ratio"] = float(np.median(ratios))
            row[f"{kind} ratio min"], row[f"{kind} ratio max"] = float(ratios.min()), float(ratios.max())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("activation")
    table.attrs["reference"] = lookup(reference).display
    return table
