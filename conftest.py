"""Shared pytest hooks: each notebook starts from a cold data cache, and the summary prints each notebook's
run time (budget: 90 s on two cores) and the browser latency measured by test_browser.py."""
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("actlab_executed", Path(__file__).parent / "tools" / "executed.py")
executed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(executed)

NOTEBOOK_BUDGET_S = 90
NUMERICS_VARIABLES = ("ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")
_NUMERICS_AT_START = {v: os.environ.get(v) for v in NUMERICS_VARIABLES}
_notebook_seconds: dict[str, float] = defaultdict(float)
_started: dict[str, float] = {}
_data_dirs: list[tempfile.TemporaryDirectory] = []


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A data folder of the test's own (ACTLAB_DATA), so that no cached run of another test is served or left."""
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))
    return tmp_path


def _restoring_environment():
    """Put os.environ back as it was when the block started."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


# What a test (or a module's fixtures) changes in os.environ ends with it: Dask's LocalCluster, for one, sets
# OMP_NUM_THREADS=1 (and MKL_NUM_THREADS, ...) in this process for good, so every notebook kernel started later ran
# on one thread. Autouse fixtures start first in their scope, so the module one also covers module-scoped fixtures.
_environment_restored = pytest.fixture(autouse=True)(_restoring_environment)
_environment_restored_per_module = pytest.fixture(autouse=True, scope="module")(_restoring_environment)


def _notebook_of(item) -> str | None:
    """The notebook file an nbval cell item belongs to (None for other tests)."""
    parent = getattr(item, "parent", None)
    path = str(getattr(parent, "path", ""))
    return os.path.basename(path) if path.endswith(".ipynb") else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before a notebook's kernel starts, point it at a fresh, empty data folder (a cold cache)."""
    notebook = _notebook_of(item)
    if notebook and notebook not in _started:
        changed = {v: os.environ.get(v) for v in NUMERICS_VARIABLES if os.environ.get(v) != _NUMERICS_AT_START[v]}
        if changed:  # the kernel would run under other numerics (and thread counts) than this session was started with
            pytest.fail(f"{notebook}: the environment changed during the test session ({changed}; at the start: "
                        f"{_NUMERICS_AT_START}); a test leaked it")
        from actlab.checks import env_flag  # imported late, as data_dir below; true/false/yes/no/on/off/1/0, any case

        if env_flag("ACTLAB_NOTEBOOK_COLD", True):
            folder = tempfile.TemporaryDirectory(prefix=f"actlab-{notebook[:2]}-")
            _data_dirs.append(folder)
            os.environ["ACTLAB_DATA"] = folder.name
        _started[notebook] = time.perf_counter()
        _save_outputs_of(item)


# The notebooks' run under default numerics saves its outputs for the course website (tools/executed.py): the
# course is executed once for both. The key is taken before the first cell, on the data folder as it starts.
_saving: dict[str, dict] = {}


def _save_outputs_of(item) -> None:
    """Start collecting a notebook's outputs, if this run's outputs are the ones the website shows."""
    if any(os.environ.get(v) for v in NUMERICS_VARIABLES) or not hasattr(item.parent, "nb"):
        return
    from actlab.data import data_dir  # the library's rule for the folder (ACTLAB_DATA, read now); imported late

    _saving[str(item.parent.path)] = {"key": executed.key(item.parent.nb, data_dir()), "failed": False}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    saving = _saving.get(str(getattr(item.parent, "path", "")))
    if saving is None or not hasattr(item, "test_outputs"):
        return
    saving["failed"] |= outcome.excinfo is not None
    item.cell.outputs = item.test_outputs
    results = [o for o in item.test_outputs if o.get("output_type") == "execute_result"]
    item.cell.execution_count = results[-1].get("execution_count") if results else None


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell: save its outputs if every cell ran without error."""
    path = str(getattr(item.parent, "path", ""))
    saving = _saving.get(path)
    if saving is None or (nextitem is not None and nextitem.parent is item.parent):
        return
    del _saving[path]
    if not saving["failed"]:
        executed.save(Path(path), item.parent.nb, saving["key"])


def pytest_runtest_logreport(report):
    """Add each phase's duration of a notebook cell to that notebook's total."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[os.path.basename(path)] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        numerics = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in NUMERICS_VARIABLES)
        workers = getattr(terminalreporter.config.option, "numprocesses", None)
        numerics += f"; {workers} notebooks at a time" if workers else ""
        terminalreporter.write_sep("-", f"notebook run times, cold cache ({numerics}; budget {NOTEBOOK_BUDGET_S} s)")
        for notebook, seconds in sorted(_notebook_seconds.items()):
            flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
            terminalreporter.write_line(f"{notebook:32s} {seconds:6.1f} s{flag}")
        terminalreporter.write_line(f"{'total':32s} {sum(_notebook_seconds.values()):6.1f} s")
    browser = sys.modules.get("test_browser") or sys.modules.get("tests.test_browser")
    latencies = getattr(browser, "LATENCIES", None)
    if latencies:
        terminalreporter.write_sep("-", "browser latency: slider keydown -> new pixels, drawn in the browser (20 moves)")
        terminalreporter.write_line(f"{'notebook':32s} {'median':>9s} {'worst':>9s}")
        for notebook, (median, worst) in latencies.items():
            terminalreporter.write_line(f"{notebook:32s} {median:6.1f} ms {worst:6.1f} ms")
        medians = [median for median, _ in latencies.values()]
        terminalreporter.write_line(f"{'median over notebooks':32s} {statistics.median(medians):6.1f} ms")


def pytest_sessionfinish(session):
    for folder in _data_dirs:
        folder.cleanup()
