"""Reading the state stores from the metadata DB in the API server process, decoded by
[`airflow_resumable.ops.decode`][airflow_resumable.ops.decode] (the one decoding path the ``state`` command
uses too).

Every function takes the SQLAlchemy session the API server's routes get (``SessionDep``) and only reads. The
rows are selected with the same columns Airflow's own state-store routes read; values are the stored JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_resumable.ops import decode
from airflow_resumable.ops.records import (
    CheckpointRecord,
    JobRecord,
    TaskRef,
    WatermarkEvent,
    WatermarkView,
    job_fields,
)
from airflow_resumable.ui.links import job_link

__all__ = ["AssetWatermarks", "TaskProgress", "run_progress", "task_progress", "watermarks"]

"""Rendered fields (besides ``*conn_id``) a job link is built from: ids and a region, never secrets."""


@dataclass(frozen=True)
class TaskProgress:
    """One task instance with its decoded checkpoints and jobs (and a backend link per job, if known)."""

    task: TaskRef
    checkpoints: list[CheckpointRecord]
    jobs: list[JobRecord]
    links: dict[str, str] = field(default_factory=dict)
    """Per job key: the backend's page for the job (Databricks ``run_page_url``, AWS console URL)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.to_json(),
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "jobs": [{**j.to_json(), "link": self.links.get(j.key)} for j in self.jobs],
        }


@dataclass(frozen=True)
class AssetWatermarks:
    """An asset's watermarks with their kept history and who last wrote each key."""

    view: WatermarkView
    history: list[WatermarkEvent]
    last_writer: dict[str, dict[str, Any]]
    """Per key: Airflow's ``last_updated_by`` of the row (``kind``, dag_id, run_id, task_id, map_index)."""
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.view.to_json(),
            "history": [e.to_json() for e in self.history],
            "last_writer": self.last_writer,
            "problem": self.problem,
        }


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _rendered(session: Any, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, str]]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from sqlalchemy import select

    rows = session.execute(
        select(RTIF.task_id, RTIF.map_index, RTIF.rendered_fields).where(
            RTIF.dag_id == dag_id, RTIF.run_id == run_id
        )
    ).all()
    return {(r.task_id, r.map_index): job_fields(r.rendered_fields) for r in rows}


def _page_urls(session: Any, dag_id: str, run_id: str) -> dict[tuple[str, int], str]:
    """The ``run_page_url`` XComs of the run (what Databricks operators push), per task instance."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.execute(
        select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "run_page_url"
        )
    ).all()
    found = {}
    for r in rows:
        value = _loads(r.value)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            found[(r.task_id, r.map_index)] = value
    return found


def _entries(
    session: Any, dag_id: str, run_id: str, task_id: str | None
) -> dict[tuple[str, int], dict[str, Any]]:
    from airflow.models.task_state_store import TaskStateStoreModel as S
    from sqlalchemy import select

    statement = select(S.task_id, S.map_index, S.key, S.value).where(S.dag_id == dag_id, S.run_id == run_id)
    if task_id is not None:
        statement = statement.where(S.task_id == task_id)
    grouped: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
    for r in session.execute(statement).all():
        grouped[(r.task_id, r.map_index)][r.key] = _loads(r.value)
    return grouped


def _progress(
    task: TaskRef, entries: dict[str, Any], page_url: str | None, fields: dict[str, str]
) -> TaskProgress:
    task = dataclasses.replace(task, job_fields=fields)
    jobs = decode.jobs(task, entries)
    links = {j.key: link for j in jobs if (link := job_link(j, page_url)) is not None}
    return TaskProgress(task, decode.checkpoints(task, entries), jobs, links)


def run_progress(
    session: Any, dag_id: str, run_id: str, task_id: str | None = None, map_index: int | None = None
) -> list[TaskProgress] | None:
    """Every task instance of a DAG run (or one task's, or one task instance) with its records, ordered by
    task and map index; ``None`` when the run does not exist."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    run_state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run_state is None:
        return None
    statement = select(
        TI.task_id, TI.map_index, TI.state, TI.try_number, TI.operator, TI.custom_operator_name
    ).where(TI.dag_id == dag_id, TI.run_id == run_id)
    if task_id is not None:
        statement = statement.where(TI.task_id == task_id)
    if map_index is not None:
        statement = statement.where(TI.map_index == map_index)
    entries = _entries(session, dag_id, run_id, task_id)
    rendered = _rendered(session, dag_id, run_id)
    pages = _page_urls(session, dag_id, run_id)
    found = []
    for r in session.execute(statement.order_by(TI.task_id, TI.map_index)).all():
        task = TaskRef(
            dag_id=dag_id,
            run_id=run_id,
            task_id=r.task_id,
            map_index=r.map_index,
            state=_state(r.state),
            try_number=r.try_number,
            operator=r.operator,
            run_state=_state(run_state),
        )
        where = (r.task_id, r.map_index)
        found.append(_progress(task, entries.get(where, {}), pages.get(where), rendered.get(where, {})))
    return found


def task_progress(
    session: Any, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskProgress | None:
    """One task instance with its records; ``None`` when it does not exist."""
    found = run_progress(session, dag_id, run_id, task_id, map_index)
    return found[0] if found else None


def watermarks(session: Any) -> list[AssetWatermarks]:
    """Every asset whose state store holds at least one Watermark record, by asset name."""
    from airflow.models.asset import AssetModel
    from airflow.models.asset_state_store import AssetStateStoreModel as S
    from sqlalchemy import select

    from airflow_resumable.errors import ResumableError

    rows = session.execute(
        select(
            S.asset_id,
            S.key,
            S.value,
            S.last_updated_by_kind,
            S.last_updated_by_dag_id,
            S.last_updated_by_run_id,
            S.last_updated_by_task_id,
            S.last_updated_by_map_index,
            AssetModel.name,
            AssetModel.uri,
        )
        .join(AssetModel, AssetModel.id == S.asset_id)
        .order_by(AssetModel.name, S.key)
    ).all()
    by_asset: dict[int, tuple[str, str, dict[str, Any], dict[str, dict[str, Any]]]] = {}
    for r in rows:
        name, uri, entries, writers = by_asset.setdefault(r.asset_id, (r.name, r.uri, {}, {}))
        entries[r.key] = _loads(r.value)
        if r.last_updated_by_kind is not None:
            writers[r.key] = {
                "kind": r.last_updated_by_kind,
                "dag_id": r.last_updated_by_dag_id,
                "run_id": r.last_updated_by_run_id,
                "task_id": r.last_updated_by_task_id,
                "map_index": r.last_updated_by_map_index,
            }
    found = []
    for asset_id, (name, uri, entries, writers) in by_asset.items():
        if not any(decode.is_watermark(v) for v in entries.values()):
            continue
        try:
            view = decode.watermarks(asset_id, name, uri, entries)
        except ResumableError as exc:
            empty = WatermarkView(asset_id, name, uri, (), {}, tuple(entries))
            found.append(AssetWatermarks(empty, [], {}, problem=str(exc)))
            continue
        found.append(AssetWatermarks(view, decode.watermark_history(view), writers))
    return found


def age_seconds(when: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds since ``when`` (``None`` when unknown)."""
    if when is None:
        return None
    now = now or datetime.now(tz=timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (now - when).total_seconds())
