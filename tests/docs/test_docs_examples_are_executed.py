"""Every complete example on the docs site lives in a file that a test runs, and every include resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
INCLUDE = re.compile(r'--8<--\s+"([^"]+)"')


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _test_sources() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))


def test_every_include_points_to_an_existing_file() -> None:
    missing = [
        (page.relative_to(ROOT).as_posix(), target)
        for page in _pages()
        for target in INCLUDE.findall(page.read_text())
        if not (ROOT / target).is_file()
    ]
    assert missing == []


def test_every_example_file_is_shown_in_the_docs_and_run_by_a_test() -> None:
    included = {target for page in _pages() for target in INCLUDE.findall(page.read_text())}
    tests = _test_sources()
    examples = sorted(p for p in (DOCS / "examples").rglob("*.py") if p.name != "__init__.py")
    assert examples, "docs/examples must hold the docs' complete examples"
    not_shown = [p.relative_to(ROOT).as_posix() for p in examples if p.relative_to(ROOT).as_posix() not in included]
    not_run = [p.relative_to(ROOT).as_posix() for p in examples if p.name not in tests and p.stem not in tests]
    assert not_shown == [], "example files no page includes"
    assert not_run == [], "example files no test mentions (and so none runs)"
