"""Writers that share one key (issue 11, defect 8), and values a worker's channel cannot carry (defect 7).

The asset state store has no compare-and-set, so two writers of one key can race. The race itself cannot
be closed (the last test pins it down); the setups where it is likely are refused or warned about before
any work is done.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_resumable import InvalidValueError, Watermark
from airflow_resumable.testing import (
    InMemoryAssetStateStore,
    InMemoryStateBackend,
    make_context,
    task_context,
)

ORDERS = Asset("orders")


def _mapped(backend: InMemoryStateBackend, map_index: int, **extra: Any) -> dict[str, Any]:
    return make_context(backend=backend, task_id="load", map_index=map_index, outlets=[ORDERS], **extra)


def test_a_mapped_task_writing_an_unpartitioned_key_is_refused_before_the_work() -> None:
    backend = InMemoryStateBackend()
    wm = Watermark(ORDERS, initial=0)
    with task_context(_mapped(backend, 2)):
        refused = r"mapped task 'load' \(map index 2\).*partition="
        with pytest.raises(InvalidValueError, match=refused) as info:
            wm.window(until=10)
        assert "Watermark.merged" in str(info.value)
        with pytest.raises(InvalidValueError, match="partition="):
            wm.advance(5)
        with pytest.raises(InvalidValueError, match="partition="):
            wm.rewind(0, reason="fix")
        assert wm.value == 0  # reading is fine
        with wm.backfill(0, 5) as w:  # a backfill writes nothing
            assert 3 in w
    assert backend.writes == 0


def test_mapped_writers_with_partitions_and_their_merged_reader() -> None:
    backend = InMemoryStateBackend()
    for index, (region, until) in enumerate([("eu", 10), ("us", 7)]):
        with (
            task_context(_mapped(backend, index)),
            Watermark(ORDERS, initial=0, partition=region).window(until=until),
        ):
            pass
    with task_context(make_context(backend=backend, task_id="report", inlets=[ORDERS])):
        merged = Watermark.merged(ORDERS, partitions=["eu", "us"], initial=0)
        assert merged.values == {"eu": 10, "us": 7}
        assert (merged.value, merged.slowest) == (7, "us")
        assert Watermark(ORDERS, initial=0).value == 0  # nobody wrote the unpartitioned key


def test_an_unmapped_task_writes_the_shared_key() -> None:
    backend = InMemoryStateBackend()
    wm = Watermark(ORDERS, initial=0)
    with task_context(_mapped(backend, -1)), wm.window(until=10):
        pass
    with task_context(_mapped(backend, -1)):
        assert wm.value == 10


def test_a_dag_whose_runs_may_overlap_gets_a_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    backend = InMemoryStateBackend()
    wm = Watermark(ORDERS, initial=0)
    overlapping = SimpleNamespace(dag_id="orders_overlap", max_active_runs=16)
    with caplog.at_level(logging.WARNING, logger="airflow_resumable.watermark"):
        for until in (10, 20):
            with task_context(_mapped(backend, -1, dag=overlapping)), wm.window(until=until):
                pass
    warnings = [r.getMessage() for r in caplog.records if "max_active_runs" in r.getMessage()]
    assert len(warnings) == 1
    assert "'orders_overlap' allows 16 active runs" in warnings[0]
    assert "max_active_runs=1" in warnings[0] and "partition=" in warnings[0]


@pytest.mark.parametrize(
    ("dag", "partition"),
    [(SimpleNamespace(dag_id="orders_single", max_active_runs=1), None), (None, "eu")],
    ids=["max_active_runs=1", "partitioned"],
)
def test_no_warning_when_runs_cannot_overlap_or_keys_are_own(
    caplog: pytest.LogCaptureFixture, dag: object, partition: str | None
) -> None:
    backend = InMemoryStateBackend()
    overlapping = dag or SimpleNamespace(dag_id="orders_partitioned", max_active_runs=16)
    with caplog.at_level(logging.WARNING, logger="airflow_resumable.watermark"):
        context = _mapped(backend, -1, dag=overlapping)
        with task_context(context), Watermark(ORDERS, initial=0, partition=partition).window(until=5):
            pass
    assert not [r for r in caplog.records if "max_active_runs" in r.getMessage()]


class _RawCodec:
    """A user codec that passes ints through unchecked."""

    def encode(self, value: int) -> Any:
        return value

    def decode(self, data: Any) -> int:
        return int(data)


@pytest.mark.parametrize("codec", [None, _RawCodec()], ids=["TypedCodec", "user codec"])
def test_a_value_a_worker_channel_cannot_carry_is_refused_before_the_work(codec: Any) -> None:
    backend = InMemoryStateBackend()
    store = InMemoryAssetStateStore("orders", backend)
    wm = Watermark("orders", initial=0, codec=codec, store=store)
    with pytest.raises(InvalidValueError, match="64-bit"):
        wm.advance(2**64)
    with pytest.raises(InvalidValueError, match="64-bit"):
        wm.window(until=2**70)
    with wm.window(until=10) as w, pytest.raises(InvalidValueError, match="64-bit"):
        w.commit_up_to(-(2**64))
    assert wm.value == 10
    assert backend.writes == 1
    wm.advance(2**64 - 1)  # the largest int the channel carries
    assert wm.value == 2**64 - 1


class _InterleavingStore:
    """Runs ``before_write`` just before this store's first write: another writer slips in between our
    check and our write."""

    def __init__(self, inner: InMemoryAssetStateStore, before_write: Any) -> None:
        self.inner, self.before_write = inner, before_write

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()
        self.inner.set(key, value)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def test_the_race_without_compare_and_set_is_not_closed() -> None:
    """Pinned limit: two writers that both pass the check before either writes; the later, lower write
    wins and both succeed. (Documented in docs/watermark.md; partitions avoid it.)"""
    inner = InMemoryAssetStateStore("orders", InMemoryStateBackend())
    fast = Watermark("orders", initial=0, store=inner)

    def fast_writer_commits() -> None:
        with fast.window(until=20):
            pass

    slow = Watermark("orders", initial=0, store=_InterleavingStore(inner, fast_writer_commits))
    with slow.window(until=10) as w:  # read 0 before the fast writer wrote
        pass
    assert w.committed is not None and w.committed.value == 10
    assert fast.value == 10  # the fast writer's 20 was overwritten by the lower 10
