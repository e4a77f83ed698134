"""Runs the example test files of the Testing page (docs/examples/testing/test_*.py) as part of this suite.

Each example module is imported with its folder on ``sys.path`` (as a DAG author's project would have its
DAG modules importable), and its tests and fixtures are re-exported here, so pytest runs them exactly as
written, with the real fixtures of the ``airflow_resumable`` pytest plugin.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "testing"
EXAMPLE_TESTS = sorted(EXAMPLES.glob("test_*.py"))


def _export(module: Any) -> list[str]:
    """Copy the module's tests and fixtures into this module; return the test names."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("test_") and inspect.isfunction(value):
            if "airflow_sandbox" in inspect.signature(value).parameters:
                value = pytest.mark.airflow(value)
            names.append(name)
        elif not hasattr(value, "_fixture_function_marker") and type(value).__name__ != (
            "FixtureFunctionDefinition"
        ):
            continue
        if name in globals():
            raise RuntimeError(f"{module.__file__}: {name!r} is defined twice among the examples")
        globals()[name] = value
    return names


sys.path.insert(0, str(EXAMPLES))
EXPORTED = {path.name: _export(importlib.import_module(path.stem)) for path in EXAMPLE_TESTS}


def test_every_example_test_file_contributed_tests() -> None:
    # test_invoice_sync.py tests the DAG in invoice_sync.py; test_fake_context.py a Checkpointer loop
    assert set(EXPORTED) == {"test_fake_context.py", "test_invoice_sync.py"}
    assert all(EXPORTED.values()), EXPORTED
