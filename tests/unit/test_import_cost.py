"""DAG files import this library on every parse: importing it must stay cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_import_loads_no_airflow_provider_or_heavy_module() -> None:
    loaded = _modules_after("import airflow_resumable")
    heavy = [m for m in loaded if m.split(".")[0] in {"airflow", "tenacity", "pydantic", "boto3", "botocore"}]
    assert heavy == []


def test_jobs_package_does_not_import_providers() -> None:
    loaded = _modules_after("import airflow_resumable.jobs")
    assert [m for m in loaded if m.startswith("airflow.providers")] == []


def test_public_names_resolve_lazily() -> None:
    import airflow_resumable

    assert airflow_resumable.ResumableError.__name__ == "ResumableError"
    assert "Checkpointer" in dir(airflow_resumable)
    with pytest.raises(AttributeError, match="NoSuchThing"):
        airflow_resumable.NoSuchThing  # noqa: B018
