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
    not_shown = [_rel(p) for p in examples if _rel(p) not in included]
    not_run = [_rel(p) for p in examples if not _mentioned(p, tests)]
    assert not_shown == [], "example files no page includes"
    assert not_run == [], "example files no test mentions (and so none runs)"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _mentioned(example: Path, tests: str) -> bool:
    """A test names the file, or the folder it runs every example of."""
    folder = example.parent.name
    return any(
        needle in tests
        for needle in (example.name, f'"{example.stem}"', f"examples/{folder}", f'"examples" / "{folder}"')
    )
