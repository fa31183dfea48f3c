"""Training processes on one machine take turns at the CPU cores instead of fighting over them.

Two notebook kernels that train at once on a 2-core machine each ran about 10x slower than alone: each uses every
core (PyTorch's OpenMP threads), and a parallel region waits at its barrier for a thread that the other process has
descheduled. Fewer threads per kernel would avoid that but change PyTorch's rounding (a run's numbers would depend on
what else runs) and slow a kernel that trains alone. So the kernels take turns instead: a training loop holds a turn
(an exclusive ``fcntl.flock`` on a file shared by this user's processes) while it computes, and hands it over after
each time slice when another process is waiting. Alone, a loop never waits; two at once finish about when they would
one after the other (``python -m actlab.bench kernels`` measures it).

Turns are taken only by loops that use more than one thread (``torch.get_num_threads() > 1``): one-thread processes,
such as the workers of a process pool, use one core each and do not need them. ``ACTLAB_SHARE_CORES=0`` (or false,
no, off, in any case) turns it off.

The turns folder must be private: a real folder (not a symbolic link) owned by this user that no other user can
write; it is created with mode 0700, and every file in it is opened relative to the checked folder without
following symbolic links. Whenever turns cannot be taken safely (a folder that fails these checks, a file that cannot
be created, a lock call that fails) the loop runs without turns, with one warning per reason: training never fails
because of them. POSIX only (fcntl.flock); elsewhere loops run without turns.
"""
from __future__ import annotations

import os
import stat
import tempfile
import threading
import time
import warnings
from pathlib import Path

import torch

from .checks import env_flag

try:
    import fcntl
except ImportError:  # Windows: no flock; loops run without turns
    fcntl = None

SLICE_SECONDS = 0.1  # a turn lasts at least this long when another process waits: ~1 handover per 100 ms of work
HANDOVER_PAUSE = 0.001  # seconds the releasing loop sleeps so that the waiting one wakes and takes the turn
LOCK_NAME = "cores.lock"
_local = threading.local()  # depth of nested turns in this thread: inner ones (a train inside a callback) are free
_warned: set[str] = set()  # the warnings this process has given about turns, each given once
_SAFE_OPEN = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)  # no symbolic link, not inherited by exec


def turns_directory() -> Path:
    """The folder holding the shared lock file and the waiters' marks (ACTLAB_CORES_DIR, else a per-user temp dir)."""
    default = Path(tempfile.gettempdir()) / f"actlab-cores-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    return Path(os.environ.get("ACTLAB_CORES_DIR") or default)


def sharing_enabled() -> bool:
    """Whether loops in this process take turns: flock exists, ACTLAB_SHARE_CORES is not off, torch uses > 1 thread.

    Raises ValueError naming ACTLAB_SHARE_CORES when it is not a boolean word (checks.env_flag).
    """
    return fcntl is not None and env_flag("ACTLAB_SHARE_CORES", True) and torch.get_num_threads() > 1


def open_private_directory(directory: Path) -> int:
    """A descriptor of directory, created with mode 0700 if absent; OSError unless it is a real folder owned by this
    user that neither group nor others can write (checked on the opened folder itself, so it cannot be swapped)."""
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _SAFE_OPEN)  # ELOOP for a symbolic link
    info = os.fstat(fd)
    problem = ("is not a folder" if not stat.S_ISDIR(info.st_mode) else
               f"belongs to user {info.st_uid}, not to you ({os.getuid()})" if info.st_uid != os.getuid() else
               f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})" if info.st_mode & 0o022 else None)
    if problem:
        os.close(fd)
        raise PermissionError(f"the turns folder {directory} {problem}: not private")
    return fd


def _warn_once(message: str) -> None:
    """A UserWarning, given once per process for each message."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=4)


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
    Entering may block while another process holds the turn; the turn is released on exit, also on error. Any
    failure of the turns themselves (folder, files, locks: OSError) ends them for this loop with one warning.
    """

    def __init__(self, slice_seconds: float = SLICE_SECONDS, enabled: bool | None = None):
        if not slice_seconds > 0:
            raise ValueError(f"slice_seconds must be > 0 seconds, got {slice_seconds!r}")
        self.slice_seconds = slice_seconds
        self.enabled = sharing_enabled() if enabled is None else bool(enabled and fcntl is not None)
        self.waited_seconds = 0.0  # time spent waiting for other processes' turns
        self.handovers = 0
        self._directory = None  # descriptor of the checked turns folder while turns are taken
        self._file = None  # descriptor of the lock file, likewise
        self._since = 0.0

    def __enter__(self) -> "CoreTurns":
        if self.enabled and getattr(_local, "depth", 0) == 0:
            self._start()
        _local.depth = getattr(_local, "depth", 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        _local.depth -= 1
        self._close()

    def _start(self) -> None:
        """Open the private folder and its lock file and take the turn; on any OSError, run without turns."""
        try:
            self._directory = open_private_directory(turns_directory())
            self._file = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | _SAFE_OPEN, 0o600, dir_fd=self._directory)
            self._acquire()
        except OSError as exc:
            self._give_up(exc)
        except BaseException:  # interrupted while waiting: nothing is held
            self._close()
            raise

    def _give_up(self, exc: OSError) -> None:
        """Stop taking turns in this loop, with one warning per reason: training goes on without them."""
        self._close()
        _warn_once(f"training runs without taking turns at the cores ({exc}); set ACTLAB_CORES_DIR to a private "
                   "writable folder, or ACTLAB_SHARE_CORES=0 to silence this")

    def _close(self) -> None:
        """Release the turn (if held) and close the descriptors; never raises."""
        if self._file is not None:
            try:
                fcntl.flock(self._file, fcntl.LOCK_UN)
            except OSError:
                pass  # closing releases it as well
            os.close(self._file)
            self._file = None
        if self._directory is not None:
            os.close(self._directory)
            self._directory = None

    def tick(self) -> None:
        """Hand the turn over if this one has lasted a slice and another process waits; then take it back."""
        if self._file is None or time.monotonic() - self._since < self.slice_seconds:
            return
        try:
            if not self._others_waiting():
                self._since = time.monotonic()
                return
            fcntl.flock(self._file, fcntl.LOCK_UN)
            time.sleep(HANDOVER_PAUSE)
            self.handovers += 1
            self._acquire()
        except OSError as exc:
            self._give_up(exc)

    def _acquire(self) -> None:
        """Take the turn, marking this process as waiting while another holds it (OSError if the mark fails)."""
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            mark = f"wait-{os.getpid()}-{threading.get_ident()}"
            os.close(os.open(mark, os.O_WRONLY | os.O_CREAT | _SAFE_OPEN, 0o600, dir_fd=self._directory))
            start = time.monotonic()
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX)
            finally:
                self._remove(mark)
                self.waited_seconds += time.monotonic() - start
        self._since = time.monotonic()

    def _remove(self, mark: str) -> None:
        """Delete a wait mark from the turns folder if it is still there."""
        try:
            os.unlink(mark, dir_fd=self._directory)
        except FileNotFoundError:
            pass

    def _others_waiting(self) -> bool:
        """Whether a live process (or another thread of this one) has marked itself as waiting."""
        own = f"wait-{os.getpid()}-{threading.get_ident()}"
        for name in os.listdir(self._directory):
            try:
                pid = int(name.split("-")[1]) if name.startswith("wait-") else None
            except (IndexError, ValueError):
                continue
            if pid is None or name == own:
                continue
            if _pid_alive(pid):
                return True
            self._remove(name)  # left by a process that was killed while waiting
        return False
