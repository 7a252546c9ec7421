"""The README is a short door into docs/: its size, its first commands, and links that resolve."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMANDS = ('pip install -e ".[test,data,scale,experiments]" && kcover demo', "python -m pytest -q")

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(page: Path) -> list[str]:
    """Every markdown link or image target of ``page``, outside fenced code blocks."""
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


def test_link_pattern_finds_links_and_images_but_not_code():
    text = 'a [x](docs/a.md) b ![y](img/b.png "t") c\n```\n[z](not/me.md)\n```\n'
    assert LINK.findall(FENCE.sub("", text)) == ["docs/a.md", "img/b.png"]


def test_readme_is_at_most_12_kib():
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes; move detail to docs/"


def test_readme_starts_with_the_two_commands():
    text = README.read_text(encoding="utf-8")
    first_block = FENCE.search(text)
    assert first_block is not None
    heading = re.search(r"^## ", text, re.M)
    assert heading is None or first_block.start() < heading.start(), "the commands come before any section"
    lines = [line.strip() for line in first_block.group(0).splitlines()[1:-1] if line.strip()]
    assert len(lines) >= 2
    for line, command in zip(lines, COMMANDS):
        assert line.startswith(command), f"{line!r} should start with {command!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(page):
    assert page.exists()
    for target in links(page):
        assert "../shared" not in target, f"{page.name}: {target} leaves the repository"
        assert not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target), f"{page.name}: {target} leaves the repository"
        path = target.split("#", 1)[0]
        if not path:  # an anchor on the same page
            continue
        resolved = (page.parent / path).resolve()
        assert resolved.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"
        assert ROOT in resolved.parents or resolved == ROOT, f"{page.name}: {target} leaves the repository"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_at_the_shared_folder(page):
    assert "../shared" not in page.read_text(encoding="utf-8")


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in links(README) if not t.startswith("#")}
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "benchmarks" / "README.md"]:
        assert page.resolve() in linked, f"README.md does not link {page.relative_to(ROOT)}"
