"""In-memory state stores that behave like Airflow 3.3.2's, for unit tests without a running Airflow.

They reproduce what a task sees from ``context["task_state_store"]`` and ``context["asset_state_store"]``:
the same methods (async ones exactly where Airflow has them: on the asset store, not the task store), the
same exception types for bad values (``ValueError`` for ``None``, pydantic ``ValidationError`` for
datetimes, tuples and dicts with non-string keys, ``ServerResponseError`` (HTTP 422) for NaN and empty
keys; NaN nested inside a list or dict is silently stored as null, as by Airflow), retention (expiry
at cleanup, not on read) with an injectable clock, a logged warning above ``max_value_storage_bytes``,
and one namespace per map index. The parity suite in this project runs the same script against these and
against the real stores under ``dag.test()`` so any drift in Airflow shows up as a failing test.

Values are stored as JSON text, as in the metadata database, so a test cannot pass by keeping a live
object that Airflow would have serialised.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_resumable._store import never_expire

__all__ = [
    "InMemoryAssetStateStore",
    "InMemoryAssetStateStores",
    "InMemoryStateBackend",
    "InMemoryTaskStateStore",
]

log = logging.getLogger("airflow_resumable.testing")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(tz=timezone.utc)


def _validate_like_airflow(model: str, **fields: Any) -> None:
    """Build the same comms message the real accessor sends, so pydantic raises what Airflow raises."""
    from airflow.sdk.execution_time import comms

    getattr(comms, model)(**fields)


def _server_error(loc: list[str], msg: str, type_: str, value: Any) -> Exception:
    """The ``ServerResponseError`` (HTTP 422) that Airflow's execution API answers for these values."""
    import httpx
    from airflow.sdk.api.client import ServerResponseError

    body = {"detail": [{"loc": loc, "msg": msg, "type": type_, "input": value}]}
    request = httpx.Request("PUT", "http://in-memory/execution/state-store")
    response = httpx.Response(422, json=body, request=request)
    error = ServerResponseError.from_response(response)
    assert error is not None
    return error


def _check_key(key: str, where: str) -> None:
    if key == "":
        raise _server_error([where, "key"], "String should have at least 1 character", "string_too_short", "")


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _nulls_for_non_finite(value: Any) -> Any:
    """Nested NaN/infinity become null on the way to the database (Airflow 3.3 accepts them silently)."""
    if _is_non_finite(value):
        return None
    if isinstance(value, list):
        return [_nulls_for_non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _nulls_for_non_finite(v) for k, v in value.items()}
    return value


@dataclass
class _Row:
    value: str
    updated_at: datetime
    expires_at: datetime | None = None
    writer: dict[str, Any] = field(default_factory=dict)


