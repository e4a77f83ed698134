"""The ``airflow-resumable`` command: ``demo`` (the narrated tour on real Airflow) and ``lint``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


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
    sub.add_parser(
        "lint",
        help="find state anti-patterns in DAG files (run 'airflow-resumable lint --help')",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "lint":
        from airflow_resumable.lint.cli import main as lint_main

        return lint_main(args[1:])
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command == "demo":
        from airflow_resumable.demo.runner import run_demo

        return run_demo(keep=ns.keep, only=ns.only)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
