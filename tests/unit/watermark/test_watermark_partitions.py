"""Parallel writers: one key per partition, and a read-only merged view that is the minimum."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_resumable import InvalidValueError, Watermark
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
REGIONS = ["eu", "us", "apac"]


@pytest.fixture
def store() -> InMemoryAssetStateStore:
    return InMemoryAssetStateStore("orders", InMemoryStateBackend())


def test_each_partition_has_its_own_key(store: InMemoryAssetStateStore) -> None:
    for hours, region in zip((6, 4, 8), REGIONS, strict=True):
        wm = Watermark("orders", initial=T0, partition=region, store=store)
        assert wm.key == f"watermark/{region}"
        with wm.window(until=T0 + timedelta(hours=hours)):
            pass
    assert sorted(k for (_, k) in store.backend.asset_rows) == [
        "watermark/apac",
        "watermark/eu",
        "watermark/us",
    ]
    assert Watermark("orders", initial=0, partition=3, key="offsets", store=store).key == "offsets/3"


def test_merged_is_the_minimum_and_an_unwritten_partition_counts_as_initial(
    store: InMemoryAssetStateStore,
) -> None:
    merged = Watermark.merged("orders", partitions=REGIONS, initial=T0, store=store)
    assert merged.value == T0
    assert merged.last_commits == {"eu": None, "us": None, "apac": None}
    Watermark("orders", initial=T0, partition="eu", store=store).advance(T0 + timedelta(hours=6))
    Watermark("orders", initial=T0, partition="apac", store=store).advance(T0 + timedelta(hours=8))
    assert merged.value == T0
    assert merged.slowest == "us"
    Watermark("orders", initial=T0, partition="us", store=store).advance(T0 + timedelta(hours=4))
    assert merged.value == T0 + timedelta(hours=4)
    assert merged.slowest == "us"
    assert merged.values == {
        "eu": T0 + timedelta(hours=6),
        "us": T0 + timedelta(hours=4),
        "apac": T0 + timedelta(hours=8),
    }
    commit = merged.last_commits["apac"]
    assert commit is not None
    assert commit.value == T0 + timedelta(hours=8)
    assert merged.partition("eu").value == T0 + timedelta(hours=6)
    assert merged.partitions == REGIONS


def test_merged_is_read_only(store: InMemoryAssetStateStore) -> None:
    merged = Watermark.merged("orders", partitions=REGIONS, initial=0, store=store)
    assert not hasattr(merged, "advance")
    assert not hasattr(merged, "window")
    merged.value  # noqa: B018
    assert store.backend.writes == 0


def test_merged_with_int_partitions_from_map_indexes(store: InMemoryAssetStateStore) -> None:
    for i, value in enumerate([30, 10, 20]):
        Watermark("orders", initial=0, partition=i, store=store).advance(value)
    merged = Watermark.merged("orders", partitions=range(3), initial=0, store=store)
    assert (merged.value, merged.slowest) == (10, "1")


@pytest.mark.parametrize(
    ("partitions", "match"),
    [([], "non-empty"), ("eu", "non-empty"), (["eu", "eu"], "duplicates"), (["eu", ""], "must not be empty")],
)
def test_merged_rejects_bad_partition_lists(
    store: InMemoryAssetStateStore, partitions: object, match: str
) -> None:
    with pytest.raises(InvalidValueError, match=match):
        Watermark.merged("orders", partitions=partitions, initial=0, store=store)  # type: ignore[arg-type]


def test_merged_of_an_unknown_partition(store: InMemoryAssetStateStore) -> None:
    merged = Watermark.merged("orders", partitions=REGIONS, initial=0, store=store)
    with pytest.raises(InvalidValueError, match="no partition 'latam'"):
        merged.partition("latam")