class InMemoryStateBackend:
    """The shared "metadata database" behind in-memory stores: one per test, shared across tries.

    ``clock`` returns the current aware datetime; tests that check expiry pass their own.
    ``default_retention_days`` and ``max_value_storage_bytes`` mirror the ``[state_store]`` options
    (defaults 30 and 65535, as in Airflow 3.3).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_retention_days: int = 30,
        max_value_storage_bytes: int = 65535,
    ) -> None:
        self.clock: Clock = clock or _utcnow
        self.default_retention_days = default_retention_days
        self.max_value_storage_bytes = max_value_storage_bytes
        self.task_rows: dict[tuple[str, str, str, int, str], _Row] = {}
        self.asset_rows: dict[tuple[str, str], _Row] = {}
        self.writes = 0
        """How many set() calls reached this backend (useful to assert write batching)."""

    def task_store(
        self, *, dag_id: str = "dag", run_id: str = "run", task_id: str = "task", map_index: int = -1
    ) -> InMemoryTaskStateStore:
        """A task store accessor for one task instance, backed by this backend."""
        return InMemoryTaskStateStore(
            self, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
        )

    def asset_stores(
        self, inlets: Iterable[Any] = (), outlets: Iterable[Any] = (), *, writer: dict[str, Any] | None = None
    ) -> InMemoryAssetStateStores:
        """The ``context["asset_state_store"]`` mapping for a task with these inlets and outlets."""
        return InMemoryAssetStateStores(list(inlets), list(outlets), backend=self, writer=writer)

    def cleanup(self) -> int:
        """Delete expired task rows, as ``airflow state-store clean`` does; return how many were deleted."""
        now = self.clock()
        expired = [
            k for k, row in self.task_rows.items() if row.expires_at is not None and row.expires_at < now
        ]
        for k in expired:
            del self.task_rows[k]
        return len(expired)

    def _warn_if_large(self, kind: str, key: str, value: Any) -> None:
        limit = self.max_value_storage_bytes
        if limit > 0 and (size := len(json.dumps(value))) > limit:
            log.warning(
                "%s store value for key %r is %d bytes, which exceeds configured max_value_storage_bytes=%d.",
                kind,
                key,
                size,
                limit,
            )


def _shared_backend(backend: InMemoryStateBackend | None, clock: Clock | None) -> InMemoryStateBackend:
    if backend is not None:
        if clock is not None:
            backend.clock = clock
        return backend
    return InMemoryStateBackend(clock=clock)


class InMemoryTaskStateStore:
    """Stand-in for ``context["task_state_store"]``: ``get``, ``set``, ``delete``, ``clear``.

    Two stores built on the same :class:`InMemoryStateBackend` with the same dag/run/task/map index see
    the same keys, which is how a retry sees what the failed try wrote.
    """

    def __init__(
        self,
        backend: InMemoryStateBackend | None = None,
        *,
        dag_id: str = "dag",
        run_id: str = "run",
        task_id: str = "task",
        map_index: int = -1,
        clock: Clock | None = None,
    ) -> None:
        self.backend = _shared_backend(backend, clock)
        self._scope = (dag_id, run_id, task_id, map_index)
        self._ti_id = uuid.uuid4()

    def __repr__(self) -> str:
        dag_id, run_id, task_id, map_index = self._scope
        return f"<InMemoryTaskStateStore {dag_id}/{run_id}/{task_id}[{map_index}]>"

    def _row_key(self, key: str) -> tuple[str, str, str, int, str]:
        return (*self._scope, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default`` if the key does not exist.

        As in Airflow 3.3, expiry is not checked on read: an expired key is returned until
        :meth:`InMemoryStateBackend.cleanup` (``airflow state-store clean``) removes it.
        """
        _check_key(key, "path")
        row = self.backend.task_rows.get(self._row_key(key))
        return default if row is None else json.loads(row.value)

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        """Write or overwrite ``key``.

        ``retention``: ``None`` (the configured default), a timedelta, or NEVER_EXPIRE.
        """
        if value is None:
            raise ValueError("Cannot set value as None")
        now = self.backend.clock()
        expires_at: datetime | None
        if retention is never_expire():
            expires_at = None
        elif retention is not None:
            expires_at = now + retention  # an int raises TypeError here, exactly as in Airflow 3.3
        else:
            days = self.backend.default_retention_days
            if days < 0:
                raise ValueError(
                    f"[state_store] default_retention_days must be >= 0, got {days}. "
                    "Set to 0 to disable expiry."
                )
            expires_at = None if days == 0 else now + timedelta(days=days)
        _validate_like_airflow(
            "SetTaskStateStore", ti_id=self._ti_id, key=key, value=value, expires_at=expires_at
        )
        self.backend._warn_if_large("Task", key, value)
        _check_key(key, "path")
        if _is_non_finite(value):
            raise _server_error(["body", "value"], "Value error, value cannot be null", "value_error", None)
        self.backend.writes += 1
        self.backend.task_rows[self._row_key(key)] = _Row(
            json.dumps(_nulls_for_non_finite(value)), now, expires_at
        )

    def delete(self, key: str) -> None:
        """Delete a single key. No-op if the key does not exist."""
        _check_key(key, "path")
        self.backend.task_rows.pop(self._row_key(key), None)

    def clear(self) -> None:
        """Delete all keys of this task instance (other map indices keep theirs)."""
        for row_key in [k for k in self.backend.task_rows if k[:4] == self._scope]:
            del self.backend.task_rows[row_key]

    def keys(self) -> list[str]:
        """The keys of this task instance (a testing convenience; Airflow's accessor has no such call)."""
        return sorted(k[4] for k in self.backend.task_rows if k[:4] == self._scope)

    def expires_at(self, key: str) -> datetime | None:
        """When ``key`` becomes eligible for cleanup (``None``: never, or no such key)."""
        row = self.backend.task_rows.get(self._row_key(key))
        return None if row is None else row.expires_at


