"""Guards: monotonic moves, recorded rewinds, concurrent writers, failed writes, foreign data, the store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_resumable import (
    CommitError,
    ConcurrentWriteError,
    InvalidValueError,
    NoStoreError,
    Watermark,
    WatermarkRegressionError,
)
from airflow_resumable.testing import (
    InMemoryAssetStateStore,
    InMemoryStateBackend,
    after_call,
    make_context,
    on_write,
    task_context,
)

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ORDERS = Asset("orders")


@pytest.fixture
def store() -> InMemoryAssetStateStore:
    return InMemoryAssetStateStore("orders", InMemoryStateBackend())


def test_advance_is_monotonic_and_equal_is_a_no_op(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    commit = wm.advance(10, summary={"batch": 1})
    assert commit is not None
    assert (commit.value, commit.previous, commit.operation) == (10, 0, "advance")
    before, writes = store.get("watermark"), store.backend.writes
    with pytest.raises(WatermarkRegressionError, match=r"rewind\(value, reason=\.\.\.\)"):
        wm.advance(9)
    assert wm.advance(10) is None
    assert store.get("watermark") == before
    assert store.backend.writes == writes
    assert wm.last_commit is not None
    assert wm.last_commit.summary == {"batch": 1}


def test_rewind_is_the_only_way_back_and_is_recorded(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, lag=timedelta(minutes=10), store=store)
    wm.advance(T0 + timedelta(days=60))
    with task_context(dag_id="ops", run_id="r1", task_id="fix"):
        commit = wm.rewind(T0 + timedelta(days=31), reason="  backfill 2026-02 after the currency fix ")
    assert (commit.operation, commit.reason) == ("rewind", "backfill 2026-02 after the currency fix")
    assert wm.value == T0 + timedelta(days=31)
    (rewind,) = wm.rewinds
    assert (rewind.previous, rewind.value) == (T0 + timedelta(days=60), T0 + timedelta(days=31))
    assert (rewind.writer.dag_id, rewind.writer.task_id) == ("ops", "fix")
    with wm.window(until=T0 + timedelta(days=40)) as w:
        assert w.start == T0 + timedelta(days=31, minutes=-10)  # the rewound range is loaded again
    assert len(wm.rewinds) == 1  # the history travels with later commits
    with pytest.raises(InvalidValueError, match="reason="):
        wm.rewind(T0, reason=" ")
    with pytest.raises(InvalidValueError, match="Use advance"):
        wm.rewind(T0 + timedelta(days=40), reason="not a rewind")


def test_rewind_history_is_bounded(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    for i in range(13):
        wm.advance(100 + i * 10)
        wm.rewind(i, reason=f"fix {i}")
    reasons = [r.reason for r in wm.rewinds]
    assert reasons == [f"fix {i}" for i in range(3, 13)]


def test_a_rewind_below_initial_is_allowed(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=100, lag=5, store=store)
    wm.advance(150)
    wm.rewind(50, reason="older history")
    assert wm.window(until=200).start == 45  # below initial now, so the lag applies below it too
    wm.advance(102)
    assert wm.window(until=200).start == 100  # back above initial: the margin stops at initial again


class Interfering(InMemoryAssetStateStore):
    """A store on which another writer replaces the key right before or right after our write."""

    def __init__(self, *, when: str) -> None:
        super().__init__("orders", InMemoryStateBackend())
        self.when = when
        self.armed = False

    def _intrude(self) -> None:
        self.armed = False
        Watermark("orders", initial=0, store=InMemoryAssetStateStore("orders", self.backend)).advance(500)

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        if self.armed and self.when == "before":
            self._intrude()  # lands between our pre-commit read and our write: not seen by that read
        return value

    def set(self, key: str, value: Any) -> None:
        super().set(key, value)
        if self.armed and self.when == "after":
            self._intrude()


def test_another_writer_moving_the_key_during_the_window_raises() -> None:
    store = InMemoryAssetStateStore("orders", InMemoryStateBackend())
    wm = Watermark("orders", initial=0, store=store)
    wm.advance(10)
    with pytest.raises(ConcurrentWriteError, match="partition=") as info, wm.window(until=100):
        Watermark("orders", initial=0, store=store).advance(40)  # a second writer on the shared key
    assert "read 10 and now finds 40" in str(info.value)
    assert wm.value == 40  # the other writer's progress is intact; ours was not written


def test_an_overwrite_right_after_our_write_is_detected_by_reading_back() -> None:
    store = Interfering(when="after")
    wm = Watermark("orders", initial=0, store=store)
    window = wm.window(until=100)
    store.armed = True
    with pytest.raises(ConcurrentWriteError, match="overwritten at once"), window:
        pass
    assert wm.value == 500


def test_a_write_landing_between_the_pre_commit_read_and_our_write_is_detected() -> None:
    store = Interfering(when="before")
    wm = Watermark("orders", initial=0, store=store)
    store.armed = True
    with pytest.raises(ConcurrentWriteError):
        wm.advance(7)


class Flaky(InMemoryAssetStateStore):
    """Fails the first ``failures`` writes with a transient error."""

    def __init__(self, failures: int) -> None:
        super().__init__("orders", InMemoryStateBackend())
        self.failures = failures
        self.attempts = 0

    def set(self, key: str, value: Any) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("API server restarting")
        super().set(key, value)


def test_a_failed_write_is_retried() -> None:
    store = Flaky(failures=2)
    wm = Watermark("orders", initial=0, store=store)
    with wm.window(until=10):
        pass
    assert wm.value == 10
    assert store.attempts == 3


def test_a_write_that_keeps_failing_raises_commit_error_and_moves_nothing() -> None:
    store = Flaky(failures=100)
    wm = Watermark("orders", initial=0, store=store)
    with pytest.raises(CommitError, match="did not move") as info, wm.window(until=10):
        pass
    assert isinstance(info.value.__cause__, ConnectionError)
    assert store.attempts == 4
    assert wm.value == 0


def test_a_key_holding_foreign_data_is_not_overwritten(store: InMemoryAssetStateStore) -> None:
    store.set("watermark", "2026-01-01T00:00:00Z")  # what a hand-written task might have stored
    wm = Watermark("orders", initial=T0, store=store)
    with pytest.raises(InvalidValueError, match="not written by airflow-resumable"):
        wm.value  # noqa: B018
    with pytest.raises(InvalidValueError, match="key="):
        wm.advance(T0 + timedelta(days=1))
    assert store.get("watermark") == "2026-01-01T00:00:00Z"
    Watermark("orders", initial=T0, key="orders_watermark", store=store).advance(T0 + timedelta(days=1))


def test_a_stored_watermark_of_another_type_is_refused(store: InMemoryAssetStateStore) -> None:
    Watermark("orders", initial=0, store=store).advance(5)
    with pytest.raises(InvalidValueError, match="holds a int watermark"):
        Watermark("orders", initial=T0, store=store).value  # noqa: B018


def test_a_damaged_record_says_so(store: InMemoryAssetStateStore) -> None:
    Watermark("orders", initial=0, store=store).advance(5)
    record = store.get("watermark")
    del record["commit_id"]
    store.set("watermark", record)
    with pytest.raises(InvalidValueError, match="damaged"):
        Watermark("orders", initial=0, store=store).value  # noqa: B018


def test_inside_a_task_the_assets_store_is_used_and_the_writer_recorded() -> None:
    backend = InMemoryStateBackend()
    # may be defined once, at module level: the store is looked up per use. A mapped writer names its
    # partition (an unpartitioned key is refused in a mapped task).
    wm = Watermark(ORDERS, initial=0, partition="eu")
    ctx = make_context(
        backend=backend, dag_id="orders", run_id="r7", task_id="load", map_index=3, outlets=[ORDERS]
    )
    with task_context(ctx), wm.window(until=10) as w:
        w.record(rows=10)
    consumer = make_context(backend=backend, dag_id="report", task_id="read", inlets=[ORDERS])
    with task_context(consumer):
        commit = wm.last_commit
        assert wm.value == 10
    assert commit is not None
    writer = commit.writer
    assert (writer.dag_id, writer.run_id, writer.task_id, writer.map_index, writer.try_number) == (
        "orders",
        "r7",
        "load",
        3,
        1,
    )
    assert str(writer) == "orders.load[3] in run r7 (try 1)"


def test_an_undeclared_asset_or_no_task_says_what_to_do() -> None:
    wm = Watermark(ORDERS, initial=0)
    with pytest.raises(NoStoreError, match="store="):
        wm.value  # noqa: B018
    with task_context(outlets=[Asset("payments")]), pytest.raises(InvalidValueError, match="outlets="):
        wm.advance(3)


LOADED: list[tuple[int, int]] = []


def load_rows(start: int, end: int) -> None:
    LOADED.append((start, end))


def incremental_load(asset_state_store: Any = None) -> int:
    wm = Watermark(ORDERS, initial=0)
    with wm.window(until=100) as w:
        load_rows(w.start, w.end)
    return wm.value


@pytest.mark.parametrize("crash", ["after_load", "at_commit_write"])
def test_a_crash_during_the_window_or_its_commit_loses_nothing(crash_and_retry: Any, crash: str) -> None:
    LOADED.clear()
    point = after_call(f"{__name__}.load_rows", 1) if crash == "after_load" else on_write(1)
    report = crash_and_retry(incremental_load, point, outlets=[ORDERS])
    assert report.tries[0].outcome != "success"
    assert report.tries[1].outcome == "success"
    assert LOADED == [(0, 100), (0, 100)]  # the range is loaded again: at-least-once, nothing skipped
    assert report.result == 100


def test_a_key_deleted_during_the_window_is_reported_not_overwritten(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    wm.advance(10)
    window = wm.window(until=20)
    store.delete("watermark")  # e.g. someone resets the asset over the REST API
    with pytest.raises(ConcurrentWriteError, match="finds the key deleted"), window:
        pass
    assert store.get("watermark") is None
