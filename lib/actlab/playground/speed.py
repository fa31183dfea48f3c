"""The playground's speed: steps per second of the live loop (training and redrawing) against a bare PyTorch loop.

`python -m actlab.bench playground` and `make bench` call bench(); nothing here runs on import.
"""
from __future__ import annotations

import asyncio
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

from ..checks import check_number
from .engine import Engine
from .widget import FPS, Playground

BENCH_CONFIG = {"dataset": "spirals", "n": 1000, "depth": 4, "width": 16, "activation": "relu", "batch_size": 32}


async def _live(pg: Playground, seconds: float) -> None:
    """Press start, let the live loop run for `seconds` on this event loop, press pause."""
    pg._on_start()
    await asyncio.sleep(seconds)
    pg._on_pause()


def _bare_loop(seconds: float) -> tuple[int, float, float]:
    """A plain PyTorch loop on the benchmark's net and data for `seconds`: (steps, wall s, CPU s)."""
    engine = Engine(BENCH_CONFIG)
    model, opt, x, y = engine.model, engine.optimizer, engine.x_train, engine.y_train
    gen, bs = torch.Generator().manual_seed(0), BENCH_CONFIG["batch_size"]
    order, cursor, steps = torch.randperm(len(x), generator=gen), 0, 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        if cursor + bs > len(order):
            order, cursor = torch.randperm(len(x), generator=gen), 0
        idx = order[cursor:cursor + bs]
        cursor += bs
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    return steps, time.perf_counter() - start, time.process_time() - cpu


def _draws(pg: Playground) -> np.ndarray:
    """(full figure draws, step-axis-only draws) of a playground's view so far."""
    canvases = (pg.view.loss, pg.view.layers)
    return np.array([sum(c.full_draws for c in canvases), sum(c.axis_draws for c in canvases)])


def _live_loop(seconds: float) -> tuple[int, int, float, float, float, float, np.ndarray]:
    """The widget's own live loop on the benchmark's configuration, from a fresh run: (steps, frames, wall s,
    CPU s, median and mean CPU s per frame, (full figure draws, axis-only draws))."""
    pg = Playground(**BENCH_CONFIG)
    steps, frames = pg.engine.step_count, pg.frames
    draws = _draws(pg)
    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_live(pg, seconds))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    median = float(np.median(pg.frame_cpu)) if pg.frame_cpu else math.nan
    mean = float(np.mean(pg.frame_cpu)) if pg.frame_cpu else math.nan
    draws = _draws(pg) - draws
    return pg.engine.step_count - steps, pg.frames - frames, wall, cpu, median, mean, draws


def bench(seconds: float = 2.0, rounds: int = 3) -> dict:
    """Steps per second of the live playground (training and redrawing) against a bare PyTorch loop, same net
    and data (depth 4, width 16, ReLU, 1,000 spirals points, batch 32, Adam), interleaved rounds; prints ratios.

    Ratios by wall time, and by this process's CPU time (steadier on a shared machine: other processes' load
    cancels out). The live side is the widget's own asyncio loop without a browser (sending images is not
    timed). Call it from a script (`make bench`), not from a notebook cell: it runs its own event loop.
    seconds: > 0 per side and round; rounds: an integer >= 1 (ValueError naming the parameter otherwise)."""
    import os

    check_number("seconds", seconds, 0, low_open=True)
    check_number("rounds", rounds, 1, integer=True)
    rows = []
    for _ in range(rounds):
        b_steps, b_wall, b_cpu = _bare_loop(seconds)
        l_steps, frames, l_wall, l_cpu, frame_cpu, frame_mean, draws = _live_loop(seconds)
        rows.append({"frame_cpu_ms": 1000 * frame_cpu, "frame_mean_ms": 1000 * frame_mean,
                     "full_draws": draws[0], "axis_draws": draws[1],
                     "step_cpu_ms": 1000 * b_cpu / b_steps, "idle_estimate": 1 - FPS * frame_mean,
                     "ratio": (l_steps / l_wall) / (b_steps / b_wall),
                     "ratio_cpu": (l_steps / l_cpu) / (b_steps / b_cpu),
                     "live_steps_per_s": l_steps / l_wall, "bare_steps_per_s": b_steps / b_wall,
                     "frames_per_s": frames / l_wall, "frames_per_cpu_s": frames / l_cpu})
    out = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
    for k in ("ratio", "ratio_cpu"):
        out[f"{k}_min"], out[f"{k}_max"] = min(r[k] for r in rows), max(r[k] for r in rows)
    out["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"playground: {out['live_steps_per_s']:,.0f} steps/s while redrawing {out['frames_per_s']:.1f} frames/s; "
          f"bare loop {out['bare_steps_per_s']:,.0f} steps/s; ratio {out['ratio']:.2f} (min {out['ratio_min']:.2f}, "
          f"max {out['ratio_max']:.2f}); by CPU time {out['ratio_cpu']:.2f} (min {out['ratio_cpu_min']:.2f}, max "
          f"{out['ratio_cpu_max']:.2f}) at {out['frames_per_cpu_s']:.1f} frames per CPU second; target >= 0.80 at "
          f">= 10 frames/s; median of {rounds} interleaved rounds of {seconds:g} s; load average {out['load']:.2f}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"playground: a frame (step, statistics, images) costs {out['frame_cpu_ms']:.1f} ms of CPU (median; mean "
          f"{out['frame_mean_ms']:.1f} ms, with {out['full_draws']:.0f} full figure draws and {out['axis_draws']:.0f} "
          f"step-axis draws per round as the axes widen), "
          f"a bare step {out['step_cpu_ms']:.2f} ms; on an otherwise idle core, {FPS} frames/s would leave "
          f"{out['idle_estimate']:.2f} of the time to training (an estimate from the mean frame)")
    return out
