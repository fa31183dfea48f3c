"""Training processes on one machine take turns at the CPU cores instead of fighting over them.

Two notebook kernels that train at once on a 2-core machine each ran about 10x slower than alone: each uses every
core (PyTorch's OpenMP threads), and a parallel region waits at its barrier for a thread that the other process has
descheduled. Fewer threads per kernel would avoid that but change PyTorch's rounding (a run's numbers would depend on
what else runs) and slow a kernel that trains alone. So the kernels take turns instead: a training loop holds a turn
(an exclusive ``fcntl.flock`` on a file shared by this user's processes) while it computes, and hands it over after
each time slice when another process is waiting. Alone, a loop never waits; two at once finish about when they would
one after the other (``python -m actlab.bench kernels`` measures it).

Turns are taken only by loops that use more than one thread (``torch.get_num_threads() > 1``): one-thread processes,
such as the workers of a process pool, use one core each and do not need them. ``ACTLAB_SHARE_CORES=0`` turns it off.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
import warnings
from pathlib import Path

import torch

try:
    import fcntl
except ImportError:  # Windows: no flock; loops run without turns
    fcntl = None

SLICE_SECONDS = 0.1  # a turn lasts at least this long when another process waits: ~1 handover per 100 ms of work
HANDOVER_PAUSE = 0.001  # seconds the releasing loop sleeps so that the waiting one wakes and takes the turn
_local = threading.local()  # depth of nested turns in this thread: inner ones (a train inside a callback) are free


def turns_directory() -> Path:
    """The folder holding the shared lock file and the waiters' marks (ACTLAB_CORES_DIR, else a per-user temp dir)."""
    default = Path(tempfile.gettempdir()) / f"actlab-cores-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return Path(os.environ.get("ACTLAB_CORES_DIR") or default)


def sharing_enabled() -> bool:
    """Whether loops in this process take turns: flock exists, ACTLAB_SHARE_CORES is not 0, torch uses > 1 thread."""
    wanted = os.environ.get("ACTLAB_SHARE_CORES", "1").strip() not in ("0", "false", "no", "off")
    return fcntl is not None and wanted and torch.get_num_threads() > 1


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CoreTurns:
    """A context manager holding this process's turn at the cores; call tick() once per training step.

    slice_seconds: > 0, how long a turn lasts at least before it is handed to a waiting process.
    enabled: None decides by sharing_enabled(); True or False forces it (tests, benchmarks).
    Entering may block while another process holds the turn; the turn is released on exit, also on error.
    """

    def __init__(self, slice_seconds: float = SLICE_SECONDS, enabled: bool | None = None):
        if not slice_seconds > 0:
            raise ValueError(f"slice_seconds must be > 0 seconds, got {slice_seconds!r}")
        self.slice_seconds = slice_seconds
        self.enabled = sharing_enabled() if enabled is None else bool(enabled and fcntl is not None)
        self.waited_seconds = 0.0  # time spent waiting for other processes' turns
        self.handovers = 0
        self._file = None
        self._since = 0.0

    def __enter__(self) -> "CoreTurns":
        if self.enabled and getattr(_local, "depth", 0) == 0:
            self._open()
        _local.depth = getattr(_local, "depth", 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        _local.depth -= 1
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def _open(self) -> None:
        """Open the shared lock file and take the turn; without a writable folder, run without turns (a warning)."""
        try:
            self._directory = turns_directory()
            self._directory.mkdir(parents=True, exist_ok=True)
            self._file = open(self._directory / "cores.lock", "a+")
        except OSError as exc:
            warnings.warn(f"training runs without taking turns at the cores ({exc}); set ACTLAB_CORES_DIR to a "
                          f"writable folder", stacklevel=3)
            return
        try:
            self._acquire()
        except BaseException:  # interrupted while waiting: nothing is held
            self._file.close()
            self._file = None
            raise

    def tick(self) -> None:
        """Hand the turn over if this one has lasted a slice and another process waits; then take it back."""
        if self._file is None or time.monotonic() - self._since < self.slice_seconds:
            return
        if not self._others_waiting():
            self._since = time.monotonic()
            return
        fcntl.flock(self._file, fcntl.LOCK_UN)
        time.sleep(HANDOVER_PAUSE)
        self.handovers += 1
        self._acquire()

    def _acquire(self) -> None:
        """Take the turn, marking this process as waiting while another holds it."""
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            mark = self._directory / f"wait-{os.getpid()}-{threading.get_ident()}"
            mark.touch()
            start = time.monotonic()
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            finally:
                mark.unlink(missing_ok=True)
                self.waited_seconds += time.monotonic() - start
        self._since = time.monotonic()

    def _others_waiting(self) -> bool:
        """Whether a live process (or another thread of this one) has marked itself as waiting."""
        for mark in self._directory.glob("wait-*"):
            try:
                pid = int(mark.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if mark.name == f"wait-{os.getpid()}-{threading.get_ident()}":
                continue
            if _pid_alive(pid):
                return True
            mark.unlink(missing_ok=True)  # left by a process that was killed while waiting
        return False
