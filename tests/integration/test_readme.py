"""The README's example is real code: it runs through real Airflow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README must open with a Python example"
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 25
    result = airflow_sandbox.run_dag(example)
    assert result.state == "success", result.output[-2000:]
    assert "exported 9999" in result.output
    assert result.task_state_keys("export_rows") == {}  # progress is cleared on success


def test_readme_names_the_two_commands_ci_runs() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci


DOCS_URL = "https://airflow-resumable.github.io/airflow-resumable/"


def _sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", README.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_readme_reads_well_on_the_package_index() -> None:
    """Install first; the clone-only make set-up under "Developing"; only absolute links."""
    text = README.read_text()
    sections = _sections()
    assert next(iter(sections)) == "Install"
    assert "pip install airflow-resumable" in sections["Install"]
    assert "make demo" in sections["Developing"] and "make test" in sections["Developing"]
    outside = text.replace(sections["Developing"], "")
    assert "make " not in outside, "make targets only work in a clone: keep them under Developing"
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert links and [link for link in links if not link.startswith("https://")] == []


def test_readme_links_to_pages_that_exist() -> None:
    pages = re.findall(re.escape(DOCS_URL) + r"([\w-]+)/", README.read_text())
    assert len(pages) >= 10
    missing = [page for page in pages if not (README.parent / "docs" / f"{page}.md").exists()]
    assert missing == []
