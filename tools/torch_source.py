"""Which PyTorch build `make install` takes, as pip arguments (printed on one line for the Makefile).

Usage: python tools/torch_source.py VERSION [CHOICE]
  CHOICE auto (default): a wheel of VERSION already on this machine's disk (pip's find-links), installed with
         --no-index --no-deps, so no index is asked for torch (its small dependencies come with the course's);
         else on Linux without an NVIDIA GPU, PyTorch's CPU index; else (Linux with a GPU, macOS, Windows) the
         default index (PyPI: CUDA on Linux, CPU/MPS on macOS).
  cpu    PyTorch's CPU index.     cuda / pypi    the default index.     local    the disk only (--no-index).
Environment: TORCH_INDEX overrides the index URL of any choice but local (e.g. PyTorch's cu126 index).
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CHOICES = ("auto", "local", "cpu", "cuda", "pypi")


def check_version(version: str) -> str:
    """A release number such as 2.13.0 (no ranges: make installs one tested release)."""
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version or ""):
        raise ValueError(f"TORCH_VERSION must be a release number such as 2.13.0, got {version!r}")
    return version


def choose(version: str, choice: str, has_local_wheel: bool, has_nvidia_gpu: bool, system: str,
           index: str | None = None) -> list[str]:
    """pip arguments that install torch==version from the source the choice and the machine call for."""
    requirement = f"torch=={check_version(version)}"
    if choice not in CHOICES:
        raise ValueError(f"TORCH must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "local" or (choice == "auto" and has_local_wheel):
        return ["--no-index", "--no-deps", requirement]  # its dependencies come with the course's, from the index
    if choice == "auto":
        choice = "cpu" if system == "Linux" and not has_nvidia_gpu else "pypi"
    if choice == "cpu":
        index = index or CPU_INDEX
    return (["--index-url", index] if index else []) + [requirement]


def has_nvidia_gpu(timeout_s: float = 20) -> bool:
    """True when `nvidia-smi -L` lists a GPU (the NVIDIA driver is installed and sees a device)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        result = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and "GPU" in result.stdout


def has_local_wheel(version: str, python: str = sys.executable) -> bool:
    """True when pip finds torch==version without any index (a wheel in find-links), asking no network."""
    command = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--no-index", "--no-deps",
               "--ignore-installed", f"torch=={check_version(version)}"]
    return subprocess.run(command, capture_output=True).returncode == 0


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    version, choice = argv[0], (argv[1] if len(argv) == 2 else "auto")
    local = choice == "auto" and has_local_wheel(version)
    gpu = choice == "auto" and not local and has_nvidia_gpu()
    args = choose(version, choice, local, gpu, platform.system(), os.environ.get("TORCH_INDEX") or None)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
