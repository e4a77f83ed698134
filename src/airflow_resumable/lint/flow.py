"""Can control reach the end of a block? A small, conservative answer for ``submit_job`` (ARS007).

"Terminates" means every path ends in ``return`` or ``raise``. Loops other than ``while True`` without
``break`` are assumed to fall through, which errs towards reporting a possible ``None``.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, cast

from airflow_resumable.lint.astutil import own_nodes

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["is_generator", "terminates"]

_TRY_TYPES: tuple[type[ast.stmt], ...] = tuple(
    t for t in (ast.Try, getattr(ast, "TryStar", None)) if isinstance(t, type)
)


def _breaks(loop: ast.While) -> bool:
    """True when a ``break`` belongs to ``loop`` itself (not to a nested loop)."""
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            stack.extend(node.orelse)
            continue
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _stmt_terminates(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Return | ast.Raise):
        return True
    if isinstance(stmt, ast.If):
        return terminates(stmt.body) and terminates(stmt.orelse)
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return terminates(stmt.body)
    if isinstance(stmt, _TRY_TYPES):
        try_stmt = cast("ast.Try", stmt)  # TryStar has the same fields
        if terminates(try_stmt.finalbody):
            return True
        body_ok = terminates(try_stmt.body) or terminates(try_stmt.orelse)
        return body_ok and all(terminates(handler.body) for handler in try_stmt.handlers)
    if isinstance(stmt, ast.While):
        test = stmt.test
        return isinstance(test, ast.Constant) and bool(test.value) and not _breaks(stmt)
    if isinstance(stmt, ast.Match):
        exhaustive = any(
            isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None and case.guard is None
            for case in stmt.cases
        )
        return exhaustive and all(terminates(case.body) for case in stmt.cases)
    return False


def terminates(stmts: Sequence[ast.stmt]) -> bool:
    """True when every path through ``stmts`` ends in ``return`` or ``raise``."""
    return any(_stmt_terminates(stmt) for stmt in stmts)


def is_generator(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True when ``func`` itself contains ``yield``."""
    return any(isinstance(node, ast.Yield | ast.YieldFrom) for node in own_nodes(func))
