"""Saved notebook outputs (tools/executed.py) are served only for the same code, library, data and settings."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec_ = importlib.util.spec_from_file_location("executed", ROOT / "tools" / "executed.py")
executed = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(executed)


def notebook(code="x = 1", prose="# Title") -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [prose]},
                      {"cell_type": "code", "metadata": {}, "source": [code], "outputs": [], "execution_count": None}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def root(tmp_path):
    """A copy of the library and pyproject.toml, to change freely."""
    shutil.copytree(ROOT / "lib" / "actlab", tmp_path / "lib" / "actlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "data").mkdir()
    return tmp_path


def test_key_follows_code_library_data_and_settings_but_not_prose(root, monkeypatch):
    data = root / "data"
    base = executed.key(notebook(), data, root)
    assert executed.key(notebook(prose="# Another title"), data, root) == base
    assert executed.key(notebook(code="x = 2"), data, root) != base
    plot = root / "lib" / "actlab" / "plot.py"
    plot.write_text(plot.read_text() + "\n# a change\n")
    changed_library = executed.key(notebook(), data, root)
    assert changed_library != base
    (data / "cifar-10-batches-py").mkdir()
    (data / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"real data")
    with_cifar = executed.key(notebook(), data, root)
    assert with_cifar != changed_library
    (data / "cache").mkdir()
    (data / "cache" / "train-1.npz").write_bytes(b"a cached result")  # rebuilt from code: not in the key
    assert executed.key(notebook(), data, root) == with_cifar
    monkeypatch.setenv("ACTLAB_FULL", "1")
    assert executed.key(notebook(), data, root) != with_cifar


def test_merged_takes_outputs_into_the_current_prose_and_refuses_other_code():
    done = notebook()
    done["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    now = notebook(prose="# Edited title")
    merged = executed.merged(now, done)
    assert merged["cells"][0]["source"] == ["# Edited title"]
    assert merged["cells"][1]["outputs"] == done["cells"][1]["outputs"]
    with pytest.raises(ValueError, match="other code"):
        executed.merged(notebook(code="x = 2"), done)


def test_save_keeps_one_entry_per_notebook(tmp_path):
    path = Path("00_demo.ipynb")
    executed.save(path, notebook(), "aaaa", cache=tmp_path)
    target = executed.save(path, notebook(), "bbbb", cache=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [target.name] == ["00_demo.bbbb.ipynb"]
    assert json.loads(target.read_text())["cells"][1]["source"] == ["x = 1"]
