"""The command line: output formats, exit codes, file discovery, suppressions and selection."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_resumable.lint import RULES
from airflow_resumable.lint.cli import main

CORPUS = Path(__file__).parent / "corpus"
XCOM_TASK = "def run(ti):\n    return ti.xcom_pull(key='job_id')\n"
STORE_TASK = "def run(task_state_store):\n    task_state_store.set('pair', (1, 2))\n"
TEXT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>ARS\d{3}) (?P<message>.+) \((?P<hint>.+)\)$"
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder so no pyproject.toml above the repository changes the settings."""
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_clean_file_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dag.py", "x = 1\n")
    assert main(["dag.py"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "1 file checked, clean" in err


def test_findings_exit_one_in_text_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dag.py", XCOM_TASK)
    assert main(["dag.py"]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    match = TEXT_LINE.match(lines[0])
    assert match is not None
    assert match.group("path", "line", "col", "code") == ("dag.py", "2", "12", "ARS002")
    assert match.group("hint") == RULES["ARS002"].hint
    assert "1 finding(s) in 1 file checked" in err


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "a.py", XCOM_TASK)
    write(tmp_path / "b.py", STORE_TASK)
    assert main(["--format", "json", "a.py", "b.py"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(item["path"], item["line"], item["col"], item["code"]) for item in data] == [
        ("a.py", 2, 12, "ARS002"),
        ("b.py", 2, 5, "ARS011"),
    ]
    assert all(set(item) == {"path", "line", "col", "code", "message", "hint"} for item in data)


def test_json_format_when_clean_is_an_empty_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dag.py", "x = 1\n")
    assert main(["--format=json", "dag.py"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "xml", "."],
        ["--no-such-option"],
        ["missing.py"],
        ["--select", "ARS999", "."],
        ["--ignore", "XYZ"],
    ],
)
def test_usage_errors_exit_two(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip()


def test_missing_path_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nowhere/dag.py"]) == 2
    assert "no such file or directory: nowhere/dag.py" in capsys.readouterr().err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--write-baseline" in out
    assert "--select" in out


def test_show_rules_lists_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--show-rules"]) == 0
    out = capsys.readouterr().out
    assert all(f"{code}  {rule.title}" in out for code, rule in RULES.items())


def test_directories_are_walked_for_python_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dags" / "a.py", XCOM_TASK)
    write(tmp_path / "dags" / "nested" / "b.py", STORE_TASK)
    write(tmp_path / "dags" / "notes.txt", XCOM_TASK)
    write(tmp_path / "dags" / ".hidden" / "c.py", XCOM_TASK)
    write(tmp_path / "dags" / "__pycache__" / "d.py", XCOM_TASK)
    write(tmp_path / "dags" / "venv" / "e.py", XCOM_TASK)
    assert main(["--format", "json", "dags"]) == 1
    paths = [Path(item["path"]).as_posix() for item in json.loads(capsys.readouterr().out)]
    assert paths == ["dags/a.py", "dags/nested/b.py"]


def test_an_explicit_file_is_checked_whatever_its_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "dag.txt", XCOM_TASK)
    assert main(["dag.txt"]) == 1
    assert "dag.txt:2:12: ARS002" in capsys.readouterr().out


def test_exclude_patterns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dags" / "a.py", XCOM_TASK)
    write(tmp_path / "dags" / "legacy" / "b.py", XCOM_TASK)
    write(tmp_path / "dags" / "c_old.py", XCOM_TASK)
    assert main(["--format", "json", "--exclude", "legacy", "--exclude", "*_old.py", "dags"]) == 1
    assert [Path(item["path"]).name for item in json.loads(capsys.readouterr().out)] == ["a.py"]
    assert main(["--exclude", "dags/*", "dags"]) == 0


def test_select_and_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "dag.py", XCOM_TASK + STORE_TASK.replace("def run", "def run2"))
    assert main(["--format", "json", "--select", "ARS011", "dag.py"]) == 1
    assert [item["code"] for item in json.loads(capsys.readouterr().out)] == ["ARS011"]
    assert main(["--format", "json", "--select", "ARS002,ARS011", "--ignore", "ARS01", "dag.py"]) == 1
    assert [item["code"] for item in json.loads(capsys.readouterr().out)] == ["ARS002"]
    assert main(["--ignore", "ARS002,ARS011", "dag.py"]) == 0


def test_noqa_comments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path / "dag.py",
        """\
        def run(ti, task_state_store):
            a = ti.xcom_pull(key="a")  # noqa
            b = ti.xcom_pull(key="b")  # noqa: ARS002
            c = ti.xcom_pull(key="c")  # noqa: ARS011
            task_state_store.set("d", (a, b, c))  # noqa: ARS001, ARS011
            task_state_store.set("e", (a, b, c))  # noqa: E501
        """,
    )
    assert main(["--format", "json", "dag.py"]) == 1
    assert [(item["line"], item["code"]) for item in json.loads(capsys.readouterr().out)] == [
        (4, "ARS002"),
        (6, "ARS011"),
    ]


def test_parse_errors_are_reported_and_do_not_stop_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "dags" / "a_broken.py", "def broken(:\n    pass\n")
    (tmp_path / "dags" / "b_latin1.py").write_bytes(b"x = '\xe9'\n")
    write(tmp_path / "dags" / "c_good.py", XCOM_TASK)
    assert main(["--format", "json", "dags"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(Path(item["path"]).name, item["code"]) for item in data] == [
        ("a_broken.py", "ARS000"),
        ("b_latin1.py", "ARS000"),
        ("c_good.py", "ARS002"),
    ]
    assert all(item["message"].startswith("cannot parse: ") for item in data[:2])
    assert data[0]["line"] == 1


def test_encoding_cookie_is_honoured(tmp_path: Path) -> None:
    (tmp_path / "dag.py").write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n")
    assert main(["dag.py"]) == 0


def test_module_entry_point_runs_standalone(tmp_path: Path) -> None:
    write(tmp_path / "dag.py", XCOM_TASK)
    result = subprocess.run(
        [sys.executable, "-m", "airflow_resumable.lint", "--no-config", "dag.py"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("dag.py:2:12: ARS002 ")


def test_corpus_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--no-config", "--format", "json", str(CORPUS / "ars009_bad.py"), str(CORPUS / "ars009_ok.py")])
        == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert [(item["line"], item["code"]) for item in data] == [
        (30, "ARS009"),
        (33, "ARS009"),
        (37, "ARS009"),
        (38, "ARS009"),
        (39, "ARS009"),
        (40, "ARS009"),
        (47, "ARS009"),
        (60, "ARS009"),
        (65, "ARS009"),
        (66, "ARS009"),
        (73, "ARS009"),
    ]
