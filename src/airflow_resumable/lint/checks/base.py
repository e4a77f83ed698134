"""What every check receives (:class:`Module`) and returns (:class:`Hit`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import ast
    from collections.abc import Mapping

    from airflow_resumable.lint.index import ModuleIndex
    from airflow_resumable.lint.stores import StoreResolver

__all__ = ["Hit", "Module", "hit"]


class Hit(NamedTuple):
    """A finding before path, hint, suppressions and selection are applied; ``col`` is 0-based."""

    line: int
    col: int
    code: str
    message: str


@dataclass(frozen=True)
class Module:
    """One parsed module and the shared analyses over it."""

    tree: ast.Module
    index: ModuleIndex
    stores: StoreResolver
    name: str
    baseline: Mapping[str, str] | None


def hit(node: ast.stmt | ast.expr | ast.keyword | ast.arg, code: str, message: str) -> Hit:
    """Build a :class:`Hit` at ``node``'s start."""
    return Hit(node.lineno, node.col_offset, code, message)
