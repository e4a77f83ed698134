"""Lint files on disk."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from airflow_resumable.lint.baseline import module_name
from airflow_resumable.lint.checker import enabled_codes, lint_text
from airflow_resumable.lint.files import discover
from airflow_resumable.lint.finding import Finding
from airflow_resumable.lint.rules import RULES

if TYPE_CHECKING:
    import os
    from collections.abc import Collection, Iterable, Mapping, MutableMapping, Sequence
    from pathlib import Path

__all__ = ["lint_file", "lint_files", "lint_paths"]


def lint_file(
    path: Path,
    enabled: Collection[str] = frozenset(RULES),
    *,
    baseline: Mapping[str, str] | None = None,
    collect_keys: MutableMapping[str, str] | None = None,
) -> list[Finding]:
    """Lint one file. An unreadable or undecodable file gives an ARS000 finding instead of an error."""
    shown = str(path)
    try:
        # decode_source honours PEP 263 coding comments and normalises newlines, like the import system.
        text = importlib.util.decode_source(path.read_bytes())
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
        if "ARS000" not in enabled:
            return []
        return [Finding(shown, 1, 1, "ARS000", f"cannot parse: {exc}", RULES["ARS000"].hint)]
    return lint_text(
        text, shown, enabled, module=module_name(path), baseline=baseline, collect_keys=collect_keys
    )


def lint_files(
    files: Iterable[Path],
    enabled: Collection[str],
    *,
    baseline: Mapping[str, str] | None = None,
    collect_keys: MutableMapping[str, str] | None = None,
) -> list[Finding]:
    """Lint ``files`` in order and return all findings sorted by path and position."""
    findings: list[Finding] = []
    for path in files:
        findings.extend(lint_file(path, enabled, baseline=baseline, collect_keys=collect_keys))
    return sorted(findings)


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    exclude: Sequence[str] = (),
    baseline: Mapping[str, str] | None = None,
    collect_keys: MutableMapping[str, str] | None = None,
    airflowignore: str = "glob",
) -> list[Finding]:
    """Lint files and directories (walked for ``*.py``) and return the findings, sorted.

    ``select``/``ignore`` take codes or prefixes; ``exclude`` takes shell patterns; ``baseline`` maps
    ``"module.Class"`` to its recorded ``external_id_key`` (ARS010). When ``collect_keys`` is given it
    receives the current ``external_id_key`` of every class seen, for writing a new baseline. Paths an
    ``.airflowignore`` excludes are skipped (``airflowignore``: ``"glob"``, ``"regexp"`` or ``"off"``).
    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for an unknown rule code.
    """
    enabled = enabled_codes(select, ignore)
    files = discover(paths, exclude, airflowignore=airflowignore)
    return lint_files(files, enabled, baseline=baseline, collect_keys=collect_keys)
