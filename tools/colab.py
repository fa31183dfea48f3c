"""Colab support from one source: the set-up cell (tools/colab_cell.py) as every notebook's first code cell, and
the README course table's "Open in Colab" links, both made from the repository URL in pyproject.toml.

Usage: python tools/colab.py [--check]   (writes the notebooks and README.md; --check only reports differences)
Idempotent: the cell is found again by its tag and keeps its id; the notebooks' other cells are not touched.
The cell is collapsed: Colab's form view (cellView "form", titled by its "# @title" line) and JupyterLab's hidden
input (metadata jupyter.source_hidden, nbformat's). While the repository URL is PLACEHOLDER (the course not yet
published), the README's Colab column links to the Colab instructions (docs/colab.md) and the cell says how to install
by hand.
"""
from __future__ import annotations

import json
import re
import string
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli backport (the test extra installs it)
    import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"
CELL_ID = "colab-setup"
COLAB = "https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/{notebook}"
BRANCH = "main"
# pyproject.toml's [project.urls] Repository until the course is published: set the real URL there, then run this.
PLACEHOLDER = "https://github.com/actlab-course/actlab"
UNPUBLISHED_LINK = "[see Google Colab](docs/colab.md)"  # the instructions, until published


def repository() -> str:
    """The course's repository URL (pyproject.toml, [project.urls] Repository)."""
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return url


def published(url: str | None = None) -> bool:
    """Whether the repository URL is a real one, not PLACEHOLDER."""
    return (url or repository()) != PLACEHOLDER


def cell_source(url: str | None = None) -> str:
    """The set-up cell's code, with the repository filled in."""
    url = url or repository()
    template = string.Template((ROOT / "tools" / "colab_cell.py").read_text())
    return template.substitute(repository=url, published=published(url)).rstrip("\n")


def colab_link(notebook: str, url: str | None = None) -> str:
    """The URL that opens a notebook of the repository in Colab."""
    owner_repo = (url or repository()).removeprefix("https://github.com/")
    return COLAB.format(owner_repo=owner_repo, branch=BRANCH, notebook=notebook)


def is_setup_cell(cell: dict) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def with_setup_cell(nb: dict, source: str) -> dict:
    """The notebook with the set-up cell as its first code cell (moved or updated, its id kept)."""
    cells = nb["cells"]
    old = next((c for c in cells if is_setup_cell(c)), None)
    metadata = (old or {}).get("metadata", {})
    collapsed = {"cellView": "form", "jupyter": {**metadata.get("jupyter", {}), "source_hidden": True}}
    cell = {"cell_type": "code", "execution_count": None, "id": old.get("id", CELL_ID) if old else CELL_ID,
            "metadata": {**metadata, **collapsed, "tags": [TAG]}, "outputs": [],
            "source": source.splitlines(keepends=True)}
    rest = [c for c in cells if not is_setup_cell(c)]
    first_code = next((i for i, c in enumerate(rest) if c["cell_type"] == "code"), len(rest))
    return {**nb, "cells": rest[:first_code] + [cell] + rest[first_code:]}


def readme_with_links(text: str, url: str | None = None) -> str:
    """README.md with each course-table row's notebook linked and its "Open in Colab" link (re)written; while the
    repository is PLACEHOLDER, a link to the Colab instructions (docs/colab.md) instead."""
    def row(match: re.Match) -> str:
        name, topic = match.group("name"), match.group("topic").strip()
        notebook = f"{name}.ipynb"
        colab = f"[Open in Colab]({colab_link(notebook, url)})" if published(url) else UNPUBLISHED_LINK
        return f"| [{name}](notebooks/{notebook}) | {topic} | {colab} |"

    header = r"^\| notebook \| topic \|( Colab \|)?\n\|---\|---\|(---\|)?$"
    text = re.sub(header, "| notebook | topic | Colab |\n|---|---|---|", text, flags=re.M)
    pattern = (r"^\| (?:\[)?(?P<name>\d\d_[a-z0-9_]+)(?:\]\([^)]*\))? \|(?P<topic>[^|\n]*)\|"
               r"(?: \[(?:Open in Colab|see Google Colab)\]\([^)]*\) \|)?$")
    return re.sub(pattern, row, text, flags=re.M)


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    source, stale = cell_source(), []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        new = with_setup_cell(nb, source)
        if new != nb:
            stale.append(path.name)
            if not check:
                path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    if readme_with_links(text) != text:
        stale.append("README.md")
        if not check:
            readme.write_text(readme_with_links(text))
    print(("out of date: " if check else "updated: ") + (", ".join(stale) or "nothing"))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
