"""The install picks the right PyTorch build, shown without a network: the Makefile's choice (tools/torch_source.py)
with faked machines, and pip's own dry-run reports (`pip install --dry-run --report`) on local files and indexes."""
import http.server
import importlib.util
import inspect
import json
import os
import platform
import socket
import stat
import subprocess
import sys
import threading
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
    assert torch_source.choose("2.13.0", "auto", local, gpu, system).args == expected


def test_explicit_choices_and_index_override():
    cu126 = "https://download.pytorch.org/whl/cu126"
    assert torch_source.choose("2.13.0", "cpu", True, True, "Linux").args == ["--index-url", torch_source.CPU_INDEX,
                                                                              "torch==2.13.0"]
    assert torch_source.choose("2.13.0", "cuda", False, False, "Linux").args == ["torch==2.13.0"]
    assert torch_source.choose("2.13.0", "cuda", False, False, "Linux", cu126).args == ["--index-url", cu126,
                                                                                         "torch==2.13.0"]
    assert torch_source.choose("2.13.0", "local", False, False, "Linux").args == ["--no-index", "--no-deps",
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
                               index=cpu).args  # the test's stand-in for PyTorch's CPU index URL
    (torch,) = dry_run(args, tmp_path)
    assert torch["metadata"]["version"] == "2.13.0+cpu" and cuda_requirements([torch]) == []


def test_dry_run_linux_with_gpu_takes_the_cuda_build(indexes, tmp_path):
    pypi, cpu = indexes
    args = torch_source.choose("2.13.0", "auto", has_local_wheel=False, has_nvidia_gpu=True, system="Linux").args
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


@pytest.mark.skipif(not LOCAL_WHEEL.exists() or sys.version_info[:2] != (3, 11),
                    reason="only our machines have the local CPU wheel, and it is for Python 3.11")
def test_dry_run_on_our_machines_takes_the_local_cpu_wheel_without_an_index(tmp_path):
    """Here the choice is --no-index: pip reads the wheel on disk and no index at all (no network wait)."""
    assert torch_source.has_local_wheel("2.13.0")
    args = torch_source.choose("2.13.0", "auto", True, False, "Linux").args
    install = dry_run(["--find-links", str(LOCAL_WHEEL.parent)] + args, tmp_path, deps=False)
    assert [i["metadata"]["version"] for i in install] == ["2.13.0+cpu"] and cuda_requirements(install) == []
    assert not torch_source.has_local_wheel("2.12.0"), "a release not on disk must not count as local"


def test_makefile_installs_torch_with_the_chosen_arguments():
    """`make -n` shows the install asks tools/torch_source.py, with the Makefile's release and choice."""
    out = subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "tools/torch_source.py 2.13.0 auto" in out
    torch_line = out[out.index("tools/torch_source.py"):]
    assert "pip install" in torch_line and "$args" in torch_line.splitlines()[1]
    assert out.index("tools/torch_source.py") < out.index("-e ."), "torch is installed before the course"


# Any network: PyTorch's CPU index is probed (bounded by PROBE_TIMEOUT_S) before it is chosen, and the user's own
# index options are never overridden by the torch step's.

@pytest.fixture
def silent_server():
    """A local TCP port that accepts connections (the kernel's backlog) and never replies."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/whl/cpu"
    server.close()


@pytest.fixture
def closed_port():
    """A local port nothing listens on: connecting is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/whl/cpu"


