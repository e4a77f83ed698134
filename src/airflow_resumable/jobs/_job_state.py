"""Reading and writing a durable job's two keys in ``task_state_store``, with per-key retention.

- ``<external_id_key>`` (the job id) is written exactly as the upstream mixin writes it: ``set(key,
  value)``, so it keeps the deployment's ``[state_store] default_retention_days``.
- ``<external_id_key>.intent`` is written with ``retention=NEVER_EXPIRE`` when the store's ``set`` takes a
  ``retention`` argument (Airflow 3.3's does), and with the default retention otherwise. The intent is what
  lets a retry find a job whose id row expired while it ran, and what holds the token; it is one small row.

Reads and writes are retried (bounded) on the store's transient errors.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_resumable import _store
from airflow_resumable.errors import InvalidValueError
from airflow_resumable.jobs._intent import (
    CANCELLED,
    INTENT_SUFFIX,
    OUTCOME,
    SUBMITTED,
    SUBMITTING,
    cancellation,
    parse_intent,
    succeeded,
)

__all__ = ["accepts_retention", "check_keys", "read_state", "record_submitted", "record_success", "write"]


def check_keys(owner: str, key: object, previous: object) -> None:
    """Reject unusable ``external_id_key`` / ``previous_external_id_keys`` before anything is touched."""
    if not isinstance(key, str) or not key:
        raise InvalidValueError(
            f"{owner}.external_id_key must be a non-empty string, got {key!r}. "
            "Set it to the key this operator stores its job id under, e.g. 'my_job_id'."
        )
    if isinstance(previous, str) or not isinstance(previous, tuple | list):
        raise InvalidValueError(
            f"{owner}.previous_external_id_keys must be a tuple of strings, got "
            f"{previous!r}. Write a one-key tuple with a trailing comma: ('old_key',)."
        )
    for old in previous:
        if not isinstance(old, str) or not old:
            raise InvalidValueError(
                f"{owner}.previous_external_id_keys holds {old!r}: every entry must be a "
                "non-empty string naming a key an earlier version of the operator used."
            )
        if old == key:
            raise InvalidValueError(
                f"{owner}.previous_external_id_keys repeats the current external_id_key "
                f"{key!r}. List only the keys used before the rename."
            )


def accepts_retention(store: Any) -> bool:
    """True when ``store.set`` takes a ``retention`` keyword (upstream's two-argument ``set`` does not)."""
    try:
        params = inspect.signature(store.set).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - C callables
        return False
    return any(p.name == "retention" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def write(store: Any, key: str, value: Any, *, what: str, owner: str, never_expire: bool = False) -> None:
    """``store.set(key, value)``, with ``retention=NEVER_EXPIRE`` if asked and the store takes it."""
    description = f"{owner}: storing {what} under {key!r}"
    if never_expire and accepts_retention(store):
        _store.retry_call(description, store.set, key, value, retention=_store.never_expire())
    else:
        _store.retry_call(description, store.set, key, value)


def record_submitted(store: Any, key: str, intent: dict[str, Any], external_id: Any, *, owner: str) -> None:
    """Store a submitted job: the intent (with the id) first, then the id under ``key``.

    A cancellation mark or success the intent holds for another job is dropped: it must not follow a new job.
    """
    done = {**intent, "state": SUBMITTED, "external_id": external_id}
    if CANCELLED in done and cancellation(done, external_id) is None:
        del done[CANCELLED]
    if OUTCOME in done and succeeded(done, external_id) is None:
        del done[OUTCOME]
    write(store, key + INTENT_SUFFIX, done, what="submission intent", owner=owner, never_expire=True)
    write(store, key, external_id, what="job id", owner=owner)


def record_success(store: Any, key: str, external_id: Any, status: str | None, *, owner: str) -> bool:
    """Record in the intent under ``key`` that job ``external_id`` succeeded (with ``status`` if known).

    Only for the job the intent records as submitted; a success recorded for it already is kept (a
    ``None`` status never replaces a known one). Returns whether the intent now records the success.
    """
    intent_key = key + INTENT_SUFFIX
    intent = parse_intent(_store.retry_call(f"{owner}: reading {intent_key!r}", store.get, intent_key))
    if intent is None or intent["state"] != SUBMITTED or intent.get("external_id") != external_id:
        return False
    seen = succeeded(intent, external_id)
    if seen is not None and (status is None or seen.get("status") == status):
        return True
    when = datetime.now(tz=timezone.utc).isoformat()
    done = {**intent, OUTCOME: {"external_id": external_id, "status": status, "at": when}}
    write(store, intent_key, done, what="job outcome", owner=owner, never_expire=True)
    return True


def present(value: Any) -> bool:
    """A stored id worth looking at (upstream's test is truthiness: ``None`` and ``""`` are absent)."""
    return value is not None and value != ""


def read_state(
    store: Any, key: str, previous_keys: Sequence[str], *, owner: str, log: Any
) -> tuple[Any, dict[str, Any] | None]:
    """The stored id and intent, moved from a previous key first if the current key holds neither."""
    what = f"{owner}: reading stored job state"
    get: Callable[[str], Any] = lambda k: _store.retry_call(what, store.get, k)  # noqa: E731
    stored_id, raw_intent = get(key), get(key + INTENT_SUFFIX)
    if not present(stored_id) and raw_intent is None:
        for old_key in previous_keys:
            old_id, old_intent = get(old_key), get(old_key + INTENT_SUFFIX)
            if not present(old_id) and old_intent is None:
                continue
            if old_intent is not None:
                write(
                    store,
                    key + INTENT_SUFFIX,
                    old_intent,
                    what="submission intent",
                    owner=owner,
                    never_expire=True,
                )
            if present(old_id):
                write(store, key, old_id, what="job id", owner=owner)
            for stale in (old_key + INTENT_SUFFIX, old_key):
                _store.retry_call(f"{owner}: deleting {stale!r}", store.delete, stale)
            log.warning(
                "Moved stored job state from a renamed external_id_key",
                old_key=old_key,
                new_key=key,
                external_id=old_id,
            )
            stored_id, raw_intent = old_id, old_intent
            break
    intent = parse_intent(raw_intent)
    if raw_intent is not None and intent is None:
        log.error(
            "Ignoring an unreadable submission intent; the stored job id alone decides this try",
            intent_key=key + INTENT_SUFFIX,
            intent=repr(raw_intent),
        )
    return stored_id, intent


def known_job(stored_id: Any, intent: dict[str, Any] | None) -> tuple[Any, bool]:
    """The job the stored state points at, and whether the id key needs repairing from the intent.

    An intent ``"submitted"`` with an id wins (it is written first); an intent still ``"submitting"``
    makes a stored id stale (it belongs to an older generation); no intent leaves the stored id.
    """
    if intent is not None and intent["state"] == SUBMITTED and present(intent.get("external_id")):
        return intent["external_id"], stored_id != intent["external_id"]
    if intent is not None and intent["state"] == SUBMITTING:
        return None, False
    return (stored_id if present(stored_id) else None), False
