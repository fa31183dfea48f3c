"""Speed measurements behind `make bench`: every speed is a ratio of two things timed in this one run.

    python -m actlab.bench [explorer] [train] [data] [monitor] [kernels] [playground] [sweep] [key]
"""
from __future__ import annotations

import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from torch.nn import functional as F

import actlab
from actlab.seeding import seeded

SLIDER_MOVES = [("elu", "alpha"), ("leaky_relu", "alpha"), ("swish", "beta"), ("softplus", "beta"), ("celu", "alpha")]


def _median_ms(times) -> float:
    return 1000 * float(np.median(times))


def bench_explorer(moves: int = 30) -> dict:
    """The kernel's side of a slider move (the browser has already redrawn from the curves it holds: the new curves
    for the other sliders are computed and sent) against re-creating a Matplotlib figure (plain interact)."""
    from IPython.core.pylabtools import print_figure

    fast, window, baseline = [], [], []
    for name, param in SLIDER_MOVES:
        e = actlab.explore(name)
        slider = next(s for s in e.sliders.children if s.description == param)
        values = np.linspace(slider.min + slider.step, slider.max, moves)
        for value in values:
            start = time.perf_counter()
            slider.value = float(value)  # observer runs synchronously: the other sliders' curves, sent as float32 bytes
            fast.append(time.perf_counter() - start)
        for value in values[: moves // 3]:
            start = time.perf_counter()
            fig = actlab.plot_activation(name, **{param: float(value)})
            print_figure(fig, "png", bbox_inches="tight")  # what the inline backend does after each interact call
            baseline.append(time.perf_counter() - start)
        for half_width in np.linspace(2, 12, moves // 3):
            start = time.perf_counter()
            e.window.value = (-float(half_width), float(half_width))
            window.append(time.perf_counter() - start)
    result = {"param_ms": _median_ms(fast), "window_ms": _median_ms(window), "interact_ms": _median_ms(baseline)}
    print(f"explorer: parameter slider move, kernel side (curves sent): median {result['param_ms']:.1f} ms over {len(fast)} moves")
    print(f"explorer: input-range slider move, kernel side: median {result['window_ms']:.1f} ms over {len(window)} moves")
    print(f"plain interact (re-create figure + PNG):  median {result['interact_ms']:.1f} ms over {len(baseline)} moves")
    print(f"  -> the kernel's side is {result['interact_ms'] / result['param_ms']:.1f}x faster per parameter move, "
          f"{result['interact_ms'] / result['window_ms']:.1f}x per range move; the student sees the browser's redraw")
    return result


def _bare_loop(model, x, y, epochs: int, batch_size: int, lr: float, seed: int) -> float:
    """A plain PyTorch training loop on pre-normalised tensors; returns seconds."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(math.ceil(len(x) / batch_size)):
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def bench_train(n: int = 10000, repeats: int = 5) -> dict:
    """Images per second of actlab.train against a bare loop on the same LeNet and data; layout and batch sizes."""
    data = actlab.cifar_like(n, 1000, seed=0)
    device = actlab.pick_device()
    result = {}
    for channels_last in (False, True):
        x, y = data.inputs("train", device, channels_last), data.labels("train", device)
        bare, ours = [], []
        for r in range(repeats):
            with seeded(r):
                model = actlab.LeNet("relu").to(device)
                if channels_last:
                    model.to(memory_format=torch.channels_last)
                bare.append(_bare_loop(model, x, y, 1, 64, 0.01, r))
            with seeded(r):
                h = actlab.train(actlab.LeNet("relu"), data, epochs=1, seed=r, progress=False, device=device,
                                 channels_last=channels_last)
            ours.append(h.epochs[1]["seconds"])
        tag = "channels_last" if channels_last else "contiguous"
        result[tag] = {"bare_img_s": n / np.median(bare), "train_img_s": n / np.median(ours)}
        print(f"training ({tag}, batch 64, {device.type}): bare loop {result[tag]['bare_img_s']:.0f} img/s, "
              f"actlab.train {result[tag]['train_img_s']:.0f} img/s, "
              f"ratio {result[tag]['train_img_s'] / result[tag]['bare_img_s']:.3f}")
    print(f"  channels_last speed-up (bare loop): "
          f"{result['channels_last']['bare_img_s'] / result['contiguous']['bare_img_s']:.2f}x")
    x, y = data.inputs("train", device, device.type == "cpu"), data.labels("train", device)
    for batch_size in (32, 64, 128, 256):
        with seeded(0):
            model = actlab.LeNet("relu").to(device)
            if device.type == "cpu":
                model.to(memory_format=torch.channels_last)
            seconds = _bare_loop(model, x, y, 1, batch_size, 0.01, 0)
        print(f"  batch {batch_size:3d}: {n / seconds:.0f} img/s")
    print(f"  torch threads: {torch.get_num_threads()}")
    return result


def bench_data() -> dict:
    """Generating the full 50k + 10k procedural set, and loading it back from the cache."""
    start = time.perf_counter()
    actlab.cifar_like(50000, 10000, seed=0, cache=False)  # generated, neither read nor written
    generate = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as root:
        actlab.cifar_like(50000, 10000, seed=0, root=root)
        start = time.perf_counter()
        actlab.cifar_like(50000, 10000, seed=0, root=root)
        load = time.perf_counter() - start
    print(f"data: generating 50,000 + 10,000 cifar_like images: {generate:.2f} s; cached load (verified): {load:.2f} s")
    return {"generate_s": generate, "load_s": load}


def bench_monitor(n: int = 10000, epochs: int = 1, repeats: int = 3) -> dict:
    """Training time of LeNet with the dead-unit and gradient-norm monitors against without (interleaved, median)."""
    data = actlab.cifar_like(n, 1000, seed=0)
    variants = {
        "no monitor": lambda: [],
        "GradNormMonitor(every=1)": lambda: [actlab.GradNormMonitor(every=1)],
        "DeadUnitMonitor(2000 images)": lambda: [actlab.DeadUnitMonitor(data, max_examples=2000)],
        "both": lambda: [actlab.GradNormMonitor(every=1), actlab.DeadUnitMonitor(data, max_examples=2000)],
    }
    actlab.train(actlab.LeNet("relu"), data, epochs=1, progress=False)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, callbacks in variants.items():
            with seeded(0):
                start = time.perf_counter()
                actlab.train(actlab.LeNet("relu"), data, epochs=epochs, callbacks=callbacks(), progress=False)
                times[name].append(time.perf_counter() - start)
    seconds = {name: float(np.median(values)) for name, values in times.items()}
    for name, value in seconds.items():
        print(f"monitor: {name:30s} {value:6.2f} s for {epochs} epoch(s) of {n} images, median of {repeats} "
              f"({value / seconds['no monitor']:.3f}x of no monitor)")
    return seconds


def _seconds(fn, repeats: int) -> list[float]:
    """Wall seconds of repeats calls of fn()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench_key(n: int = 50000, n_test: int = 10000, epochs: int = 1, rounds: int = 3, repeats: int = 5) -> dict:
    """The training cache's key (actlab.cache.cache_key) for LeNet on the n-image set, and its share of a short run.

    Each round times the key repeats times (and its two costly parts: the data's fingerprint, a sha256 of its
    bytes, and the behaviour probe), then one fresh training run of epochs epoch(s) on the same data with
    cache=False; key share = median key seconds / median run seconds. Targets (issue 20): key at most 0.5 s for
    n = 50,000, share under 5%. Printed, never asserted.
    """
    from .cache import cache_key
    from .fingerprint import behaviour_digest

    data = actlab.cifar_like(n, n_test, seed=0)
    with seeded(0):
        model, shape = actlab.LeNet("relu"), tuple(data.x_train.shape[1:])
    config = {"device": str(actlab.pick_device())}
    cache_key(model, data, config, [])  # warm-up
    parts: dict[str, list[float]] = {"key": [], "data fingerprint": [], "behaviour probe": [], "run": []}
    for _ in range(rounds):
        parts["key"] += _seconds(lambda: cache_key(model, data, config, []), repeats)
        parts["data fingerprint"] += _seconds(data.fingerprint, repeats)
        parts["behaviour probe"] += _seconds(lambda: behaviour_digest(model, shape), repeats)
        with seeded(0):
            parts["run"] += _seconds(lambda: actlab.train(actlab.LeNet("relu"), data, epochs=epochs, progress=False), 1)
    result = {name: float(np.median(times)) for name, times in parts.items()}
    result.update(key_min=min(parts["key"]), key_max=max(parts["key"]), share=result["key"] / result["run"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cache key: LeNet on {n:,} + {n_test:,} cifar_like images, {rounds} rounds x {repeats} repeats, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print(f"  cache_key: median {result['key']:.3f} s (min {result['key_min']:.3f}, max {result['key_max']:.3f}); "
          f"of it the data fingerprint {result['data fingerprint']:.3f} s, the behaviour probe "
          f"{result['behaviour probe']:.3f} s (target: at most 0.5 s)")
    print(f"  a {epochs}-epoch training run on the same data: median {result['run']:.2f} s over {rounds}; "
          f"key / run = {100 * result['share']:.2f}% (target: under 5%)")
    return result


# Settings that decide how two training processes share the cores; a worker process starts with exactly one variant's.
THREAD_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "ACTLAB_SHARE_CORES")
# actlab's training loops take turns at the cores (actlab.cores) unless ACTLAB_SHARE_CORES=0. Fewer threads per
# process would change PyTorch's rounding (results would depend on what else runs): shown for comparison only.
KERNEL_VARIANTS = {
    "no turns (ACTLAB_SHARE_CORES=0)": {"ACTLAB_SHARE_CORES": "0"},
    "no turns, OMP_WAIT_POLICY=PASSIVE": {"ACTLAB_SHARE_CORES": "0", "OMP_WAIT_POLICY": "PASSIVE"},
    "no turns, half the cores each": {"ACTLAB_SHARE_CORES": "0",
                                      "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))},
    "turns (actlab's default)": {},
    "turns, OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}
WORKER = """
import sys, time, torch, actlab
from actlab.seeding import seeded
data = actlab.cifar_like({n}, 500, seed=0, cache=False)
def run():
    with seeded(0):
        start = time.perf_counter()
        actlab.train(actlab.LeNet("relu"), data, epochs={epochs}, progress=False)
        return time.perf_counter() - start
run()  # warm-up
print("ready", flush=True)
for line in sys.stdin:
    print(run(), flush=True)
"""


class _Kernel:
    """A Python process standing in for a notebook kernel: trains a LeNet each time it is told to."""

    def __init__(self, settings: dict, n: int, epochs: int):
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
        self.process = subprocess.Popen([sys.executable, "-c", WORKER.format(n=n, epochs=epochs)], text=True,
                                        env={**env, **settings}, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ready(self) -> None:
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"a kernel process failed to start (said {line!r}; exit code {self.process.poll()})")

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def seconds(self) -> float:
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _time_pair(a: _Kernel, b: _Kernel) -> tuple[list[float], float]:
    """Seconds of A alone and B alone (one after the other), then of the later of A and B started together."""
    sequential = []
    for kernel in (a, b):
        kernel.go()
        sequential.append(kernel.seconds())
    a.go()
    b.go()
    return sequential, max(a.seconds(), b.seconds())


def _report_kernels(alone: dict, ratios: dict) -> dict:
    """Per variant: median single-run seconds, its cost against the first variant, and the pair ratio's spread."""
    base = float(np.median(next(iter(alone.values()))))
    result = {}
    for name, r in ratios.items():
        one = float(np.median(alone[name]))
        result[name] = {"alone_s": one, "single_cost": one / base, "ratio": float(np.median(r)),
                        "ratio_min": min(r), "ratio_max": max(r)}
        print(f"  {name:36s} one run alone {one:6.2f} s ({one / base:.3f}x of the first); two at once / one after "
              f"the other: {np.median(r):.2f}x (min {min(r):.2f}, max {max(r):.2f})")
    return result


def bench_kernels(n: int = 8000, epochs: int = 2, rounds: int = 3, variants: dict | None = None) -> dict:
    """Two kernels training at once against one after the other, per way of sharing the cores (interleaved rounds).

    Each variant gets two worker processes (two 'kernels') sharing a turns folder; each round times A alone, B
    alone, then A and B started together. Ratio = (the later of the two together) / (A alone + B alone): 1 is as
    good as taking turns. Single-run cost = a variant's alone time / the first variant's alone time.
    """
    variants = variants or KERNEL_VARIANTS
    kernels = {name: [_Kernel({**settings, "ACTLAB_CORES_DIR": folder}, n, epochs) for _ in range(2)]
               for (name, settings), folder in zip(variants.items(), _turn_folders(len(variants)))}
    alone: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for kernel in (k for pair in kernels.values() for k in pair):
            kernel.ready()
        for round_number in range(1, rounds + 1):
            for name, (a, b) in kernels.items():
                sequential, together = _time_pair(a, b)
                alone[name] += sequential
                ratios[name].append(together / sum(sequential))
                print(f"  round {round_number}, {name}: alone {sequential[0]:.2f} s and {sequential[1]:.2f} s, "
                      f"together {together:.2f} s (ratio {ratios[name][-1]:.2f})", flush=True)
    finally:
        for kernel in (k for pair in kernels.values() for k in pair):
            kernel.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"two kernels at once: LeNet, {epochs} epochs of {n} images per run, {rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    return _report_kernels(alone, ratios)


def _turn_folders(count: int) -> list[str]:
    """A fresh turns folder per variant: the two kernels of a variant share one, no other process does."""
    return [tempfile.mkdtemp(prefix="actlab-bench-turns-") for _ in range(count)]


def bench_playground() -> dict:
    """The live playground's steps per second against a bare PyTorch loop (actlab.playground.bench)."""
    from .playground import bench

    return bench()


def _sweep_seconds(data, executor, epochs: int, threads: int | None = None):
    """Wall seconds of a 2-activation x 2-seed LeNet compare on data, and its result."""
    start = time.perf_counter()
    result = actlab.compare(["relu", "tanh"], data, seeds=(0, 1), epochs=epochs, executor=executor, threads=threads,
                            progress=False)
    return time.perf_counter() - start, result


def _same_numbers(a, b) -> bool:
    """Two comparisons hold the same numbers (tables without seconds, and weights), bit for bit."""
    if not a.table.drop(columns="seconds").equals(b.table.drop(columns="seconds")):
        return False
    return all(torch.equal(x, y) for key in a.models for x, y in zip(a.models[key].state_dict().values(),
                                                                    b.models[key].state_dict().values()))


def bench_sweep(n: int = 5000, epochs: int = 1, rounds: int = 3, workers: int = 2) -> dict:
    """Wall time of a 2-activation x 2-seed LeNet sweep (actlab.compare): sequential against workers local processes.

    Rounds interleave the two; ratio = sequential / pool per round (above 1: the pool is faster), median and range.
    The pool's workers start (and import torch) before the first round, as a notebook's pool would be reused.
    """
    from .parallel import threads_per_run

    data = actlab.cifar_like(n, 1000, seed=0)
    context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
    sequential, pooled, ratios = [], [], []
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        _sweep_seconds(data.subset(64, 64), pool, 1)  # warm-up: every worker imports torch and actlab
        for r in range(rounds):
            one, seq_result = _sweep_seconds(data, None, epochs)
            many, pool_result = _sweep_seconds(data, pool, epochs)
            sequential.append(one)
            pooled.append(many)
            ratios.append(one / many)
            print(f"  round {r + 1}: sequential {one:.2f} s, {workers} workers {many:.2f} s (ratio {ratios[-1]:.2f})",
                  flush=True)
        share = threads_per_run(pool)
        _, same_threads = _sweep_seconds(data, pool, epochs, threads=torch.get_num_threads())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {"sequential_s": float(np.median(sequential)), "pool_s": float(np.median(pooled)),
              "ratio": float(np.median(ratios)), "ratio_min": min(ratios), "ratio_max": max(ratios),
              "identical_default": _same_numbers(seq_result, pool_result),
              "identical_same_threads": _same_numbers(seq_result, same_threads)}
    print(f"sweep: 2 activations x 2 seeds, LeNet, {epochs} epoch(s) of {n} cifar_like images per run, {rounds} "
          f"interleaved rounds, {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    print(f"  sequential ({torch.get_num_threads()} torch threads): median {result['sequential_s']:.2f} s; "
          f"{workers} worker processes ({share} thread(s) each): median {result['pool_s']:.2f} s")
    print(f"  -> sequential / {workers} workers: {result['ratio']:.2f}x (min {result['ratio_min']:.2f}, "
          f"max {result['ratio_max']:.2f})")
    print(f"  numbers identical to sequential: {'yes' if result['identical_default'] else 'no'} with "
          f"{share} thread(s) per worker, {'yes' if result['identical_same_threads'] else 'no'} with "
          f"{torch.get_num_threads()} (threads= as sequential)")
    return result


BENCHES = {"explorer": bench_explorer, "train": bench_train, "data": bench_data, "monitor": bench_monitor,
           "kernels": bench_kernels, "playground": bench_playground, "sweep": bench_sweep, "key": bench_key}


def main(argv: list[str]) -> None:
    """Run the named benchmarks (all by default)."""
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHES)}")
    print(f"actlab {actlab.__version__}, torch {torch.__version__}, device {actlab.pick_device()}")
    for name in names:
        BENCHES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
