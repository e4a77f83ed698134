"""Windows: half-open ranges that chain, lag and settle, empty windows, commit on success only, backfills."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from airflow_resumable import InvalidValueError, Watermark
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

if TYPE_CHECKING:
    from pytest_mock import MockerFixture

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@pytest.fixture
def store() -> InMemoryAssetStateStore:
    return InMemoryAssetStateStore("orders", InMemoryStateBackend())


def test_windows_chain_without_gaps_or_overlap(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    assert wm.value == T0
    assert wm.last_commit is None
    ranges = []
    for until in (hours(6), hours(12), hours(13)):
        with wm.window(until=until) as w:
            ranges.append((w.start, w.end))
    assert ranges == [(T0, hours(6)), (hours(6), hours(12)), (hours(12), hours(13))]
    assert wm.value == hours(13)


def test_half_open_membership(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    w = wm.window(until=hours(1))
    assert T0 in w
    assert hours(0.99) in w
    assert hours(1) not in w
    assert hours(-1) not in w


def test_lag_re_reads_a_margin_but_never_before_initial(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, lag=timedelta(minutes=10), store=store)
    with wm.window(until=hours(6)) as w:
        assert w.start == T0  # nothing before initial is re-read
    with wm.window(until=hours(12)) as w:
        assert (w.start, w.end, w.previous) == (hours(6) - timedelta(minutes=10), hours(12), hours(6))
    assert wm.value == hours(12)  # the commit is the end, not end - lag


def test_settle_keeps_the_end_behind_now(store: InMemoryAssetStateStore, mocker: MockerFixture) -> None:
    wm = Watermark("orders", initial=T0, settle=timedelta(minutes=5), store=store)
    mocker.patch("airflow_resumable.watermark._utcnow", return_value=hours(2))
    with wm.window(until=hours(1.5)) as w:  # until already well behind now: untouched
        assert (w.start, w.end) == (T0, hours(1.5))
    with wm.window() as w:  # until defaults to the clock
        assert (w.start, w.end, w.until) == (hours(1.5), hours(2) - timedelta(minutes=5), hours(2))
    with wm.window(until=hours(9), now=hours(3)) as w:  # an explicit now (from params) wins over the clock
        assert w.end == hours(3) - timedelta(minutes=5)
    assert wm.value == hours(3) - timedelta(minutes=5)


def test_an_empty_window_commits_nothing(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, lag=timedelta(minutes=10), settle=timedelta(minutes=30), store=store)
    wm.advance(hours(6))
    writes = store.backend.writes
    for until, now in [(hours(6), hours(7)), (hours(5), hours(7)), (hours(9), hours(6.25))]:
        with wm.window(until=until, now=now) as w:
            assert w.empty
            assert not w.commits
            assert w.start == w.end == hours(6) - timedelta(minutes=10)  # [start, start): load nothing
            w.record(rows=0)
        assert w.committed is None
    assert store.backend.writes == writes
    assert wm.value == hours(6)


def test_an_exception_in_the_block_leaves_the_watermark_untouched(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    with wm.window(until=hours(1)):
        pass
    before = store.get("watermark")
    w = wm.window(until=hours(2))

    def load() -> None:
        with w:
            w.record(rows=10)
            raise RuntimeError("warehouse unavailable")

    with pytest.raises(RuntimeError, match="warehouse"):
        load()
    assert store.get("watermark") == before
    assert w.committed is None
    with wm.window(until=hours(3)) as w:
        assert w.start == hours(1)  # the failed range is loaded again


def test_a_base_exception_commits_nothing_either(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    with pytest.raises(KeyboardInterrupt), wm.window(until=10):
        raise KeyboardInterrupt
    assert wm.value == 0
    assert store.backend.writes == 0


def test_summary_and_commit_record(store: InMemoryAssetStateStore, mocker: MockerFixture) -> None:
    mocker.patch("airflow_resumable.watermark._utcnow", return_value=hours(30))
    wm = Watermark("orders", initial=T0, store=store)
    with wm.window(until=hours(6)) as w:
        w.record(rows=100)
        w.record(files=2, max_ts=hours(5.9))
    commit = wm.last_commit
    assert commit is not None
    assert commit == w.committed
    assert (commit.value, commit.previous, commit.operation) == (hours(6), T0, "window")
    assert commit.summary == {"rows": 100, "files": 2, "max_ts": hours(5.9)}
    assert commit.committed_at == hours(30)
    assert commit.writer.dag_id is None  # written outside a running task
    assert str(commit.writer) == "code outside a running task"
    assert len(commit.commit_id) == 32


def test_commit_up_to_a_smaller_end(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, lag=2, store=store)
    with wm.window(until=100) as w:
        w.commit_up_to(60)  # the source returned rows up to 59 only
    assert wm.value == 60
    with wm.window(until=100) as w:
        assert w.start == 58
        with pytest.raises(InvalidValueError, match="never commits past its end"):
            w.commit_up_to(101)
        with pytest.raises(InvalidValueError, match="outside the window"):
            w.commit_up_to(57)
        w.commit_up_to(59)  # inside the lag margin: not past the committed value, so nothing moves
    assert w.committed is None
    assert wm.value == 60
    with wm.window(until=100) as w:
        w.commit_up_to(100)
    assert wm.value == 100


def test_a_window_is_used_once(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    w = wm.window(until=5)
    with w:
        pass
    with pytest.raises(InvalidValueError, match="used once"), w:
        pass
    assert wm.value == 5


def test_a_window_not_used_with_with_commits_nothing(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    w = wm.window(until=5)
    assert (w.start, w.end, w.commits) == (0, 5, True)
    assert wm.value == 0
    assert store.backend.writes == 0


def test_backfill_processes_a_range_and_leaves_the_watermark(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    wm.advance(hours(48))
    writes = store.backend.writes
    with wm.backfill(hours(3), hours(9)) as w:
        assert (w.start, w.end, w.commits) == (hours(3), hours(9), False)
        w.record(rows=5)
    with wm.window(start=hours(50), end=hours(60), commit=False) as w:  # ahead of the watermark: fine too
        pass
    assert store.backend.writes == writes
    assert wm.value == hours(48)
    with pytest.raises(InvalidValueError, match="before start"):
        wm.backfill(hours(9), hours(3))
    with pytest.raises(InvalidValueError, match="both start= and end="):
        wm.window(start=hours(1))
    with pytest.raises(InvalidValueError, match="no until="):
        wm.window(hours(2), start=hours(1), end=hours(2))


def test_an_explicit_range_commits_only_when_asked_and_only_without_a_gap(
    store: InMemoryAssetStateStore,
) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    wm.advance(hours(10))
    with pytest.raises(InvalidValueError, match="would skip"):
        wm.window(start=hours(11), end=hours(20), commit=True)
    with wm.window(start=hours(8), end=hours(20), commit=True) as w:
        assert w.commits
    assert wm.value == hours(20)
    with wm.window(start=hours(2), end=hours(5), commit=True):  # all behind: nothing moves
        pass
    assert wm.value == hours(20)
