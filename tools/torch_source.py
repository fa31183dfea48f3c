"""Which PyTorch build `make install` takes, as pip arguments (printed on one line for the Makefile; notices go
to stderr).

Usage: python tools/torch_source.py VERSION [CHOICE]
  CHOICE auto (default): a wheel of VERSION already on this machine's disk (pip's find-links), installed with
         --no-index --no-deps, so no index is asked for torch (its small dependencies come with the course's);
         else, when the user's pip options name an index, that index (never overridden); else on Linux without
         an NVIDIA GPU, PyTorch's CPU index if it answers a HEAD request within PROBE_TIMEOUT_S seconds (else the
         default index, with a notice of the larger download); else (Linux with a GPU, macOS, Windows) the default
         index (PyPI: CUDA on Linux, CPU/MPS on macOS).
  cpu    PyTorch's CPU index (searched besides the user's index, when PIP_FLAGS names one).
  cuda / pypi    the default index.     local    the disk only (--no-index).
Environment: TORCH_INDEX overrides the index URL of any choice but local (e.g. PyTorch's cu126 index).
  PIP_FLAGS (the Makefile's), PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_NO_INDEX: the user's own index options.
"""
from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.request
from typing import Callable, Mapping, NamedTuple

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CHOICES = ("auto", "local", "cpu", "cuda", "pypi")
# How long the CPU index gets to answer (DNS, connection and reply together) before the default index is taken.
PROBE_TIMEOUT_S = 5.0
INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--no-index")
INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX")


class Source(NamedTuple):
    """pip arguments that install torch, and a one-line notice for the user ("" when there is nothing to say)."""

    args: list[str]
    notice: str = ""


def check_version(version: str) -> str:
    """A release number such as 2.13.0 (no ranges: make installs one tested release)."""
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version or ""):
        raise ValueError(f"TORCH_VERSION must be a release number such as 2.13.0, got {version!r}")
    return version


def choose(version: str, choice: str, has_local_wheel: bool, has_nvidia_gpu: bool, system: str,
           index: str | None = None, user_index: bool = False,
           answers: Callable[[str], bool] = lambda url: True) -> Source:
    """pip arguments that install torch==version from the source the choice, the machine and the user call for.

    user_index: the user's pip options name an index (user_chose_index); answers(url): whether an index answers
    (asked only for auto's CPU index). Raises ValueError for a choice outside CHOICES or a version not X.Y[.Z].
    """
    requirement = f"torch=={check_version(version)}"
    if choice not in CHOICES:
        raise ValueError(f"TORCH must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "local" or (choice == "auto" and has_local_wheel):
        return Source(["--no-index", "--no-deps", requirement])  # its dependencies come with the course's
    if choice == "auto" and user_index and not index:
        return Source([requirement], "torch: from the index in your pip options (on Linux that may be the CUDA "
                                     "build, several GB; TORCH=cpu adds PyTorch's CPU index)")
    if choice == "auto":
        choice = "cpu" if system == "Linux" and not has_nvidia_gpu else "pypi"
        url = index or CPU_INDEX
        if choice == "cpu" and not answers(url):
            return Source([requirement], f"torch: PyTorch's CPU index ({url}) did not answer (asked for at most "
                                         f"{PROBE_TIMEOUT_S:g} s): taking torch from the default index instead "
                                         "(on Linux PyPI's CUDA build, several GB instead of about 200 MB)")
    if choice == "cpu":
        option = "--extra-index-url" if user_index else "--index-url"  # never hide the user's own index
        return Source([option, index or CPU_INDEX, requirement])
    return Source((["--index-url", index] if index else []) + [requirement])


def user_chose_index(pip_flags: str, environ: Mapping[str, str]) -> bool:
    """True when the user's pip options name an index: --index-url, -i, --extra-index-url or --no-index in
    pip_flags (PIP_FLAGS, also as --option=value), or PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_NO_INDEX set."""
    words = [word.split("=", 1)[0] for word in shlex.split(pip_flags or "")]
    named = any(word in INDEX_OPTIONS or (word.startswith("-i") and len(word) > 2) for word in words)
    return named or any(environ.get(name) for name in INDEX_VARIABLES)


def answers(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when url answers an HTTP HEAD request with a success status within timeout_s seconds in all.

    The request runs in a daemon thread that is abandoned after timeout_s, so that a name lookup stuck in the
    resolver (which urlopen's own timeout does not cover) cannot hold make up either.
    """
    verdict: list[bool] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout_s) as reply:
                verdict.append(200 <= reply.status < 400)
        except Exception:  # refused, reset, timed out, no such host, TLS or HTTP error: the index is not usable
            verdict.append(False)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(verdict) and verdict[0]


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
    user_index = user_chose_index(os.environ.get("PIP_FLAGS", ""), os.environ)
    source = choose(version, choice, local, gpu, platform.system(), os.environ.get("TORCH_INDEX") or None,
                    user_index, lambda url: answers(url.rstrip("/") + "/torch/"))
    if source.notice:
        print(source.notice, file=sys.stderr)
    print(" ".join(source.args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
