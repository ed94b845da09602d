"""The README and docs/ pages: relative links resolve, and the README stays a short read.

A link is ``[text](target)``; a relative target must name a file of the repository and, with a
``#fragment``, a heading of that file (GitHub's anchor rule: lower case, punctuation dropped,
spaces to hyphens). Links to web pages are not followed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> list[str]:
    """The lines of ``text`` outside fenced code blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading's text."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {
        anchor(line.lstrip("#"))
        for line in _prose(page.read_text(encoding="utf-8"))
        if line.startswith("#")
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    broken = []
    for line in _prose(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.is_file() or ROOT not in dest.parents:
                broken.append(f"{target}: no such file in the repository")
            elif fragment and fragment not in anchors(dest):
                broken.append(f"{target}: no heading #{fragment} in {dest.name}")
    assert not broken, broken


def test_readme_is_a_two_minute_read():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200


@pytest.mark.parametrize("page", PAGES[:1] + PAGES[2:], ids=lambda p: str(p.relative_to(ROOT)))
def test_user_pages_name_no_issue_and_no_path_outside_the_repository(page: Path):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"(?i)\bissue\s*#?\d+|(?<![\w&])#\d+\b", text)
    assert "../shared" not in text and "/work/" not in text
