"""tools/playground_cells.py inserts the playground sections before "## Summary", idempotently; and the
playground helpers those sections call (summary, updates, the stats plots) measure what they say."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "playground_cells.py"
sys.path.insert(0, str(TOOL.parent))
import playground_cells  # noqa: E402

from actlab.playground import Playground, summary  # noqa: E402


def run_tool(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, paths)], capture_output=True, text=True, timeout=60)


def cell(kind: str, text: str, cell_id: str) -> dict:
    out = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": text.splitlines(keepends=True)}
    return {**out, "execution_count": None, "outputs": []} if kind == "code" else out


def notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def write(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_section_goes_just_before_summary_tagged_with_stable_ids(tmp_path):
    cells = [cell("markdown", "# 04 · ReLU", "c00"), cell("code", "import actlab", "c01"),
             cell("markdown", "## Summary\n\n- ReLU", "c02"), cell("markdown", "## Further reading", "c03")]
    path = write(tmp_path / "04_relu.ipynb", notebook(cells))
    result = run_tool(path)
    assert result.returncode == 0, result.stderr
    out = json.loads(path.read_text())["cells"]
    expected = len(playground_cells.SECTIONS["04"])
    assert [c["id"] for c in out[:2]] == ["c00", "c01"]
    inserted = out[2:2 + expected]
    assert [c["id"] for c in inserted] == [f"pg-04-{k}" for k in range(1, expected + 1)]
    assert all(c["metadata"]["tags"] == ["playground"] for c in inserted)
    assert "".join(out[2 + expected]["source"]).startswith("## Summary") and out[-1]["id"] == "c03"
    kinds = [c["cell_type"] for c in inserted]
    assert kinds[0] == "markdown" and kinds[1] == "code"
    code = ["".join(c["source"]) for c in inserted if c["cell_type"] == "code"]
    assert "pg.plot(" in code[0] and code[-1].startswith("pg  #")  # static figure first, the live widget last
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in inserted if c["cell_type"] == "code")


def test_rerun_replaces_the_section_and_changes_nothing(tmp_path):
    cells = [cell("markdown", "# 00", "c00"), cell("markdown", "## Summary", "c01")]
    path = write(tmp_path / "00_why.ipynb", notebook(cells))
    assert run_tool(path).returncode == 0
    once = path.read_text()
    nb = json.loads(once)
    nb["cells"][1]["source"] = ["stale text of an older section"]  # an edited tagged cell is replaced
    write(path, nb)
    assert run_tool(path).returncode == 0
    assert path.read_text() == once
    assert sum("playground" in c["metadata"].get("tags", []) for c in json.loads(once)["cells"]) == len(
        playground_cells.SECTIONS["00"])


def test_no_summary_is_a_clear_error_and_nothing_is_written(tmp_path):
    good = write(tmp_path / "02_vanishing.ipynb", notebook([cell("markdown", "## Summary", "c0")]))
    bad = write(tmp_path / "05_dying.ipynb",
                notebook([cell("markdown", "# 05", "c0"), cell("markdown", "## Sum", "c1")]))
    before = good.read_text(), bad.read_text()
    result = run_tool(good, bad)
    assert result.returncode == 1
    assert "05_dying.ipynb" in result.stderr and "## Summary" in result.stderr
    assert (good.read_text(), bad.read_text()) == before  # all notebooks are checked before any is written


def test_summary_in_a_code_cell_does_not_count_and_unknown_number_is_refused(tmp_path):
    nb = notebook([cell("code", "## Summary", "c0")])
    with pytest.raises(ValueError, match="Summary"):
        playground_cells.insert_section(nb, "03", "03_tanh.ipynb")
    result = run_tool(write(tmp_path / "11_custom.ipynb", nb))
    assert result.returncode == 1 and "no playground section" in result.stderr


def test_runs_on_a_copy_of_a_course_notebook(tmp_path):
    source = ROOT / "notebooks" / "02_vanishing_gradients.ipynb"
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    if not any("".join(c["source"]).startswith("## Summary") for c in json.loads(copy.read_text())["cells"]):
        pytest.skip("this version of the notebook has no Summary cell")
    assert run_tool(copy).returncode == 0
    def untagged(cells):
        return [c for c in cells if "playground" not in c["metadata"].get("tags", [])]

    before, after = json.loads(source.read_text())["cells"], json.loads(copy.read_text())["cells"]
    assert untagged(after) == untagged(before)  # nothing else moved (the source may already have a section)
    assert sum(c["id"].startswith("pg-02-") for c in after) == len(playground_cells.SECTIONS["02"])


@pytest.mark.parametrize("number", list(playground_cells.SECTIONS))
def test_every_notebook_holds_the_section_its_generator_writes_now(number):
    """The committed notebook's playground cells are exactly what tools/playground_cells.py writes (make generate)."""
    (path,) = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert playground_cells.insert_section(nb, number, path.name) == nb, "run make generate (tools/playground_cells.py)"


