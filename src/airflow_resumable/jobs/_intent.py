"""The write-ahead submission intent and the idempotency token it carries.

Before a durable operator submits, it stores an *intent* under ``<external_id_key>.intent``:

```json
{"generation": 2, "token": "3f9c0a1b2c3d4e5f-8a1b2c3d4e5f-g2",
 "submitted_at": "2026-01-02T03:04:05+00:00", "state": "submitting"}
```

and, once the backend answered, the same record with ``"state": "submitted"`` and ``"external_id"``.
An operator's ``intent_fields`` adds backend fields to it (the EMR steps operator: ``"job_flow_id"``).
An operator with ``records_success`` records a job seen to succeed as ``"outcome": {"external_id",
"status", "at"}``, so a retry that finds the backend no longer knows it (ECS forgets stopped tasks within an
hour) does not run it again.
A job cancelled from outside (``airflow-resumable state orphans --cancel``) is recorded in the same intent as
``"cancelled": {"external_id", "at", "by", "reason"}`` (the state stays ``"submitted"``); the next try
treats that job as ended and submits a new generation, whose intent starts without the mark.
A retry reads the token from here: the token is never re-derived, because every generation's token holds
a random part (a nonce). A task whose state was deleted (or wiped by ``clear_on_success``, or whose DAG
run was re-created with the same run_id) therefore gets a new token, and the backend a new job, instead of
the job an earlier incarnation of the task instance started.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, cast

from airflow_resumable.errors import InvalidValueError

__all__ = [
    "CANCELLED",
    "ID_ONLY_KEYS",
    "INTENT_SUFFIX",
    "OUTCOME",
    "SUBMITTED",
    "SUBMITTING",
    "cancellation",
    "derived_token",
    "new_intent",
    "parse_intent",
    "recorded_fields",
    "rotated_token",
    "submitted_at",
    "succeeded",
]

INTENT_SUFFIX = ".intent"
"""Appended to ``external_id_key`` to name the key that holds the submission intent."""

SUBMITTING = "submitting"
SUBMITTED = "submitted"

CANCELLED = "cancelled"
"""The intent field recording a cancellation from outside: ``{"external_id", "at", "by", "reason"}``."""

OUTCOME = "outcome"
"""The intent field recording that the intent's job succeeded: ``{"external_id", "status", "at"}``."""

ID_ONLY_KEYS = ("databricks_run_id", "databricks_run_now_id", "glue_job_run_id", "redshift_statement_id")
"""Keys the providers' own resumable operators store a job id under, without an intent."""

NONCE_CHARS = 12
"""Hex characters of randomness in every token (48 bits)."""
_HASH_CHARS = 16
_MIN_HASH_CHARS = 4


def _check_generation(generation: object) -> int:
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        raise InvalidValueError(f"generation must be an int >= 1, got {generation!r}.")
    return generation


def _tail(generation: int, max_length: int, owner: str) -> str:
    """``<nonce>-g<generation>``: the part of every token that must fit."""
    tail = f"{secrets.token_hex(NONCE_CHARS // 2)}-g{generation}"
    if len(tail) > max_length:
        raise InvalidValueError(
            f"{owner}.idempotency_token_max_length={max_length} leaves no room for a token: "
            f"{NONCE_CHARS} random characters plus '-g{generation}' need {len(tail)}. "
            "Set it to the backend's real limit (64 for Databricks and EMR)."
        )
    return tail


def derived_token(identity: Sequence[Any], generation: int, max_length: int, *, owner: str) -> str:
    """A new token for one submission generation: ``<identity hash>-<nonce>-g<generation>``.

    The identity hash (dag_id, run_id, task_id, map_index) makes tokens easy to attribute in the backend's
    history; the nonce makes each one new. Uses only ``[a-z0-9-]``, at most ``max_length`` characters (the
    hash shrinks, then goes, when room is short).
    """
    tail = _tail(_check_generation(generation), max_length, owner)
    room = min(_HASH_CHARS, max_length - len(tail) - 1)
    if room < _MIN_HASH_CHARS:
        return tail
    digest = hashlib.sha256(json.dumps(list(identity), separators=(",", ":"), default=str).encode())
    return f"{digest.hexdigest()[:room]}-{tail}"


def rotated_token(user_token: str, generation: int, max_length: int, *, owner: str) -> str:
    """A user-supplied token for a later generation: ``<token>-<nonce>-g<generation>`` (hashed if long)."""
    tail = _tail(_check_generation(generation), max_length, owner)
    room = max_length - len(tail) - 1
    if len(user_token) <= room:
        return f"{user_token}-{tail}"
    if room < _MIN_HASH_CHARS:
        return tail
    return f"{hashlib.sha256(user_token.encode()).hexdigest()[:room]}-{tail}"


def new_intent(generation: int, token: str) -> dict[str, Any]:
    """The record written before a submission."""
    return {
        "generation": generation,
        "token": token,
        "submitted_at": datetime.now(tz=timezone.utc).isoformat(),
        "state": SUBMITTING,
    }


def parse_intent(raw: object) -> dict[str, Any] | None:
    """``raw`` if it is a readable intent (a copy with every field, the ``cancelled`` mark included), else
    ``None``. A malformed mark does not make the intent unreadable; ``cancellation()`` does not see it."""
    if not isinstance(raw, Mapping):
        return None
    generation = raw.get("generation")
    ok = (
        isinstance(generation, int)
        and not isinstance(generation, bool)
        and generation >= 1
        and isinstance(raw.get("token"), str)
        and bool(raw.get("token"))
        and raw.get("state") in (SUBMITTING, SUBMITTED)
    )
    return cast("dict[str, Any]", dict(raw)) if ok else None


RESERVED_FIELDS = frozenset(
    {"generation", "token", "submitted_at", "state", "external_id", CANCELLED, OUTCOME}
)
"""The intent's own fields; an operator's
[`intent_fields`][airflow_resumable.jobs.base.DurableJobMixin.intent_fields] must use other names."""


def recorded_fields(intent: Mapping[str, Any]) -> dict[str, Any]:
    """The backend fields ``intent`` records beside its own (what ``intent_fields`` returned)."""
    return {k: v for k, v in intent.items() if k not in RESERVED_FIELDS}


def cancellation(intent: Mapping[str, Any] | None, external_id: object) -> dict[str, Any] | None:
    """The cancellation ``intent`` records for the job ``external_id``; ``None`` if it records none for it.

    A mark for another job (an older generation's) is not a cancellation of this one.
    """
    mark = intent.get(CANCELLED) if intent is not None else None
    if not isinstance(mark, Mapping) or "external_id" not in mark or external_id is None:
        return None
    if mark["external_id"] != external_id:
        return None
    return dict(mark)


def succeeded(intent: Mapping[str, Any] | None, external_id: object) -> dict[str, Any] | None:
    """The success ``intent`` records for the job ``external_id``; ``None`` if it records none for it."""
    mark = intent.get(OUTCOME) if intent is not None else None
    if not isinstance(mark, Mapping) or external_id is None or mark.get("external_id") != external_id:
        return None
    return dict(mark)


def submitted_at(intent: Mapping[str, Any]) -> datetime | None:
    """When ``intent`` was recorded (a naive time is read as UTC); ``None`` without a readable time."""
    raw = intent.get("submitted_at")
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
