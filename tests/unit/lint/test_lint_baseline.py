"""ARS010: ``--write-baseline`` records every ``external_id_key``; ``--baseline`` reports careless renames."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from airflow_resumable.lint import lint_paths
from airflow_resumable.lint.baseline import module_name
from airflow_resumable.lint.cli import main

CORPUS = Path(__file__).parent / "corpus"
# The "# expect: ARS010" lines of ars010_after.py.
RENAMED_AT = [
    (number, "ARS010")
    for number, line in enumerate((CORPUS / "ars010_after.py").read_text(encoding="utf-8").splitlines(), 1)
    if "# expect: ARS010" in line
]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``plugins/operators.py`` inside a package, holding the first deployment's operators."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "__init__.py").write_text("", encoding="utf-8")
    shutil.copy(CORPUS / "ars010_before.py", folder / "operators.py")
    return folder


def test_the_corpus_marks_three_renames() -> None:
    assert RENAMED_AT == [(11, "ARS010"), (41, "ARS010"), (51, "ARS010")]


def test_write_baseline_records_every_class(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--write-baseline", "baseline.json", "plugins"]) == 0
    assert json.loads(Path("baseline.json").read_text(encoding="utf-8")) == {
        "plugins.operators.DroppedKeyOperator": "dropped_job_id",
        "plugins.operators.ExportOperator": "export_job_id",
        "plugins.operators.ImportOperator": "import_job_id",
        "plugins.operators.KeptOperator": "kept_job_id",
        "plugins.operators.LegacyImportOperator": "legacy_job_id",
    }
    assert "wrote 5 external_id_key entries to baseline.json" in capsys.readouterr().err


def test_renames_are_reported_against_the_baseline(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--write-baseline", "baseline.json", "plugins"]) == 0
    shutil.copy(CORPUS / "ars010_after.py", package / "operators.py")
    capsys.readouterr()
    assert main(["--format", "json", "--baseline", "baseline.json", "plugins"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(item["line"], item["code"]) for item in data] == RENAMED_AT
    assert "changed from 'export_job_id' to 'export_run_id'" in data[0]["message"]
    assert "no longer sets external_id_key ('dropped_job_id' before" in data[1]["message"]
    assert "ResumableJobMixin never reads that attribute" in data[2]["message"]
    assert main(["--baseline", "baseline.json", "--ignore", "ARS010", "plugins"]) == 0


def test_without_a_baseline_renames_are_not_reported(package: Path) -> None:
    shutil.copy(CORPUS / "ars010_after.py", package / "operators.py")
    assert main(["plugins"]) == 0


def test_refreshing_the_baseline_accepts_the_new_keys(package: Path) -> None:
    assert main(["--write-baseline", "baseline.json", "plugins"]) == 0
    shutil.copy(CORPUS / "ars010_after.py", package / "operators.py")
    assert main(["--baseline", "baseline.json", "--write-baseline", "baseline.json", "plugins"]) == 1
    assert main(["--baseline", "baseline.json", "plugins"]) == 0


def test_baseline_from_the_config_is_relative_to_pyproject(
    package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.airflow-resumable.lint]\nbaseline = "ci/ids.json"\n', encoding="utf-8"
    )
    (tmp_path / "ci").mkdir()
    assert main(["--write-baseline", "ci/ids.json", "plugins"]) == 0
    shutil.copy(CORPUS / "ars010_after.py", package / "operators.py")
    monkeypatch.chdir(package)
    assert main(["."]) == 1


def test_api_takes_the_baseline_as_a_mapping(package: Path) -> None:
    keys: dict[str, str] = {}
    assert lint_paths(["plugins"], collect_keys=keys) == []
    shutil.copy(CORPUS / "ars010_after.py", package / "operators.py")
    findings = lint_paths(["plugins"], baseline=keys)
    assert [(finding.line, finding.code) for finding in findings] == RENAMED_AT


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "baseline file not found"), ("[1, 2]", "must be a JSON object"), ("{", "cannot read baseline")],
)
def test_unusable_baselines_are_usage_errors(
    package: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    if content is not None:
        Path("baseline.json").write_text(content, encoding="utf-8")
    assert main(["--baseline", "baseline.json", "plugins"]) == 2
    assert message in capsys.readouterr().err


def test_module_names_follow_packages_not_the_working_directory(package: Path, tmp_path: Path) -> None:
    assert module_name(package / "operators.py") == "plugins.operators"
    assert module_name(package / "__init__.py") == "plugins"
    (tmp_path / "loose.py").write_text("", encoding="utf-8")
    assert module_name(tmp_path / "loose.py") == "loose"
