"""The Makefile's developer targets: `make generate` runs every generator of notebook cells, `make test-fast` runs
the library's tests without notebooks, browser or website, and `make help` lists every target."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every tool that writes cells into the committed notebooks, and the test that fails when a notebook differs from it.
GENERATORS = {"tools/playground_cells.py": "tests/test_playground_cells.py", "tools/colab.py": "tests/test_colab.py"}
FAST = re.compile(r'-m pytest +(?:-n 2 +)?-m "(?P<expression>[^"]+)" tests$', re.M)


# Run as make itself would be from a shell: under `make test`, the inherited MAKELEVEL/MAKEFLAGS made the child
# make print "Entering directory" lines around its output.
OUTSIDE_MAKE = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}


def make(*args: str) -> str:
    """What make would run, for a venv that does not exist yet (nothing is run)."""
    return subprocess.run(["make", "--no-print-directory", "-n", "-B", *args, "VENV=/nonexistent"], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60, env=OUTSIDE_MAKE).stdout


def phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return re.search(r"^\.PHONY:(.*)$", text, flags=re.M).group(1).split()


def test_help_lists_every_target_and_make_alone_still_installs():
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60, env=OUTSIDE_MAKE).stdout
    listed = re.findall(r"^  make (\S+)", out, flags=re.M)
    assert sorted(listed) == sorted(phony_targets())
    assert {"test-fast", "generate"} <= set(listed)
    assert make().strip().endswith("touch /nonexistent/.installed"), "the default goal is install"


def test_generate_runs_every_generator_and_a_test_checks_each():
    out = make("generate")
    for tool, test in GENERATORS.items():
        assert f"/nonexistent/bin/python {tool}\n" in out, tool
        assert "make generate" in (ROOT / test).read_text(), f"{test} does not point at make generate"


@pytest.mark.slow  # a pytest of its own collects four test files: seconds of imports
def test_test_fast_runs_the_library_tests_without_notebooks_browser_or_website():
    out = make("test-fast")
    (command,) = [line for line in out.splitlines() if "-m pytest" in line]
    assert "nbval" not in command and "notebooks" not in command
    assert command.startswith("env OMP_NUM_THREADS=1 "), "one torch thread per worker, one worker per core"
    expression = FAST.search(command).group("expression")
    files = ["tests/test_browser.py", "tests/test_browser_playground.py", "tests/test_site.py", "tests/test_errors.py"]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                "-m", expression, *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stdout[-2000:]
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert {i.split("::")[0] for i in ids} == {"tests/test_errors.py"}, "only the library's tests are kept"
