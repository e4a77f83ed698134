"""ARS003: watermarks kept in Airflow Variables."""

from __future__ import annotations

import airflow.models
from airflow import models
from airflow.models.variable import Variable
from airflow.sdk import DAG, task

WATERMARK_KEY = "orders_wm"
START_AT = Variable.get("orders_cursor", default_var="0")  # expect: ARS003

with DAG(dag_id="ars003_bad", schedule=None):

    @task
    def load(table: str, now: str):
        since = Variable.get("orders_last_loaded_at")  # expect: ARS003
        position = Variable.get(WATERMARK_KEY)  # expect: ARS003
        high = models.Variable.get("eventsHighWaterMark")  # expect: ARS003
        last_id = airflow.models.Variable.get("events")  # expect: ARS003
        Variable.set(f"{table}_watermark", now)  # expect: ARS003
        Variable.set("kafka_offset", 42)  # expect: ARS003
        return since, position, high, last_id

    load("orders", "2026-01-01T00:00:00+00:00")
