"""Store access shared by every helper: finding the running task's stores, and writing to them safely.

Helpers never talk to ``context["task_state_store"]`` directly; they go through ``task_store``,
``asset_store`` and ``retrying``, so that the version guard, the "not inside a task" message and
the retry policy for failed writes live in one place.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cache
from typing import Any, Protocol, TypeVar, runtime_checkable

import tenacity

from airflow_resumable.errors import AirflowVersionError, InvalidValueError, NoStoreError

__all__ = [
    "AssetStore",
    "TaskStore",
    "asset_store",
    "call_async",
    "current_context",
    "how_it_failed",
    "never_expire",
    "require_airflow",
    "retrying",
    "task_store",
    "writer_identity",
]

log = logging.getLogger("airflow_resumable")
T = TypeVar("T")
MIN_AIRFLOW = (3, 3)


@runtime_checkable
class TaskStore(Protocol):
    """What the helpers need of ``context["task_state_store"]`` (or an in-memory stand-in)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None: ...

    def delete(self, key: str) -> None: ...


@runtime_checkable
class AssetStore(Protocol):
    """What the helpers need of ``context["asset_state_store"][asset]`` (or an in-memory stand-in)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


def never_expire() -> timedelta:
    """Airflow's ``NEVER_EXPIRE`` retention (the store compares it by identity), or ``timedelta.max``.

    On Airflow 3.3 ``NEVER_EXPIRE`` *is* ``timedelta.max``. Airflow is only asked when it is already loaded
    (inside a task it is), so a helper on an in-memory store does not pay for importing it.
    """
    if "airflow.sdk" not in sys.modules:
        return timedelta.max
    try:
        from airflow.sdk import NEVER_EXPIRE  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Airflow < 3.3 (the version guard reports this case)
        return timedelta.max
    return NEVER_EXPIRE  # type: ignore[no-any-return]


def _parse_version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):  # pragma: no cover - unknown scheme: trust it
        return MIN_AIRFLOW


@cache
def require_airflow() -> None:
    """Raise ``AirflowVersionError`` unless Airflow 3.3 or newer is installed."""
    try:
        from importlib.metadata import version

        installed = version("apache-airflow-task-sdk")
        sdk = _parse_version(installed)
        ok = sdk >= (1, 3)
    except Exception:  # the task SDK is missing: fall back to the core package
        try:
            from importlib.metadata import version

            installed = version("apache-airflow")
            ok = _parse_version(installed) >= MIN_AIRFLOW
        except Exception:
            installed, ok = "not installed", False
    if not ok:
        raise AirflowVersionError(
            f"airflow-resumable needs Apache Airflow 3.3 or newer (task SDK 1.3+), found {installed}. "
            "The state stores it builds on arrived in 3.3 (AIP-103): upgrade Airflow, or pass store= with an "
            "object from airflow_resumable.testing for use outside Airflow."
        )


def current_context() -> Mapping[str, Any] | None:
    """The running task's context, or ``None`` when not called from inside a running task."""
    try:
        from airflow.sdk import get_current_context
    except ImportError:
        return None
    try:
        return get_current_context()
    except Exception:
        return None


def _from_context(name: str, who: str, kind: str, stand_in: str) -> tuple[Any, Mapping[str, Any]]:
    """``context[name]`` of the running task, or ``NoStoreError`` saying how to supply one."""
    require_airflow()
    context = current_context()
    found = None if context is None else context.get(name)
    if found is None or context is None:
        raise NoStoreError(
            f"{who} needs {kind}, and none was found: it is not running inside an Airflow task. "
            "Create it inside the task function (or execute()), or pass store=... "
            f"(for unit tests: airflow_resumable.testing.{stand_in}())."
        )
    return found, context


def task_store(store: TaskStore | None, *, who: str) -> TaskStore:
    """Return ``store``, or the running task's ``task_state_store``.

    ``who`` names the helper asking, for the error message.
    """
    if store is not None:
        return store
    found, _ = _from_context("task_state_store", who, "a task state store", "InMemoryTaskStateStore")
    return found  # type: ignore[no-any-return]


def asset_store(asset: Any, store: AssetStore | None, *, who: str) -> AssetStore:
    """Return ``store``, or the running task's ``asset_state_store[asset]``.

    Raises ``InvalidValueError`` when the asset is not an inlet or outlet of the running task.
    """
    if store is not None:
        return store
    stores, context = _from_context(
        "asset_state_store", who, "an asset state store", "InMemoryAssetStateStore"
    )
    try:
        return stores[asset]  # type: ignore[no-any-return]
    except KeyError:
        task_id = getattr(context.get("ti"), "task_id", "this task")
        raise InvalidValueError(
            f"{who}: asset {asset!r} is not an inlet or outlet of task {task_id!r}. "
            f"Declare it, e.g. @task(outlets=[{_asset_name(asset)}]) for a producer or inlets=[...] for a "
            "consumer; the asset state store only opens the assets a task declares."
        ) from None
    except TypeError as exc:
        raise InvalidValueError(
            f"{who}: {asset!r} is not an asset. Pass an airflow.sdk.Asset (or an asset name/uri ref)."
        ) from exc


def _asset_name(asset: Any) -> str:
    name = getattr(asset, "name", None)
    return f"Asset({name!r})" if name else "ASSET"


