"""ARS011: values that are not JSON written to a state store."""

from __future__ import annotations

import datetime as dt
import math
from datetime import date, datetime, timezone
from decimal import Decimal

import pendulum
from airflow.sdk import DAG, get_current_context, task


def remember_pair():
    get_current_context()["task_state_store"].set("pair", (1,))  # expect: ARS011


with DAG(dag_id="ars011_bad", schedule=None):

    @task
    def save(task_state_store=None):
        task_state_store.set("started", datetime.now())  # expect: ARS011
        task_state_store.set("started_utc", datetime.utcnow())  # expect: ARS011
        task_state_store.set("day", date.today())  # expect: ARS011
        task_state_store.set("at", dt.datetime(2026, 1, 1))  # expect: ARS011
        task_state_store.set("aware", datetime.now(tz=timezone.utc))  # expect: ARS011
        task_state_store.set("pendulum", pendulum.now("UTC"))  # expect: ARS011
        task_state_store.set("pair", (1, 2))  # expect: ARS011
        task_state_store.set("ids", {1, 2})  # expect: ARS011
        task_state_store.set("raw", b"x")  # expect: ARS011
        task_state_store.set("by_id", {1: "a"})  # expect: ARS011
        task_state_store.set("ratio", float("nan"))  # expect: ARS011
        task_state_store.set("gone", None)  # expect: ARS011
        task_state_store.set(key="limit", value=math.inf)  # expect: ARS011
        task_state_store.set("nested", {"at": datetime.now()})  # expect: ARS011
        task_state_store.set("amount", Decimal("1.5"))  # expect: ARS011
        task_state_store.set("frozen", frozenset())  # expect: ARS011

    @task
    def via_context(**context):
        store = context["task_state_store"]
        store.set("when", context["logical_date"])  # expect: ARS011
        alias = store
        alias.set("seen", set())  # expect: ARS011
        kwargs_store = context.get("task_state_store")
        kwargs_store.set("window", dt.timedelta(hours=1))  # expect: ARS011

    @task
    def asset_write(asset_state_store=None):
        asset_state_store.set("loaded_at", datetime.now())  # expect: ARS011

    save() >> via_context() >> asset_write()
