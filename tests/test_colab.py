"""Colab's set-up cell (tools/colab_cell.py, inserted by tools/colab.py): a no-op here; on Colab (faked) it installs
the course without touching Colab's torch and turns on the custom widget manager."""
import importlib.util
import json
import os
import re
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


PUBLISHED = "https://github.com/someone/actlab"  # a published repository, for the tests of the install path
# Colab's runtime (its published list of 2026-08-19): what the cell must leave as it is, and ipywidgets 7.
COLAB = {"torch": "2.11.0+cpu", "ipywidgets": "7.7.1", "ipykernel": "6.17.1", "jupyter_client": "7.4.9",
         "matplotlib": "3.10.0", "numpy": "2.1.3", "scikit-learn": "1.6.1", "anywidget": "0.9.21", "ipython": "7.34.0",
         "traitlets": "5.7.1", "pandas": "2.2.2", "scipy": "1.16.1", "pillow": "11.3.0", "tqdm": "4.67.1"}


def run_cell(monkeypatch, course_installed: bool, url: str | None = PUBLISHED) -> Recorder:
    """Runs the set-up cell (made for url) with subprocess.run recorded, and actlab found or not."""
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real_find_spec(name, *a) if course_installed or name != "actlab" else None)
    exec(compile(colab.cell_source(url), "colab-setup-cell", "exec"), {})
    return recorder


def fake_versions(monkeypatch, versions: dict):
    """importlib.metadata.version answers from versions (a missing name: not installed), else the real one."""
    real_version = metadata.version

    def version(name):
        key = next((k for k in versions if k.replace("-", "_") == name.replace("-", "_")), None)
        if key is None:
            return real_version(name)
        if versions[key] is None:
            raise metadata.PackageNotFoundError(name)
        return versions[key]

    monkeypatch.setattr(metadata, "version", version)


def test_cell_does_nothing_outside_colab(monkeypatch):
    assert "google.colab" not in sys.modules
    recorder = run_cell(monkeypatch, course_installed=False)
    assert recorder.commands == [] and "google.colab" not in sys.modules


def test_cell_on_colab_installs_the_course_alone_and_enables_widgets(monkeypatch, fake_colab):
    recorder = run_cell(monkeypatch, course_installed=False)
    assert fake_colab == ["enable_custom_widget_manager"]
    install, *others = recorder.commands  # others: only what this environment lacks (nothing, in make's venv)
    assert install[:4] == [sys.executable, "-m", "pip", "install"] and "--no-deps" in install
    assert install[-1] == f"actlab @ git+{PUBLISHED}"
    assert not any(arg.startswith("torch") for command in recorder.commands for arg in command)


def test_unpublished_course_installs_nothing_and_says_how(monkeypatch, fake_colab, capsys):
    """While pyproject's Repository is the placeholder, a git install would fail: the cell says what to do."""
    recorder = run_cell(monkeypatch, course_installed=False, url=colab.PLACEHOLDER)
    assert recorder.commands == [] and "no public repository yet" in capsys.readouterr().out
    assert fake_colab == ["enable_custom_widget_manager"]


def test_cell_on_colab_upgrades_ipywidgets_alone_and_holds_the_kernel(monkeypatch, fake_colab):
    """With Colab's own versions: ipywidgets 7.7.1 is upgraded (the course needs 8), a missing package installed;
    ipykernel 6.17.1 (below the course's >=6.29), jupyter_client, torch and numpy are held by the constraint,
    and Colab's older-than-declared packages are left alone."""
    fake_versions(monkeypatch, {**COLAB, "tqdm": None, "pandas": "2.0.0", "jupyterlab": None})
    recorder = run_cell(monkeypatch, course_installed=False)
    _, extra = recorder.commands
    wanted = sorted(a.split(">")[0] for a in extra[extra.index("-c") + 2:])
    assert wanted == ["ipywidgets", "tqdm"], "ipywidgets 8 and the missing tqdm; never ipykernel or jupyterlab"
    held = Path(extra[extra.index("-c") + 1]).read_text().split()
    for name in ("torch", "numpy", "ipykernel", "jupyter_client", "ipython", "traitlets"):
        assert f"{name}=={COLAB[name]}" in held, name
    assert fake_colab == ["enable_custom_widget_manager"]


def test_cell_run_again_on_colab_installs_nothing(monkeypatch, fake_colab):
    assert run_cell(monkeypatch, course_installed=True).commands == []
    assert fake_colab == ["enable_custom_widget_manager"]


@pytest.mark.parametrize("torch_version, warned", [("2.11.0+cpu", True), ("2.13.0+cpu", False), ("2.14.1", False),
                                                   ("2.15.0", True)])
def test_cell_says_plainly_when_colabs_torch_is_outside_the_tested_range(monkeypatch, fake_colab, capsys,
                                                                        torch_version, warned):
    fake_versions(monkeypatch, {"torch": torch_version})
    run_cell(monkeypatch, course_installed=True)
    out = capsys.readouterr().out
    assert (f"Colab's PyTorch is {torch_version}, outside the releases the course is tested with" in out) == warned


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
    """Colab links when the repository is published; while it is the placeholder, the Colab instructions
    (docs/colab.md)."""
    text = (ROOT / "README.md").read_text()
    assert colab.readme_with_links(text) == text, "run make generate (tools/colab.py)"
    published = colab.readme_with_links(text, PUBLISHED)
    for path in NOTEBOOKS:
        assert f"[{path.stem}](notebooks/{path.name})" in text
        assert f"[Open in Colab]({colab.colab_link(path.name, PUBLISHED)})" in published
        assert colab.colab_link(path.name, PUBLISHED).startswith("https://colab.research.google.com/github/someone/")
    if not colab.published():  # each row links the Colab page, which says what to set when publishing
        assert text.count(colab.UNPUBLISHED_LINK) == len(NOTEBOOKS)
        target = ROOT / re.fullmatch(r"\[[^]]+\]\(([^)#]+)\)", colab.UNPUBLISHED_LINK).group(1)
        instructions = target.read_text()
        assert instructions.startswith("# Google Colab\n") and "\n## Set this when you publish\n" in instructions
        assert "[project.urls]" in instructions[instructions.index("\n## Set this when you publish\n"):]
    assert colab.readme_with_links(published) == text or colab.published(), "the two forms convert both ways"


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
    """The committed cell is exactly what tools/colab.py makes now (source and metadata): regenerate when not."""
    nb = json.loads(path.read_text())
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert colab.is_setup_cell(first_code) and "".join(first_code["source"]) == colab.cell_source()
    assert colab.with_setup_cell(nb, colab.cell_source()) == nb, "run make generate (tools/colab.py)"


def test_cell_is_collapsed_with_a_one_line_title():
    """Colab shows a form's title with the code hidden; JupyterLab hides the input (nbformat's source_hidden)."""
    nb = colab.with_setup_cell(json.loads(NOTEBOOKS[0].read_text()), colab.cell_source())
    cell = next(c for c in nb["cells"] if colab.is_setup_cell(c))
    assert cell["metadata"]["cellView"] == "form" and cell["metadata"]["jupyter"]["source_hidden"] is True
    assert cell["source"][0] == "# @title Colab only: installs the course; does nothing elsewhere\n"
