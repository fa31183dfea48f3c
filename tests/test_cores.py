"""Training processes take turns at the cores: never two at once, both make progress, nothing left held."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

import actlab
from actlab import cores
from actlab.cores import CoreTurns, sharing_enabled

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="turns use fcntl.flock (POSIX)")

LIB = str(Path(__file__).resolve().parents[1] / "lib")
# A stand-in training loop of 2 ms steps of busy work, a tick after each; prints each step's (start, end) times.
# Nothing in its verdict depends on speed or load: both workers start on a barrier (they print "ready" and wait
# for the parent's "go"); with turns, whoever gets the turn first waits until the other is queued for it (its wait
# mark), and each worker keeps stepping until the other has stepped too (CAP only stops a broken lock's loop).
WORKER = """
import json, os, sys, time
from pathlib import Path
from actlab.cores import CoreTurns

me, other, turns_on, wanted = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
CAP = 10000
turns_dir = os.environ["ACTLAB_CORES_DIR"]


def busy(seconds, until=None):
    start = time.monotonic()
    Path(me + "-began").touch()
    while time.monotonic() - start < seconds or (until is not None and not until.exists()):
        pass
    return start, time.monotonic()


print("ready", flush=True)
sys.stdin.readline()  # the barrier
steps = []
with CoreTurns(slice_seconds=0.02, enabled=turns_on) as turns:
    while turns_on and not Path(str(other) + "-stepped").exists() and not any(
            n.startswith("wait-") for n in os.listdir(turns_dir)):
        time.sleep(0.001)  # the first to get the turn waits until the other is queued for it
    while (len(steps) < wanted or not Path(str(other) + "-stepped").exists()) and len(steps) < CAP:
        # without turns (the control) the first step lasts until the other's first step has begun: they overlap
        steps.append(busy(0.002, None if turns_on or steps else Path(str(other) + "-began")))
        Path(me + "-stepped").touch()
        turns.tick()
print(json.dumps({"steps": steps, "handovers": turns.handovers, "waited": turns.waited_seconds}))
"""


def _run_pair(directory: Path, turns: bool, steps: int = 150) -> list[dict]:
    """Start two worker processes on a barrier, sharing a turns folder; their reports."""
    env = {**os.environ, "ACTLAB_CORES_DIR": str(directory / "turns"), "PYTHONPATH": LIB}
    names = [str(directory / "a"), str(directory / "b")]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, me, other, "1" if turns else "0", str(steps)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=directory)
             for me, other in (names, names[::-1])]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return [json.loads(p.communicate(timeout=600)[0]) for p in procs]


def _overlap(a: list, b: list) -> float:
    """Total seconds during which a step of a and a step of b ran at the same time."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


@pytest.mark.slow  # two processes training side by side: seconds even on an idle machine
def test_two_processes_never_compute_at_once_and_take_turns(tmp_path):
    first, second = _run_pair(tmp_path, turns=True)
    assert _overlap(first["steps"], second["steps"]) == 0.0
    # Both ran to the end, and the turn changed hands: whichever started second waited, and got turns before the
    # first finished (steps of the two interleave in time rather than running one block after the other).
    a_end, b_start = first["steps"][-1][1], second["steps"][0][0]
    b_end, a_start = second["steps"][-1][1], first["steps"][0][0]
    assert b_start < a_end and a_start < b_end, "the runs did not interleave"
    assert first["handovers"] + second["handovers"] >= 2


@pytest.mark.slow  # two processes training side by side: seconds even on an idle machine
def test_without_turns_two_processes_overlap(tmp_path):
    """The control: without turns the workers do run at once (so the test above can fail)."""
    first, second = _run_pair(tmp_path, turns=False)
    assert _overlap(first["steps"], second["steps"]) > 0.0
    assert first["handovers"] == second["handovers"] == 0


def test_turn_is_released_on_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path))
    with pytest.raises(RuntimeError):
        with CoreTurns(enabled=True):
            raise RuntimeError("a failing step")
    got = []

    def take_turn():
        with CoreTurns(enabled=True) as turns:  # blocks for ever (the join times out) if the turn is still held
            got.append(turns.waited_seconds)

    thread = threading.Thread(target=take_turn, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert got == [0.0], "the turn stayed held after the error"


def test_nested_turns_in_one_thread_do_not_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path))
    done = []

    def nested():
        with CoreTurns(enabled=True):
            with CoreTurns(enabled=True) as inner:  # a train() called from a callback of a train()
                inner.tick()
            done.append(True)

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert done == [True], "a nested turn waited for its own thread's turn (deadlock)"


def test_a_waiting_thread_gets_the_turn_after_a_slice(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path))
    got = threading.Event()

    def waiter():
        with CoreTurns(enabled=True):
            got.set()

    with CoreTurns(slice_seconds=0.01, enabled=True) as holder:
        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        deadline = time.monotonic() + 300  # only ends a broken lock's loop: the verdict is got, not a time
        while not got.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)
            holder.tick()
    thread.join(timeout=10)
    assert got.is_set() and holder.handovers >= 1


def test_a_mark_left_by_a_dead_process_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with CoreTurns(slice_seconds=0.001, enabled=True) as turns:
        (tmp_path / f"wait-{dead.pid}-1").touch()
        time.sleep(0.002)
        turns.tick()
        assert turns.handovers == 0
    assert not (tmp_path / f"wait-{dead.pid}-1").exists()


