"""ARS004: submit without waiting, then a sensor on the same job."""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor
from airflow.providers.amazon.aws.sensors.glue import GlueJobSensor
from airflow.providers.databricks.operators.databricks import (
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
)
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG


def run_finished(run_id: int) -> bool:
    return bool(run_id)


with DAG(dag_id="ars004_bad", schedule=None, default_args={"retries": 2}):
    submit = DatabricksSubmitRunOperator(  # expect: ARS004
        task_id="submit_run",
        json={"run_name": "nightly"},
        wait_for_termination=False,
    )
    wait = PythonSensor(task_id="wait_run", python_callable=run_finished, op_kwargs={"run_id": submit.output})

    add_steps = EmrAddStepsOperator(task_id="add_steps", job_flow_id="j-1", steps=[])  # expect: ARS004
    watch_step = EmrStepSensor(
        task_id="watch_step",
        job_flow_id="j-1",
        step_id="{{ ti.xcom_pull(task_ids='add_steps')[0] }}",
    )

    glue = GlueJobOperator(task_id="glue_job", job_name="etl", wait_for_completion=False)  # expect: ARS004
    glue_wait = GlueJobSensor(task_id="glue_wait", job_name="etl", run_id=glue.output)

    run_now = DatabricksRunNowOperator.partial(  # expect: ARS004
        task_id="run_now", wait_for_termination=False
    ).expand(job_id=[1, 2])
    now_wait = PythonSensor.partial(task_id="wait_now", python_callable=run_finished).expand(
        op_args=run_now.output
    )

    submit >> wait
    add_steps >> watch_step
    glue >> glue_wait
