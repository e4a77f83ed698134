"""No ARS001: Variables read as configuration, and classes that only share the name."""

from __future__ import annotations

from airflow.sdk import DAG, Variable, task

BUCKET = Variable.get("landing_bucket", default_var="s3://landing")


class Settings:
    """A project class that happens to have get/set methods."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


with DAG(dag_id="ars001_ok", schedule=None):

    @task
    def configure():
        api = Variable.get("partner_api_url")
        limits = Variable.get("partner_limits", deserialize_json=True)
        Settings().set("job_id", "local only")
        return api, limits, BUCKET

    configure()