def test_sharing_follows_threads_and_the_switch(monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setenv("ACTLAB_SHARE_CORES", "1")
        assert sharing_enabled()
        monkeypatch.setenv("ACTLAB_SHARE_CORES", "0")
        assert not sharing_enabled()
        monkeypatch.setenv("ACTLAB_SHARE_CORES", "1")
        torch.set_num_threads(1)
        assert not sharing_enabled()
    finally:
        torch.set_num_threads(threads)


def test_disabled_turns_touch_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path / "turns"))
    with CoreTurns(enabled=False) as turns:
        turns.tick()
    assert not (tmp_path / "turns").exists()


def test_slice_must_be_positive():
    with pytest.raises(ValueError, match="slice_seconds"):
        CoreTurns(slice_seconds=0)


def test_an_unwritable_turns_folder_warns_and_runs_without_turns(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(blocker / "turns"))
    with pytest.warns(UserWarning, match="ACTLAB_CORES_DIR"):
        with CoreTurns(enabled=True) as turns:
            turns.tick()
    with CoreTurns(enabled=False):  # the thread's nesting count came back to zero: a later turn is not skipped
        pass
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path / "turns"))
    with CoreTurns(enabled=True):
        assert (tmp_path / "turns" / "cores.lock").exists()


def _as_another_users(folder: Path, monkeypatch) -> None:
    """Make folder belong to another user: chown as root, else pretend to be another user."""
    if os.geteuid() == 0:
        os.chown(folder, os.getuid() + 1, -1)
    else:
        uid = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: uid + 1)


@pytest.mark.parametrize("kind", ["another user's", "world-writable", "a symbolic link", "a file"])
def test_a_turns_folder_that_is_not_private_is_not_used(kind, tmp_path, monkeypatch):
    """The default folder, <temp>/actlab-cores-<uid>, planted by someone else: a warning and no turns, nothing in it."""
    monkeypatch.delenv("ACTLAB_CORES_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / f"actlab-cores-{os.getuid()}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if kind == "a symbolic link":
        folder.symlink_to(elsewhere)
    elif kind == "a file":
        folder.write_text("")
    else:
        folder.mkdir()
        os.chmod(folder, 0o777 if kind == "world-writable" else 0o700)
        if kind == "another user's":
            _as_another_users(folder, monkeypatch)
    monkeypatch.setattr(cores, "_warned", set(), raising=False)  # each reason warns once per process
    with pytest.warns(UserWarning, match="without taking turns"):
        with CoreTurns(enabled=True) as turns:
            turns.tick()
    assert not (folder.is_dir() and any(folder.iterdir())) and not any(elsewhere.iterdir())


def test_the_turns_folder_is_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("ACTLAB_CORES_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with CoreTurns(enabled=True):
        pass
    folder = tmp_path / f"actlab-cores-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and (folder / "cores.lock").exists()


def test_a_lock_file_that_is_a_symbolic_link_is_not_followed(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path / "turns"))
    (tmp_path / "turns").mkdir(mode=0o700)
    target = tmp_path / "victim"
    (tmp_path / "turns" / "cores.lock").symlink_to(target)
    monkeypatch.setattr(cores, "_warned", set(), raising=False)  # each reason warns once per process
    with pytest.warns(UserWarning, match="without taking turns"):
        with CoreTurns(enabled=True):
            pass
    assert not target.exists()


def test_training_goes_on_when_the_wait_mark_cannot_be_made(tmp_path, monkeypatch):
    """A folder where no mark can be created (read-only, immutable) while another holds the turn: train() runs, with
    one warning, instead of raising PermissionError."""
    monkeypatch.setenv("ACTLAB_CORES_DIR", str(tmp_path))
    monkeypatch.setenv("ACTLAB_SHARE_CORES", "1")
    real_open = os.open

    def refusing_marks(path, *args, **kwargs):  # what a read-only folder does (root may write to one anyway)
        if os.path.basename(str(path)).startswith("wait-"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    held, release = threading.Event(), threading.Event()

    def holder():
        with CoreTurns(enabled=True):
            held.set()
            release.wait()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    held.wait()
    monkeypatch.setattr(os, "open", refusing_marks)
    threads = torch.get_num_threads()
    monkeypatch.setattr(cores, "_warned", set(), raising=False)  # each reason warns once per process
    try:
        torch.set_num_threads(2)
        data = actlab.toy_2d("xor", n=64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = actlab.train(actlab.MLP(1, 4), data, epochs=2, cache=False, progress=False)
    finally:
        torch.set_num_threads(threads)
        release.set()
        thread.join()
    assert history.status == "completed" and history.epochs[-1]["epoch"] == 2  # epoch 0 is the untrained model
    assert len([w for w in caught if "without taking turns" in str(w.message)]) == 1


@pytest.mark.parametrize("value, expected", [("False", False), ("OFF", False), ("No", False), ("0", False),
                                             (" true ", True), ("YES", True), ("On", True), ("", True)])
def test_the_sharing_switch_reads_any_case(value, expected, monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setenv("ACTLAB_SHARE_CORES", value)
        assert sharing_enabled() is expected
    finally:
        torch.set_num_threads(threads)


def test_an_unknown_sharing_switch_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("ACTLAB_SHARE_CORES", "maybe")
    with pytest.raises(ValueError, match="ACTLAB_SHARE_CORES must be one of 1, true, yes, on, 0, false, no, off.*'maybe'"):
        sharing_enabled()
