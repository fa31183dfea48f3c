"""The README is a map (the two commands, the course table, the library, where to add), the longer text lives in
docs/*.md, every relative link in them resolves (file and heading), and the website includes every docs page."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_LINES = 150  # issue #21: a map of at most about 150 lines
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where a bracket is not a link."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's (and MyST's) anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings."""
    return {slug(m) for m in re.findall(r"^#{1,6} +(.+?) *$", prose(path.read_text()), flags=re.M)}


def broken_links(path: Path) -> list[str]:
    """Every relative link in the Markdown file whose file, or heading in a Markdown file, does not exist."""
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not a file
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(f"{path.name}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{path.name}: {target} (no such heading)")
    return broken


def section(text: str, heading: str) -> str:
    """The text under a '## ' heading, up to the next one."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_is_a_map_in_at_most_about_150_lines():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    for expected in ("The two commands", "The course", "The library in a screen", "Where to add",
                     "Which activation when"):
        assert expected in headings, expected
    assert headings.index("The two commands") < headings.index("The course") < headings.index("Where to add")


def test_the_two_commands_come_first_with_the_developers_loop_beside_them():
    commands = section(README.read_text(), "The two commands")
    assert "make lab" in commands and "make test " in commands
    assert "make test-fast" in commands and "make generate" in commands


def test_where_to_add_names_the_file_for_each_kind_of_addition():
    where = section(README.read_text(), "Where to add")
    parts = dict(re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", where, flags=re.M | re.S))
    needed = {
        "An activation": ["lib/actlab/activations/<family>.py", "ENTRIES", "tests/test_registry.py"],
        "A diagnostic in the playground": ["lib/actlab/playground/panels.py", "PANELS", "tests/"],
        "A paper reproduction": ["lib/actlab/experiments/reproductions/<paper>.py", "notebooks/12_reproductions.ipynb",
                                 "tests/test_experiments_reproductions.py"],
        "A notebook": ["notebooks/NN_topic.ipynb", "make generate", "tools/colab.py", "tools/playground_cells.py",
                       "tools/build_site.py", "tests/test_site.py"],
    }
    assert set(needed) <= set(parts), sorted(parts)
    for part, names in needed.items():
        for name in names:
            assert name in parts[part], f"'Where to add: {part}' does not name {name}"


def test_the_first_table_is_the_course_table_linking_every_notebook_in_order():
    """The website's front page is the README, and tests/test_site.py reads its first table as the course table."""
    first_table = re.search(r"(?:^\|.*\n)+", README.read_text(), flags=re.M).group(0)
    linked = re.findall(r"\]\(notebooks/([\w]+)\.ipynb\)", first_table)
    assert linked == [p.stem for p in NOTEBOOKS]


def test_the_readme_links_every_docs_page():
    text = README.read_text()
    for page in DOCS:
        assert f"](docs/{page.name})" in text, f"the README does not link docs/{page.name}"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves_to_a_file_and_heading(path):
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Top\n\n## The course\n\nSee [a](docs/a.md) and [b](#the-course).\n")
    page = tmp_path / "docs" / "a.md"
    page.write_text("# A\n\n[up](../README.md#the-course), [gone](../README.md#no-course), [none](nowhere.md),\n"
                    "`[code](not/a/link.md)`, [web](https://example.org/x.md)\n")
    assert broken_links(tmp_path / "README.md") == []
    assert broken_links(page) == ["a.md: ../README.md#no-course (no such heading)", "a.md: nowhere.md (no such file)"]


def test_the_site_lists_every_notebook_then_every_docs_page():
    readme = README.read_text()
    index = build_site.front_page(readme, NOTEBOOKS)
    tocs = re.findall(r"```\{toctree\}\n(.*?)```", index, flags=re.S)
    entries = [[line for line in toc.splitlines() if line and not line.startswith(":")] for toc in tocs]
    assert entries[0] == [f"notebooks/{p.stem}" for p in NOTEBOOKS]
    assert sorted(entries[1]) == sorted([f"docs/{p.stem}" for p in DOCS] + ["data/README"])
    linked = list(dict.fromkeys(re.findall(r"\]\(docs/([\w-]+)\.md", readme)))
    assert entries[1][:len(linked)] == [f"docs/{stem}" for stem in linked], "in the README's order"


def test_docs_links_to_the_readme_point_at_the_sites_front_page(tmp_path):
    """On the site the README is index.md: a docs page's link to ../README.md#x must become ../index.md#x."""
    for page in DOCS:
        text = build_site.for_site(page.read_text())
        assert "../README.md" not in text
        (tmp_path / "docs").mkdir(exist_ok=True)
        (tmp_path / "docs" / page.name).write_text(text)
    (tmp_path / "index.md").write_text(README.read_text())
    for folder in ("notebooks", "data"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    for page in [tmp_path / "index.md", *sorted((tmp_path / "docs").glob("*.md"))]:
        assert broken_links(page) == [], page.name
