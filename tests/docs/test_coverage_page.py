"""docs/coverage.md stays true: every provider operator is on it, "Durable here" names the existing drop-ins.

When this fails after adding a drop-in, edit the operator's row in docs/coverage.md ("Durable here": the
import path of the drop-in, "How": token / name / marker / id only).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "coverage.md"
PROVIDERS = ("airflow.providers.databricks.operators", "airflow.providers.amazon.aws.operators")
JOBS = ROOT / "src" / "airflow_resumable" / "jobs"


def _rows() -> dict[str, list[str]]:
    """Operator name -> the cells of its table row."""
    rows = {}
    for line in PAGE.read_text().splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0].split("`")[1]] = cells
    return rows


def _provider_operators() -> dict[str, str]:
    """Every ``...Operator`` class defined in the installed providers' operators modules -> its module."""
    found = {}
    for package_name in PROVIDERS:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            spec = importlib.util.find_spec(f"{package_name}.{info.name}")
            assert spec is not None and spec.origin is not None
            for node in ast.parse(Path(spec.origin).read_text()).body:
                if isinstance(node, ast.ClassDef) and node.name.endswith("Operator"):
                    found[node.name] = f"{package_name}.{info.name}"
    return found


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _drop_ins() -> dict[str, type]:
    """Provider operator name -> the library's drop-in for it, from every public module in jobs/."""
    from airflow_resumable.jobs.base import DurableJobMixin

    drop_ins: dict[str, type] = {}
    for path in sorted(JOBS.glob("*.py")):
        if path.stem.startswith("_") or path.stem == "base":
            continue
        module = importlib.import_module(f"airflow_resumable.jobs.{path.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, DurableJobMixin) or not cls.__module__.startswith("airflow_resumable"):
                continue
            upstream = [c for c in cls.__mro__ if c.__module__.startswith("airflow.providers.")]
            if upstream and upstream[0].__name__.endswith("Operator"):
                drop_ins.setdefault(upstream[0].__name__, cls)
    return drop_ins


def test_every_provider_operator_is_on_the_page() -> None:
    text = PAGE.read_text()
    missing = [
        f"{module}.{name}"
        for name, module in sorted(_provider_operators().items())
        if f"`{name}`" not in text and not (name.startswith("_") and "Base" in name)
    ]
    assert missing == [], "add these to docs/coverage.md (a table row, or the 'Not external jobs' list)"


def test_every_operator_in_the_tables_exists_in_the_installed_providers() -> None:
    stale = sorted(set(_rows()) - set(_provider_operators()))
    assert stale == [], "rows of docs/coverage.md naming operators the installed providers do not have"


def test_durable_here_names_exactly_the_drop_ins_that_exist() -> None:
    rows, drop_ins = _rows(), _drop_ins()
    assert drop_ins, "no drop-ins found in airflow_resumable.jobs"
    for upstream, cls in sorted(drop_ins.items()):
        assert upstream in rows, f"docs/coverage.md has no row for {upstream} (drop-in {cls.__qualname__})"
        cell = rows[upstream][3].strip("`")
        assert cell != "no", (
            f"docs/coverage.md: set 'Durable here' of {upstream} to the drop-in's import path"
        )
        named = _resolve(cell)
        assert named is cls or getattr(named, "launch_operator_class", None) is cls, (upstream, cell)
    for name, cells in rows.items():
        if cells[3] != "no":
            assert name in drop_ins, f"docs/coverage.md says {name} is durable here, but no drop-in exists"


def test_the_how_column_uses_the_legend() -> None:
    hows = {cells[4].split(" ")[0].strip("(;") for cells in _rows().values()}
    assert hows <= {"token", "name", "marker", "id", "—"}, hows
