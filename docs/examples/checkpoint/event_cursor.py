"""Copy events in time order with a datetime cursor: a retry resumes strictly after the last copied event."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
EVENTS = [{"id": n, "at": START + timedelta(minutes=7 * n)} for n in range(40)]  # sorted by "at"


def copy(event: dict) -> None:
    """Stand-in for writing the event to the destination."""


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
def checkpoint_event_cursor():
    @task
    def copy_events(ti=None):
        # The fingerprint ties the progress to this day's input: progress saved for another day is ignored.
        with Checkpointer("events", fingerprint="events/2026-05-04", commit=every(10)) as ckpt:
            print(f"try {ti.try_number} resumes after {ckpt.position!r}")
            for event in ckpt.iterate(EVENTS, key=lambda e: e["at"]):
                if ti.try_number == 1 and event["id"] == 23:
                    raise TimeoutError("destination timed out on event 23")
                copy(event)
                print(f"try {ti.try_number} copied event {event['id']}")

    copy_events()


checkpoint_event_cursor()
