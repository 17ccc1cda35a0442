"""The README is a manual in two languages: each links the other, every relative link in them
and in the pages they link resolves, no path of a developer's machine appears, and the
settings page is what the code says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.settings_table import SETTINGS_PAGE, page

ROOT = Path(__file__).resolve().parent.parent
MANUALS = [ROOT / "README.md", ROOT / "README.zh-CN.md"]
PAGES = MANUALS + sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Paths that exist only on the machine that wrote them.
MACHINE_PATH = re.compile(r"(?<![\w.~$-])/(?:home|root|work|Users|tmp)/|site-packages|[A-Z]:\\\\")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text("utf-8"), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in LINK.findall(path.read_text("utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == []


def linked_pages() -> list[Path]:
    """The manuals and the pages of this repository they link."""
    pages = set(MANUALS)
    for manual in MANUALS:
        for target in LINK.findall(manual.read_text("utf-8")):
            linked = (manual.parent / target.partition("#")[0]).resolve()
            if linked.suffix == ".md" and linked.exists():
                pages.add(linked)
    return sorted(pages)


@pytest.mark.parametrize("path", linked_pages(), ids=lambda p: p.name)
def test_no_path_of_a_developers_machine(path: Path) -> None:
    found = [m.group(0) for m in MACHINE_PATH.finditer(path.read_text("utf-8"))]
    assert found == []


def test_each_manual_links_the_other_at_the_top() -> None:
    english, chinese = (p.read_text("utf-8").splitlines()[:5] for p in MANUALS)
    assert any("(README.zh-CN.md)" in line for line in english)
    assert any("(README.md)" in line for line in chinese)


@pytest.mark.parametrize("path", MANUALS, ids=lambda p: p.name)
def test_manual_is_short_and_starts_with_the_two_commands(path: Path) -> None:
    text = path.read_text("utf-8")
    assert len(text.splitlines()) <= 320
    first_block = text.split("```")[1]
    assert "pip install torch==2.13.0 -e . && .venv/bin/docrag serve" in first_block
    assert "bash tests/run.sh" in first_block


def test_both_manuals_have_the_same_sections() -> None:
    def shape(path: Path) -> list[str]:
        text = re.sub(r"```.*?```", "", path.read_text("utf-8"), flags=re.S)
        return re.findall(r"^(#+) ", text, flags=re.M)

    assert shape(MANUALS[0]) == shape(MANUALS[1])


def test_settings_page_is_generated_from_the_code() -> None:
    assert SETTINGS_PAGE.read_text("utf-8") == page(), "run python tests/settings_table.py"
