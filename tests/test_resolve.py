"""The course resolves from PyPI for every Python pyproject.toml admits, as it would for a student elsewhere:
pip's own resolver (`pip install --dry-run --report`) with this machine's pip settings (its constraints, local
wheels and extra indexes) out of the way, asked for each Python version with --python-version, on this platform
(pip evaluates markers such as platform_system on the machine it runs on, so --platform cannot stand in for another).

The resolver is the current pip from PyPI, with --use-feature=fast-deps: PyPI serves each wheel's metadata alone
(PEP 658), but this machine's PyPI mirror does not, and without range requests pip (and the venv's older pip even
with them, in a dry run) downloads every wheel, about 3 GB per Python version with torch's CUDA libraries; this
way a resolve reads about 30 MB in about 20 s. Without a network the tests skip, saying so.
"""
import concurrent.futures
import importlib.util
import json
import os
import subprocess
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli backport (the test extra installs it)
    import tomli as tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
spec_ = importlib.util.spec_from_file_location("check_python", ROOT / "tools" / "check_python.py")
check_python = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(check_python)
spec_ = importlib.util.spec_from_file_location("torch_source", ROOT / "tools" / "torch_source.py")
torch_source = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(torch_source)

PYTHONS = [f"3.{m}" for m in check_python.supported_minors((ROOT / "pyproject.toml").read_text())]
PYPI = "https://pypi.org/simple"
TIMEOUT_S = 300  # one version's resolve: about 20 s here (run side by side with the others)


def requirements() -> list[str]:
    """What make test installs: the course's dependencies and every extra, as pyproject.toml lists them."""
    return PROJECT["dependencies"] + [r for extra in PROJECT["optional-dependencies"].values() for r in extra]


def clean_environment() -> dict:
    """This process's environment without pip's settings (PIP_FIND_LINKS, PIP_CONSTRAINT...) or its config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def current_pip(folder: Path) -> Path:
    """The latest pip's wheel from PyPI (runnable as WHEEL/pip, as pip documents): a student's fresh venv has it."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--index-url", PYPI,
               "--dest", str(folder), "pip"]
    subprocess.run(command, env=clean_environment(), check=True, capture_output=True, timeout=120)
    (wheel,) = folder.glob("pip-*.whl")
    return wheel / "pip"


def resolve(pip: Path, python: str, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """pip's dry-run report for requirements() on Python `python`, from PyPI alone."""
    report = folder / f"report-{python}.json"
    command = [sys.executable, str(pip), "install", "--dry-run", "--ignore-installed", "--quiet", "--no-cache-dir",
               "--index-url", PYPI, "--only-binary=:all:", "--python-version", python, "--use-feature=fast-deps",
               "--report", str(report)]
    result = subprocess.run(command + requirements(), env=clean_environment(), capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    return result, report


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every supported Python's resolve, run side by side (each is mostly waiting on the network)."""
    if not torch_source.answers(f"{PYPI}/pip/", timeout_s=10):
        pytest.skip(f"{PYPI} does not answer: no network to resolve the course's dependencies against")
    folder = tmp_path_factory.mktemp("resolve")
    pip = current_pip(folder)
    with concurrent.futures.ThreadPoolExecutor(len(PYTHONS)) as pool:
        return dict(zip(PYTHONS, pool.map(lambda python: resolve(pip, python, folder), PYTHONS)))


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
def test_the_course_resolves_from_pypi_for_every_supported_python(reports, python):
    """pip finds wheels of every dependency for this Python, torch among them and inside pyproject's range."""
    result, report = reports[python]
    assert result.returncode == 0, f"Python {python}: {result.stderr[-3000:]}"
    installed = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
                 for item in json.loads(report.read_text())["install"]}
    for line in requirements():  # torch among them: a release in pyproject's range (2.13 or 2.14)
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate():
            continue  # pip evaluates markers on the interpreter it runs on, not --python-version (tomli: 3.10 only)
        name = canonicalize_name(requirement.name)
        assert name in installed, f"{name} missing from the resolve for Python {python}"
        assert requirement.specifier.contains(installed[name], prereleases=True), (name, installed[name])
    print(f"Python {python}: torch {installed['torch']}, numpy {installed['numpy']}, "
          f"{len(installed)} packages")
