"""No ARS011: JSON values, and set() on things that are not state stores."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from airflow.sdk import DAG, task

CACHE: dict[str, object] = {}


class Cache:
    def set(self, key, value):
        CACHE[key] = value


with DAG(dag_id="ars011_ok", schedule=None):

    @task
    def save(task_state_store=None):
        task_state_store.set("started", datetime.now(tz=timezone.utc).isoformat())
        task_state_store.set("pair", [1, 2])
        task_state_store.set("by_id", {"1": "a"})
        task_state_store.set("maybe", [None, 1])
        task_state_store.set("ratio", math.floor(2.5))
        task_state_store.set("note", "nan")
        Cache().set("pair", (1, 2))
        redis = Cache()
        redis.set("at", datetime.now())

    save()