class InMemoryAssetStateStore:
    """Stand-in for ``context["asset_state_store"][asset]``: get/set/delete/clear and their async twins.

    Asset rows never expire. Writes are plain upserts: the last writer wins, as in Airflow.
    """

    def __init__(
        self,
        name: str = "asset",
        backend: InMemoryStateBackend | None = None,
        *,
        writer: dict[str, Any] | None = None,
    ) -> None:
        self.backend = _shared_backend(backend, None)
        self.name = name
        self.writer = dict(writer or {})

    def __repr__(self) -> str:
        return f"<InMemoryAssetStateStore name={self.name!r}>"

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default`` if the key does not exist."""
        _check_key(key, "query")
        row = self.backend.asset_rows.get((self.name, key))
        return default if row is None else json.loads(row.value)

    def set(self, key: str, value: Any) -> None:
        """Write or overwrite ``key``; ``value`` must not be ``None``."""
        if value is None:
            raise ValueError("Cannot set value as None")
        # Airflow measures the size (json.dumps) before building the message: a datetime raises TypeError here
        self.backend._warn_if_large("Asset", key, value)
        _validate_like_airflow("SetAssetStateStoreByName", name=self.name, key=key, value=value)
        _check_key(key, "query")
        if _is_non_finite(value):
            raise _server_error(["body", "value"], "Value error, value cannot be null", "value_error", None)
        self.backend.writes += 1
        stored = json.dumps(_nulls_for_non_finite(value))
        self.backend.asset_rows[(self.name, key)] = _Row(stored, self.backend.clock(), None, self.writer)

    def delete(self, key: str) -> None:
        """Delete a single key. No-op if the key does not exist."""
        _check_key(key, "query")
        self.backend.asset_rows.pop((self.name, key), None)

    def clear(self) -> None:
        """Delete all keys of this asset."""
        for row_key in [k for k in self.backend.asset_rows if k[0] == self.name]:
            del self.backend.asset_rows[row_key]

    def last_writer(self, key: str) -> dict[str, Any]:
        """Who wrote ``key`` last (like the ``last_updated_by_*`` columns); ``{}`` when unknown."""
        row = self.backend.asset_rows.get((self.name, key))
        return {} if row is None else dict(row.writer)

    async def aget(self, key: str, default: Any = None) -> Any:
        """Async version of :meth:`get`."""
        return self.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Async version of :meth:`set`."""
        self.set(key, value)

    async def adelete(self, key: str) -> None:
        """Async version of :meth:`delete`."""
        self.delete(key)

    async def aclear(self) -> None:
        """Async version of :meth:`clear`."""
        self.clear()


def _asset_identity(asset: Any) -> tuple[str, str] | None:
    """(``"name"`` or ``"uri"``, value) for an Asset / AssetNameRef / AssetUriRef, else None."""
    from airflow.sdk.definitions.asset import Asset, AssetNameRef, AssetUriRef

    if isinstance(asset, Asset | AssetNameRef):
        return ("name", asset.name)
    if isinstance(asset, AssetUriRef):
        return ("uri", asset.uri)
    return None


class InMemoryAssetStateStores:
    """Stand-in for the ``context["asset_state_store"]`` mapping over a task's inlets and outlets.

    ``stores[ASSET]`` gives the accessor; an asset the task did not declare raises ``KeyError``; a
    non-asset raises ``TypeError``. With exactly one declared asset the accessor methods work on the
    mapping itself; otherwise they raise ``ValueError`` (all as in Airflow 3.3.2).
    """

    def __init__(
        self,
        inlets: list[Any],
        outlets: list[Any] | None = None,
        *,
        backend: InMemoryStateBackend | None = None,
        writer: dict[str, Any] | None = None,
    ) -> None:
        self.backend = _shared_backend(backend, None)
        self._by: dict[tuple[str, str], InMemoryAssetStateStore] = {}
        for asset in [*inlets, *(outlets or [])]:
            ident = _asset_identity(asset)
            if ident is not None and ident not in self._by:
                name = ident[1] if ident[0] == "name" else f"uri:{ident[1]}"
                self._by[ident] = InMemoryAssetStateStore(name, self.backend, writer=writer)

    def __getitem__(self, key: Any) -> InMemoryAssetStateStore:
        ident = _asset_identity(key)
        if ident is None:
            raise TypeError(f"Expected Asset, AssetNameRef, or AssetUriRef; got {type(key).__name__}")
        try:
            return self._by[ident]
        except KeyError:
            raise KeyError(f"{key!r} is not in this task's inlets or outlets") from None

    def _single_accessor(self) -> InMemoryAssetStateStore:
        if len(self._by) != 1:
            raise ValueError(
                f"Task has {len(self._by)} concrete inlets and outlets — use "
                "context['asset_state_store'][MY_ASSET] to specify which"
            )
        return next(iter(self._by.values()))

    def get(self, key: str, default: Any = None) -> Any:
        """Single-asset shorthand for ``get``."""
        return self._single_accessor().get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Single-asset shorthand for ``set``."""
        self._single_accessor().set(key, value)

    def delete(self, key: str) -> None:
        """Single-asset shorthand for ``delete``."""
        self._single_accessor().delete(key)

    def clear(self) -> None:
        """Single-asset shorthand for ``clear``."""
        self._single_accessor().clear()

    async def aget(self, key: str, default: Any = None) -> Any:
        """Single-asset shorthand for ``aget``."""
        return await self._single_accessor().aget(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Single-asset shorthand for ``aset``."""
        await self._single_accessor().aset(key, value)

    async def adelete(self, key: str) -> None:
        """Single-asset shorthand for ``adelete``."""
        await self._single_accessor().adelete(key)

    async def aclear(self) -> None:
        """Single-asset shorthand for ``aclear``."""
        await self._single_accessor().aclear()
