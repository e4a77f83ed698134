"""The checker over the DAG files shipped with the installed Airflow and providers, and over the provider
operators that build on ResumableJobMixin. Every finding below was reviewed by hand.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from airflow_resumable.lint.checker import enabled_codes
from airflow_resumable.lint.runner import lint_files


def airflow_root() -> Path:
    spec = importlib.util.find_spec("airflow")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("apache-airflow is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def example_dag_files() -> list[Path]:
    """``airflow/**/example_dags/**/*.py`` (core and providers) and any ``tests/system`` folder."""
    root = airflow_root()
    files = {*root.glob("**/example_dags/**/*.py"), *root.glob("**/tests/system/**/*.py")}
    return sorted(files)


def test_example_dags_are_checked_without_crashing() -> None:
    files = example_dag_files()
    names = {path.name for path in files}
    # apache-airflow 3.3.2 ships 59 example DAG files, the standard provider 22 and common.sql 1.
    assert len(files) >= 80
    assert {
        "example_task_state_store.py",
        "example_task_state_store_async.py",
        "example_task_state_store_mapped.py",
        "example_asset_state_store.py",
        "tutorial_dag.py",
        "example_xcom.py",
    } <= names
    findings = lint_files(files, enabled_codes())
    # Reviewed: none. The XCom examples pull other tasks' XComs by task_ids (not their own), the state
    # store examples write JSON values (isoformat strings, dicts), the mapped example writes the task
    # store (already one namespace per map index) and the asset example's writer is not mapped.
    assert Counter(finding.code for finding in findings) == Counter()


def test_provider_operators_built_on_the_mixin() -> None:
    root = airflow_root() / "providers"
    files = [
        root / "databricks" / "operators" / "databricks.py",
        root / "amazon" / "aws" / "operators" / "glue.py",
        root / "amazon" / "aws" / "operators" / "redshift_data.py",
        root / "common" / "compat" / "_resumable_job_mixin.py",
    ]
    present = [path for path in files if path.is_file()]
    if len(present) < len(files):
        pytest.skip("the databricks, amazon and common.compat providers are needed")
    findings = lint_files(present, enabled_codes())
    # Reviewed: GlueJobOperator._find_previous_job_run reads its own "glue_job_run_id" XCom on retry.
    # True positive: its docstring says every Airflow 3 release clears task XComs before each attempt,
    # so that tier always misses there and a task-UUID scan is the real reconnect path.
    assert [(Path(f.path).name, f.code) for f in findings] == [("glue.py", "ARS002")]
    assert (
        "glue_job_run_id"
        in Path(findings[0].path).read_text(encoding="utf-8").splitlines()[findings[0].line - 1]
    )
