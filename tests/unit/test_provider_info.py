"""Airflow's provider discovery finds the package: ``airflow providers list`` shows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

import airflow_resumable
from airflow_resumable.provider_info import get_provider_info


def test_provider_info_matches_airflows_schema() -> None:
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == distribution("airflow-resumable").metadata["Name"]
    assert info["versions"] == [airflow_resumable.__version__]


def test_entry_point_is_declared_and_importing_the_package_stays_cheap() -> None:
    points = [
        ep for ep in distribution("airflow-resumable").entry_points if ep.group == "apache_airflow_provider"
    ]
    assert [ep.value for ep in points] == ["airflow_resumable.provider_info:get_provider_info"]
    code = "import sys, airflow_resumable; print('airflow_resumable.provider_info' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.airflow
def test_airflow_providers_list_shows_the_package(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    airflow_cli = Path(sys.executable).parent / "airflow"
    result = subprocess.run(
        [str(airflow_cli), "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = {p["package_name"]: p for p in json.loads(result.stdout[result.stdout.index("[") :])}
    assert listed["airflow-resumable"]["version"] == airflow_resumable.__version__
