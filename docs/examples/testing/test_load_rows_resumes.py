"""Library helpers find their store through the current task context; in a unit test, install a fake one."""

from __future__ import annotations

import pytest

from airflow_resumable import Checkpointer
from airflow_resumable.testing import make_context, task_context


def load_rows(rows, loaded, fail_at=None):
    """The code under test: a loop that a retry should resume."""
    with Checkpointer("rows") as ckpt:
        for row in ckpt.iterate(rows):
            if row == fail_at:
                raise ConnectionError("database went away")
            loaded.append(row)


def test_the_second_try_continues_after_the_rows_the_first_one_loaded(state_backend):
    rows = ["a", "b", "c", "bad", "d", "e"]
    loaded = []

    with pytest.raises(ConnectionError), task_context(make_context(backend=state_backend, try_number=1)):
        load_rows(rows, loaded, fail_at="bad")
    assert loaded == ["a", "b", "c"]

    # Same backend, same task instance, next try: the checkpoint written on the way out is found.
    with task_context(make_context(backend=state_backend, try_number=2)):
        load_rows(rows, loaded)
    assert loaded == ["a", "b", "c", "bad", "d", "e"]
    assert state_backend.task_store().keys() == []  # a finished Checkpointer removes its key