def writer_identity(context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Who is writing: dag_id, run_id, task_id, map_index and try_number of the running task, if any."""
    ctx = context if context is not None else current_context()
    ti = None if ctx is None else ctx.get("ti")
    if ti is None:
        return {}
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", -1),
        "try_number": getattr(ti, "try_number", None),
    }


def _status_and_text(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status of an API error and its text, as the task sees them.

    In-process (``dag.test()``) the error is the API client's ``ServerResponseError`` (an httpx error with a
    ``response``); a real worker gets it relayed by the supervisor as ``AirflowRuntimeError`` whose
    ``error.detail`` holds ``status_code``, ``message`` and the server's ``detail``.
    """
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        try:
            text = str(response.text)  # type: ignore[union-attr]
        except Exception:
            text = ""
        return status, f"{exc} {text}"
    detail = getattr(getattr(exc, "error", None), "detail", None)
    if isinstance(detail, dict):
        return detail.get("status_code"), f"{exc} {detail}"
    return None, str(exc)


_GONE_LOGGED = False


def _task_instance_gone(status: int | None, text: str) -> bool:
    """A 404 "Task instance ... not found": this try's task instance was cleared or marked meanwhile."""
    global _GONE_LOGGED
    if status != 404 or "Task instance" not in text or "not found" not in text:
        return False
    if not _GONE_LOGGED:
        _GONE_LOGGED = True
        log.warning(
            "The API server no longer knows this try's task instance (it was cleared, or marked success or "
            "failed, while the try ran): its state store writes answer 404 and are not retried. Progress "
            "not saved yet is dropped; the next try resumes from the last saved position."
        )
    return True


def _is_transient(exc: BaseException) -> bool:
    """Bad input is never retried (it would fail the same way); everything else may be a blip.

    Only ``Exception`` is retried: a ``BaseException`` (KeyboardInterrupt, SystemExit, a task timeout,
    a graceful stop or a simulated worker crash) must stop the work at once. HTTP 4xx answers are final,
    except 408, 409 and 429; a 404 for the task instance itself (cleared or marked meanwhile) is logged
    once per process.
    """
    if not isinstance(exc, Exception):
        return False
    # OverflowError: a real worker's channel (msgpack) cannot carry the value; it fails the same way again.
    if isinstance(exc, ValueError | TypeError | OverflowError):
        return False
    status, text = _status_and_text(exc)
    if _task_instance_gone(status, text):
        return False
    return not (isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429))


def _why_final(exc: BaseException) -> str:
    """Why ``exc`` is not retried (``_is_transient`` is false for it), for an error message."""
    if isinstance(exc, OverflowError):
        return (
            "the worker's msgpack channel to the API server cannot carry the value, e.g. an integer "
            "beyond 64 bits, and would refuse it again"
        )
    if isinstance(exc, ValueError | TypeError):
        return "the value was refused, and would be refused again"
    status, text = _status_and_text(exc)
    if status == 404 and "Task instance" in text and "not found" in text:
        return (
            "the API server no longer knows this try's task instance: it was cleared, or marked success or "
            "failed, while the try ran"
        )
    if isinstance(status, int):
        return f"the API server answered HTTP {status}, which it would answer again"
    return "the error is not one a retry can help with"


def how_it_failed(exc: BaseException) -> str:
    """How a call under `retrying()` that raised ``exc`` ended, for an error message.

    ``"after 4 attempts"`` (retried until the attempts ran out), ``"without retrying (why)"``, or, when
    earlier attempts failed with errors worth retrying, ``"after 2 attempts (the last not retried: why)"``.
    """
    tried = getattr(exc, _ATTEMPTS, None)
    if _is_transient(exc):
        return f"after {tried or 'repeated'} attempts"
    if isinstance(tried, int) and tried > 1:
        return f"after {tried} attempts (the last not retried: {_why_final(exc)})"
    return f"without retrying ({_why_final(exc)})"


_ATTEMPTS = "_airflow_resumable_attempts"
"""The attribute `retrying()` sets on each error it saw: the number of the attempt that raised it."""


class _RetryTransient(tenacity.retry_base):
    """Retry on `_is_transient` errors, noting on each error which attempt raised it (see `how_it_failed`)."""

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if exc is None:
            return False
        with contextlib.suppress(AttributeError, TypeError):  # an exception class with __slots__
            setattr(exc, _ATTEMPTS, retry_state.attempt_number)
        return _is_transient(exc)


def retrying(what: str, *, attempts: int = 4, max_wait: float = 2.0) -> tenacity.Retrying:
    """A bounded, jittered retry policy for store writes and remote status calls.

    Bad input (ValueError/TypeError, HTTP 4xx) is not retried; the last error is re-raised (with the
    number of its attempt noted for `how_it_failed()`).
    """

    def _before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s failed (attempt %d of %d), retrying: %r", what, state.attempt_number, attempts, exc)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=max_wait),
        retry=_RetryTransient(),
        before_sleep=_before_sleep,
        reraise=True,
    )


def retry_call(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn`` under ``retrying``."""
    return retrying(what)(fn, *args, **kwargs)


async def call_async(store: object, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``store.a<method>`` when the store has it, else run ``store.<method>`` in a worker thread.

    Airflow 3.3's task store has no async methods (newer versions do), and under ``dag.test()`` the asset
    store's async methods fail (no ``asend`` on the in-process channel); the comms channel is thread-safe,
    so a thread keeps the event loop free in every case.
    """
    import asyncio

    native = getattr(store, "a" + method, None)
    if native is not None and _native_async_usable():
        return await native(*args, **kwargs)
    return await asyncio.to_thread(getattr(store, method), *args, **kwargs)


def _native_async_usable() -> bool:
    """False under ``dag.test()`` on Airflow 3.3, whose in-process comms channel has no ``asend``."""
    module = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(module, "SUPERVISOR_COMMS", None) if module is not None else None
    return comms is None or hasattr(comms, "asend")
