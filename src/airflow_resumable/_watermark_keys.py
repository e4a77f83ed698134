"""Which store key a watermark writes, and the writers that must not share it.

The asset state store has no compare-and-set: a write is a plain upsert and the last writer wins. A
[`Watermark`][airflow_resumable.watermark.Watermark] reads the key before and after its write, which catches
most interference, but two writers that both read before either writes can both pass, and the later, lower
write wins. That race cannot be closed without compare-and-set, so the cases where it is *likely* are stopped
here, before any work is done:

- a mapped task writing an unpartitioned key: every map index writes the same key at the same time. This
  is refused; each writer names its own ``partition=``. The map index is not a good partition name: the
  expansion may change between runs (a new region, another order), and index 2 would then resume another
  item's progress. Name what the index loads (``partition=region``).
- a DAG that allows several active runs (``max_active_runs > 1``, Airflow's default is 16) writing an
  unpartitioned key: overlapping runs (a manual trigger beside a scheduled run, catch-up) can race. This
  only logs a warning, once per DAG and key in a process: most such DAGs never overlap in practice.

Writers in different DAGs that share one key cannot be seen from inside a task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from airflow_resumable import _store
from airflow_resumable._codec import describe
from airflow_resumable.errors import InvalidValueError

__all__ = ["asset_label", "check_shared_writer", "key_for", "show"]

log = logging.getLogger("airflow_resumable.watermark")
MAX_KEY = 512
_warned: set[tuple[str, str, str]] = set()


def show(value: object) -> str:
    """A value for messages: ISO text for datetimes and dates, a short repr otherwise."""
    return value.isoformat() if isinstance(value, date) else describe(value)


def asset_label(asset: Any) -> str:
    """``Asset('orders')`` for messages."""
    name = getattr(asset, "name", None)
    return f"Asset({name!r})" if isinstance(name, str) else repr(asset)


def key_for(key: str, partition: str | int | None, what: str) -> str:
    """The store key: ``key``, or ``key/<partition>``; raise
    [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] for bad input."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidValueError(f"{what}: key= must be a non-empty str, got {show(key)}.")
    if partition is None:
        full = key
    else:
        if isinstance(partition, bool) or not isinstance(partition, str | int):
            raise InvalidValueError(
                f"{what}: partition= must be a str or int (e.g. the region a mapped task loads), "
                f"got {show(partition)}."
            )
        text = str(partition)
        if not text.strip():
            raise InvalidValueError(f"{what}: partition= must not be empty.")
        full = f"{key}/{text}"
    if len(full) > MAX_KEY:
        raise InvalidValueError(
            f"{what}: the store key {full[:40]!r}... is longer than {MAX_KEY} characters."
        )
    return full


def check_shared_writer(what: str, key: str, *, partitioned: bool, action: str) -> None:
    """Before a write to ``key`` is planned: refuse a mapped writer of an unpartitioned key, and warn
    when the running DAG lets several runs write it at once. Outside a running task this does nothing.

    ``action`` names the call, for the message (``"window()"``, ``"advance()"``, ``"rewind()"``).
    """
    if partitioned:
        return
    context = _store.current_context()
    if context is None:
        return
    _refuse_mapped(what, key, context, action)
    _warn_overlapping_runs(what, key, context)


def _refuse_mapped(what: str, key: str, context: Mapping[str, Any], action: str) -> None:
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", None)
    if not isinstance(map_index, int) or map_index < 0:
        return
    task_id = getattr(ti, "task_id", "this task")
    raise InvalidValueError(
        f"{what}: {action} in mapped task {task_id!r} (map index {map_index}) would write the shared key "
        f"{key!r}, which every map index writes at the same time; the store has no compare-and-set, so a "
        "lower value can overwrite a higher one. Nothing was written. Give each map index its own key with "
        "Watermark(..., partition=<what this index loads>, e.g. partition=region) and read them together "
        "with Watermark.merged(asset, partitions=[...]). Name a stable partition, not the map index: the "
        "expansion can change between runs."
    )


def _warn_overlapping_runs(what: str, key: str, context: Mapping[str, Any]) -> None:
    dag = context.get("dag")
    limit = getattr(dag, "max_active_runs", None)
    if not isinstance(limit, int) or limit <= 1:
        return
    dag_id = str(getattr(dag, "dag_id", "?"))
    seen = (dag_id, what, key)
    if seen in _warned:
        return
    _warned.add(seen)
    log.warning(
        "%s: DAG %r allows %d active runs (max_active_runs) and each run writes the shared key %r. Two "
        "overlapping runs can both pass the watermark's check and the later, lower write wins (the store "
        "has no compare-and-set). Set max_active_runs=1 on the DAG, or give each writer its own key "
        "with partition=.",
        what,
        dag_id,
        limit,
        key,
    )
