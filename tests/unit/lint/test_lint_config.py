"""Settings from ``[tool.airflow-resumable.lint]`` in pyproject.toml, found by walking up from the cwd."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from airflow_resumable.lint import config as config_module
from airflow_resumable.lint.cli import main
from airflow_resumable.lint.config import Config, find_pyproject, load_config

XCOM_TASK = "def run(ti):\n    return ti.xcom_pull(key='job_id')\n"
STORE_TASK = "def run2(task_state_store):\n    task_state_store.set('pair', (1, 2))\n"


def project(root: Path, table: str) -> Path:
    """A project with a pyproject.toml holding ``table`` and two DAG folders."""
    (root / "pyproject.toml").write_text(textwrap.dedent(table), encoding="utf-8")
    for folder in ("dags", "dags/legacy"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "dag.py").write_text(XCOM_TASK + STORE_TASK, encoding="utf-8")
    return root


def codes(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str]]:
    data = json.loads(capsys.readouterr().out)
    return [(Path(item["path"]).as_posix(), item["code"]) for item in data]


def test_settings_are_found_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(
        tmp_path,
        """
        [project]
        name = "pipelines"

        [tool.airflow-resumable.lint]
        select = ["ARS0"]
        ignore = ["ARS011"]
        exclude = ["dags/legacy/*"]
        """,
    )
    monkeypatch.chdir(tmp_path / "dags")
    assert main(["--format", "json", "."]) == 1
    assert codes(capsys) == [("dag.py", "ARS002")]


def test_command_line_select_replaces_the_configured_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, '[tool.airflow-resumable.lint]\nselect = "ARS002"\nexclude = ["legacy"]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["--format", "json", "dags"]) == 1
    assert codes(capsys) == [("dags/dag.py", "ARS002")]
    assert main(["--format", "json", "--select", "ARS011", "dags"]) == 1
    assert codes(capsys) == [("dags/dag.py", "ARS011")]
    assert main(["--format", "json", "--no-config", "dags"]) == 1
    assert codes(capsys) == [
        ("dags/dag.py", "ARS002"),
        ("dags/dag.py", "ARS011"),
        ("dags/legacy/dag.py", "ARS002"),
        ("dags/legacy/dag.py", "ARS011"),
    ]


def test_nearest_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    outer = project(tmp_path, '[tool.airflow-resumable.lint]\nignore = ["ARS002"]\n')
    inner = outer / "dags"
    (inner / "pyproject.toml").write_text('[project]\nname = "inner"\n', encoding="utf-8")
    assert find_pyproject(inner) == outer / "pyproject.toml"
    assert load_config(start=inner) == Config(root=outer, ignore=("ARS002",), source=outer / "pyproject.toml")


def test_no_pyproject_gives_defaults(tmp_path: Path) -> None:
    assert load_config(start=tmp_path) == Config(root=tmp_path)


def test_explicit_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, "[project]\nname = 'x'\n")
    settings = tmp_path / "lint.toml"
    settings.write_text('[tool.airflow-resumable.lint]\nselect = ["ARS011"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--format", "json", "--config", str(settings), "dags/dag.py"]) == 1
    assert codes(capsys) == [("dags/dag.py", "ARS011")]
    assert main(["--config", "nope.toml", "dags"]) == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.airflow-resumable.lint]\nselcet = ["ARS001"]\n',
            "unknown key(s) in [tool.airflow-resumable.lint]: selcet",
        ),
        ("[tool.airflow-resumable.lint]\nselect = [1]\n", "select must be a list of strings"),
        ("[tool.airflow-resumable.lint]\nbaseline = 3\n", "baseline must be a string"),
        ('[tool.airflow-resumable.lint]\nselect = ["ARS999"]\n', "unknown rule code 'ARS999'"),
        ("[tool.airflow-resumable.lint\n", "invalid TOML"),
        ('[tool.airflow-resumable]\nlint = "all"\n', "must be a table"),
    ],
)
def test_bad_settings_are_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    table: str,
    message: str,
) -> None:
    project(tmp_path, table)
    monkeypatch.chdir(tmp_path)
    assert main(["dags"]) == 2
    assert message in capsys.readouterr().err


def test_without_a_toml_reader_settings_are_skipped_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, '[tool.airflow-resumable.lint]\nselect = ["ARS011"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config_module, "toml_loader", lambda: None)
    assert main(["--format", "json", "dags/dag.py"]) == 1
    captured = capsys.readouterr()
    assert "settings skipped: reading TOML needs Python 3.11+ or the tomli package" in captured.err
    assert [item["code"] for item in json.loads(captured.out)] == ["ARS002", "ARS011"]


def test_toml_loader_is_available_here() -> None:
    assert config_module.toml_loader() is not None
