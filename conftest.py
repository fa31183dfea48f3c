"""Shared pytest hooks: each notebook starts from a cold data cache, and the summary prints each notebook's
run time (budget: 90 s on two cores) and the browser latency measured by test_browser.py."""
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict

import pytest

NOTEBOOK_BUDGET_S = 90
NUMERICS_VARIABLES = ("ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")
_notebook_seconds: dict[str, float] = defaultdict(float)
_started: dict[str, float] = {}
_data_dirs: list[tempfile.TemporaryDirectory] = []


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
        if os.environ.get("ACTLAB_NOTEBOOK_COLD", "1") == "1":
            folder = tempfile.TemporaryDirectory(prefix=f"actlab-{notebook[:2]}-")
            _data_dirs.append(folder)
            os.environ["ACTLAB_DATA"] = folder.name
        _started[notebook] = time.perf_counter()


def pytest_runtest_logreport(report):
    """Add each phase's duration of a notebook cell to that notebook's total."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[os.path.basename(path)] += report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        numerics = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in NUMERICS_VARIABLES)
        terminalreporter.write_sep("-", f"notebook run times, cold cache ({numerics}; budget {NOTEBOOK_BUDGET_S} s)")
        for notebook, seconds in sorted(_notebook_seconds.items()):
            flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
            terminalreporter.write_line(f"{notebook:32s} {seconds:6.1f} s{flag}")
        terminalreporter.write_line(f"{'total':32s} {sum(_notebook_seconds.values()):6.1f} s")
    browser = sys.modules.get("test_browser") or sys.modules.get("tests.test_browser")
    latencies = getattr(browser, "LATENCIES", None)
    if latencies:
        terminalreporter.write_sep("-", "browser latency: slider keydown -> new plot image (median of 20 moves)")
        for notebook, ms in latencies.items():
            terminalreporter.write_line(f"{notebook:32s} {ms:6.0f} ms")
        terminalreporter.write_line(f"{'median over notebooks':32s} {statistics.median(latencies.values()):6.0f} ms")


def pytest_sessionfinish(session):
    for folder in _data_dirs:
        folder.cleanup()
