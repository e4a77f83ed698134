"""The Airflow UI plugin: a "Progress" tab on task instances, a "Resumable state" tab on DAG runs
and a "Watermarks" page, served by the API server (see
[`ResumablePlugin`][airflow_resumable.ui.plugin.ResumablePlugin]).

Installed with the package and registered by its ``airflow.plugins`` entry point. Nothing here is imported by
``import airflow_resumable``.
"""
