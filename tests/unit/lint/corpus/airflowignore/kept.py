"""A DAG file that keeps retry state in a Variable (ARS001), checked."""

from __future__ import annotations

from airflow.sdk import DAG, Variable, task

with DAG(dag_id="airflowignore_kept", schedule=None):

    @task
    def export():
        return Variable.get("export_progress", default_var="0")  # expect: ARS001

    export()
