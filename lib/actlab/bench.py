"""Speed measurements behind `make bench`: every speed is a ratio of two things timed in this one run.

    python -m actlab.bench [explorer] [train] [data] [monitor] [kernels]
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch.nn import functional as F

import actlab

SLIDER_MOVES = [("elu", "alpha"), ("leaky_relu", "alpha"), ("swish", "beta"), ("softplus", "beta"), ("celu", "alpha")]


def _median_ms(times) -> float:
    return 1000 * float(np.median(times))


def bench_explorer(moves: int = 30) -> dict:
    """Slider move to new PNG: the explorer's cached redraw against re-creating the figure (plain interact)."""
    from IPython.core.pylabtools import print_figure

    fast, window, baseline = [], [], []
    for name, param in SLIDER_MOVES:
        e = actlab.explore(name)
        slider = next(s for s in e.sliders.children if s.description == param)
        values = np.linspace(slider.min + slider.step, slider.max, moves)
        for value in values:
            start = time.perf_counter()
            slider.value = float(value)  # observer runs synchronously: curves, redraw, PNG into the Image widget
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
    print(f"explorer: parameter slider move -> new PNG: median {result['param_ms']:.1f} ms over {len(fast)} moves")
    print(f"explorer: input-range slider move -> new PNG: median {result['window_ms']:.1f} ms over {len(window)} moves")
    print(f"plain interact (re-create figure + PNG):  median {result['interact_ms']:.1f} ms over {len(baseline)} moves")
    print(f"  -> the explorer is {result['interact_ms'] / result['param_ms']:.1f}x faster per parameter move, "
          f"{result['interact_ms'] / result['window_ms']:.1f}x per range move")
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
            torch.manual_seed(r)
            model = actlab.LeNet("relu").to(device)
            if channels_last:
                model.to(memory_format=torch.channels_last)
            bare.append(_bare_loop(model, x, y, 1, 64, 0.01, r))
            torch.manual_seed(r)
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
        torch.manual_seed(0)
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
            torch.manual_seed(0)
            start = time.perf_counter()
            actlab.train(actlab.LeNet("relu"), data, epochs=epochs, callbacks=callbacks(), progress=False)
            times[name].append(time.perf_counter() - start)
    seconds = {name: float(np.median(values)) for name, values in times.items()}
    for name, value in seconds.items():
        print(f"monitor: {name:30s} {value:6.2f} s for {epochs} epoch(s) of {n} images, median of {repeats} "
              f"({value / seconds['no monitor']:.3f}x of no monitor)")
    return seconds


# OpenMP settings that decide how idle worker threads wait; a worker process starts with exactly one variant's.
THREAD_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS")
# Thread counts change PyTorch's rounding (results would depend on what else runs), so the fix is a wait policy;
# "half the cores each" is shown for comparison only.
KERNEL_VARIANTS = {
    "default (spin, then sleep)": {},
    "OMP_WAIT_POLICY=PASSIVE (make lab)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "half the cores each": {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))},
}
WORKER = """
import sys, time, torch, actlab
data = actlab.cifar_like({n}, 500, seed=0, cache=False)
def run():
    torch.manual_seed(0)
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


def bench_kernels(n: int = 2000, epochs: int = 2, rounds: int = 3, variants: dict | None = None) -> dict:
    """Two kernels training at once against one after the other, per OpenMP thread setting (interleaved rounds).

    Each variant gets two worker processes (two 'kernels'); each round times A alone, B alone, then A and B
    started together. Ratio = (the later of the two together) / (A alone + B alone): 1 is as good as taking
    turns. Single-run cost = a variant's alone time / the default's alone time.
    """
    variants = variants or KERNEL_VARIANTS
    kernels = {name: [_Kernel(settings, n, epochs) for _ in range(2)] for name, settings in variants.items()}
    alone: dict[str, list[float]] = {name: [] for name in variants}
    ratios: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for pair in kernels.values():
            for kernel in pair:
                kernel.ready()
        for _ in range(rounds):
            for name, (a, b) in kernels.items():
                sequential = []
                for kernel in (a, b):
                    kernel.go()
                    sequential.append(kernel.seconds())
                a.go()
                b.go()
                together = max(a.seconds(), b.seconds())
                alone[name] += sequential
                ratios[name].append(together / sum(sequential))
                print(f"  round {len(ratios[name])}, {name}: alone {sequential[0]:.2f} s and {sequential[1]:.2f} s, "
                      f"together {together:.2f} s (ratio {ratios[name][-1]:.2f})", flush=True)
    finally:
        for pair in kernels.values():
            for kernel in pair:
                kernel.close()
    base = float(np.median(alone[next(iter(variants))]))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"two kernels at once: LeNet, {epochs} epochs of {n} images per run, {rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end")
    result = {}
    for name in variants:
        one = float(np.median(alone[name]))
        r = ratios[name]
        result[name] = {"alone_s": one, "single_cost": one / base, "ratio": float(np.median(r)),
                        "ratio_min": min(r), "ratio_max": max(r)}
        print(f"  {name:36s} one run alone {one:6.2f} s ({one / base:.3f}x of default); two at once / one after "
              f"the other: {np.median(r):.2f}x (min {min(r):.2f}, max {max(r):.2f})")
    return result


def bench_playground() -> dict:
    """The live playground's steps per second against a bare PyTorch loop (actlab.playground.bench)."""
    from .playground import bench

    return bench()


BENCHES = {"explorer": bench_explorer, "train": bench_train, "data": bench_data, "monitor": bench_monitor,
           "kernels": bench_kernels, "playground": bench_playground}


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
