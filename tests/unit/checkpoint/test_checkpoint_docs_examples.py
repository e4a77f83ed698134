"""Runs the unit-test example of the Checkpoints page (docs/examples/checkpoint/test_checkpointed_task.py).

The example DAGs of that page run on real Airflow in tests/integration/test_checkpoint_dags.py.
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

EXAMPLE = (
    Path(__file__).resolve().parents[3] / "docs" / "examples" / "checkpoint" / "test_checkpointed_task.py"
)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_docs_example_checkpointed_task", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


MODULE = _load()
TESTS = [
    name for name, value in vars(MODULE).items() if name.startswith("test_") and inspect.isfunction(value)
]


def test_the_example_has_tests() -> None:
    assert len(TESTS) == 2


@pytest.mark.parametrize("name", TESTS)
def test_example(name: str) -> None:
    getattr(MODULE, name)()
