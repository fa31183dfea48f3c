"""Build the course website (`make site`): README as the front page, the course table as navigation, a page per
notebook with its outputs, the pages of docs/ under "More", math typeset by a local MathJax. Works offline.

Usage: python tools/build_site.py [--out build/site] [--cached-only] [NOTEBOOK ...]
Every explorer (`actlab.explore("name", x_range=...)`) is live on its page without a kernel: its output gains the
curves actlab.explore.embedded_state computed with the registry and the same front end (explorer.js, uPlot) under
_static/actlab/, drawn by a static host (lib/actlab/static/site_host.js); the static PNG stays until it draws. The
explorer data's bytes are printed per page and in all, and a page over its budget fails the build.
Each notebook's outputs come from build/executed/ when saved there under the notebook's current key (the tests'
default run saves them; tools/executed.py says what the key covers); otherwise the notebook is executed here, in a
fresh data folder as in the tests, and saved. --cached-only fails instead of executing (make test uses it: the
course is executed once); only an explorer of an activation its notebook registers itself (11's squareplus) still
runs that notebook's code cells before it, in a fresh kernel, for its curves (explorer_state).
"""
from __future__ import annotations

import argparse
import ast
import base64
import html
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import executed  # noqa: E402
from actlab.checks import env_flag  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "build" / "site-source"
DOCS = ROOT / "docs"
CELL_TIMEOUT_S = 900
# What the site's explorers load, from the library's static folder (the same files the notebooks' widget uses).
FRONT_END = ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "explorer.js", "explorer.css", "site_host.js",
             "site_host.css")


def execute(notebook: Path, nb: dict, data_folder: Path) -> dict:
    """Run the notebook top to bottom in a fresh kernel (working directory notebooks/, data in data_folder)."""
    import nbformat
    from nbclient import NotebookClient

    node = nbformat.reads(json.dumps(nb), as_version=4)
    old = os.environ.get("ACTLAB_DATA")
    os.environ["ACTLAB_DATA"] = str(data_folder)
    try:
        NotebookClient(node, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop("ACTLAB_DATA")
        else:
            os.environ["ACTLAB_DATA"] = old
    return json.loads(nbformat.writes(node))


def with_outputs(notebook: Path, cached_only: bool) -> dict:
    """The notebook with its outputs: saved ones under the current key, else from a run now."""
    nb = json.loads(notebook.read_text())
    cold = env_flag("ACTLAB_NOTEBOOK_COLD", True)  # the same reading as conftest.py
    with tempfile.TemporaryDirectory(prefix=f"actlab-site-{notebook.stem[:2]}-") as tmp:
        data = Path(tmp) if cold else Path(os.environ.get("ACTLAB_DATA", ROOT / "data"))
        key = executed.key(nb, data)
        saved = executed.CACHE / f"{notebook.stem}.{key}.ipynb"
        if saved.exists():
            return executed.merged(nb, json.loads(saved.read_text()))
        if cached_only:
            raise SystemExit(f"{notebook.name}: no saved outputs for its current code, library and data (key {key}): "
                             "its test run failed or did not run; `make site` executes it")
        start = time.perf_counter()
        print(f"executing {notebook.name} ...", flush=True)
        done = execute(notebook, nb, data)
        print(f"executed {notebook.name} in {time.perf_counter() - start:.0f} s", flush=True)
        executed.save(notebook, done, key)
        return executed.merged(nb, done)


def explorer_call(source: str) -> tuple[str, tuple[float, float]] | None:
    """(name, x_range) of the cell's `actlab.explore(name, x_range=...)` call (literals only), or None without one.
    SystemExit for a call whose arguments are not literals."""
    if "actlab.explore(" not in source:
        return None
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "explore" and isinstance(n.func.value, ast.Name) and n.func.value.id == "actlab"]
    if len(calls) != 1:
        raise SystemExit(f"a cell must hold one actlab.explore(...) call to be live on the site: {source!r}")
    try:
        args = [ast.literal_eval(a) for a in calls[0].args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in calls[0].keywords}
    except ValueError:
        raise SystemExit(f"the site needs literal arguments to actlab.explore: {source!r}") from None
    bound = dict(zip(("name", "x_range"), args)) | kwargs
    return bound.get("name") or "relu", tuple(bound.get("x_range", (-6, 6)))


def explorer_state(notebook: Path, nb: dict, cell: int, name: str, x_range) -> str:
    """The embedded state (actlab.explore.embedded_json) of the explorer in code cell number cell: computed here
    for a registry activation; for one the notebook registers itself (11's squareplus), by the notebook's own code
    cells before the explorer's, run in a fresh kernel (data in a fresh folder), which then computes it."""
    from actlab import lookup

    explore = importlib.import_module("actlab.explore")  # the module (actlab.explore is the function)

    try:
        lookup(name)  # any spelling the registry accepts ('Hardtanh', 'hard tanh')
    except ValueError:
        pass  # not in the registry: registered by the notebook itself
    else:
        return explore.embedded_json(explore.embedded_state(name, x_range))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    with tempfile.TemporaryDirectory(prefix="actlab-site-state-") as tmp:
        target = Path(tmp) / "state.json"
        last = (f"import importlib\n_explore = importlib.import_module('actlab.explore')\n"
                f"open({str(target)!r}, 'w').write(_explore.embedded_json(_explore.embedded_state({name!r}, "
                f"{x_range!r})))")
        cells = [{**c, "outputs": [], "execution_count": None} for c in code[:cell]]
        cells.append({"cell_type": "code", "id": "actlab-site-state", "metadata": {}, "outputs": [],
                      "execution_count": None, "source": last})
        print(f"{notebook.name}: running its code up to its explorer of {name} (registered there) ...", flush=True)
        execute(notebook, {**nb, "cells": cells}, Path(tmp))
        return target.read_text()


