"""Saved outputs of executed notebooks (build/executed/), keyed so that they are never served for other code or data.

The key hashes the notebook's code cells, every file of the library (lib/actlab), pyproject.toml, the versions of
Python and the main packages, the settings that change results (ACTLAB_FULL, CPU numerics) and the real CIFAR-10
files in the data folder the run read (names, sizes and times), if any. Markdown is not in the key: outputs
are merged into the current notebook, so a prose edit needs no re-run. Written by the notebooks' default run in
`make test` (conftest.py) and by tools/build_site.py, read by tools/build_site.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "executed"
PACKAGES = ("torch", "numpy", "scipy", "matplotlib", "pillow", "pandas", "ipywidgets", "ipykernel")
SETTINGS = ("ACTLAB_FULL", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")


def code_sources(nb: dict) -> list[str]:
    """The source of each code cell, in order."""
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def library_files(root: Path = ROOT) -> list[Path]:
    """Every file whose change can change an output: the library's files and pyproject.toml."""
    lib = sorted(p for p in (root / "lib" / "actlab").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return lib + [root / "pyproject.toml"]


def data_fingerprint(folder: Path) -> list:
    """Names, sizes and times of the real CIFAR-10 files under folder (none: []): the data a run reads. The rest
    of the folder (generated sets, training caches) is rebuilt from the library's code, which the key holds."""
    cifar = folder / "cifar-10-batches-py"
    if not cifar.is_dir():
        return []
    return sorted([str(p.relative_to(cifar)), p.stat().st_size, p.stat().st_mtime_ns]
                  for p in cifar.rglob("*") if p.is_file())


def key(nb: dict, data_folder: Path, root: Path = ROOT) -> str:
    """A hash of everything the notebook's outputs depend on (see the module's docstring)."""
    digest = hashlib.sha256()

    def add(value) -> None:
        digest.update(json.dumps(value, sort_keys=True).encode())

    add(code_sources(nb))
    for path in library_files(root):
        add(str(path.relative_to(root)))
        digest.update(path.read_bytes())
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    add([platform.python_version(), versions, {v: os.environ.get(v) for v in SETTINGS}])
    add(data_fingerprint(data_folder))
    return digest.hexdigest()[:20]


def path_for(notebook: Path, nb: dict, data_folder: Path, cache: Path = CACHE) -> Path:
    """Where the executed copy of a notebook is saved under its key."""
    return cache / f"{notebook.stem}.{key(nb, data_folder)}.ipynb"


def save(notebook: Path, executed: dict, key_: str, cache: Path = CACHE) -> Path:
    """Save the executed notebook under its key, removing that notebook's older entries."""
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{notebook.stem}.*.ipynb"):
        old.unlink()
    target = cache / f"{notebook.stem}.{key_}.ipynb"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(executed, ensure_ascii=False))
    tmp.replace(target)
    return target


def merged(nb: dict, executed: dict) -> dict:
    """The current notebook with the outputs of its executed copy (same code cells, in order)."""
    outputs = [c for c in executed["cells"] if c["cell_type"] == "code"]
    if code_sources(executed) != code_sources(nb):
        raise ValueError("the executed copy is of other code: it must not be used")
    it = iter(outputs)
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            done = next(it)
            cell = {**cell, "outputs": done["outputs"], "execution_count": done.get("execution_count")}
        cells.append(cell)
    return {**nb, "cells": cells}
