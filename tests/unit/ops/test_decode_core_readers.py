"""The ops decoders are the core modules' readers: one decoding path for stored records."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_resumable import _checkpoint_record, _watermark_kinds, _watermark_record
from airflow_resumable._codec import TypedCodec
from airflow_resumable.errors import CheckpointError, InvalidValueError
from airflow_resumable.jobs import _intent
from airflow_resumable.ops import decode


def test_the_ops_names_are_the_core_readers():
    assert decode.is_checkpoint is _checkpoint_record.is_record
    assert decode.is_watermark is _watermark_record.is_record
    assert decode.watermark_kind is _watermark_kinds.stored_kind
    assert decode.ID_ONLY_KEYS is _intent.ID_ONLY_KEYS
    assert decode.CANCELLED_FIELD == _intent.CANCELLED


@pytest.mark.parametrize(
    "raw",
    [
        {"position": 3, "items_done": 3},
        {"position": None, "items_done": 0, "version": 1},
        {"position": 3},
        {"position": 3, "items_done": "3"},
        {"items_done": 3},
        [3, 3],
        None,
    ],
)
def test_recognising_a_checkpoint_agrees_with_loading_one(raw: Any):
    try:
        _checkpoint_record.load("k", raw, TypedCodec())
    except CheckpointError:
        loads = False
    else:
        loads = True
    assert _checkpoint_record.is_record(raw) is loads


def test_a_watermark_record_that_decodes_as_another_type_is_refused_with_the_reason():
    raw = {"format": _watermark_record.FORMAT, "type": "datetime", "value": 5}
    assert _watermark_record.is_record(raw)
    with pytest.raises(InvalidValueError, match="custom codec="):
        _watermark_kinds.stored_kind(raw, "Watermark key 'w'")
    assert _watermark_kinds.stored_kind({**raw, "type": "int"}, "w").name == "int"
    assert not _watermark_record.is_record({**raw, "format": "other"})
