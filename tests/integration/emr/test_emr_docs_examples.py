"""The EMR examples on the docs site (docs/examples/emr) run on real Airflow against a local AWS (moto)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from emr_dags import return_values

import moto_server

pytestmark = pytest.mark.airflow

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples" / "emr"
SERVERLESS = EXAMPLES / "serverless_dag.py"
EKS = EXAMPLES / "eks_dag.py"
STEPS = EXAMPLES / "steps_dag.py"
DAY = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_every_emr_example_is_run_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {SERVERLESS.name, EKS.name, STEPS.name}


def test_serverless_example(airflow_sandbox, application) -> None:
    result = airflow_sandbox.run_dag(
        SERVERLESS,
        run_conf={"application_id": application, "role_arn": moto_server.ROLE_ARN},
        logical_date=DAY,
    )

    assert result.state == "success", result.output[-3000:]
    [run] = moto_server.serverless_job_runs(application)
    intent = result.task_state("sessionize", "emr_serverless_job_run_id.intent")
    assert run.name == "sessionize-2026-03-01"  # the provider's name; the token is in a tag
    assert run.tags == {"airflow-resumable-token": intent["token"]}
    assert result.task_state("sessionize", "emr_serverless_job_run_id") == run.id
    assert return_values(result.dag_id, result.run_id) == {"sessionize": run.id}


def test_eks_example(airflow_sandbox, virtual_cluster) -> None:
    with moto_server.jobs_finish_after(0):
        result = airflow_sandbox.run_dag(
            EKS, run_conf={"virtual_cluster_id": virtual_cluster, "role_arn": moto_server.ROLE_ARN}
        )

    assert result.state == "success", result.output[-3000:]
    [run] = moto_server.containers_job_runs(virtual_cluster)
    stored = result.task_state_keys("build_features")
    assert set(stored) == {"build_features_job_id", "build_features_job_id.intent"}
    assert stored["build_features_job_id"] == run.id
    assert run.state == "COMPLETED"
    assert run.tags == {
        "team": "ml",
        "airflow-resumable-token": stored["build_features_job_id.intent"]["token"],
    }


def test_steps_example(airflow_sandbox, cluster) -> None:
    with moto_server.jobs_finish_after(0):
        result = airflow_sandbox.run_dag(STEPS, run_conf={"cluster_id": cluster}, logical_date=DAY)

    assert result.state == "success", result.output[-3000:]
    steps = moto_server.cluster_steps(cluster)
    token = result.task_state("add_steps", "emr_step_ids.intent")["token"]
    assert [step.name for step in steps] == [
        f"clean 2026-03-01 [{token}/0]",
        f"publish 2026-03-01 [{token}/1]",
    ]
    assert [step.state for step in steps] == ["COMPLETED", "COMPLETED"]
    assert f"steps ran: {[step.id for step in steps]}" in result.output
