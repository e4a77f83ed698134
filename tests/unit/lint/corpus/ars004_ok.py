"""No ARS004: submits that wait, fire-and-forget submits, and a deliberate split marked with noqa."""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG


def run_finished(run_id: int) -> bool:
    return bool(run_id)


with DAG(dag_id="ars004_ok", schedule=None, default_args={"retries": 2}):
    durable = DatabricksSubmitRunOperator(task_id="durable", json={})
    deferred = DatabricksSubmitRunOperator(
        task_id="deferred", json={}, wait_for_termination=False, deferrable=True
    )
    PythonSensor(task_id="after_deferred", python_callable=run_finished, op_args=[deferred.output])

    fire_and_forget = DatabricksSubmitRunOperator(task_id="warmup", json={}, wait_for_termination=False)
    unrelated = PythonSensor(task_id="unrelated", python_callable=run_finished, op_args=[durable.output])

    steps = EmrAddStepsOperator(task_id="steps", job_flow_id="j-1", steps=[], wait_for_completion=True)
    EmrStepSensor(task_id="steps_done", job_flow_id="j-1", step_id="{{ ti.xcom_pull(task_ids='steps')[0] }}")

    split = DatabricksSubmitRunOperator(task_id="split", json={}, wait_for_termination=False)  # noqa: ARS004
    split_wait = PythonSensor(
        task_id="split_wait", mode="reschedule", python_callable=run_finished, op_args=[split.output]
    )
