"""No ARS002: XComs passed between tasks, read from earlier runs, or in templates."""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

with DAG(dag_id="ars002_ok", schedule=None):

    @task
    def extract(ti=None):
        ti.xcom_push(key="order_data", value='{"1001": 301.27}')

    @task
    def transform(ti=None):
        data = ti.xcom_pull(task_ids="extract", key="order_data")
        previous = ti.xcom_pull(task_ids="transform", key="total", include_prior_dates=True)
        other_dag = ti.xcom_pull(dag_id="upstream_dag", key="batch")
        return data, previous, other_dag

    @task
    def load(ti=None, upstream=None):
        return ti.xcom_pull(task_ids=upstream.task_id)

    report = BashOperator(
        task_id="report",
        bash_command="echo {{ ti.xcom_pull(key='job_id') }}",
    )

    extract() >> transform() >> load() >> report
