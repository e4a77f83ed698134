"""The one decoding path (airflow_resumable.ops.decode) on records written by the library's own code."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from airflow_resumable import Checkpointer, Watermark, every
from airflow_resumable.jobs._intent import new_intent
from airflow_resumable.jobs._job_state import record_submitted
from airflow_resumable.ops import decode
from airflow_resumable.ops.errors import RefusedError
from airflow_resumable.ops.records import TaskRef
from airflow_resumable.ops.tasks import parse_duration
from airflow_resumable.ops.watermarks import parse_value
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

TASK = TaskRef("dag", "run", "task", state="failed", try_number=1)
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _entries(store) -> dict:
    return {k: store.get(k) for k in store.keys()}  # noqa: SIM118 - the store is no mapping


def _copy_events_failing_on_day_4(store) -> None:
    with Checkpointer("events", store=store, initial=T0, commit=every(1)) as ckpt:
        for when in ckpt.iterate([T0.replace(day=d) for d in (2, 3, 4)], key=lambda t: t):
            if when.day == 4:
                raise ConnectionError


def test_checkpoint_positions_are_decoded_with_their_type(task_state_store) -> None:
    with pytest.raises(ConnectionError):
        _copy_events_failing_on_day_4(task_state_store)
    task_state_store.set("unrelated", {"position": "x"})  # no items_done: not a checkpoint

    (record,) = decode.checkpoints(TASK, _entries(task_state_store))
    assert record.key == "events" and record.position == T0.replace(day=3)
    assert record.position_type == "datetime" and record.items_done == 2 and record.problem is None
    assert record.to_json()["position"] == "2026-03-03T00:00:00+00:00"


def test_a_position_written_with_a_custom_codec_is_shown_raw_with_the_reason() -> None:
    raw = {"position": {"$type": "no-such-type", "value": 1}, "items_done": 5, "version": 1}
    (record,) = decode.checkpoints(TASK, {"rows": raw})
    assert record.position == raw["position"] and record.position_type == "stored form"
    assert "could not be decoded" in (record.problem or "")


def test_job_intents_ids_without_intent_and_recorded_cancellations(task_state_store) -> None:
    intent = new_intent(2, "abc-g2")
    record_submitted(task_state_store, "my_job_id", intent, 881, owner="Op")
    task_state_store.set("databricks_run_now_id", 77)  # stored by the provider's own operator
    task_state_store.set("other.intent", {"generation": 1, "token": "t", "state": "submitting"})

    jobs = {j.key: j for j in decode.jobs(TASK, _entries(task_state_store))}
    assert jobs["my_job_id"].external_id == 881 and jobs["my_job_id"].generation == 2
    assert jobs["my_job_id"].recorded_state == "submitted" and jobs["my_job_id"].submitted_at is not None
    assert jobs["other"].external_id is None and jobs["other"].recorded_state == "submitting"
    assert jobs["databricks_run_now_id"].recorded_state == "id only"

    stored = task_state_store.get("my_job_id.intent")
    task_state_store.set("my_job_id.intent", {**stored, "cancelled": {"external_id": 881, "by": "oncall"}})
    (cancelled,) = [j for j in decode.jobs(TASK, _entries(task_state_store)) if j.key == "my_job_id"]
    assert cancelled.recorded_state == "cancelled"


def test_partitions_merge_to_the_slowest_and_history_keeps_rewinds() -> None:
    store = InMemoryAssetStateStore("orders", InMemoryStateBackend())
    eu = Watermark("orders", initial=0, partition="eu", store=store)
    us = Watermark("orders", initial=0, partition="us", store=store)
    eu.advance(50)
    us.advance(80)
    us.rewind(30, reason="replay us")
    store.set("notes", "hello")

    rows = {key: store.get(key) for (name, key) in store.backend.asset_rows if name == "orders"}
    view = decode.watermarks(1, "orders", "s3://orders", rows)
    assert {k.key: k.value for k in view.keys} == {"watermark/eu": 50, "watermark/us": 30}
    assert view.merged == {"watermark": 30} and view.other_keys == ("notes",)
    events = decode.watermark_history(view, ["watermark/us"])
    assert [(e.event, e.previous, e.value, e.reason) for e in events] == [("rewind", 80, 30, "replay us")]


@pytest.mark.parametrize(
    ("initial", "text", "expected"),
    [
        (T0, "2026-03-02T00:00:00Z", T0.replace(day=2)),
        (date(2026, 3, 1), "2026-02-01", date(2026, 2, 1)),
        (10, "7", 7),
        (Decimal("1.5"), "0.5", Decimal("0.5")),
    ],
)
def test_rewind_values_are_parsed_like_the_stored_value(initial, text, expected) -> None:
    assert parse_value(text, initial) == expected


def test_naive_datetimes_and_bad_durations_are_refused() -> None:
    with pytest.raises(RefusedError, match="no UTC offset"):
        parse_value("2026-03-02T00:00:00", T0)
    with pytest.raises(RefusedError, match="is not a int"):
        parse_value("yesterday", 1)
    assert parse_duration("2d").days == 2
    with pytest.raises(ValueError, match="7d, 12h"):
        parse_duration("7 days")


def test_finished_means_no_try_will_come_back_for_the_job() -> None:
    assert TaskRef("d", "r", "t", state="failed").finished
    assert TaskRef("d", "r", "t", state="success").finished
    assert not TaskRef("d", "r", "t", state="up_for_retry").finished
    assert not TaskRef("d", "r", "t", state="deferred").finished
    assert not TaskRef("d", "r", "t", state=None, run_state="running").finished  # cleared, will run
    assert TaskRef("d", "r", "t", state=None, run_state="failed").finished
