"""A DAG file that keeps retry state in a Variable (ARS001), in a path .airflowignore excludes."""

from __future__ import annotations

from airflow.sdk import DAG, Variable, task

with DAG(dag_id="airflowignore_legacy_dag", schedule=None):

    @task
    def export():
        return Variable.get("export_progress", default_var="0")

    export()