def test_every_section_starts_with_markdown_and_its_code_compiles():
    for number, section in playground_cells.SECTIONS.items():
        assert section[0][0] == "markdown" and section[0][1].startswith("## "), number
        for kind, text in section:
            if kind == "code":
                compile(text, f"section {number}", "exec")


# ----------------------------------------------------------------------------- the helpers the cells call


def test_summary_reports_the_runs_own_numbers():
    config = {"dataset": "circles", "depth": 3, "width": 8, "activation": "tanh", "seed": 2}
    numbers = summary(40, **config)
    pg = Playground(**config).run(40)
    layers = pg.layer_stats
    assert numbers["test_acc"] == pg.history["test_acc"].iloc[-1]
    assert numbers["dead_end"] == layers[layers["step"] == 40]["dead_fraction"].mean()
    assert numbers["near_dead_start"] == layers[layers["step"] == 0]["near_dead_fraction"].mean()
    assert numbers["near_dead_end"] == layers[layers["step"] == 40]["near_dead_fraction"].mean()
    moved = layers[layers["step"] > 0]
    assert numbers["ratio_first"] == pytest.approx(moved[moved["layer"] == 1]["update_ratio"].mean())
    assert numbers["ratio_last"] == pytest.approx(moved[moved["layer"] == 3]["update_ratio"].mean())


def test_summary_floors_a_layer_that_never_moved_at_float32_resolution():
    numbers = summary(20, dataset="spirals", depth=15, width=32, activation="sigmoid", optimizer="sgd", lr=0.1)
    assert numbers["ratio_first"] == pytest.approx(math.log10(2.0 ** -24))  # 15 sigmoid layers: layer 1 is frozen
    assert numbers["ratio_last"] > -5


def test_updates_frame_and_stats_plots_of_a_playground():
    pg = Playground(depth=3, width=8, seed=1)
    with pytest.raises(ValueError, match="no update ratios"):
        pg.plot_update_ratios()
    pg.run(20, record_every=5)
    frame = pg.updates()
    assert list(frame.columns) == ["step", "parameter", "log10_ratio"]
    assert sorted(set(frame["step"])) == [5, 10, 15, 20]
    assert list(dict.fromkeys(frame["parameter"])) == ["linears.0.weight", "linears.1.weight", "linears.2.weight"]
    layer2 = pg.layer_stats[(pg.layer_stats["layer"] == 2) & (pg.layer_stats["step"] > 0)]["update_ratio"]
    assert np.array_equal(frame[frame["parameter"] == "linears.1.weight"]["log10_ratio"].to_numpy(), layer2.to_numpy())
    assert len(pg.plot_update_ratios().axes[0].lines) == 3 + 1  # one line per layer and the 1e-3 guide
    assert len(pg.plot_activation_histograms().axes[0].lines) == 3
    assert len(pg.plot_gradient_histograms().axes) == 4  # three hidden weight matrices and the output layer
    assert pg.plot(title="a title").get_suptitle() == "a title"


def test_sections_use_the_librarys_definitions_of_dead_and_near_dead():
    import re

    texts = {number: "\n".join(text for _, text in section) for number, section in playground_cells.SECTIONS.items()}
    for number, text in texts.items():  # no section writes its own threshold for the vocabulary's words
        assert not re.search(r"(dead|saturated)[^.]*below 0\.01", text), number
    for number in ("06", "07", "08"):  # the sections that compare dead units cite the definitions and show both
        assert "actlab.vocabulary.DEAD" in texts[number] and "actlab.vocabulary.NEAR_DEAD" in texts[number]
        assert "near_dead_end" in texts[number]
