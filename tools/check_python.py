"""Stop `make` before it makes a venv or downloads anything when its Python is outside the supported range.

Usage: PYTHON tools/check_python.py
Reads requires-python (">=3.A,<3.B") from pyproject.toml, the one source, and exits 0 when the interpreter running
it lies in that range; else prints which versions work, which of them are on PATH, and how to pick one
(`make lab PYTHON=python3.12`), and exits 1. Written for any Python from 2.7 on (no f-strings, no tomllib),
since the interpreter it judges may be old.
"""
from __future__ import print_function

import os
import re
import sys

try:
    from shutil import which
except ImportError:  # Python 2
    from distutils.spawn import find_executable as which

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANGE = re.compile(r'^requires-python\s*=\s*"\s*>=\s*3\.(\d+)\s*,\s*<\s*3\.(\d+)\s*"', re.M)


def supported_minors(pyproject_text):
    """The supported Python 3 minor versions, e.g. [10, 11, 12, 13, 14] for ">=3.10,<3.15".

    Raises ValueError when requires-python is missing or not of the form ">=3.A,<3.B" with A < B.
    """
    match = RANGE.search(pyproject_text)
    if match is None or int(match.group(1)) >= int(match.group(2)):
        raise ValueError('pyproject.toml: requires-python must read ">=3.A,<3.B" with A < B')
    return list(range(int(match.group(1)), int(match.group(2))))


def message(version, minors, on_path):
    """The explanation for an interpreter of version (major, minor) outside the supported minors."""
    names = ["3.%d" % m for m in minors]
    lines = ["make: this Python is %d.%d; the course needs Python %s to %s (PyTorch has wheels for those)."
             % (version[0], version[1], names[0], names[-1])]
    if on_path:
        lines.append("Found on your PATH: %s. Choose one with PYTHON, for example:" % ", ".join(on_path))
        example = on_path[0]
    else:
        lines.append("None of python%s ... python%s is on your PATH: install one (python.org, your package manager, "
                     "pyenv or `uv python install %s`), then choose it with PYTHON, for example:"
                     % (names[0], names[-1], names[-1]))
        example = "python" + names[-1]
    lines.append("    make lab PYTHON=%s      (or make test PYTHON=%s)" % (example, example))
    lines.append("(If .venv was already made with another Python, remove it first: rm -rf .venv)")
    return "\n".join(lines)


def main():
    with open(os.path.join(ROOT, "pyproject.toml")) as handle:
        minors = supported_minors(handle.read())
    version = tuple(sys.version_info[:2])
    if version[0] == 3 and version[1] in minors:
        return 0
    on_path = ["python3.%d" % m for m in reversed(minors) if which("python3.%d" % m)]
    print(message(version, minors, on_path), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
