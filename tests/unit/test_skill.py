"""The agent skill ships in the package: ``airflow-resumable skill`` prints it or installs it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_resumable.cli import main, skill_text

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS_URL = "https://airflow-resumable.github.io/airflow-resumable/"


def test_skill_prints_the_packaged_skill(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skill"]) == 0
    out = capsys.readouterr().out
    assert out == skill_text()
    assert out.startswith("---\nname: airflow-resumable\ndescription: ")


def test_skill_install_writes_a_skills_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["skill", "--install", str(tmp_path / "skills")]) == 0
    written = tmp_path / "skills" / "airflow-resumable" / "SKILL.md"
    assert written.read_text() == skill_text()
    assert str(written) in capsys.readouterr().out


def test_skill_install_reports_an_unwritable_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["skill", "--install", str(blocker)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_skill_starts_with_the_airflow_version_check_and_has_the_mixin_limits() -> None:
    text = skill_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "First: check the Airflow version"
    assert "When not to use the mixin" in headings
    assert "BaseAsyncOperator" in text


def test_skill_links_are_absolute_and_point_to_existing_pages() -> None:
    text = skill_text()
    assert not re.search(r"\]\((?!https?://)", text), "relative markdown link in the skill"
    assert not re.search(r"(?<![/\w-])[\w-]+\.md\b", text.replace("SKILL.md", "")), "bare .md page name"
    pages = set(re.findall(re.escape(DOCS_URL) + r"([\w-]*)/?(?:#([\w-]+))?", text))
    assert len(pages) >= 8
    for page, anchor in pages:
        if not page:
            continue
        source = ROOT / "docs" / f"{page}.md"
        assert source.exists(), f"{DOCS_URL}{page}/ has no docs/{page}.md"
        if anchor:
            slugs = {
                re.sub(r"[^\w\s-]", "", h).strip().lower().replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", source.read_text(), re.M)
            }
            assert anchor in slugs, f"{page}#{anchor}"
