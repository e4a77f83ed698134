"""Talking to a running Airflow 3.3 through its REST API (``/api/v2``) with ``apache-airflow-client``.

[`connect()`][airflow_resumable.ops.api.connect] authenticates as Airflow 3 expects: with an API token (a JWT)
given directly, or with a username and password exchanged for one at the API server's ``/auth/token``. Without
either it asks ``/auth/token`` for a token without credentials, which only a development server with
``simple_auth_manager_all_admins`` grants. Credentials come from arguments or from the environment:

- ``AIRFLOW_RESUMABLE_API_URL``: the API server, e.g. ``https://airflow.example.com`` (no ``/api/v2``);
- ``AIRFLOW_RESUMABLE_API_TOKEN``: a token, or
- ``AIRFLOW_RESUMABLE_API_USERNAME`` and ``AIRFLOW_RESUMABLE_API_PASSWORD``.

Nothing here prints, logs or stores a password or token. The API server's 401 and 403 answers become
[`AuthenticationError`][airflow_resumable.ops.errors.AuthenticationError] and
[`AccessDeniedError`][airflow_resumable.ops.errors.AccessDeniedError] with a message saying which permission
is missing. ``apache-airflow-client`` is imported when [`connect()`][airflow_resumable.ops.api.connect] runs
(``pip install 'airflow-resumable[ops]'``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from airflow_resumable.ops.errors import (
    AccessDeniedError,
    ApiError,
    AuthenticationError,
    NotFoundError,
    OpsError,
)

__all__ = ["AirflowApi", "StoreEntry", "connect"]

T = TypeVar("T")
URL_ENV = "AIRFLOW_RESUMABLE_API_URL"
TOKEN_ENV = "AIRFLOW_RESUMABLE_API_TOKEN"
USERNAME_ENV = "AIRFLOW_RESUMABLE_API_USERNAME"
PASSWORD_ENV = "AIRFLOW_RESUMABLE_API_PASSWORD"
PAGE = 100


@dataclass(frozen=True)
class StoreEntry:
    """One state store row as the REST API returns it (the value is the stored JSON)."""

    key: str
    value: Any
    updated_at: datetime | None = None
    last_updated_by: dict[str, Any] | None = None
    """Asset rows only: who wrote it (``kind`` ``task``/``watcher``/``api``, dag_id, run_id, task_id...)."""


def _client() -> Any:
    try:
        import airflow_client.client as client
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ApiError(
            "airflow_resumable.ops needs the official REST client: pip install 'airflow-resumable[ops]' "
            "(apache-airflow-client, the same version as the Airflow API server)."
        ) from exc
    return client


def _token_subject(token: str) -> str | None:
    """The ``sub`` claim of a JWT (read, not verified: only to name the user in audit records)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    sub = data.get("sub") if isinstance(data, dict) else None
    return str(sub) if sub is not None else None


