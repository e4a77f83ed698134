"""What reaches the store, and when: cadence, the stored record, retention, fingerprints, failed writes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, CommitError, every, every_seconds

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


def test_every_n_writes_once_per_n_items_and_clears_at_the_end(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, commit=every(100)) as ckpt:
        for _ in ckpt.iterate(range(1050)):
            pass
        assert state_backend.writes == 10
        assert ckpt.position == 1000
        assert ckpt.uncommitted == 50
    assert state_backend.writes == 10
    assert store.keys() == []


def test_every_thousand_writes_once_per_thousand_items(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, clear_on_success=False, commit=every(1000)) as ckpt:
        for _ in ckpt.iterate(range(5000)):
            pass
    assert state_backend.writes == 5  # after 1000, 2000, 3000, 4000, 5000: the final one has nothing new


def test_no_write_when_the_loop_ends_right_where_the_policy_fires(
    state_backend: InMemoryStateBackend,
) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, commit=every(1000)) as ckpt:
        for _ in ckpt.iterate(range(2000)):
            pass
    assert state_backend.writes == 1  # after item 1000; after item 2000 the loop was over: cleared instead


def test_every_seconds_writes_on_time_without_sleeping(
    state_backend: InMemoryStateBackend, clock: Any
) -> None:
    store = state_backend.task_store()
    positions = []
    with Checkpointer("rows", store=store, commit=every_seconds(10, clock=clock)) as ckpt:
        for item in ckpt.iterate(range(100)):
            clock.advance(1.0)  # each item takes a second
            if item % 10 == 0 and store.get("rows"):
                positions.append(store.get("rows")["position"])
    assert state_backend.writes == 9  # after 10, 20, ... 90 s; at 100 s the loop is over and the end clears
    assert positions[:3] == [10, 20, 30]


def test_count_or_time_whichever_first(state_backend: InMemoryStateBackend, clock: Any) -> None:
    store = state_backend.task_store()
    saved = []
    with Checkpointer(
        "rows", store=store, initial=0, commit=every(50) | every_seconds(5, clock=clock)
    ) as ckpt:
        for item in ckpt.iterate(range(200)):
            clock.advance(1.0 if item < 20 else 0.001)  # slow at first (time fires), then fast (count fires)
            saved.append(ckpt.position)
    assert sorted(set(saved)) == [0, 5, 10, 15, 20, 70, 120, 170]


def test_the_record_shows_progress(task_state_store: InMemoryTaskStateStore, context: dict[str, Any]) -> None:
    with Checkpointer(
        "rows", store=task_state_store, commit=every(10), fingerprint="s3://bucket/2026-05-04/"
    ) as ckpt:
        for _ in ckpt.iterate(range(25)):
            pass
        record = task_state_store.get("rows")
    assert record["position"] == 20
    assert record["items_done"] == 20
    assert datetime.fromisoformat(record["updated_at"]).tzinfo is not None
    assert len(record["fingerprint"]) == 16
    assert record["try_number"] == 1
    assert record["version"] == 1
    assert record["items_per_second"] > 0


def test_one_info_line_per_commit_with_position_and_rate(
    task_state_store: InMemoryTaskStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="airflow_resumable"),
        Checkpointer("rows", store=task_state_store, commit=every(10)) as ckpt,
    ):
        for _ in ckpt.iterate(range(30)):
            pass
    saved = [r.getMessage() for r in caplog.records if "saved" in r.getMessage()]
    assert len(saved) == 2  # after items 10 and 20; after item 30 the loop ends and the key is cleared
    assert "position 20, 20 items done (+10 in" in saved[-1]
    assert "items/s" in saved[-1]
    assert "finished, 30 items done (30 by this try); progress cleared" in caplog.text


def test_never_expires_by_default_and_retention_is_passed_on(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    for key, retention in [("forever", timedelta.max), ("hour", timedelta(hours=1)), ("config", None)]:
        with Checkpointer(key, store=store, retention=retention, clear_on_success=False) as ckpt:
            ckpt.advance(1)
    rows = {k[-1]: row for k, row in state_backend.task_rows.items()}
    assert rows["forever"].expires_at is None
    assert rows["hour"].expires_at - rows["hour"].updated_at == timedelta(hours=1)
    assert rows["config"].expires_at - rows["config"].updated_at == timedelta(days=30)

    with Checkpointer("default", store=store, clear_on_success=False) as ckpt:
        ckpt.advance(1)
    assert state_backend.task_rows[("dag", "run", "task", -1, "default")].expires_at is None


def test_other_fingerprint_discards_stored_progress_with_a_warning(
    task_state_store: InMemoryTaskStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with Checkpointer(
        "rows", store=task_state_store, fingerprint=["a.csv", "b.csv"], clear_on_success=False
    ) as c:
        c.advance(7)
    with caplog.at_level(logging.WARNING, logger="airflow_resumable"):
        changed = Checkpointer(
            "rows", store=task_state_store, fingerprint=["a.csv", "b.csv", "c.csv"], initial=0
        )
        assert changed.position == 0
        assert not changed.resumed
    assert "saved for other inputs" in caplog.text
    assert "discarding its progress (position 7" in caplog.text
    same = Checkpointer("rows", store=task_state_store, fingerprint=["a.csv", "b.csv"])
    assert same.position == 7
    assert same.resumed


def test_a_fingerprint_added_later_also_discards(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as c:
        c.advance(3)
    assert Checkpointer("rows", store=task_state_store, fingerprint="v2").position is None


def test_reset_deletes_the_key_and_starts_over(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, initial=0, clear_on_success=False) as ckpt:
        ckpt.advance(5)
        ckpt.commit()
        ckpt.reset()
        assert task_state_store.keys() == []
        assert ckpt.position == 0
        assert ckpt.items_done == 0
        assert [item for item in ckpt.iterate("ab")] == ["a", "b"]
    assert task_state_store.get("rows")["position"] == 2


def test_commit_writes_only_when_something_changed(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    ckpt = Checkpointer("rows", store=store, commit=every(1000))  # manual use, without a with block
    ckpt.advance(1)
    ckpt.commit()
    ckpt.commit()
    assert state_backend.writes == 1
    assert store.get("rows")["position"] == 1


# -- failed writes ---------------------------------------------------------------------------------------
@pytest.mark.usefixtures("no_retry_sleep")
def test_a_failing_write_is_retried_and_then_succeeds(flaky_store: Any) -> None:
    flaky_store.fail_next = 2
    with Checkpointer("rows", store=flaky_store, commit=every(5), clear_on_success=False) as ckpt:
        for _ in ckpt.iterate(range(5)):
            pass
    assert flaky_store.attempts == 3
    assert flaky_store.inner.get("rows")["position"] == 5


@pytest.mark.usefixtures("no_retry_sleep")
def test_a_write_that_keeps_failing_raises_commit_error_by_default(flaky_store: Any) -> None:
    flaky_store.fail_always = True

    def run() -> None:
        with Checkpointer("rows", store=flaky_store, commit=every(5)) as ckpt:
            for _ in ckpt.iterate(range(10)):
                pass

    with pytest.raises(CommitError, match="would redo up to 5 items") as info:
        run()
    assert flaky_store.attempts == 4  # 4 attempts, then it gives up (and does not start over on the way out)
    assert isinstance(info.value.__cause__, ConnectionError)


@pytest.mark.usefixtures("no_retry_sleep")
def test_warn_keeps_working_and_logs_the_growing_redo(
    flaky_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky_store.fail_always = True
    seen = []
    with (
        caplog.at_level(logging.WARNING, logger="airflow_resumable"),
        Checkpointer(
            "rows", store=flaky_store, commit=every(5), on_commit_error="warn", clear_on_success=False
        ) as ckpt,
    ):
        for item in ckpt.iterate(range(12)):
            seen.append(item)
            if item == 9:
                flaky_store.fail_always = False  # the store comes back
    assert seen == list(range(12))
    warnings = [r.getMessage() for r in caplog.records if "carrying on" in r.getMessage()]
    assert len(warnings) == 1
    assert "5 items are now uncommitted" in warnings[0]
    assert flaky_store.inner.get("rows")["position"] == 12


@pytest.mark.usefixtures("no_retry_sleep")
def test_a_failing_delete_at_the_end_is_reported(flaky_store: Any, caplog: pytest.LogCaptureFixture) -> None:
    def run() -> None:
        with Checkpointer("rows", store=flaky_store, commit=every(2)) as ckpt:
            for _ in ckpt.iterate(range(3)):
                pass
            flaky_store.fail_always = True

    with pytest.raises(CommitError, match="clear the finished checkpoint"):
        run()
    with (
        caplog.at_level(logging.WARNING, logger="airflow_resumable"),
        Checkpointer("rows", store=flaky_store, on_commit_error="warn"),
    ):
        pass
    assert "could not clear the finished checkpoint" in caplog.text


@pytest.mark.usefixtures("no_retry_sleep")
def test_bad_input_to_the_store_is_not_retried(flaky_store: Any) -> None:
    class Refusing:
        calls = 0

        def get(self, key: str, default: Any = None) -> Any:
            return None

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            Refusing.calls += 1
            raise ValueError("value too large for this backend")

        def delete(self, key: str) -> None:
            pass

    with pytest.raises(CommitError), Checkpointer("rows", store=Refusing(), commit=every(1)) as ckpt:
        ckpt.advance(1)
    assert Refusing.calls == 1


def test_a_failure_while_saving_on_the_way_out_does_not_hide_the_tasks_error(
    flaky_store: Any, caplog: pytest.LogCaptureFixture, no_retry_sleep: None
) -> None:
    def run() -> None:
        with Checkpointer("rows", store=flaky_store, commit=every(100)) as ckpt:
            for item in ckpt.iterate(range(10)):
                if item == 4:
                    flaky_store.fail_always = True
                    raise KeyError("the task's own error")

    with pytest.raises(KeyError, match="own error"):
        run()
    assert "its progress could not be saved" in caplog.text
    assert "redo 4 items" in caplog.text
