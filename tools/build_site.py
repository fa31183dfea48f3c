"""Build the course website (`make site`): README as the front page, the course table as navigation, a page per
notebook with its outputs, the pages of docs/ under "More", math typeset by a local MathJax. Works offline.

Usage: python tools/build_site.py [--out build/site] [--cached-only] [NOTEBOOK ...]
Each notebook's outputs come from build/executed/ when saved there under the notebook's current key (the tests'
default run saves them; tools/executed.py says what the key covers); otherwise the notebook is executed here, in a
fresh data folder as in the tests, and saved. --cached-only fails instead of executing (make test uses it: the
course is executed once).
"""
from __future__ import annotations

import argparse
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
    """The Sphinx source folder: index.md, notebooks with outputs, docs/ pages, and the local MathJax."""
    import jupyter_server_mathjax

    if SOURCE.exists():
        shutil.rmtree(SOURCE)
    (SOURCE / "notebooks").mkdir(parents=True)
    for notebook in notebooks:
        nb = with_outputs(notebook, cached_only)
        (SOURCE / "notebooks" / notebook.name).write_text(json.dumps(nb, ensure_ascii=False))
    (SOURCE / "index.md").write_text(front_page((ROOT / "README.md").read_text(), notebooks))
    (SOURCE / "docs").mkdir()
    for page in DOCS.glob("*.md"):
        (SOURCE / "docs" / page.name).write_text(for_site(page.read_text()))
    (SOURCE / "data").mkdir()
    shutil.copy(ROOT / "data" / "README.md", SOURCE / "data" / "README.md")  # linked from the README
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, SOURCE / "_extra_static" / "mathjax")
    favicon(SOURCE / "_extra_static" / "favicon.png")
    return SOURCE


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
