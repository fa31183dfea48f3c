"""Set-up stays trustworthy: one dependency list, a safe lab command, clean notebooks."""
import ast
import json
import re
import subprocess
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli backport (the test extra installs it)
    import tomli as tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def makefile_variable(name: str) -> str:
    """A `NAME ?= value` default from the Makefile."""
    match = re.search(rf"^{name}\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert match, f"{name} has no default in the Makefile"
    return match.group(1)


def torch_specifier():
    from packaging.requirements import Requirement

    (torch,) = [Requirement(d) for d in PYPROJECT["project"]["dependencies"] if re.match(r"torch\b", d)]
    return torch.specifier


def test_torch_range_is_bounded_and_holds_the_release_make_installs():
    """pyproject declares a closed range; the Makefile installs one exact release inside it."""
    specifier = torch_specifier()
    assert {s.operator for s in specifier} == {">=", "<"}, f"torch needs a lower and an upper bound, got {specifier}"
    version = makefile_variable("TORCH_VERSION")
    assert specifier.contains(version) and specifier.contains(version + "+cpu")
    low = next(s.version for s in specifier if s.operator == ">=")
    assert version.startswith(low), f"make installs {version}, but the lowest release declared is {low}: test it"


def test_environment_yml_defers_to_pyproject_and_takes_the_cpu_build():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert sorted(re.split(r"[=<>]", d)[0] for d in conda) == ["pip", "python"]
    python = next(d for d in conda if d.startswith("python"))
    minor = tuple(int(v) for v in python.split("=")[1].split(".")[:2])
    low, high = re.findall(r"(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert tuple(map(int, low)) <= minor < tuple(map(int, high))
    (pip_list,) = [p["pip"] for p in pip]
    options = [line for line in pip_list if line.startswith("--")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"], "the CPU build of PyTorch"
    packages = [line for line in pip_list if not line.startswith("--")]
    assert packages[0] == f"torch=={makefile_variable('TORCH_VERSION')}", "the release make installs and tests"
    assert len(packages) == 2 and re.fullmatch(r"-e \.(\[[a-z,]+\])?", packages[1])
    extras = re.findall(r"[a-z]+", packages[1].partition("[")[2])
    assert set(extras) <= set(PYPROJECT["project"]["optional-dependencies"])


def test_make_lab_binds_to_localhost_and_keeps_the_token():
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lab = next(line for line in out.splitlines() if "jupyter lab" in line)
    assert "--ip=127.0.0.1" in lab
    assert not re.search(r"token\s*=\s*(''|\"\"|$|\s)", lab) and "disable_check_xsrf" not in lab


def test_install_is_up_to_date_after_make_test():
    """A second `make test` reinstalls nothing: both install stamps are newer than pyproject.toml."""
    result = subprocess.run(["make", "-q", "install-test"], cwd=ROOT)
    assert result.returncode == 0


def make_dry_run(target: str) -> str:
    """What `make -n -B target` would run for a venv that does not exist yet."""
    return subprocess.run(["make", "-n", "-B", target, "VENV=/nonexistent"], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60).stdout


def test_make_lab_installs_the_course_alone_and_make_test_adds_the_extras():
    """A student's `make lab` takes no test, site or dask extra; `make test` adds them (the Makefile's EXTRAS)."""
    lab = make_dry_run("lab")
    installs = [line for line in lab.splitlines() if "pip install" in line and "-e " in line]
    assert installs == ["/nonexistent/bin/python -m pip install --quiet  -e ."], installs
    test = make_dry_run("test")
    extras = makefile_variable("EXTRAS")
    assert test.index("pip install --quiet  -e .\n") < test.index(f"pip install --quiet  -e '.[{extras}]'")
    assert set(extras.split(",")) == {"test", "site", "dask"} <= set(PYPROJECT["project"]["optional-dependencies"])


def test_environment_yml_installs_the_course_without_the_test_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip_list,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_list[-1] == "-e ."


def test_ci_and_readme_use_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make lab" in head and "make test" in head


def test_there_are_notebooks_in_teaching_order():
    names = [p.name for p in NOTEBOOKS]
    assert names and all(re.match(r"\d\d_[a-z0-9_]+\.ipynb$", n) for n in names)
    assert len({n[:2] for n in names}) == len(names)


def cells(path):
    return json.loads(path.read_text())["cells"]


def kept(cell):
    return cell.get("metadata", {}).get("keep_output") or "keep_output" in cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    for cell in cells(path):
        if cell["cell_type"] == "code" and not kept(cell):
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(path):
    cs = cells(path)
    assert cs[0]["cell_type"] == "markdown" and "".join(cs[0]["source"]).startswith("# ")
    text = "\n".join("".join(c["source"]) for c in cs if c["cell_type"] == "markdown")
    assert re.search(r"^#+ Summary", text, re.M) and re.search(r"^#+ Exercises", text, re.M)
    code = ["".join(c["source"]) for c in cs if c["cell_type"] == "code"]
    assert any("import actlab" in c for c in code)
    static_seen = False
    for source in code:
        static_seen |= bool(re.search(r"\bplot_\w+\(|\.plot\(|Figure\(", source))
        if re.search(r"explore\(|interact", source):
            assert static_seen, f"interactive cell before any static figure: {source[:60]}"


def test_no_helper_is_copied_between_notebooks():
    defined = {}
    for path in NOTEBOOKS:
        for c in cells(path):
            if c["cell_type"] != "code":
                continue
            try:
                tree = ast.parse("".join(c["source"]))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    where = defined.setdefault(node.name, path.name)
                    assert where == path.name, f"{node.name} is defined in both {where} and {path.name}: move it to actlab"


def test_make_test_builds_the_site_from_the_tests_outputs_without_running_the_course_again():
    """make test: tests + notebooks (saving outputs), the numerics variant, then the site from saved outputs only."""
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    first = out.index('-m "not site" tests --nbval-lax notebooks')
    variant = out.index("--nbval-lax notebooks", first + 1)
    site = out.index("tools/build_site.py --cached-only")
    assert first < variant < site < out.index("-m site tests/test_site.py")
    assert out.count("--nbval-lax notebooks") == 2, "the course runs twice (default and numerics variant), not thrice"


def test_notebook_math_needs_no_font_the_local_mathjax_lacks():
    """The website's local MathJax has the STIX web fonts only: blackboard bold (AMS fonts) would 404 there."""
    for path in NOTEBOOKS:
        assert "\\mathbb" not in path.read_text(), f"{path.name}: use \\operatorname{{E}} instead of \\mathbb"
