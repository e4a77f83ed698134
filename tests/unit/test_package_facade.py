"""``airflow_resumable``'s flat facade: lazy at run time, fully visible to type checkers and the API docs."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_resumable

INIT = Path(airflow_resumable.__file__)


def test_all_lists_every_lazy_name_and_the_version() -> None:
    assert airflow_resumable.__all__ == sorted([*airflow_resumable._LAZY, "__version__"])


def test_type_checking_block_imports_every_lazy_name_from_its_module() -> None:
    """mypy and griffe (the API reference) see the names the lazy loader serves, from the same modules."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    expected = {name: f"airflow_resumable.{module}" for name, module in airflow_resumable._LAZY.items()}
    assert imported == expected


def test_version_is_a_plain_literal_the_build_can_read() -> None:
    assignments = [
        n
        for n in ast.parse(INIT.read_text()).body
        if isinstance(n, ast.Assign) and ast.unparse(n).startswith("__version__")
    ]
    assert len(assignments) == 1 and isinstance(assignments[0].value, ast.Constant)
