"""``airflow_resumable``'s flat facade: lazy at run time, fully visible to type checkers and the API docs."""

from __future__ import annotations

import ast
import re
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


def test_every_drop_in_is_exported_from_a_backend_module_the_reference_lists() -> None:
    """Operators are imported from ``airflow_resumable.jobs.<backend>``: every public module of ``jobs/``
    has ``__all__`` (each name resolving, each drop-in it defines listed), and every drop-in of a public
    provider operator is exported from a module the API reference's table names."""
    import importlib

    from airflow_resumable.jobs.base import DurableJobMixin

    reference = (INIT.parents[2] / "docs" / "reference.md").read_text()
    listed = set(re.findall(r"^\| `(airflow_resumable\.jobs\.\w+)` \| ([^|]+)\|", reference, re.M))
    exported = {(module, name) for module, names in listed for name in re.findall(r"`(\w+)`", names)}
    for path in sorted((INIT.parent / "jobs").glob("*.py")):
        if path.stem.startswith("_") or path.stem == "base":
            continue
        module = importlib.import_module(f"airflow_resumable.jobs.{path.stem}")
        assert [name for name in module.__all__ if not hasattr(module, name)] == [], path.stem
        for name, value in vars(module).items():
            if name.startswith("_") or not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if not issubclass(value, DurableJobMixin):
                continue
            assert name in module.__all__, f"{module.__name__}.__all__ lacks {name}"
            upstream = [c for c in value.__mro__ if c.__module__.startswith("airflow.providers.")]
            if not upstream or upstream[0].__name__.startswith("_"):  # built by a public helper instead
                continue
            assert any(n == name and getattr(importlib.import_module(m), n) is value for m, n in exported), (
                f"docs/reference.md names no airflow_resumable.jobs.<backend> exporting {name}"
            )
