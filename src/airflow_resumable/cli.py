"""The ``airflow-resumable`` command: ``demo`` (the narrated tour on real Airflow), ``lint`` and ``skill``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "skill_text"]

SKILL_NAME = "airflow-resumable"


def _parser() -> argparse.ArgumentParser:
    from airflow_resumable import __version__

    parser = argparse.ArgumentParser(
        prog="airflow-resumable",
        description="Make Apache Airflow tasks resume instead of restart.",
    )
    parser.add_argument("--version", action="version", version=f"airflow-resumable {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="run the narrated stories through real Airflow (temporary home, embedded SQLite)",
        description="Run every story through real Airflow 3.3 and narrate what each try did. "
        "Exits non-zero if a story did not turn out as expected.",
    )
    demo.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME for inspection")
    demo.add_argument("--only", metavar="TEXT", help="run only the stories whose title contains TEXT")
    skill = sub.add_parser(
        "skill",
        help="print the agent skill for writing resumable DAGs (SKILL.md), or install it",
        description="Print the agent skill (SKILL.md) that teaches a coding agent when and how to use "
        "airflow-resumable. With --install DIR it is written to DIR/airflow-resumable/SKILL.md instead "
        "(for example DIR=.claude/skills in a project).",
    )
    skill.add_argument("--install", metavar="DIR", type=Path, help="write DIR/airflow-resumable/SKILL.md")
    sub.add_parser(
        "lint",
        help="find state anti-patterns in DAG files (run 'airflow-resumable lint --help')",
        add_help=False,
    )
    sub.add_parser(
        "state",
        help="inspect and repair resumable state of a running Airflow (run 'airflow-resumable state --help')",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "lint":
        from airflow_resumable.lint.cli import main as lint_main

        return lint_main(args[1:])
    if args and args[0] == "state":
        from airflow_resumable.ops.cli import main as state_main

        return state_main(args[1:])
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command == "demo":
        from airflow_resumable.demo.runner import run_demo

        return run_demo(keep=ns.keep, only=ns.only)
    if ns.command == "skill":
        return _skill(ns.install)
    parser.print_help()
    return 2


def skill_text() -> str:
    """The agent skill shipped in the package (``airflow_resumable/skill/SKILL.md``)."""
    from importlib.resources import files

    return files("airflow_resumable").joinpath("skill", "SKILL.md").read_text(encoding="utf-8")


def _skill(install: Path | None) -> int:
    text = skill_text()
    if install is None:
        sys.stdout.write(text)
        return 0
    target = install / SKILL_NAME / "SKILL.md"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"airflow-resumable skill: cannot write {target}: {exc}", file=sys.stderr)
        return 2
    print(f"airflow-resumable skill: wrote {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
