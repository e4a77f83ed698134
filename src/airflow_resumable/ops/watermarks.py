"""Asset watermarks from outside: show, history and a guarded rewind.

[`rewind()`][airflow_resumable.ops.watermarks.rewind] runs
[`airflow_resumable.Watermark.rewind()`][airflow_resumable.watermark.Watermark.rewind] itself, on a store that
reads and writes the asset's ``asset_state_store`` over REST: the same guards (a value of the watermark's
type, strictly before the committed value, a reason), the same commit record and rewind history, and the same
read-back check that raises [`ConcurrentWriteError`][airflow_resumable.errors.ConcurrentWriteError] if a task
committed in between. The writer of a rewind done from outside a task is "code outside a running task"; who
did it (the API user) is added to the recorded reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_resumable.errors import CommitError, InvalidValueError, ResumableError
from airflow_resumable.ops import decode
from airflow_resumable.ops.errors import NotFoundError, OpsError, RefusedError
from airflow_resumable.ops.records import WatermarkEvent, WatermarkKey, WatermarkView
from airflow_resumable.ops.records import show as show_value

if TYPE_CHECKING:
    from airflow_resumable.ops.api import AirflowApi

__all__ = ["RewindPlan", "history", "parse_value", "plan_rewind", "rewind", "show"]


class RestAssetStore:
    """An asset store accessor backed by the REST API, for ``Watermark(store=...)``."""

    def __init__(self, api: AirflowApi, asset_id: int, name: str) -> None:
        self._api, self._asset_id, self._name = api, asset_id, name

    def get(self, key: str, default: Any = None) -> Any:
        value = self._api.asset_value(self._asset_id, key)
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self._api.set_asset_value(self._asset_id, key, value, label=repr(self._name))

    def delete(self, key: str) -> None:  # pragma: no cover - a rewind never deletes
        raise RefusedError("The operating API never deletes watermark keys.")


def show(api: AirflowApi, asset: str) -> WatermarkView:
    """Every watermark key of ``asset`` (name or URI), decoded, with merged values per watermark."""
    asset_id, name, uri = api.find_asset(asset)
    entries = {e.key: e.value for e in api.asset_entries(asset_id)}
    try:
        return decode.watermarks(asset_id, name, uri, entries)
    except ResumableError as exc:
        raise RefusedError(str(exc)) from None


def history(api: AirflowApi, asset: str, key: str | None = None) -> list[WatermarkEvent]:
    """The kept history (last commit and up to 10 rewinds per key), oldest first; one key or watermark
    name with ``key``."""
    return decode.watermark_history(show(api, asset), None if key is None else [key])


def parse_value(text: str, like: Any) -> Any:
    """``text`` as a value of the same type as ``like`` (ISO-8601 for datetimes and dates).

    A datetime must carry its offset (``2026-03-02T00:00:00+00:00`` or ``...Z``): it is never guessed.
    """
    try:
        if isinstance(like, datetime):
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if value.tzinfo is None:
                raise RefusedError(
                    f"{text!r} has no UTC offset; write it with one, e.g. {text}+00:00 (never guessed)."
                )
            return value
        if isinstance(like, date):
            return date.fromisoformat(text)
        if isinstance(like, bool):
            raise RefusedError("A bool is not a watermark value.")
        if isinstance(like, str):
            return text
        return type(like)(text)
    except (TypeError, ValueError) as exc:
        raise RefusedError(
            f"{text!r} is not a {type(like).__name__} like the stored value {show_value(like)} ({exc})."
        ) from None


@dataclass(frozen=True)
class RewindPlan:
    """What a rewind would do: the key, its committed value and the value it would move back to."""

    asset_id: int
    asset_name: str
    key: WatermarkKey
    target: Any

    @property
    def before(self) -> Any:
        return self.key.value


def _select(view: WatermarkView, key: str | None) -> WatermarkKey:
    if key is not None:
        for record in view.keys:
            if record.key == key:
                return record
        raise NotFoundError(
            f"Asset {view.asset_name!r} has no watermark key {key!r}; it has "
            f"{[k.key for k in view.keys] or 'none'}."
        )
    if len(view.keys) == 1:
        return view.keys[0]
    if not view.keys:
        raise NotFoundError(
            f"Asset {view.asset_name!r} holds no watermark yet: nothing was committed, so there is nothing "
            "to rewind (a watermark starts at its initial= value)."
        )
    raise RefusedError(
        f"Asset {view.asset_name!r} has several watermark keys ({[k.key for k in view.keys]}): "
        "say which one with --key (key=), e.g. one partition."
    )


def plan_rewind(api: AirflowApi, asset: str, value: Any, *, key: str | None = None) -> RewindPlan:
    """Check a rewind without writing: the key exists, ``value`` has its type and is before its value.

    ``value`` may be text (parsed like the stored value, see
    [`parse_value()`][airflow_resumable.ops.watermarks.parse_value]) or a typed value.
    """
    view = show(api, asset)
    record = _select(view, key)
    target = (
        parse_value(value, record.value) if isinstance(value, str) and record.value_type != "str" else value
    )
    watermark = _watermark(api, view, record)
    try:
        checked = watermark._kind.check(target, "the rewind value")
        if not watermark._kind.less(checked, record.value):
            raise InvalidValueError(
                f"Rewind to {show_value(checked)} does not move {record.key!r} of {view.asset_name!r} back "
                f"from {show_value(record.value)}; a rewind only moves back (tasks move it forward)."
            )
    except InvalidValueError as exc:
        raise RefusedError(str(exc)) from None
    return RewindPlan(view.asset_id, view.asset_name, record, checked)


def _watermark(api: AirflowApi, view: WatermarkView, record: WatermarkKey) -> Any:
    from airflow_resumable.watermark import Watermark

    return Watermark(
        SimpleNamespace(name=view.asset_name),
        initial=record.value,
        partition=record.partition,
        key=record.name,
        ordering="lexicographic" if record.value_type == "str" else "natural",
        store=RestAssetStore(api, view.asset_id, view.asset_name),
    )


def rewind(api: AirflowApi, plan: RewindPlan, *, reason: str) -> WatermarkKey:
    """Rewind as planned with [`Watermark.rewind()`][airflow_resumable.watermark.Watermark.rewind] (its
    guards, record and concurrency check).

    Raises [`RefusedError`][airflow_resumable.ops.errors.RefusedError] without a reason or when a guard
    refuses, before anything is written; returns the key as stored afterwards.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise RefusedError(
            "A rewind needs a reason (--reason): why the watermark goes back, e.g. 'reload March after "
            "the currency fix'. It is recorded with the rewind."
        )
    view = show(api, plan.asset_name)
    watermark = _watermark(api, view, _select(view, plan.key.key))
    recorded = f"{reason.strip()} (by {api.user} via airflow-resumable state)"
    try:
        watermark.rewind(plan.target, reason=recorded)
    except InvalidValueError as exc:
        raise RefusedError(str(exc)) from None
    except CommitError as exc:
        if isinstance(exc.__cause__, OpsError):  # the API server refused the write (403...): say so
            raise exc.__cause__ from None
        raise
    return _select(show(api, plan.asset_name), plan.key.key)