def _exchange(url: str, username: str | None, password: str | None, timeout: float) -> str:
    """A JWT from ``/auth/token``: with username and password (POST), or without credentials (GET)."""
    import httpx

    endpoint = f"{url}/auth/token"
    try:
        if username is not None:
            response = httpx.post(
                endpoint, json={"username": username, "password": password or ""}, timeout=timeout
            )
        else:
            response = httpx.get(endpoint, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ApiError(
            f"Could not reach the Airflow API server at {url} ({type(exc).__name__}). Check the URL "
            f"(--api-url or {URL_ENV}) and that the api-server is running."
        ) from None
    if response.status_code in (401, 403) or (username is None and response.status_code >= 400):
        who = f"user {username!r}" if username is not None else "a request without credentials"
        raise AuthenticationError(
            f"The API server at {url} refused to issue a token for {who} (HTTP {response.status_code}). "
            f"Pass a valid --username/password ({USERNAME_ENV}, {PASSWORD_ENV}) or an API token "
            f"({TOKEN_ENV})."
        )
    if response.is_error:
        raise ApiError(
            f"{endpoint} answered HTTP {response.status_code}; this server may not issue tokens there "
            f"(a custom auth manager). Get a token the way your deployment documents and pass it in "
            f"{TOKEN_ENV}."
        )
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise ApiError(f"{endpoint} answered without an access_token. Pass a token in {TOKEN_ENV}.")
    return token


def connect(
    url: str | None = None,
    *,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> AirflowApi:
    """An authenticated [`AirflowApi`][airflow_resumable.ops.api.AirflowApi] for the API server at ``url``
    (see the module docs)."""
    url = (url or os.environ.get(URL_ENV) or "").rstrip("/")
    if not url:
        raise ApiError(f"No Airflow API server given: pass --api-url (url=) or set {URL_ENV}.")
    if url.endswith("/api/v2"):
        url = url[: -len("/api/v2")]
    token = token or os.environ.get(TOKEN_ENV) or None
    username = username or os.environ.get(USERNAME_ENV) or None
    if token is None:
        password = password if password is not None else os.environ.get(PASSWORD_ENV)
        if username is not None and not password:
            raise AuthenticationError(
                f"A username was given without a password: set {PASSWORD_ENV} (the command also asks "
                "for it when run in a terminal)."
            )
        token = _exchange(url, username, password, timeout)
    return AirflowApi(url, token, user=username or _token_subject(token) or "unknown", timeout=timeout)


class AirflowApi:
    """The REST calls the operating API needs, with the API server's errors turned into library errors."""

    def __init__(self, url: str, token: str, *, user: str, timeout: float = 30.0) -> None:
        client = _client()
        self.url = url
        self.user = user
        """Who is acting (the login name, or the token's subject): written into audit records."""
        self.timeout = timeout
        config = client.Configuration(host=url, access_token=token)
        self._api = client.ApiClient(config)
        self._client = client
        self.task_state = client.TaskStateStoreApi(self._api)
        self.asset_state = client.AssetStateStoreApi(self._api)
        self.assets = client.AssetApi(self._api)
        self.dag_runs = client.DagRunApi(self._api)
        self.task_instances = client.TaskInstanceApi(self._api)

    def __repr__(self) -> str:  # never shows the token
        return f"<AirflowApi {self.url} as {self.user!r}>"

    def close(self) -> None:
        """Release the connection pool."""
        pool = getattr(getattr(self._api, "rest_client", None), "pool_manager", None)
        if pool is not None:
            pool.clear()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calling -----------------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` with the API server's refusals turned into clear errors."""
        exceptions = self._client.exceptions
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except exceptions.ApiException as exc:
            status = exc.status
            detail = _detail(exc)
            error = _error_for(status, detail, what, self)
            error.response = _Status(status)  # read by the library's retry policy: 4xx is not retried
            raise error from None
        except Exception as exc:
            if type(exc).__module__.startswith(("urllib3", "airflow_client")):
                raise ApiError(
                    f"{what}: could not reach the API server at {self.url} ({type(exc).__name__}). "
                    "Check the URL and that the api-server is running."
                ) from None
            raise

    def paged(self, what: str, fn: Callable[..., Any], field: str, **kwargs: Any) -> Iterator[Any]:
        """Every item of a list endpoint, page by page (``limit``/``offset``)."""
        offset = 0
        while True:
            page = self.call(what, fn, limit=PAGE, offset=offset, **kwargs)
            items = list(getattr(page, field) or [])
            yield from items
            offset += len(items)
            if not items or offset >= (getattr(page, "total_entries", None) or 0):
                return

    # -- task state ------------------------------------------------------------------------------------
    def task_entries(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[StoreEntry]:
        """Every key of one task instance's ``task_state_store``."""
        rows = self.paged(
            f"Reading task state of {dag_id}/{run_id}/{task_id}[{map_index}]",
            self.task_state.list_task_state_store,
            "task_state_store",
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id=task_id,
            map_index=map_index,
        )
        return [StoreEntry(r.key, r.value, r.updated_at) for r in rows]

    def patch_task_entry(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str, value: Any
    ) -> None:
        """Replace the value of an existing task state key, keeping its expiry."""
        body = self._client.TaskStateStorePatchBody(value=value)
        self.call(
            f"Writing {key!r} of {dag_id}/{run_id}/{task_id}[{map_index}]",
            self.task_state.patch_task_state_store,
            key=key,
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id=task_id,
            task_state_store_patch_body=body,
            map_index=map_index,
        )

    # -- runs and task instances -----------------------------------------------------------------------
    def latest_run_id(self, dag_id: str) -> str:
        """The run id of the DAG's most recent run (by ``run_after``)."""
        page = self.call(
            f"Listing runs of {dag_id}",
            self.dag_runs.get_dag_runs,
            dag_id=dag_id,
            limit=1,
            order_by=["-run_after"],
        )
        if not page.dag_runs:
            raise NotFoundError(f"DAG {dag_id!r} has no runs (or does not exist). Check the dag_id.")
        return str(page.dag_runs[0].dag_run_id)

    def task_instances_of(self, dag_id: str, run_id: str, **filters: Any) -> list[Any]:
        """Task instances (mapped ones included); ``dag_id``/``run_id`` ``"~"`` mean all."""
        return list(
            self.paged(
                f"Listing task instances of {dag_id}/{run_id}",
                self.task_instances.get_task_instances,
                "task_instances",
                dag_id=dag_id,
                dag_run_id=run_id,
                **filters,
            )
        )

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The DAG run's state (``None`` when the run no longer exists)."""
        try:
            run = self.call(
                f"Reading run {dag_id}/{run_id}", self.dag_runs.get_dag_run, dag_id=dag_id, dag_run_id=run_id
            )
        except NotFoundError:
            return None
        return _text(run.state)

    # -- assets ----------------------------------------------------------------------------------------
    def find_asset(self, name_or_uri: str) -> tuple[int, str, str]:
        """``(id, name, uri)`` of the asset whose name or URI is exactly ``name_or_uri``."""
        what = f"Looking up asset {name_or_uri!r}"
        for field in ("name_pattern", "uri_pattern"):
            for asset in self.paged(what, self.assets.get_assets, "assets", **{field: name_or_uri}):
                if name_or_uri in (asset.name, asset.uri):
                    return int(asset.id), str(asset.name), str(asset.uri)
        raise NotFoundError(
            f"No asset has the name or URI {name_or_uri!r}. Assets are known once a parsed DAG declares "
            "them; check the spelling (names and URIs are matched exactly)."
        )

    def asset_entries(self, asset_id: int) -> list[StoreEntry]:
        """Every key of an asset's ``asset_state_store``, with who wrote it last."""
        rows = self.paged(
            f"Reading state of asset {asset_id}",
            self.asset_state.list_asset_state_store,
            "asset_state_store",
            asset_id=asset_id,
        )
        return [
            StoreEntry(
                r.key,
                r.value,
                r.updated_at,
                None if r.last_updated_by is None else r.last_updated_by.to_dict(),
            )
            for r in rows
        ]

    def asset_value(self, asset_id: int, key: str) -> Any:
        """One asset state value (``None`` when the key is absent)."""
        try:
            row = self.call(
                f"Reading {key!r} of asset {asset_id}",
                self.asset_state.get_asset_state_store,
                key=key,
                asset_id=asset_id,
            )
        except NotFoundError:
            return None
        return row.value

    def set_asset_value(self, asset_id: int, key: str, value: Any, *, label: str | None = None) -> None:
        """Write one asset state value (an upsert, as a task's ``set`` does)."""
        body = self._client.AssetStateStoreBody(value=value)
        self.call(
            f"Writing {key!r} of asset {label or asset_id}",
            self.asset_state.set_asset_state_store,
            key=key,
            asset_id=asset_id,
            asset_state_store_body=body,
        )


class _Status:
    """Stands for an HTTP response on the errors raised here, so retry policies see the status code."""

    def __init__(self, status_code: int | None) -> None:
        self.status_code = status_code


def _error_for(status: int | None, detail: str, what: str, api: AirflowApi) -> OpsError:
    """The library error for an API server's refusal."""
    if status == 401 or (status == 403 and "JWT" in detail):
        return AuthenticationError(
            f"{what}: the API server at {api.url} did not accept the credentials (HTTP {status}: "
            f"{detail}). The token may have expired or be for another deployment: log in again "
            f"({USERNAME_ENV}/{PASSWORD_ENV}) or pass a fresh {TOKEN_ENV}."
        )
    if status == 403:
        return AccessDeniedError(
            f"{what}: user {api.user!r} is not allowed to do this (HTTP 403: {detail}). Reading "
            "state needs read access to the DAG's task instances or to assets; rewinding a "
            "watermark needs write access to assets, cancelling an orphan needs write access to "
            "the DAG's task instances. Ask an Airflow admin for that role."
        )
    if status == 404:
        return NotFoundError(f"{what}: not found (HTTP 404: {detail}).")
    return ApiError(f"{what}: the API server answered HTTP {status}: {detail}")


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    text = detail if isinstance(detail, str) else (json.dumps(detail) if detail else str(exc.reason or ""))
    return text[:300]


def _text(value: Any) -> str | None:
    """An enum's value or a plain string (the client returns enums for states)."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