@pytest.fixture
def answering_server():
    """A local HTTP server that answers every HEAD with 200, as PyTorch's index does."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"
    server.shutdown()
    server.server_close()


def test_probe_is_bounded_well_under_30_seconds():
    """An unreachable CPU index costs at most PROBE_TIMEOUT_S before the fallback (the issue: under 30 s)."""
    assert 0 < torch_source.PROBE_TIMEOUT_S <= 10
    assert inspect.signature(torch_source.answers).parameters["timeout_s"].default == torch_source.PROBE_TIMEOUT_S


def test_probe_of_a_server_that_never_replies_is_no(silent_server):
    assert torch_source.answers(silent_server, timeout_s=0.5) is False


def test_probe_of_a_closed_port_is_no(closed_port):
    assert torch_source.answers(closed_port, timeout_s=0.5) is False


def test_probe_of_an_answering_index_is_yes(answering_server):
    assert torch_source.answers(answering_server, timeout_s=5) is True


def test_probe_gives_up_on_a_lookup_that_never_returns(monkeypatch):
    """A resolver that hangs (urlopen's own timeout does not cover name lookups): the probe still returns."""
    never = threading.Event()
    monkeypatch.setattr(torch_source.urllib.request, "urlopen", lambda *a, **k: never.wait())
    try:
        assert torch_source.answers("https://download.pytorch.org/whl/cpu", timeout_s=0.2) is False
    finally:
        never.set()


@pytest.mark.parametrize("server", ["silent_server", "closed_port"])
def test_unreachable_cpu_index_falls_back_to_the_default_index_with_a_notice(server, request):
    url = request.getfixturevalue(server)
    source = torch_source.choose("2.13.0", "auto", False, False, "Linux", index=url,
                                 answers=lambda u: torch_source.answers(u, timeout_s=0.5))
    assert source.args == ["torch==2.13.0"]
    assert "did not answer" in source.notice and "several GB" in source.notice and "\n" not in source.notice


def test_reachable_cpu_index_is_chosen(answering_server):
    source = torch_source.choose("2.13.0", "auto", False, False, "Linux", index=answering_server,
                                 answers=lambda u: torch_source.answers(u, timeout_s=5))
    assert source.args == ["--index-url", answering_server, "torch==2.13.0"] and source.notice == ""


def test_script_falls_back_when_the_cpu_index_never_replies(silent_server, tmp_path):
    """tools/torch_source.py end to end on a GPU-less machine (no nvidia-smi, no local wheel of 2.12.0): it probes
    the index (TORCH_INDEX, a silent local port), prints the default-index arguments and a one-line notice."""
    if platform.system() != "Linux":
        pytest.skip("the CPU index is auto's choice on Linux only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(TORCH_INDEX=silent_server, PATH=str(Path(sys.executable).parent), PIP_CONFIG_FILE=os.devnull)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "torch_source.py"), "2.12.0", "auto"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["torch==2.12.0"], result.stderr
    assert "did not answer" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flags, environ, expected", [
    ("--index-url https://mirror.example/simple", {}, True),
    ("--index-url=https://mirror.example/simple", {}, True),
    ("-i https://mirror.example/simple", {}, True),
    ("-ihttps://mirror.example/simple", {}, True),
    ("--quiet --extra-index-url https://mirror.example/simple", {}, True),
    ("--no-index --find-links /wheels", {}, True),
    ("", {"PIP_INDEX_URL": "https://mirror.example/simple"}, True),
    ("", {"PIP_EXTRA_INDEX_URL": "https://mirror.example/simple"}, True),
    ("--quiet --find-links /wheels", {}, False),
    ("", {"PIP_FIND_LINKS": "/opt/wheels"}, False),
    ("", {}, False),
])
def test_user_index_options_are_recognised(flags, environ, expected):
    assert torch_source.user_chose_index(flags, environ) is expected


def test_user_index_is_never_overridden():
    """With the user's index named, auto adds no index of its own (and asks no probe); TORCH=cpu adds PyTorch's
    CPU index beside the user's, never instead of it."""
    def no_probe(url):
        raise AssertionError("the CPU index was probed although the user named an index")

    auto = torch_source.choose("2.13.0", "auto", False, False, "Linux", user_index=True, answers=no_probe)
    assert auto.args == ["torch==2.13.0"] and "your pip options" in auto.notice
    cpu = torch_source.choose("2.13.0", "cpu", False, False, "Linux", user_index=True)
    assert cpu.args == ["--extra-index-url", torch_source.CPU_INDEX, "torch==2.13.0"]


def test_dry_run_with_the_users_mirror_takes_torch_from_it(indexes, tmp_path):
    """PIP_FLAGS="--index-url MIRROR" (the fake PyPI): the torch step's arguments keep pip on the mirror. Before,
    the torch step's own --index-url came later and won, so pip asked PyTorch's index only."""
    mirror, cpu = indexes
    flags = f"--index-url {mirror}"
    source = torch_source.choose("2.13.0", "auto", False, False, "Linux",
                                 user_index=torch_source.user_chose_index(flags, {}))
    (torch,) = dry_run(flags.split() + source.args, tmp_path)
    assert torch["metadata"]["version"] == "2.13.0" and "--index-url" not in source.args


def test_makefile_passes_pip_flags_to_the_torch_choice():
    out = subprocess.run(["make", "-n", "-B", "install", "VENV=/nonexistent",
                          "PIP_FLAGS=--index-url https://mirror.example/simple"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "PIP_FLAGS='--index-url https://mirror.example/simple' /nonexistent/bin/python tools/torch_source.py" in out
