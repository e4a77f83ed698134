""".airflowignore: the linter skips exactly the files Airflow's DAG processor skips, in both syntaxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_resumable.lint import lint_paths
from airflow_resumable.lint.airflowignore import AirflowIgnore, default_syntax
from airflow_resumable.lint.cli import main
from airflow_resumable.lint.files import discover

CORPUS = Path(__file__).parent / "corpus" / "airflowignore"

GLOB = {
    ".airflowignore": (
        "# comment line\nlegacy/\n*_wip.py  # trailing comment\n!keep_wip.py\n"
        "/top_only.py\nsub/deep/skip_me.py\n"
    ),
    "sub/.airflowignore": "local_*.py\n",
}
REGEXP = {
    ".airflowignore": "# comment line\nlegacy\n_wip\\.py$\n^sub/deep/skip\n",
    "sub/.airflowignore": "local_\n",
}
FILES = [
    "a.py",
    "b_wip.py",
    "keep_wip.py",
    "top_only.py",
    "legacy/x.py",
    "sub/top_only.py",
    "sub/legacy/y.py",
    "sub/local_one.py",
    "sub/deep/skip_me.py",
    "sub/deep/ok.py",
    "other/local_two.py",
    "other/legacy_notes.py",
]


def _tree(root: Path, ignore_files: dict[str, str]) -> Path:
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")
    for name, text in ignore_files.items():
        (root / name).write_text(text)
    return root


def _airflow_keeps(root: Path, syntax: str) -> set[str]:
    from airflow._shared.module_loading.file_discovery import find_path_from_directory

    found = find_path_from_directory(str(root), ".airflowignore", syntax)
    return {Path(p).relative_to(root).as_posix() for p in found if p.endswith(".py")}


@pytest.mark.parametrize(("syntax", "ignore_files"), [("glob", GLOB), ("regexp", REGEXP)])
def test_walk_keeps_what_airflow_keeps(tmp_path: Path, syntax: str, ignore_files: dict[str, str]) -> None:
    root = _tree(tmp_path, ignore_files)
    ours = {p.relative_to(root).as_posix() for p in discover([root], root=root, airflowignore=syntax)}
    airflows = _airflow_keeps(root, syntax)
    assert ours == airflows
    assert "a.py" in ours and len(ours) < len(FILES)  # the tree exercises both outcomes


def test_glob_patterns_as_git_reads_them(tmp_path: Path) -> None:
    root = _tree(tmp_path, GLOB)
    kept = {p.relative_to(root).as_posix() for p in discover([root], root=root)}
    assert kept == {
        "a.py",
        "keep_wip.py",  # re-included by the later "!" pattern
        "sub/top_only.py",  # "/top_only.py" is anchored to the folder of its .airflowignore
        "sub/deep/ok.py",
        "other/local_two.py",  # sub/.airflowignore applies below sub only
        "other/legacy_notes.py",  # "legacy/" matches folders only
    }


def test_files_named_on_the_command_line_are_skipped_too(tmp_path: Path) -> None:
    """pre-commit passes file names, not folders: the DAG folder's .airflowignore still applies."""
    root = _tree(tmp_path, GLOB)
    named = [root / "a.py", root / "legacy" / "x.py", root / "sub" / "local_one.py", root / "b_wip.py"]
    assert discover(named, root=root) == [root / "a.py"]
    assert discover([root / "sub" / "deep"], root=root) == [root / "sub" / "deep" / "ok.py"]
    assert discover([root / "legacy"], root=root) == []


def test_off_checks_everything(tmp_path: Path) -> None:
    root = _tree(tmp_path, GLOB)
    assert len(discover([root], root=root, airflowignore="off")) == len(FILES)


def test_without_an_airflowignore_nothing_is_skipped(tmp_path: Path) -> None:
    root = _tree(tmp_path, {})
    assert len(discover([root], root=root)) == len(FILES)


def test_invalid_regexp_lines_are_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tree(tmp_path, {".airflowignore": "legacy\n([unclosed\n"})
    kept = {p.relative_to(root).as_posix() for p in discover([root], root=root, airflowignore="regexp")}
    assert kept == _airflow_keeps(root, "regexp")
    assert "skipping invalid pattern '([unclosed'" in capsys.readouterr().err


def test_unknown_syntax_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown \.airflowignore syntax 'fnmatch'"):
        AirflowIgnore("fnmatch")


def test_default_syntax_follows_airflows_environment_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX", raising=False)
    assert default_syntax() == "glob"
    monkeypatch.setenv("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX", "regexp")
    assert default_syntax() == "regexp"


def test_corpus_folder_reports_only_the_file_airflow_would_parse() -> None:
    findings = lint_paths([CORPUS])
    assert [(Path(f.path).name, f.line, f.code) for f in findings] == [("kept.py", 11, "ARS001")]
    assert len(lint_paths([CORPUS / "ignored" / "legacy_dag.py", CORPUS / "draft_wip.py"])) == 0


def test_cli_option_and_config_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / ".airflowignore").write_text("^draft\n")
    source = (CORPUS / "kept.py").read_text()
    (tmp_path / "dags" / "draft_export.py").write_text(source)
    assert main(["--format", "json", "dags"]) == 1  # glob: "^draft" is not a glob for this file name
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["--airflowignore", "regexp", "dags"]) == 0
    (tmp_path / "pyproject.toml").write_text('[tool.airflow-resumable.lint]\nairflowignore = "regexp"\n')
    assert main(["dags"]) == 0
    assert main(["--airflowignore", "off", "dags"]) == 1
    (tmp_path / "pyproject.toml").write_text('[tool.airflow-resumable.lint]\nairflowignore = "fnmatch"\n')
    capsys.readouterr()
    assert main(["dags"]) == 2
    assert "airflowignore must be one of glob, regexp, off" in capsys.readouterr().err
