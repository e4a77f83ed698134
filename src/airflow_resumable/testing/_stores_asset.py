"""In-memory stand-ins for ``context["asset_state_store"]`` and its per-asset accessors (Airflow 3.3.2).

Part of [`airflow_resumable.testing.stores`][airflow_resumable.testing.stores], which documents how these
stores fail and why.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_resumable.testing._stores_channel import (
    Row,
    build_message,
    check_key,
    is_non_finite,
    nulls_for_non_finite,
    send_like_a_worker,
    server_error,
)

if TYPE_CHECKING:
    from airflow_resumable.testing.stores import InMemoryStateBackend

__all__ = ["InMemoryAssetStateStore", "InMemoryAssetStateStores"]


def _backend(backend: InMemoryStateBackend | None) -> InMemoryStateBackend:
    from airflow_resumable.testing.stores import InMemoryStateBackend

    return backend if backend is not None else InMemoryStateBackend()


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
        self.backend = _backend(backend)
        self.name = name
        self.writer = dict(writer or {})

    def __repr__(self) -> str:
        return f"<InMemoryAssetStateStore name={self.name!r}>"

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default`` if the key does not exist."""
        check_key(key, "query")
        row = self.backend.asset_rows.get((self.name, key))
        return default if row is None else json.loads(row.value)

    def set(self, key: str, value: Any) -> None:
        """Write or overwrite ``key``; ``value`` must not be ``None``."""
        if value is None:
            raise ValueError("Cannot set value as None")
        # Airflow measures the size (json.dumps) before building the message: a datetime raises TypeError here
        self.backend._warn_if_large("Asset", key, value)
        send_like_a_worker(build_message("SetAssetStateStoreByName", name=self.name, key=key, value=value))
        check_key(key, "query")
        if is_non_finite(value):
            raise server_error(["body", "value"], "Value error, value cannot be null", "value_error", None)
        self.backend.writes += 1
        stored = json.dumps(nulls_for_non_finite(value))
        self.backend.asset_rows[(self.name, key)] = Row(stored, self.backend.clock(), None, self.writer)

    def delete(self, key: str) -> None:
        """Delete a single key. No-op if the key does not exist."""
        check_key(key, "query")
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
        """Async version of [`get()`][airflow_resumable.testing._stores_asset.InMemoryAssetStateStore.get]."""
        return self.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Async version of [`set()`][airflow_resumable.testing._stores_asset.InMemoryAssetStateStore.set]."""
        self.set(key, value)

    async def adelete(self, key: str) -> None:
        """Async version of
        [`delete()`][airflow_resumable.testing._stores_asset.InMemoryAssetStateStore.delete]."""
        self.delete(key)

    async def aclear(self) -> None:
        """Async version of
        [`clear()`][airflow_resumable.testing._stores_asset.InMemoryAssetStateStore.clear]."""
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
        self.backend = _backend(backend)
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
