"""Runs the example test files of the Testing page (docs/examples/testing/test_*.py) as part of this suite.

Each example module is loaded with its folder on ``sys.path`` (as a DAG author's project has its DAG
modules importable), and its tests and fixtures are re-exported here, so pytest runs them exactly as
written, with the real fixtures of the ``airflow_resumable`` pytest plugin.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "testing"


def _load(path: Path) -> ModuleType:
    """Import an example test file under a private name, so it cannot clash with this suite's modules."""
    spec = importlib.util.spec_from_file_location(f"_docs_example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _is_fixture(value: object) -> bool:
    return hasattr(value, "_fixture_function_marker") or type(value).__name__ == "FixtureFunctionDefinition"


def _export(module: ModuleType) -> list[str]:
    """Copy the module's tests and fixtures into this module; return the test names."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(value):
            if "airflow_sandbox" in inspect.signature(value).parameters:
                value = pytest.mark.airflow(value)
            names.append(name)
        elif not _is_fixture(value):
            continue
        if name in globals():
            raise RuntimeError(f"{module.__file__}: {name!r} is defined twice among the examples")
        globals()[name] = value
    return names


sys.path.insert(0, str(EXAMPLES))  # the examples import their DAG module (invoice_sync) by name
EXPORTED = {path.name: _export(_load(path)) for path in sorted(EXAMPLES.glob("test_*.py"))}


def test_every_example_test_file_contributed_tests() -> None:
    # test_invoice_sync.py tests the DAG in invoice_sync.py; test_load_rows_resumes.py a Checkpointer loop
    assert set(EXPORTED) == {"test_invoice_sync.py", "test_load_rows_resumes.py"}
    assert all(EXPORTED.values()), EXPORTED
