"""The README's example is real code: it runs through real Airflow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README must open with a Python example"
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 25
    result = airflow_sandbox.run_dag(example)
    assert result.state == "success", result.output[-2000:]
    assert "exported 9999" in result.output
    assert result.task_state_keys("export_rows") == {}  # progress is cleared on success


def test_readme_names_the_two_commands_ci_runs() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci
