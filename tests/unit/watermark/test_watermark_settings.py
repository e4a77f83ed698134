"""The writer's settings (initial, lag, settle) travel in the record: stored at every window and advance,
kept across a rewind by someone who does not know them, absent (and harmless) in older records."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_resumable import Watermark
from airflow_resumable._watermark_record import WatermarkSettings
from airflow_resumable.ops import decode
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def store() -> InMemoryAssetStateStore:
    return InMemoryAssetStateStore("orders", InMemoryStateBackend())


def _view(store: InMemoryAssetStateStore) -> dict:
    rows = {key: store.get(key) for (name, key) in store.backend.asset_rows if name == "orders"}
    return {k.key: k for k in decode.watermarks(1, "orders", "s3://orders", rows).keys}


def test_a_window_stores_lag_settle_and_initial(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, lag=timedelta(hours=1), settle=timedelta(minutes=5), store=store)
    with wm.window(until=T0 + timedelta(days=1), now=T0 + timedelta(days=2)):
        pass
    raw = store.get("watermark")
    assert raw["settings"] == {
        "initial": {"$type": "datetime", "value": "2026-01-01T00:00:00+00:00"},
        "lag": {"$type": "timedelta", "value": [0, 3600, 0]},
        "settle": {"$type": "timedelta", "value": [0, 300, 0]},
    }
    stored = wm._read()
    assert stored is not None
    assert stored.settings == WatermarkSettings(T0, timedelta(hours=1), timedelta(minutes=5))
    key = _view(store)["watermark"]
    assert (key.lag_text, key.settle_text) == ("1:00:00", "0:05:00")
    assert key.to_json()["settings"] == {
        "initial": "2026-01-01T00:00:00+00:00",
        "lag": "1:00:00",
        "settle": "0:05:00",
    }


def test_int_date_and_decimal_steps_and_no_steps(store: InMemoryAssetStateStore) -> None:
    Watermark("orders", initial=0, lag=100, key="ids", store=store).advance(500)
    Watermark("orders", initial=date(2026, 1, 1), key="days", store=store).advance(date(2026, 1, 3))
    decimal = Watermark("orders", initial=Decimal("0"), lag=Decimal("0.5"), key="dec", store=store)
    decimal.advance(Decimal("2"))
    keys = _view(store)
    assert (keys["ids"].lag_text, keys["ids"].settle_text) == ("100", "none")
    assert keys["days"].settings.initial == date(2026, 1, 1) and keys["days"].lag_text == "none"
    assert keys["dec"].settings.lag == Decimal("0.5")


def test_a_rewind_keeps_the_settings_the_writer_recorded(store: InMemoryAssetStateStore) -> None:
    producer = Watermark("orders", initial=0, lag=10, settle=2, store=store)
    producer.advance(100)
    outsider = Watermark("orders", initial=100, store=store)  # as the `state` command builds it
    outsider.rewind(40, reason="reload after the fix")
    key = _view(store)["watermark"]
    assert key.operation == "rewind" and key.value == 40
    assert key.settings == WatermarkSettings(0, 10, 2)


def test_a_record_without_settings_still_loads_and_gains_them_at_the_next_commit(
    store: InMemoryAssetStateStore,
) -> None:
    wm = Watermark("orders", initial=0, lag=5, store=store)
    wm.advance(10)
    old = dict(store.get("watermark"))
    del old["settings"]  # as the previous release wrote it
    store.set("watermark", old)
    key = _view(store)["watermark"]
    assert key.settings is None and key.lag_text == "not recorded"
    assert key.to_json()["settings"] is None

    Watermark("orders", initial=100, store=store).rewind(3, reason="replay")
    assert "settings" not in store.get("watermark")  # a rewinder does not know them: none invented

    with wm.window(until=20) as w:
        assert (w.start, w.end) == (0, 20)  # lag 5 below 3, not below initial
    assert _view(store)["watermark"].settings == WatermarkSettings(0, 5, None)


def test_damaged_settings_do_not_block_the_watermark(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    wm.advance(10)
    store.set("watermark", {**store.get("watermark"), "settings": {"initial": {"$type": "nope"}}})
    assert wm.value == 10 and _view(store)["watermark"].settings is None
    wm.advance(11)
    assert _view(store)["watermark"].settings == WatermarkSettings(0, None, None)
