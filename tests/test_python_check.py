"""make stops on a Python outside pyproject.toml's requires-python before it makes a venv or downloads anything,
and says which versions work and how to pick one (tools/check_python.py, called by the Makefile)."""
import importlib.util
import stat
import subprocess
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli backport (the test extra installs it)
    import tomli as tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
spec_ = importlib.util.spec_from_file_location("check_python", ROOT / "tools" / "check_python.py")
check_python = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(check_python)
REQUIRES = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]


def test_supported_minors_are_pyprojects_range():
    minors = check_python.supported_minors((ROOT / "pyproject.toml").read_text())
    assert minors == [10, 11, 12, 13, 14]
    for minor in range(6, 20):
        assert (minor in minors) == SpecifierSet(REQUIRES).contains(f"3.{minor}.0"), minor


@pytest.mark.parametrize("text", ['requires-python = ">=3.10"\n', 'requires-python = ">=3.12,<3.11"\n', ""])
def test_a_range_it_cannot_read_is_an_error(text):
    with pytest.raises(ValueError, match="requires-python"):
        check_python.supported_minors(text)


def fake_python(folder: Path, version: tuple) -> Path:
    """An interpreter that reports itself as Python version (the real one, with sys.version_info replaced)."""
    code = (f"import runpy, sys; sys.version_info = {version + (0, 'final', 0)!r}; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    path = folder / "python-fake"
    path.write_text(f'#!/bin/sh\nexec {sys.executable} -c "{code}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize("version, works", [((3, 9), False), ((3, 15), False), ((2, 7), False), ((3, 10), True),
                                            ((3, 14), True)])
def test_script_judges_the_interpreter_running_it(tmp_path, version, works):
    result = subprocess.run([str(fake_python(tmp_path, version)), str(ROOT / "tools" / "check_python.py")],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) == works, result.stderr
    if not works:
        assert f"this Python is {version[0]}.{version[1]}" in result.stderr
        assert "3.10 to 3.14" in result.stderr and "make lab PYTHON=python3." in result.stderr


def test_message_names_the_pythons_on_path_first():
    text = check_python.message((3, 9), [10, 11, 12, 13, 14], ["python3.12", "python3.11"])
    assert "Found on your PATH: python3.12, python3.11" in text and "make lab PYTHON=python3.12" in text
    text = check_python.message((3, 9), [10, 11, 12, 13, 14], [])
    assert "install one" in text and "make lab PYTHON=python3.14" in text


def test_make_stops_before_making_a_venv_on_python_3_9(tmp_path):
    """`make install PYTHON=<a Python 3.9>`: a non-zero exit with the explanation, and no venv, no download."""
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "install", f"PYTHON={fake_python(tmp_path, (3, 9))}", f"VENV={venv}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "the course needs Python 3.10 to 3.14" in result.stderr and "make lab PYTHON=" in result.stderr
    assert not venv.exists()
    assert "pip install" not in result.stdout + result.stderr


def test_make_says_so_when_there_is_no_python_at_all(tmp_path):
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "install", "PYTHON=python-that-does-not-exist", f"VENV={venv}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "no python-that-does-not-exist found" in result.stderr
    assert ">=3.10,<3.15" in result.stderr and not venv.exists()
