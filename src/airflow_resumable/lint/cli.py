"""``airflow-resumable lint``: the command line front end of the checker.

Exit status: 0 when clean, 1 when there are findings (parse errors included), 2 on usage errors (bad
options, missing paths, unknown rule codes, an unusable configuration or baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_resumable.lint.airflowignore import SYNTAXES, default_syntax
from airflow_resumable.lint.baseline import BaselineError, read_baseline, write_baseline
from airflow_resumable.lint.checker import enabled_codes
from airflow_resumable.lint.config import Config, ConfigError, load_config
from airflow_resumable.lint.files import discover
from airflow_resumable.lint.rules import RULES, UnknownCodeError
from airflow_resumable.lint.runner import lint_files

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_resumable.lint.finding import Finding

__all__ = ["build_parser", "main"]

PROG = "airflow-resumable lint"


class UsageError(Exception):
    """Bad input from the user: reported on stderr with exit status 2."""


def _codes(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (also used to document the options)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find AIP-103 state anti-patterns in Airflow DAG files, statically (nothing is run).",
        epilog="Exit status: 0 clean, 1 findings, 2 usage error. Settings: [tool.airflow-resumable.lint] in "
        "pyproject.toml.",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files and directories to check (default: .)")
    parser.add_argument(
        "--select", type=_codes, metavar="CODES", help="only these codes or prefixes, comma separated"
    )
    parser.add_argument("--ignore", type=_codes, metavar="CODES", help="skip these codes or prefixes")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="skip paths matching this shell pattern (repeatable; adds to the config)",
    )
    parser.add_argument(
        "--airflowignore",
        choices=SYNTAXES,
        help="how to read .airflowignore files: glob or regexp, as Airflow's [core] dag_ignore_file_syntax "
        "(default: that setting from AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX, else glob), or off",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--baseline", type=Path, metavar="FILE", help="external_id_key baseline to compare (ARS010)"
    )
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="record the external_id_key of every class seen into FILE",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="read settings from this pyproject.toml")
    parser.add_argument("--no-config", action="store_true", help="ignore pyproject.toml settings")
    parser.add_argument("--show-rules", action="store_true", help="list the rules and exit")
    return parser


def _show_rules() -> None:
    for rule in RULES.values():
        print(f"{rule.code}  {rule.title}\n        fix: {rule.hint}")


def _config(args: argparse.Namespace) -> Config:
    if args.no_config:
        return Config(root=Path.cwd())
    if args.config is not None and not args.config.is_file():
        raise UsageError(f"config file not found: {args.config}")
    return load_config(args.config, warn=lambda message: print(f"{PROG}: {message}", file=sys.stderr))


def _baseline(args: argparse.Namespace, config: Config) -> dict[str, str] | None:
    path: Path | None = args.baseline or config.baseline
    if path is None:
        return None
    if not path.exists():
        if args.write_baseline is not None and path.resolve() == args.write_baseline.resolve():
            return None  # creating it now; nothing to compare against yet
        raise UsageError(f"baseline file not found: {path} (create it with --write-baseline {path})")
    return read_baseline(path)


def _report(findings: list[Finding], files: int, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
        return
    for finding in findings:
        print(finding.format())
    noun = "file" if files == 1 else "files"
    summary = (
        f"{len(findings)} finding(s) in {files} {noun} checked"
        if findings
        else f"{files} {noun} checked, clean"
    )
    print(summary, file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    if args.show_rules:
        _show_rules()
        return 0
    config = _config(args)
    select = args.select if args.select is not None else config.select
    ignore = args.ignore if args.ignore is not None else config.ignore
    enabled = enabled_codes(select, ignore)
    baseline = _baseline(args, config)
    syntax = args.airflowignore or config.airflowignore or default_syntax()
    files = discover(args.paths, (*config.exclude, *args.exclude), config.root, syntax)
    keys: dict[str, str] | None = {} if args.write_baseline is not None else None
    findings = lint_files(files, enabled, baseline=baseline, collect_keys=keys)
    if args.write_baseline is not None and keys is not None:
        write_baseline(args.write_baseline, keys)
        print(f"{PROG}: wrote {len(keys)} external_id_key entries to {args.write_baseline}", file=sys.stderr)
    _report(findings, len(files), args.format)
    return 1 if findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the linter with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad options, 0 after --help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(args)
    except (UsageError, ConfigError, BaselineError, UnknownCodeError, FileNotFoundError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
