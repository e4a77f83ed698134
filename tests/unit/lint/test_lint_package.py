"""Packaging promises: the linter is stdlib only, its public names, and the files that document it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airflow_resumable.lint as lint
from airflow_resumable.lint import RULES

REPO = Path(__file__).resolve().parents[3]


def test_public_api() -> None:
    assert set(lint.__all__) >= {"lint_paths", "lint_source", "Finding", "RULES"}
    assert callable(lint.lint_paths)
    assert callable(lint.lint_source)


def test_importing_the_linter_does_not_import_airflow() -> None:
    code = (
        "import sys, airflow_resumable.lint, airflow_resumable.lint.cli;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith(('airflow.', 'pydantic')));"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_pre_commit_hook_definition() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "- id: airflow-resumable-lint" in text
    assert "entry: airflow-resumable lint" in text
    assert "language: python" in text
    assert "types: [python]" in text


def test_anti_pattern_docs_cover_every_rule() -> None:
    text = (REPO / "docs" / "anti-patterns.md").read_text(encoding="utf-8")
    for code, rule in RULES.items():
        assert f"## {code}" in text, code
        section = text.split(f"## {code}", 1)[1].split("\n## ", 1)[0]
        assert rule.title.lower() in section.lower(), code
        if code != "ARS000":
            assert section.count("```python") >= 2, f"{code} needs a before and an after example"


def test_lint_docs_cover_every_option() -> None:
    text = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")
    for option in (
        "--select",
        "--ignore",
        "--exclude",
        "--airflowignore",
        "--format",
        "--baseline",
        "--write-baseline",
        "--config",
        "--no-config",
        "--show-rules",
        "# noqa",
        "[tool.airflow-resumable.lint]",
        "pre-commit",
        "python -m airflow_resumable.lint",
    ):
        assert option in text, option


def test_pre_commit_example_pins_the_current_release_tag() -> None:
    from airflow_resumable import __version__

    lint_docs = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")
    assert f"rev: v{__version__}\n" in lint_docs
    assert f"## [{__version__}] - " in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
