"""Operate resumable state from outside a task: inspect checkpoints and job intents, show, audit and
rewind watermarks, find and cancel orphaned external jobs, through a running Airflow's REST API.

The ``airflow-resumable state`` command is a thin layer over these functions, so a maintenance DAG or a
script can do the same:

```python
from airflow_resumable import ops

with ops.connect("https://airflow.example.com", username="oncall", password=...) as api:
    for record in ops.checkpoints(api, "nightly_export"):
        print(record.task.label, record.position, record.items_done, record.items_per_second)
    plan = ops.plan_rewind(api, "orders", "2026-03-02T00:00:00+00:00")
    ops.rewind(api, plan, reason="reload after the currency fix")
    found, actions = ops.orphans(api, since="2d", cancel=True)
```

Raw store rows decode through [`airflow_resumable.ops.decode`][airflow_resumable.ops.decode] (pure functions,
no I/O), which anything else that reads the rows (a UI plugin) should use too. Needs ``pip install
'airflow-resumable[ops]'`` (``apache-airflow-client``, imported only when
[`connect()`][airflow_resumable.ops.api.connect] runs).
"""

from __future__ import annotations

from airflow_resumable.ops.api import AirflowApi, StoreEntry, connect
from airflow_resumable.ops.errors import (
    AccessDeniedError,
    ApiError,
    AuthenticationError,
    NotFoundError,
    OpsError,
    RefusedError,
)
from airflow_resumable.ops.records import (
    CancelRecord,
    CheckpointRecord,
    JobRecord,
    TaskRef,
    WatermarkEvent,
    WatermarkKey,
    WatermarkView,
)
from airflow_resumable.ops.tasks import checkpoints, jobs, orphans, with_live_status
from airflow_resumable.ops.watermarks import RewindPlan, history, plan_rewind, rewind, show

__all__ = [
    "AccessDeniedError",
    "AirflowApi",
    "ApiError",
    "AuthenticationError",
    "CancelRecord",
    "CheckpointRecord",
    "JobRecord",
    "NotFoundError",
    "OpsError",
    "RefusedError",
    "RewindPlan",
    "StoreEntry",
    "TaskRef",
    "WatermarkEvent",
    "WatermarkKey",
    "WatermarkView",
    "checkpoints",
    "connect",
    "history",
    "jobs",
    "orphans",
    "plan_rewind",
    "rewind",
    "show",
    "with_live_status",
]
