"""What every check receives ([`Module`][airflow_resumable.lint.checks.base.Module]) and returns
([`Hit`][airflow_resumable.lint.checks.base.Hit])."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from airflow_resumable.lint.tasks import task_functions

if TYPE_CHECKING:
    import ast
    from collections.abc import Mapping

    from airflow_resumable.lint.index import FuncInfo, ModuleIndex
    from airflow_resumable.lint.stores import StoreResolver

__all__ = ["Hit", "Module", "hit"]


class Hit(NamedTuple):
    """A finding before path, hint, suppressions and selection are applied; ``col`` is 0-based."""

    line: int
    col: int
    code: str
    message: str


@dataclass
class Module:
    """One parsed module and the shared analyses over it."""

    tree: ast.Module
    index: ModuleIndex
    stores: StoreResolver
    name: str
    baseline: Mapping[str, str] | None
    source: str = ""
    _task_ids: set[int] | None = field(default=None, repr=False)

    def in_task(self, func: FuncInfo | None) -> bool:
        """True when ``func`` runs as part of a task (see
        [`airflow_resumable.lint.tasks`][airflow_resumable.lint.tasks])."""
        if func is None:
            return False
        if self._task_ids is None:
            self._task_ids = task_functions(self.index)
        return id(func) in self._task_ids


def hit(node: ast.stmt | ast.expr | ast.keyword | ast.arg, code: str, message: str) -> Hit:
    """Build a [`Hit`][airflow_resumable.lint.checks.base.Hit] at ``node``'s start."""
    return Hit(node.lineno, node.col_offset, code, message)
