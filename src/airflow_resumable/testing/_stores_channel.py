"""How a write travels from a real worker to the database, for the in-memory stores to fail the same way.

A real worker builds the same comms message the accessor builds (pydantic validates it: ``ValidationError``
for datetimes, tuples, dicts with non-string keys), encodes it with the supervisor's msgpack frame encoder
(``OverflowError`` for integers beyond 64 bits, ``UnicodeEncodeError`` for lone surrogates; nothing is
sent), and the supervisor forwards it to the execution API, whose validation errors come back to the task
as ``AirflowRuntimeError`` carrying the HTTP status in ``error.detail["status_code"]``.

``dag.test()`` runs tasks with an in-process channel that skips the encoding and lets the API client's
``ServerResponseError`` through instead; the in-memory stores follow the real worker, and the parity suite
(``tests/integration/test_store_parity.py``) checks both channels step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Row",
    "build_message",
    "check_key",
    "is_non_finite",
    "nulls_for_non_finite",
    "send_like_a_worker",
    "server_error",
]


@dataclass
class Row:
    """One stored key, as the metadata database keeps it: JSON text, times, and who wrote it."""

    value: str
    updated_at: datetime
    expires_at: datetime | None = None
    writer: dict[str, Any] = field(default_factory=dict)


def build_message(model: str, **fields: Any) -> Any:
    """The comms message ``model`` built as the accessor builds it (pydantic raises what Airflow raises)."""
    from airflow.sdk.execution_time import comms

    return getattr(comms, model)(**fields)


def send_like_a_worker(message: Any) -> None:
    """Encode ``message`` as a real worker's channel does before sending it; raise what that raises.

    The frame is built the way ``CommsDecoder.send`` builds it (``_RequestFrame(body=msg.model_dump())``)
    and encoded with the same msgspec encoder; the bytes are then dropped.
    """
    from airflow.sdk.execution_time import comms

    comms._RequestFrame(id=0, body=message.model_dump()).as_bytes()


def server_error(loc: list[str], msg: str, type_: str, value: Any) -> Exception:
    """The error a real worker raises when the execution API answers HTTP 422 for these values.

    The supervisor turns the API client's ``ServerResponseError`` into an ``ErrorResponse`` frame, and the
    task's channel raises it as ``AirflowRuntimeError``; the fields below are the ones the supervisor sends.
    """
    import httpx
    from airflow.sdk.api.client import ServerResponseError
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    body = {"detail": [{"loc": loc, "msg": msg, "type": type_, "input": value}]}
    request = httpx.Request("PUT", "http://in-memory/execution/state-store")
    response = httpx.Response(422, json=body, request=request)
    api_error = ServerResponseError.from_response(response)
    assert api_error is not None
    detail = {"status_code": 422, "message": str(api_error), "detail": body}
    return AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail))


def check_key(key: str, where: str) -> None:
    """An empty key: the execution API answers 422."""
    if key == "":
        raise server_error([where, "key"], "String should have at least 1 character", "string_too_short", "")


def is_non_finite(value: Any) -> bool:
    """A top-level NaN or infinity (the execution API answers 422 for it)."""
    return isinstance(value, float) and not math.isfinite(value)


def nulls_for_non_finite(value: Any) -> Any:
    """Nested NaN/infinity become null on the way to the database (Airflow 3.3 accepts them silently)."""
    if is_non_finite(value):
        return None
    if isinstance(value, list):
        return [nulls_for_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: nulls_for_non_finite(v) for k, v in value.items()}
    return value
