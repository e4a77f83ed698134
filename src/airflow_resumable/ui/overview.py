"""The "Resumable" overview page: task instances running with a checkpoint now, and jobs recorded as
submitted whose task instance has finished (candidates for ``airflow-resumable state orphans``, which asks
the backend whether they still run).

Reads only the DAGs the caller may read (the auth manager's readable DAG ids, as Airflow's own cross-DAG
task instance list does).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from airflow_resumable.jobs._intent import INTENT_SUFFIX
from airflow_resumable.ops import decode
from airflow_resumable.ops.records import ACTIVE_STATES, CheckpointRecord, JobRecord, TaskRef, show
from airflow_resumable.ops.tasks import FINISHED_TI_STATES
from airflow_resumable.ui.data import age_seconds
from airflow_resumable.ui.page import duration, esc, number, page

__all__ = ["Overview", "overview", "overview_html"]

ORPHAN_WINDOW = timedelta(days=7)
"""How far back finished task instances are looked at (``state orphans``' default ``--since``)."""


class Overview:
    """What the overview page shows."""

    def __init__(self, running: list[CheckpointRecord], orphans: list[JobRecord]) -> None:
        self.running = running
        self.orphans = orphans
        """Jobs recorded ``submitted`` (not cancelled) of task instances that finished: possible orphans."""

    def to_json(self) -> dict[str, Any]:
        return {
            "running_checkpoints": [c.to_json() for c in self.running],
            "possible_orphans": [j.to_json() for j in self.orphans],
        }


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def overview(session: Any, dag_ids: set[str], now: datetime | None = None) -> Overview:
    """Checkpoints of running task instances and possible orphans, in the DAGs ``dag_ids``."""
    from airflow.models.task_state_store import TaskStateStoreModel as S
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import and_, or_, select

    now = now or datetime.now(tz=timezone.utc)
    job_keys = or_(S.key.like("%" + INTENT_SUFFIX), S.key.in_(decode.ID_ONLY_KEYS))
    finished_recently = and_(TI.state.in_(FINISHED_TI_STATES), TI.end_date >= now - ORPHAN_WINDOW)
    rows = session.execute(
        select(
            S.dag_id, S.run_id, S.task_id, S.map_index, S.key, S.value, TI.state, TI.try_number, TI.operator
        )
        .join(
            TI,
            and_(
                TI.dag_id == S.dag_id,
                TI.run_id == S.run_id,
                TI.task_id == S.task_id,
                TI.map_index == S.map_index,
            ),
        )
        .where(S.dag_id.in_(dag_ids or {""}))
        .where(or_(TI.state.in_(ACTIVE_STATES), and_(finished_recently, job_keys)))
    ).all()
    grouped: dict[TaskRef, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        task = TaskRef(r.dag_id, r.run_id, r.task_id, r.map_index, _state(r.state), r.try_number, r.operator)
        try:
            grouped[task][r.key] = json.loads(r.value)
        except ValueError:
            continue
    running: list[CheckpointRecord] = []
    orphans: list[JobRecord] = []
    for task, entries in sorted(grouped.items(), key=lambda kv: (kv[0].dag_id, kv[0].run_id, kv[0].label)):
        if task.running:
            running += decode.checkpoints(task, entries)
        else:
            orphans += [j for j in decode.jobs(task, entries) if j.recorded_state in ("submitted", "id only")]
    return Overview(running, orphans)


def _ti_page(task: TaskRef) -> str:
    path = f"/dags/{quote(task.dag_id, safe='')}/runs/{quote(task.run_id, safe='')}/tasks/"
    path += quote(task.task_id, safe="")
    if task.map_index >= 0:
        path += f"/mapped/{task.map_index}"
    return path + "/plugin/resumable-progress"


def _left(record: CheckpointRecord, now: datetime) -> str:
    """Estimated time left of a running checkpoint, or why it is not known."""
    left = record.time_left(age_seconds(record.updated_at, now))
    if left is None:
        return "unknown (no total)" if record.total is None else "unknown (no rate yet)"
    return f"≈ {duration(left)}"


def overview_html(found: Overview, now: datetime | None = None) -> str:
    """The overview page."""
    now = now or datetime.now(tz=timezone.utc)
    running = "".join(
        f'<tr class="running-checkpoint"><td><a href="{esc(_ti_page(c.task))}" target="_top">'
        f"{esc(c.task.dag_id)} / {esc(c.task.label)}</a></td><td class='small'>{esc(c.task.run_id)}</td>"
        f"<td><code>{esc(c.key)}</code></td><td data-v='{c.items_done}'>{esc(c.progress_text)}</td>"
        f"<td>{number(c.rate)}</td><td>{esc(_left(c, now))}</td>"
        f"<td>{duration(age_seconds(c.updated_at, now))}</td></tr>"
        for c in found.running
    )
    orphans = "".join(
        f'<tr class="possible-orphan"><td><a href="{esc(_ti_page(j.task))}" target="_top">'
        f"{esc(j.task.dag_id)} / {esc(j.task.label)}</a></td><td>{esc(j.task.state)}</td>"
        f"<td>{esc(j.task.operator)}</td><td><code>{esc(j.key)}</code></td>"
        f"<td>{esc(show(j.external_id))}</td><td>{esc(j.generation)}</td></tr>"
        for j in found.orphans
    )
    body = (
        f'<div class="grid"><div><span>Running with a checkpoint</span><b class="count-running">'
        f'{len(found.running)}</b></div><div><span>Possible orphaned jobs</span><b class="count-orphans">'
        f"{len(found.orphans)}</b></div></div>"
        "<h2>Running checkpointed tasks</h2><table data-sortable><thead><tr><th data-sort>Task</th>"
        "<th data-sort>Run</th><th data-sort>Checkpoint</th><th data-sort>Items done</th>"
        f"<th>Rate (items/s)</th><th>Time left</th><th>Last commit</th></tr></thead><tbody>{running}</tbody>"
        "</table>"
        "<h2>Possible orphaned jobs</h2><p class='muted small'>Recorded as submitted while their task "
        "instance finished (last 7 days). Whether they still run at the backend, and cancelling them: "
        "<code>airflow-resumable state orphans [--cancel]</code>.</p>"
        "<table data-sortable><thead><tr><th data-sort>Task</th><th data-sort>State</th><th>Operator</th>"
        f"<th>Key</th><th>External id</th><th>Generation</th></tr></thead><tbody>{orphans}</tbody></table>"
    )
    return page("Resumable", body, refresh=5, subtitle="Checkpointed tasks running now and possible orphans")
