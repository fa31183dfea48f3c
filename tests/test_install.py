"""The install picks the right PyTorch build, shown without a network: the Makefile's choice (tools/torch_source.py)
with faked machines, and pip's own dry-run reports (`pip install --dry-run --report`) on local files and indexes."""
import importlib.util
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec_ = importlib.util.spec_from_file_location("torch_source", ROOT / "tools" / "torch_source.py")
torch_source = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(torch_source)

CUDA_DEPENDENCIES = ["nvidia-cublas-cu12==12.8.4.1", "nvidia-cudnn-cu12==9.10.2.21", "triton==3.5.0"]
LOCAL_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


@pytest.mark.parametrize("local, gpu, system, expected", [
    (True, False, "Linux", ["--no-index", "--no-deps", "torch==2.13.0"]),  # our machines: the wheel on disk
    (True, True, "Linux", ["--no-index", "--no-deps", "torch==2.13.0"]),   # the disk wins: no network wait
    (False, False, "Linux", ["--index-url", torch_source.CPU_INDEX, "torch==2.13.0"]),  # a laptop without GPU
    (False, True, "Linux", ["torch==2.13.0"]),                           # an NVIDIA GPU: PyPI's CUDA build
    (False, False, "Darwin", ["torch==2.13.0"]),                         # macOS: PyPI's CPU/MPS build
    (False, False, "Windows", ["torch==2.13.0"]),                        # Windows: PyPI's CPU build
])
def test_auto_choice(local, gpu, system, expected):
    assert torch_source.choose("2.13.0", "auto", local, gpu, system) == expected


def test_explicit_choices_and_index_override():
    cu126 = "https://download.pytorch.org/whl/cu126"
    assert torch_source.choose("2.13.0", "cpu", True, True, "Linux") == ["--index-url", torch_source.CPU_INDEX,
                                                                         "torch==2.13.0"]
    assert torch_source.choose("2.13.0", "cuda", False, False, "Linux") == ["torch==2.13.0"]
    assert torch_source.choose("2.13.0", "cuda", False, False, "Linux", cu126) == ["--index-url", cu126,
                                                                                    "torch==2.13.0"]
    assert torch_source.choose("2.13.0", "local", False, False, "Linux") == ["--no-index", "--no-deps",
                                                                            "torch==2.13.0"]


@pytest.mark.parametrize("version, choice, parameter", [("2.13", "gpu", "TORCH must be one of"),
                                                        (">=2.13", "auto", "TORCH_VERSION must be")])
def test_bad_choice_or_version_is_named(version, choice, parameter):
    with pytest.raises(ValueError, match=parameter):
        torch_source.choose(version, choice, False, False, "Linux")


