"""ARS001: Variables used as per-run or retry state inside tasks."""

from __future__ import annotations

from airflow.models import Variable as V
from airflow.sdk import DAG, Variable, get_current_context, task

PROGRESS_KEY = "orders_export_progress"

with DAG(dag_id="ars001_bad", schedule=None):

    @task
    def export(run_id=None):
        done = int(Variable.get(PROGRESS_KEY, default_var="0"))  # expect: ARS001
        Variable.set(PROGRESS_KEY, str(done + 10))  # expect: ARS001
        V.set(f"export_{run_id}", "started")  # expect: ARS001
        status = V.get(f"export_{run_id}")  # expect: ARS001
        return status

    @task
    def submit():
        job_id = Variable.get("spark_job_id", default_var=None)  # expect: ARS001
        if job_id is None:
            Variable.update("spark_job_id", "j-123")  # expect: ARS001
        return job_id

    def read_shared_flag():
        ctx = get_current_context()
        return Variable.get("flag_" + ctx["run_id"]), Variable.get("nightly_marker")  # expect: ARS001, ARS001

    @task
    def mark():
        Variable.set("nightly_marker", "x")  # expect: ARS001
        return read_shared_flag()

    export() >> submit() >> mark()
