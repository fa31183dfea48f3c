"""Seeding without hidden global state: library functions draw from a torch.Generator they own, or, where PyTorch
offers no generator argument (module construction and nn.init, nn.RReLU and nn.Dropout in training mode), from
the global generator inside `seeded(seed)`, which restores the caller's random state on exit."""
from __future__ import annotations

import contextlib
import operator

import torch


@contextlib.contextmanager
def seeded(seed: int, cpu_only: bool = False):
    """Run the block with torch's global generator seeded to seed; on exit the caller's random state is restored.

    A context manager around torch.random.fork_rng (the CPU generator and those of the visible accelerators are
    forked). cpu_only=True seeds and forks the CPU generator alone and never starts CUDA (fork_rng(devices=[])):
    for a block that draws on the CPU only (a probe of a CPU copy, work before a process forks). seed: an integer
    in [0, 2**63). Raises ValueError for anything else. Nested blocks are fine: each restores the state it found.
    """
    try:
        seed = operator.index(seed)
    except TypeError:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}") from None
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    with torch.random.fork_rng(devices=[] if cpu_only else None):
        if cpu_only:
            torch.default_generator.manual_seed(seed)  # torch.manual_seed would also queue a seed for CUDA
        else:
            torch.manual_seed(seed)
        yield


class RandomStream:
    """A random stream of its own on torch's global CPU generator: each `with stream:` block draws from where the
    stream's last block stopped (the first from seed), and the caller's random state is restored on exit.

    For draws PyTorch makes only from the global generator (nn.Linear's initial weights, nn.RReLU and nn.Dropout
    in training mode) in a run that is resumed step by step (the playground): the run follows its own seed, whatever
    the caller draws in between. seed: as for seeded (ValueError otherwise). Nested blocks continue the outer one.
    """

    def __init__(self, seed: int):
        with seeded(seed, cpu_only=True):
            self.state = torch.get_rng_state()
        self._depth, self._fork = 0, None

    def __enter__(self) -> "RandomStream":
        if self._depth == 0:
            self._fork = torch.random.fork_rng(devices=[])
            self._fork.__enter__()
            torch.set_rng_state(self.state)
        self._depth += 1
        return self

    def __exit__(self, *exc) -> bool:
        self._depth -= 1
        if self._depth > 0:
            return False
        self.state = torch.get_rng_state()
        fork, self._fork = self._fork, None
        return bool(fork.__exit__(*exc))


@contextlib.contextmanager
def deterministic_cudnn(enabled: bool = True):
    """Run the block with cuDNN's deterministic algorithms and no autotuning (enabled=False: unchanged).

    PyTorch's reproducibility notes (https://pytorch.org/docs/stable/notes/randomness.html): cuDNN may pick a
    nondeterministic convolution algorithm, so two seeded runs on one GPU differ in the last bits unless
    torch.backends.cudnn.deterministic is True and torch.backends.cudnn.benchmark False. Both flags are restored
    on exit. No effect on the CPU.
    """
    cudnn = torch.backends.cudnn
    before = cudnn.deterministic, cudnn.benchmark
    if enabled:
        cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = before


@contextlib.contextmanager
def one_thread():
    """Run the block on one torch intra-op thread, then restore the caller's thread count (also on error).

    PyTorch's CPU kernels split reductions by thread, so the thread count changes the last bits of a result: on one
    thread a result does not depend on the machine's cores. Small work (a probe batch, a frame's measurement) also
    runs faster on one thread than on two that wait for a core another process holds.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
