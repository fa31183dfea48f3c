"""Colab's set-up cell (tools/colab_cell.py, inserted by tools/colab.py): a no-op here; on Colab (faked) it installs
the course without touching Colab's torch and turns on the custom widget manager."""
import importlib.util
import json
import os
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec_ = importlib.util.spec_from_file_location("colab_tools", ROOT / "tools" / "colab.py")
colab = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(colab)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


class Recorder:
    """Stands in for subprocess.run: records each command instead of running it."""

    def __init__(self):
        self.commands = []

    def __call__(self, command, **kwargs):
        self.commands.append(list(command))
        return subprocess.CompletedProcess(command, 0)


@pytest.fixture
def fake_colab(monkeypatch):
    """A fake google.colab (with output.enable_custom_widget_manager) in sys.modules, as on Colab."""
    calls = []
    google, package, output = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.output"))
    output.enable_custom_widget_manager = lambda: calls.append("enable_custom_widget_manager")
    package.output, google.colab = output, package
    for name, module in (("google", google), ("google.colab", package), ("google.colab.output", output)):
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def run_cell(monkeypatch, course_installed: bool) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real_find_spec(name, *a) if course_installed or name != "actlab" else None)
    exec(compile(colab.cell_source(), "colab-setup-cell", "exec"), {})
    return recorder


def test_cell_does_nothing_outside_colab(monkeypatch):
    assert "google.colab" not in sys.modules
    recorder = run_cell(monkeypatch, course_installed=False)
    assert recorder.commands == [] and "google.colab" not in sys.modules


def test_cell_on_colab_installs_the_course_alone_and_enables_widgets(monkeypatch, fake_colab):
    recorder = run_cell(monkeypatch, course_installed=False)
    assert fake_colab == ["enable_custom_widget_manager"]
    install, *others = recorder.commands  # others: only what this environment lacks (nothing, in make's venv)
    assert install[:4] == [sys.executable, "-m", "pip", "install"] and "--no-deps" in install
    assert install[-1] == f"actlab @ git+{colab.repository()}"
    assert not any(arg.startswith("torch") for command in recorder.commands for arg in command)


def lacking_here() -> set:
    """Course dependencies (not torch, no extras) that this environment lacks or has too old."""
    from packaging.requirements import Requirement

    lacking = set()
    for line in metadata.requires("actlab"):
        req = Requirement(line)
        if req.name == "torch" or req.marker is not None:
            continue
        try:
            if metadata.version(req.name) in req.specifier:
                continue
        except metadata.PackageNotFoundError:
            pass
        lacking.add(req.name)
    return lacking


def test_cell_on_colab_installs_only_missing_dependencies_with_torch_held(monkeypatch, fake_colab, tmp_path):
    real_version = metadata.version

    def version(name):
        if name in ("tqdm", "ipywidgets"):
            raise metadata.PackageNotFoundError(name)
        return "0.1" if name == "pandas" else real_version(name)  # too old for pandas>=2.1

    monkeypatch.setattr(metadata, "version", version)
    recorder = run_cell(monkeypatch, course_installed=False)
    _, extra = recorder.commands
    constraint = extra[extra.index("-c") + 1]
    assert Path(constraint).read_text() == f"torch=={real_version('torch')}\n"
    wanted = sorted(a.split(">")[0].split("=")[0] for a in extra[extra.index("-c") + 2:])
    assert wanted == sorted({"ipywidgets", "pandas", "tqdm"} | lacking_here()), "only the missing or too old"
    assert "torch" not in wanted and "pytest" not in wanted, "never torch, never the test tools"
    assert fake_colab == ["enable_custom_widget_manager"]


def test_cell_run_again_on_colab_installs_nothing(monkeypatch, fake_colab):
    assert run_cell(monkeypatch, course_installed=True).commands == []
    assert fake_colab == ["enable_custom_widget_manager"]


def test_dry_run_of_the_colab_install_leaves_torch_alone(monkeypatch, fake_colab, tmp_path):
    """pip's dry-run report of the cell's command (the repository replaced by this checkout) installs the course
    and nothing else: Colab's torch stays, whatever its version."""
    install = run_cell(monkeypatch, course_installed=False).commands[0]
    install[-1] = f"actlab @ {ROOT.as_uri()}"
    report = tmp_path / "report.json"
    env = {**os.environ, "PIP_NO_INDEX": "1"}  # offline: --no-deps needs no index
    subprocess.check_call(install[:4] + ["--dry-run", "--ignore-installed", "--no-build-isolation", "--report",
                                         str(report)] + install[4:], env=env, timeout=300,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    installed = [i["metadata"]["name"] for i in json.loads(report.read_text())["install"]]
    assert installed == ["actlab"]


def test_readme_table_links_every_notebook_to_colab():
    text = (ROOT / "README.md").read_text()
    assert colab.readme_with_links(text) == text, "run python tools/colab.py"
    for path in NOTEBOOKS:
        assert f"[Open in Colab]({colab.colab_link(path.name)})" in text
        assert f"[{path.stem}](notebooks/{path.name})" in text


def test_insertion_is_idempotent_keeps_ids_and_moves_an_old_cell():
    nb = json.loads(NOTEBOOKS[0].read_text())
    once = colab.with_setup_cell(nb, "print('v1')")
    assert colab.with_setup_cell(once, "print('v1')") == once
    first_code = next(c for c in once["cells"] if c["cell_type"] == "code")
    assert colab.is_setup_cell(first_code) and once["cells"][0] == nb["cells"][0]
    first_code["id"] = "kept-id"
    moved = {**once, "cells": once["cells"][:1] + once["cells"][2:] + once["cells"][1:2]}  # displaced by an edit
    again = colab.with_setup_cell(moved, "print('v2')")
    cell = next(c for c in again["cells"] if c["cell_type"] == "code")
    assert cell["id"] == "kept-id" and "".join(cell["source"]) == "print('v2')"
    assert sum(colab.is_setup_cell(c) for c in again["cells"]) == 1
    others = [c["id"] for c in nb["cells"] if not colab.is_setup_cell(c)]
    assert [c["id"] for c in again["cells"] if not colab.is_setup_cell(c)] == others


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_colab_cell(path):
    nb = json.loads(path.read_text())
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert colab.is_setup_cell(first_code) and "".join(first_code["source"]) == colab.cell_source()
