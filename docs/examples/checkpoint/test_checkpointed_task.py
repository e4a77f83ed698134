"""Prove in a plain unit test, without a running Airflow, that a checkpointed task resumes."""

from __future__ import annotations

from airflow_resumable import Checkpointer, every
from airflow_resumable.testing import after_call, crash_and_retry

LOADED: list[int] = []


def load(row: int) -> None:
    LOADED.append(row)


def load_rows(ti=None):
    with Checkpointer("rows", initial=0, commit=every(10)) as ckpt:
        for row in ckpt.iterate(range(100)):
            load(row)


def test_a_killed_worker_redoes_at_most_one_batch():
    LOADED.clear()
    report = crash_and_retry(load_rows, after_call(f"{__name__}.load", 35))  # worker dies after row 34

    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert LOADED[35:] == list(range(30, 100))  # resumed at the last commit (30 rows): 5 rows redone
    assert report.tries[-1].task_state == {}  # success cleared the checkpoint


def test_an_exception_redoes_nothing_that_completed():
    LOADED.clear()
    report = crash_and_retry(load_rows, after_call(f"{__name__}.load", 35, hard=False))

    assert [t.outcome for t in report.tries] == ["failed", "success"]
    assert LOADED[35:] == list(range(34, 100))  # row 34 failed after its load ran: only it is redone