def explorer_html(state: str, png: str, name: str) -> str:
    """The explorer's output on the site: the static picture (until the live view draws) and the embedded state."""
    return (f'<div class="actlab-site-explorer" data-name="{html.escape(name)}">'
            f'<img class="actlab-static" src="data:image/png;base64,{png}" '
            f'alt="the explorer of {html.escape(name)}: a static picture of its first state">'
            f'<script type="application/json" class="actlab-explorer-state">{state}</script></div>')


def embed_explorers(notebook: Path, nb: dict) -> int:
    """Make every explorer in nb live on the site (explorer_html as its output's text/html, which the site shows
    before the PNG); returns the bytes of explorer data embedded. SystemExit over the page's budget."""
    from actlab.explore import SITE_BYTES

    total = 0
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for index, cell in enumerate(code):
        call = explorer_call("".join(cell["source"]))
        if call is None:
            continue
        shown = [o for o in cell["outputs"] if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        if len(shown) != 1 or "image/png" not in shown[0]["data"]:
            raise SystemExit(f"{notebook.name}: the explorer's output (a widget with its PNG) is missing")
        state = explorer_state(notebook, nb, index, *call)
        png = "".join(shown[0]["data"]["image/png"]).replace("\n", "")
        base64.b64decode(png, validate=True)
        shown[0]["data"]["text/html"] = explorer_html(state, png, call[0])
        total += len(state.encode())
    if total > SITE_BYTES:
        raise SystemExit(f"{notebook.name}: {total} bytes of explorer data, over the budget of {SITE_BYTES} per page")
    return total


def docs_pages(readme: str) -> list[str]:
    """The stems of docs/*.md: in the order the README links them, then any others alphabetically."""
    stems = sorted(p.stem for p in DOCS.glob("*.md"))
    linked = [m for m in dict.fromkeys(re.findall(r"\]\(docs/([\w-]+)\.md[)#]", readme)) if m in stems]
    return linked + [s for s in stems if s not in linked]


def for_site(page: str) -> str:
    """A docs/ page with its links to the README pointed at the site's front page (index.md, the README there)."""
    return page.replace("](../README.md", "](../index.md")


def front_page(readme: str, notebooks: list[Path]) -> str:
    """README.md with hidden tables of contents: the course table's order becomes the navigation, then docs/."""
    toc = "\n".join(f"notebooks/{p.stem}" for p in notebooks)
    more = "\n".join([f"docs/{stem}" for stem in docs_pages(readme)] + ["data/README"])
    return (f"{readme.rstrip()}\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: The course\n\n{toc}\n```\n\n"
            f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: More\n\n{more}\n```\n")


def write_source(notebooks: list[Path], cached_only: bool) -> Path:
    """The Sphinx source folder: index.md, notebooks with outputs (explorers live), docs/ pages, the local MathJax
    and the explorers' front end."""
    import jupyter_server_mathjax
    from actlab.explore import SITE_BYTES, SITE_TOTAL_BYTES, STATIC

    if SOURCE.exists():
        shutil.rmtree(SOURCE)
    (SOURCE / "notebooks").mkdir(parents=True)
    sizes = {}
    for notebook in notebooks:
        nb = with_outputs(notebook, cached_only)
        sizes[notebook.stem] = embed_explorers(notebook, nb)
        (SOURCE / "notebooks" / notebook.name).write_text(json.dumps(nb, ensure_ascii=False))
    report_sizes(sizes, SITE_BYTES, SITE_TOTAL_BYTES)
    (SOURCE / "index.md").write_text(front_page((ROOT / "README.md").read_text(), notebooks))
    (SOURCE / "docs").mkdir()
    for page in DOCS.glob("*.md"):
        (SOURCE / "docs" / page.name).write_text(for_site(page.read_text()))
    (SOURCE / "data").mkdir()
    shutil.copy(ROOT / "data" / "README.md", SOURCE / "data" / "README.md")  # linked from the README
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, SOURCE / "_extra_static" / "mathjax")
    favicon(SOURCE / "_extra_static" / "favicon.png")
    (SOURCE / "_extra_static" / "actlab").mkdir()
    for name in FRONT_END:
        shutil.copy(STATIC / name, SOURCE / "_extra_static" / "actlab" / name)
    return SOURCE


def report_sizes(sizes: dict[str, int], per_page: int, in_all: int) -> None:
    """Print the explorer data's bytes per page with an explorer and in all; SystemExit over the site's budget."""
    for stem, size in sizes.items():
        if size:
            print(f"explorer data: {stem:28s} {size:>10,d} bytes (budget {per_page:,d})")
    total = sum(sizes.values())
    print(f"explorer data: {'in all':28s} {total:>10,d} bytes (budget {in_all:,d})")
    if total > in_all:
        raise SystemExit(f"{total} bytes of explorer data in all, over the site's budget of {in_all}")


def favicon(path: Path) -> None:
    """A 32x32 icon (a ReLU's kink), so that browsers do not ask for a missing /favicon.ico."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(2, 24), (16, 24), (30, 6)], fill=(0, 114, 178, 255), width=4)
    image.save(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"))
    parser.add_argument("--cached-only", action="store_true")
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every notebook)")
    args = parser.parse_args(argv)
    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    start = time.perf_counter()
    source = write_source(notebooks, args.cached_only)
    env = {**os.environ, "ACTLAB_SITE_SOURCE": str(source)}
    out = Path(args.out)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(ROOT / "docs"), str(source),
                    str(out)], check=True, env=env)
    print(f"site: {out / 'index.html'} ({len(notebooks)} notebooks) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
