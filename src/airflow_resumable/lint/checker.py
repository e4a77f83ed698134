"""Lint one module's source: parse, index, run the enabled checks, apply ``# noqa``.

Nothing here imports or executes the code under check; it is read as a syntax tree only.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_resumable.lint.baseline import external_id_keys
from airflow_resumable.lint.checks import CHECKS, Check, Hit, Module
from airflow_resumable.lint.finding import Finding
from airflow_resumable.lint.index import build_index
from airflow_resumable.lint.noqa import is_suppressed
from airflow_resumable.lint.rules import RULES, resolve_codes
from airflow_resumable.lint.stores import StoreResolver

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, MutableMapping

__all__ = ["enabled_codes", "lint_source", "lint_text"]


def enabled_codes(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> frozenset[str]:
    """Return the rule codes left on by ``select`` (default: all) minus ``ignore``; prefixes are allowed."""
    codes = resolve_codes(select) if select is not None else frozenset(RULES)
    return codes - resolve_codes(ignore) if ignore else codes


def _finding(path: str, line: int, col: int, code: str, message: str) -> Finding:
    return Finding(path, line, col, code, message, RULES[code].hint)


def _run_checks(
    tree: ast.Module,
    text: str,
    checks: list[Check],
    enabled: Collection[str],
    module: str,
    baseline: Mapping[str, str] | None,
    collect_keys: MutableMapping[str, str] | None,
) -> set[Hit]:
    index = build_index(tree)
    if collect_keys is not None:
        collect_keys.update((name, key) for name, key, _cls in external_id_keys(index, module))
    context = Module(tree, index, StoreResolver(index), module, baseline, text)
    hits: set[Hit] = set()
    for check in checks:
        hits.update(found for found in check.run(context) if found.code in enabled)
    return hits


def lint_text(
    text: str,
    path: str,
    enabled: Collection[str],
    *,
    module: str,
    baseline: Mapping[str, str] | None = None,
    collect_keys: MutableMapping[str, str] | None = None,
) -> list[Finding]:
    """Lint ``text`` (reported as ``path``) with the ``enabled`` codes; fill ``collect_keys`` when given."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        reason = exc.msg or str(exc)
        found = [_finding(path, exc.lineno or 1, exc.offset or 1, "ARS000", f"cannot parse: {reason}")]
        return found if "ARS000" in enabled else []
    except (ValueError, RecursionError, MemoryError) as exc:
        found = [_finding(path, 1, 1, "ARS000", f"cannot parse: {exc or type(exc).__name__}")]
        return found if "ARS000" in enabled else []
    checks = [check for check in CHECKS if check.wanted(enabled, text)]
    wants_keys = collect_keys is not None and "external_id_key" in text
    if not checks and not wants_keys:
        return []
    try:
        hits = _run_checks(tree, text, checks, enabled, module, baseline, collect_keys)
    except RecursionError:  # pathological nesting that ast.parse accepted but a check could not follow
        found = [_finding(path, 1, 1, "ARS000", "cannot parse: code nested too deeply to check")]
        return found if "ARS000" in enabled else []
    if not hits:
        return []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    findings = []
    for line, col, code, message in sorted(hits):
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        if not is_suppressed(source_line, code):
            findings.append(_finding(path, line, col + 1, code, message))
    return findings


def lint_source(
    source: str,
    path: str = "<string>",
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    baseline: Mapping[str, str] | None = None,
    module: str | None = None,
) -> list[Finding]:
    """Lint Python ``source`` text and return its findings, in line order.

    ``path`` is only used in the findings; ``module`` (default: the file name without ``.py``) names the
    module for the ``external_id_key`` baseline (ARS010). Raises ``ValueError`` for an unknown code.
    """
    return lint_text(
        source, path, enabled_codes(select, ignore), module=module or Path(path).stem, baseline=baseline
    )
