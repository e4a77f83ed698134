"""The built docs site shows no raw Sphinx markup: every cross-reference in a docstring renders as a link.

mkdocstrings renders docstrings as Markdown (with sphinx-style ``:param:`` fields parsed into tables), so a
Sphinx role such as ``:class:`~airflow_resumable.Checkpointer``` appears as literal text and a paragraph
ending in ``::`` shows both colons. Cross-references are written as mkdocs-autorefs links
(``[`Checkpointer`][airflow_resumable.checkpoint.Checkpointer]``) and examples as fenced code blocks; this
test builds the site and reads every page as a reader would see it (text outside code).
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const|param|type|rtype|raises?|returns?)[:\s`]"
)
LITERAL = re.compile(r"\w::(?:\s|$)")


class _Prose(HTMLParser):
    """Collects the text of a page outside <code>, <pre>, <script> and <style> (and the search index)."""

    SKIP: ClassVar[frozenset[str]] = frozenset({"code", "pre", "script", "style", "kbd"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.chunks.append(data)


def prose(page: str) -> str:
    parser = _Prose()
    parser.feed(page)
    return html.unescape(" ".join(parser.chunks))


def raw_markup(text: str) -> list[str]:
    """Snippets of ``text`` around raw Sphinx roles, field markers or ``::`` leftovers."""
    hits = [*ROLE.finditer(text), *LITERAL.finditer(text)]
    return [text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in hits]


def test_the_checker_sees_what_a_reader_sees() -> None:
    page = (
        "<p>a :class:<code>CommitPolicy</code> here</p><p>composes::</p>"
        "<pre><code>x = a::b  # :class:`in code is fine`</code></pre><p>ok: fine</p>"
    )
    found = raw_markup(prose(page))
    assert len(found) == 2
    linked = "<p>a <a href='#x'><code>CommitPolicy</code></a>: plain colons are fine</p>"
    assert raw_markup(prose(linked)) == []


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install 'airflow-resumable[docs]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_no_page_shows_raw_sphinx_markup(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    problems = {
        str(page.relative_to(site)): found for page in pages if (found := raw_markup(prose(page.read_text())))
    }
    shown = "\n".join(f"{page}: {snip!r}" for page, snips in problems.items() for snip in snips[:5])
    assert problems == {}, f"raw Sphinx markup in the built site:\n{shown}"


def test_api_reference_links_docstring_cross_references(site: Path) -> None:
    """A reference written in a docstring is a link in the page, not text (spot check on the Checkpointer)."""
    page = (site / "checkpoint" / "index.html").read_text()
    assert re.search(r'<a [^>]*href="[^"]*#airflow_resumable\.cadence\.CommitPolicy"', page)


def test_class_headings_and_no_private_bases(site: Path) -> None:
    for name in ("EmrServerlessStartJobOperator", "EmrContainerOperator", "EmrAddStepsOperator"):
        page = (site / "jobs-emr" / "index.html").read_text()
        assert re.search(rf'<h3 id="airflow_resumable\.jobs\.[\w.]*{name}"', page), name
    for page in site.rglob("*.html"):
        bases = re.findall(r'<p class="doc doc-class-bases">(.*?)</p>', page.read_text(), re.S)
        private = [b for b in bases if re.search(r">_\w+<", b)]
        assert private == [], f"{page}: private base classes shown: {private}"


SOURCE_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const):`")


def _docstrings(tree: ast.AST) -> list[ast.Constant]:
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, stmt in enumerate(body):
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
                and (index == 0 or isinstance(body[index - 1], ast.Assign | ast.AnnAssign))
            ):
                found.append(stmt.value)
    return found


def test_docstrings_use_the_markup_the_site_renders() -> None:
    """Also in modules no page renders yet: a role or a ``::`` block would show raw once one does."""
    problems = []
    for path in sorted((ROOT / "src" / "airflow_resumable").rglob("*.py")):
        for doc in _docstrings(ast.parse(path.read_text(encoding="utf-8"))):
            text = str(doc.value)
            if SOURCE_ROLE.search(text) or re.search(r"::[ \t]*$", text, re.M):
                problems.append(f"{path.relative_to(ROOT)}:{doc.lineno}")
    assert problems == [], "Sphinx roles or :: blocks (run convert_roles.py over these files):\n" + "\n".join(
        problems
    )