def fake_command(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("script, expected", [
    ("echo 'GPU 0: NVIDIA H200 (UUID: GPU-1234)'", True),
    ("echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver' >&2; exit 9", False),
    (None, False),
])
def test_gpu_probe_with_a_fake_nvidia_smi(tmp_path, monkeypatch, script, expected):
    if script is not None:
        fake_command(tmp_path, "nvidia-smi", script)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert torch_source.has_nvidia_gpu() is expected


def fake_wheel(folder: Path, version: str, requires: list[str]) -> Path:
    """A minimal torch wheel whose metadata lists requires (enough for pip's resolver and its report)."""
    name = f"torch-{version}-py3-none-any.whl"
    dist = f"torch-{version.split('+')[0]}.dist-info"
    metadata = "Metadata-Version: 2.1\nName: torch\nVersion: {}\n{}".format(
        version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    with zipfile.ZipFile(folder / name, "w") as wheel:
        wheel.writestr("torch/__init__.py", "")
        wheel.writestr(f"{dist}/METADATA", metadata)
        wheel.writestr(f"{dist}/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist}/RECORD", "")
    return folder / name


def fake_index(folder: Path, wheels: list[Path]) -> str:
    """A PEP 503 simple index (file://) serving the given torch wheels."""
    (folder / "torch").mkdir(parents=True)
    links = "".join(f'<a href="{w.as_uri()}">{w.name}</a>\n' for w in wheels)
    (folder / "torch" / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return folder.as_uri()


def dry_run(args: list[str], tmp_path: Path, deps: bool = False) -> list[dict]:
    """pip's dry-run report for `pip install args` ignoring what is installed: what it would install."""
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1")  # neither this machine's pip.conf nor its wheels
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
               "--report", str(report)] + ([] if deps else ["--no-deps"]) + args
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=120)
    return json.loads(report.read_text())["install"]


@pytest.fixture
def indexes(tmp_path):
    """Fakes of PyPI (torch 2.13.0 with CUDA dependencies) and of PyTorch's CPU index (2.13.0+cpu, none)."""
    files = tmp_path / "files"
    files.mkdir()
    cuda = fake_wheel(files, "2.13.0", CUDA_DEPENDENCIES)
    cpu = fake_wheel(files, "2.13.0+cpu", ["filelock", "sympy>=1.13.3"])
    return fake_index(tmp_path / "pypi", [cuda]), fake_index(tmp_path / "cpu", [cpu])


def cuda_requirements(install: list[dict]) -> list[str]:
    (torch,) = [i for i in install if i["metadata"]["name"] == "torch"]
    return [r for r in torch["metadata"].get("requires_dist", []) if r.startswith(("nvidia", "triton"))]


def test_dry_run_gpu_less_linux_takes_the_cpu_build(indexes, tmp_path):
    """The arguments chosen for a Linux laptop without GPU resolve to the +cpu wheel, with no CUDA packages."""
    pypi, cpu = indexes
    args = torch_source.choose("2.13.0", "auto", has_local_wheel=False, has_nvidia_gpu=False, system="Linux",
                               index=cpu)  # the test's stand-in for PyTorch's CPU index URL
    (torch,) = dry_run(args, tmp_path)
    assert torch["metadata"]["version"] == "2.13.0+cpu" and cuda_requirements([torch]) == []


def test_dry_run_linux_with_gpu_takes_the_cuda_build(indexes, tmp_path):
    pypi, cpu = indexes
    args = torch_source.choose("2.13.0", "auto", has_local_wheel=False, has_nvidia_gpu=True, system="Linux")
    install = dry_run(["--index-url", pypi] + args, tmp_path)  # the default index, faked
    assert install[0]["metadata"]["version"] == "2.13.0" and cuda_requirements(install)


def test_dry_run_environment_yml_prefers_the_cpu_build(indexes, tmp_path):
    """environment.yml's pip options (PyPI plus the CPU index) pick 2.13.0+cpu over PyPI's 2.13.0."""
    import yaml

    pypi, cpu = indexes
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip_list,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    options = " ".join(line for line in pip_list if line.startswith("--"))
    torch_line = next(line for line in pip_list if line.startswith("torch"))
    assert options == f"--extra-index-url {torch_source.CPU_INDEX}"
    args = ["--index-url", pypi, "--extra-index-url", cpu, torch_line]  # the same options, both indexes faked
    (torch,) = dry_run(args, tmp_path)
    assert torch["metadata"]["version"] == "2.13.0+cpu" and cuda_requirements([torch]) == []


@pytest.mark.skipif(not LOCAL_WHEEL.exists(), reason="only our machines have the local CPU wheel")
def test_dry_run_on_our_machines_takes_the_local_cpu_wheel_without_an_index(tmp_path):
    """Here the choice is --no-index: pip reads the wheel on disk and no index at all (no network wait)."""
    assert torch_source.has_local_wheel("2.13.0")
    args = torch_source.choose("2.13.0", "auto", True, False, "Linux")
    install = dry_run(["--find-links", str(LOCAL_WHEEL.parent)] + args, tmp_path, deps=False)
    assert [i["metadata"]["version"] for i in install] == ["2.13.0+cpu"] and cuda_requirements(install) == []
    assert not torch_source.has_local_wheel("2.12.0"), "a release not on disk must not count as local"


def test_makefile_installs_torch_with_the_chosen_arguments():
    """`make -n` shows the install asks tools/torch_source.py, with the Makefile's release and choice."""
    out = subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "tools/torch_source.py 2.13.0 auto" in out
    torch_line = next(line for line in out.splitlines() if "tools/torch_source.py" in line)
    assert "pip install" in torch_line and "$args" in torch_line
    assert out.index("tools/torch_source.py") < out.index("-e '.["), "torch is installed before the course"
