"""The playground's speed: steps per second of the live loop (training and redrawing) against a bare PyTorch loop.

`python -m actlab.bench playground` and `make bench` call bench(); nothing here runs on import.
"""
from __future__ import annotations

import asyncio
import json
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

from ..checks import check_number
from ..seeding import one_thread
from .engine import Engine
from .widget import FPS, LAYER_EVERY, Playground

BENCH_CONFIG = {"dataset": "spirals", "n": 1000, "depth": 4, "width": 16, "activation": "relu", "batch_size": 32}


async def _live(pg: Playground, seconds: float) -> None:
    """Press start, let the live loop run for `seconds` on this event loop, press pause."""
    pg._on_start()
    await asyncio.sleep(seconds)
    pg._on_pause()


@one_thread()
def _bare_loop(seconds: float) -> tuple[int, float, float]:
    """A plain PyTorch loop on the benchmark's net and data for `seconds`: (steps, wall s, CPU s). On one torch
    thread, as the live loop trains (Engine.train_for): the faster of the two for this small net (on two loaded
    cores, two threads took 12 ms a step against 0.6 ms), so the ratio is against the best bare loop."""
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


def _count_sent(widgets_, counter: list) -> None:
    """Make each widget's comm encode every message as a kernel does (JSON text plus binary buffers) and add its
    bytes to counter[0]: outside a kernel the comm is a DummyComm that would send nothing, and encode nothing."""

    def publish_msg(msg_type, data=None, metadata=None, buffers=None, **keys):
        counter[0] += len(json.dumps(data, separators=(",", ":"))) + sum(len(memoryview(b).cast("B")) for b in
                                                                         buffers or [])

    for widget in widgets_:
        widget.comm.publish_msg = publish_msg


def _live_loop(seconds: float) -> tuple[int, int, float, float, float, float, float]:
    """The widget's own live loop on the benchmark's configuration, from a fresh run: (steps, frames, wall s,
    CPU s, median and mean CPU s per frame, bytes sent per frame to the board, readout and status)."""
    pg = Playground(**BENCH_CONFIG)
    sent = [0]
    _count_sent([pg.board, pg.readout, pg.status], sent)
    steps, frames = pg.engine.step_count, pg.frames
    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_live(pg, seconds))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    median = float(np.median(pg.frame_cpu)) if pg.frame_cpu else math.nan
    mean = float(np.mean(pg.frame_cpu)) if pg.frame_cpu else math.nan
    frames = pg.frames - frames
    return pg.engine.step_count - steps, frames, wall, cpu, median, mean, sent[0] / max(frames, 1)


def bench(seconds: float = 2.0, rounds: int = 3) -> dict:
    """Steps per second of the live playground (training and redrawing) against a bare PyTorch loop, same net
    and data (depth 4, width 16, ReLU, 1,000 spirals points, batch 32, Adam), interleaved rounds; prints ratios.

    Ratios by wall time, and by this process's CPU time (steadier on a shared machine: other processes' load
    cancels out). The live side is the widget's own asyncio loop without a browser: each frame's arrays for the
    board (board.Board) are made and encoded as a kernel would (JSON and buffers), not sent; the browser's drawing
    is measured by the browser suite (tests/test_browser_playground.py). Call it from a script (`make bench`), not from a notebook cell: it runs its own event loop.
    seconds: > 0 per side and round; rounds: an integer >= 1 (ValueError naming the parameter otherwise)."""
    import os

    check_number("seconds", seconds, 0, low_open=True)
    check_number("rounds", rounds, 1, integer=True)
    rows = []
    for _ in range(rounds):
        b_steps, b_wall, b_cpu = _bare_loop(seconds)
        l_steps, frames, l_wall, l_cpu, frame_cpu, frame_mean, frame_bytes = _live_loop(seconds)
        rows.append({"frame_cpu_ms": 1000 * frame_cpu, "frame_mean_ms": 1000 * frame_mean, "frame_bytes": frame_bytes,
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
          f"{out['ratio_cpu_max']:.2f}) at {out['frames_per_cpu_s']:.1f} frames per CPU second; target >= 0.85 at "
          f">= 20 frames/s; median of {rounds} interleaved rounds of {seconds:g} s; load average {out['load']:.2f}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"playground: a frame (step, statistics, the board's arrays) costs {out['frame_cpu_ms']:.1f} ms of CPU "
          f"(median; mean {out['frame_mean_ms']:.1f} ms) and sends {out['frame_bytes']:,.0f} bytes (mean: boundary "
          f"grid, loss rows, per-layer panels once in {LAYER_EVERY} frames, readout), a bare step "
          f"{out['step_cpu_ms']:.2f} ms; on an otherwise idle core, {FPS} frames/s would leave "
          f"{out['idle_estimate']:.2f} of the time to training (an estimate from the mean frame)")
    return out
