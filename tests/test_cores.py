"""Training processes take turns at the cores: never two at once, both make progress, nothing left held."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from actlab.cores import CoreTurns, sharing_enabled

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="turns use fcntl.flock (POSIX)")

LIB = str(Path(__file__).resolve().parents[1] / "lib")
# A stand-in training loop: 2 ms steps of busy work, a tick after each; prints each step's (start, end) times.
WORKER = """
import json, sys, time
from actlab.cores import CoreTurns
steps = []
with CoreTurns(slice_seconds=0.02, enabled=True) as turns:
    for _ in range({steps}):
        start = time.monotonic()
        while time.monotonic() - start < 0.002:
            pass
        steps.append((start, time.monotonic()))
        turns.tick()
print(json.dumps({{"steps": steps, "handovers": turns.handovers, "waited": turns.waited_seconds}}))
"""


def _run_pair(directory: Path, steps: int = 150) -> list[dict]:
    """Start two worker processes at once on a shared turns directory; their reports."""
    env = {**os.environ, "ACTLAB_CORES_DIR": str(directory), "PYTHONPATH": LIB}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER.format(steps=steps)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    return [json.loads(p.communicate(timeout=120)[0]) for p in procs]


def _overlap(a: list, b: list) -> float:
    """Total seconds during which a step of a and a step of b ran at the same time."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def test_two_processes_never_compute_at_once_and_take_turns(tmp_path):
    first, second = _run_pair(tmp_path)
    assert _overlap(first["steps"], second["steps"]) == 0.0
    # Both ran to the end, and the turn changed hands: whichever started second waited, and got turns before the
    # first finished (steps of the two interleave in time rather than running one block after the other).
    a_end, b_start = first["steps"][-1][1], second["steps"][0][0]
    b_end, a_start = second["steps"][-1][1], first["steps"][0][0]
    assert b_start < a_end and a_start < b_end, "the runs did not interleave"
    assert first["handovers"] + second["handovers"] >= 2


def test_without_turns_two_processes_overlap(tmp_path):
    """The control: the same workers without turns do run at once (so the test above can fail)."""
    env = {**os.environ, "PYTHONPATH": LIB}
    code = WORKER.format(steps=150).replace("enabled=True", "enabled=False")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    first, second = (json.loads(p.communicate(timeout=120)[0]) for p in procs)
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
        deadline = time.monotonic() + 10
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
