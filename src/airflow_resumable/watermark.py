"""Watermarks: "how far have we loaded" per asset, committed only when the load succeeded.

A [`Watermark`][airflow_resumable.watermark.Watermark] keeps one typed cursor (an aware datetime, a date, an
int, an opt-in lexicographic str, or any comparable type a codec can store) in the asset's
``asset_state_store``, shared by every DAG run that produces or consumes the asset. It adds what the raw store
lacks:

- **commit on success**: ``with wm.window(until=...) as w:`` yields a half-open range ``[w.start, w.end)``;
  the watermark moves to ``w.end`` only if the block finishes without an exception;
- **monotonic**: it never moves backwards
  ([`WatermarkRegressionError`][airflow_resumable.errors.WatermarkRegressionError]); only
  [`Watermark.rewind()`][airflow_resumable.watermark.Watermark.rewind] goes back, and it records who, when and
  why;
- **late rows**: ``lag`` re-reads a margin behind the watermark; ``settle`` keeps the window end behind "now";
- **backfills**: [`Watermark.backfill()`][airflow_resumable.watermark.Watermark.backfill] processes an
  explicit range without touching the stored value;
- **parallel writers**: one key per partition (``partition=``) and a read-only minimum over partitions
  ([`Watermark.merged()`][airflow_resumable.watermark.Watermark.merged]). Writes to a shared key are checked
  before and read back after, so most interference raises
  [`ConcurrentWriteError`][airflow_resumable.errors.ConcurrentWriteError]; but the store has no
  compare-and-set, and two writers that both read before either writes can still lose the higher value. A
  mapped task writing an unpartitioned key is therefore refused, and a DAG whose runs may overlap
  (``max_active_runs > 1``) gets a warning;
- **a commit record**: value, previous value, writer, time and a user summary
  ([`WatermarkCommit`][airflow_resumable._watermark_record.WatermarkCommit]).

What it does not do: move data. Loading ``[w.start, w.end)`` exactly once downstream is the loader's job
(``lag`` makes delivery at-least-once at the boundary; deduplicate or upsert there).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_resumable import _store
from airflow_resumable._watermark_commit import write_commit
from airflow_resumable._watermark_keys import asset_label, check_shared_writer, key_for, show
from airflow_resumable._watermark_kinds import Kind, Ordering, kind_for
from airflow_resumable._watermark_merged import MergedWatermark
from airflow_resumable._watermark_record import (
    Operation,
    StoredWatermark,
    WatermarkCommit,
    WatermarkRewind,
    WatermarkWriter,
    decode_record,
    encode_summary,
)
from airflow_resumable._watermark_window import WatermarkWindow
from airflow_resumable.errors import InvalidValueError, WatermarkRegressionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_resumable._codec import Codec
    from airflow_resumable._store import AssetStore

__all__ = [
    "MergedWatermark",
    "Watermark",
    "WatermarkCommit",
    "WatermarkRewind",
    "WatermarkWindow",
    "WatermarkWriter",
]

log = logging.getLogger("airflow_resumable.watermark")
T = TypeVar("T")
DEFAULT_KEY = "watermark"


def _utcnow() -> datetime:
    """The clock behind ``settle`` and ``committed_at`` (a seam for tests)."""
    return datetime.now(tz=timezone.utc)


class Watermark(Generic[T]):
    """A monotonic, typed, commit-on-success watermark for one asset (optionally one partition of it).

    :param asset: the ``airflow.sdk.Asset`` whose ``asset_state_store`` holds the watermark. The task must
        declare it (``outlets=[ASSET]`` for a producer, ``inlets=[ASSET]`` for a consumer).
    :param initial: where loading starts before anything was committed. Its type fixes the watermark's
        type: aware ``datetime`` (stored in UTC), ``date``, ``int``, ``str`` (only with
        ``ordering="lexicographic"``), or any other comparable type the codec can store.
    :param lag: re-read this margin behind the watermark on every window (``timedelta`` for datetimes and
        dates, ``int`` for ints). Rows that arrive late by at most ``lag`` are read by the next window.
    :param settle: keep the window end this far behind "now": ``end = min(until, now - settle)``, so rows
        still being committed at the source are not skipped. Same types as ``lag``.
    :param partition: one key per writer, named after what the writer loads (e.g. the region of a mapped
        task; not the map index, which can point at another item after the expansion changes). Read all of
        them as one value with [`merged()`][airflow_resumable.watermark.Watermark.merged]. A mapped task must
        pass it to write (see below).
    :param ordering: ``"lexicographic"`` to allow a ``str`` watermark (compared character by character).
    :param codec: how values are stored; defaults to [`TypedCodec`][airflow_resumable._codec.TypedCodec].
    :param key: the store key (``"watermark"``, or ``"watermark/<partition>"``); change it only to keep
        two watermarks on one asset apart.
    :param store: an asset store accessor to use instead of the running task's
        ``asset_state_store[asset]`` (for tests: ``airflow_resumable.testing.InMemoryAssetStateStore``).

    Every read goes to the store, so one object may be defined at module level and used from several tasks.
    Bad arguments raise [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] here, before
    anything is written.

    Shared keys: the store has no compare-and-set, so two writers of one key can race (both read, the later
    and lower write wins). Writing an unpartitioned watermark from a mapped task (``window()``,
    [`advance()`][airflow_resumable.watermark.Watermark.advance],
    [`rewind()`][airflow_resumable.watermark.Watermark.rewind]) raises
    [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] naming ``partition=``, before the work
    starts; a DAG with ``max_active_runs > 1`` gets a logged warning.
    """

    def __init__(
        self,
        asset: Any,
        *,
        initial: T,
        lag: Any = None,
        settle: Any = None,
        partition: str | int | None = None,
        ordering: Ordering = "natural",
        codec: Codec[Any] | None = None,
        key: str = DEFAULT_KEY,
        store: AssetStore | None = None,
    ) -> None:
        if asset is None:
            raise InvalidValueError(
                "Watermark: asset is None. Pass the airflow.sdk.Asset the watermark belongs to."
            )
        self.asset = asset
        label = asset_label(asset) + ("" if partition is None else f", partition={partition!r}")
        self._what = f"Watermark({label})"
        self.key = key_for(key, partition, self._what)
        self.partition = None if partition is None else str(partition)
        self._kind: Kind = kind_for(initial, ordering=ordering, codec=codec, what=self._what)
        self.initial: T = self._kind.check(initial, "initial=")
        self.lag: Any = None if lag is None else self._kind.check_step(lag, "lag")
        self.settle: Any = None if settle is None else self._kind.check_step(settle, "settle")
        self._store = store

    def __repr__(self) -> str:
        return f"<{self._what} key={self.key!r} initial={show(self.initial)}>"

    # -- reading ------------------------------------------------------------------------------------------
    def _accessor(self) -> AssetStore:
        return _store.asset_store(self.asset, self._store, who=self._what)

    def _where(self) -> str:
        return f"Key {self.key!r} of {asset_label(self.asset)}"

    def _read(self, store: AssetStore | None = None) -> StoredWatermark[T] | None:
        store = self._accessor() if store is None else store
        raw = _store.retry_call(f"{self._what}: reading {self.key!r}", store.get, self.key)
        return None if raw is None else decode_record(raw, self._kind, self._where())

    @property
    def value(self) -> T:
        """The last committed value, or ``initial`` when nothing was committed yet."""
        stored = self._read()
        return self.initial if stored is None else stored.commit.value

    @property
    def last_commit(self) -> WatermarkCommit[T] | None:
        """The last write: value, previous value, writer, time, summary (``None`` before the first)."""
        stored = self._read()
        return None if stored is None else stored.commit

    @property
    def rewinds(self) -> tuple[WatermarkRewind[T], ...]:
        """The most recent rewinds (at most 10), oldest first."""
        stored = self._read()
        return () if stored is None else stored.rewinds

    # -- windows --------------------------------------------------------------------------------------------
    def window(
        self,
        until: T | None = None,
        *,
        now: T | None = None,
        start: T | None = None,
        end: T | None = None,
        commit: bool = True,
    ) -> WatermarkWindow[T]:
        """The next range to load, ``[w.start, w.end)``; use it as ``with wm.window(until=...) as w:``.

        Incremental (the usual case): ``start`` is the committed value minus ``lag`` (never below
        ``initial``, unless a rewind moved the watermark itself below it); ``end`` is ``until``, or
        ``min(until, now - settle)`` with ``settle``. ``until`` and ``now`` default to the clock for
        datetime and date watermarks; for other types pass ``until`` (``now`` then defaults to ``until``).
        If ``end`` is not past the committed value there is nothing new: the window is empty
        (``w.empty``, ``w.end == w.start``) and leaving it commits nothing.

        Explicit range: ``window(start=..., end=..., commit=False)`` (or
        [`backfill()`][airflow_resumable.watermark.Watermark.backfill]) processes that range and leaves the
        stored watermark alone. With ``commit=True`` the range must start at or before the committed value (no
        gap), and a successful block moves the watermark to ``end`` if that is further.

        On leaving the block without an exception the window commits its end (or the smaller value given
        to
        [`WatermarkWindow.commit_up_to()`][airflow_resumable._watermark_window.WatermarkWindow.commit_up_to])
        with the summary from
        [`WatermarkWindow.record()`][airflow_resumable._watermark_window.WatermarkWindow.record]. On an
        exception nothing is written.
        """
        kind = self._kind
        if commit:
            self._check_writer("window()")
        if start is not None or end is not None:
            if start is None or end is None or until is not None or now is not None:
                raise InvalidValueError(
                    f"{self._what}: an explicit range needs both start= and end= (and no until=/now=). "
                    "For the next incremental window pass only until=."
                )
            lo, hi = kind.check(start, "start="), kind.check(end, "end=")
            if kind.less(hi, lo):
                raise InvalidValueError(f"{self._what}: end= {show(hi)} is before start= {show(lo)}.")
            stored = self._read()
            current = self.initial if stored is None else stored.commit.value
            if commit and kind.less(current, lo):
                raise InvalidValueError(
                    f"{self._what}: committing [{show(lo)}, {show(hi)}) would skip "
                    f"[{show(current)}, {show(lo)}), which was never loaded. Start at or before the "
                    "committed value, or pass commit=False (a backfill that leaves the watermark alone)."
                )
            return WatermarkWindow(self, stored, lo, hi, until=hi, empty=not kind.less(lo, hi), commit=commit)

        clock_now = kind.now(_utcnow)
        if until is None:
            if clock_now is None:
                raise InvalidValueError(
                    f"{self._what}: a {kind.name} watermark has no clock; pass until= (the exclusive "
                    "upper bound, e.g. the source's largest id + 1)."
                )
            until = clock_now
        planned = kind.check(until, "until=")
        reference = kind.check(now, "now=") if now is not None else (clock_now or planned)
        hi = planned if self.settle is None else kind.min(planned, kind.minus(reference, self.settle))

        stored = self._read()
        current = self.initial if stored is None else stored.commit.value
        lo = current
        if self.lag is not None:
            lo = kind.minus(current, self.lag)
            if not kind.less(current, self.initial):  # re-read nothing before initial (unless rewound there)
                lo = kind.max(lo, self.initial)
        empty = not kind.less(current, hi)
        return WatermarkWindow(
            self, stored, lo, lo if empty else hi, until=planned, empty=empty, commit=commit
        )

    def backfill(self, start: T, end: T) -> WatermarkWindow[T]:
        """A window over ``[start, end)`` that never moves the stored watermark (for reprocessing history)."""
        return self.window(start=start, end=end, commit=False)

    # -- writing ---------------------------------------------------------------------------------------------
    def advance(self, value: T, *, summary: Mapping[str, Any] | None = None) -> WatermarkCommit[T] | None:
        """Move the watermark forward to ``value`` now (outside a window).

        Equal to the committed value: nothing is written and ``None`` is returned. Before it:
        [`WatermarkRegressionError`][airflow_resumable.errors.WatermarkRegressionError], nothing written (use
        [`rewind()`][airflow_resumable.watermark.Watermark.rewind]).
        """
        new = self._kind.check(value, "the new value")
        encoded_summary = dict(summary or {})
        encode_summary(encoded_summary, self._what)
        self._check_writer("advance()")
        store = self._accessor()
        stored = self._read(store)
        current = self.initial if stored is None else stored.commit.value
        if self._kind.less(new, current):
            raise WatermarkRegressionError(
                f"{self._what}: refusing to move back from {show(current)} to {show(new)}; "
                "nothing was written. If this is deliberate (a backfill or a fix), call "
                "rewind(value, reason=...); to reprocess a range without moving the watermark use "
                "backfill(start, end)."
            )
        if not self._kind.less(current, new):
            log.info("%s: advance to %s is a no-op (already there)", self._what, show(new))
            return None
        return self._commit(store, stored, new, "advance", encoded_summary)

    def rewind(self, value: T, *, reason: str) -> WatermarkCommit[T]:
        """Move the watermark back to ``value`` on purpose, recording who, when and ``reason``.

        The next window starts from ``value`` again (so the range is loaded again). ``value`` must be
        before the committed value; ``reason`` must say why (it is kept in
        [`rewinds`][airflow_resumable.watermark.Watermark.rewinds]).
        """
        new = self._kind.check(value, "the rewind value")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidValueError(
                f"{self._what}: rewind() needs reason= (why the watermark goes back, e.g. "
                "'backfill 2026-03 after the currency fix'); it is recorded with the rewind."
            )
        self._check_writer("rewind()")
        store = self._accessor()
        stored = self._read(store)
        current = self.initial if stored is None else stored.commit.value
        if not self._kind.less(new, current):
            raise InvalidValueError(
                f"{self._what}: rewind to {show(new)} does not move back from {show(current)}. "
                "Use advance() to move forward."
            )
        return self._commit(store, stored, new, "rewind", {}, reason=reason.strip())

    def _check_writer(self, action: str) -> None:
        check_shared_writer(self._what, self.key, partitioned=self.partition is not None, action=action)

    def _commit(
        self,
        store: AssetStore,
        seen: StoredWatermark[T] | None,
        value: T,
        operation: Operation,
        summary: Mapping[str, Any],
        *,
        reason: str | None = None,
    ) -> WatermarkCommit[T]:
        return write_commit(self, store, seen, value, operation, summary, now=_utcnow(), reason=reason)

    # -- parallel writers ----------------------------------------------------------------------------------
    @classmethod
    def merged(
        cls,
        asset: Any,
        *,
        partitions: Iterable[str | int],
        initial: T,
        ordering: Ordering = "natural",
        codec: Codec[Any] | None = None,
        key: str = DEFAULT_KEY,
        store: AssetStore | None = None,
    ) -> MergedWatermark[T]:
        """A read-only view over partitioned watermarks whose value is the minimum across ``partitions``.

        A partition that has not committed yet counts as ``initial``, so the merged value only moves
        once every partition has moved: consumers never get ahead of the slowest writer.
        """
        names = list(partitions) if not isinstance(partitions, str | bytes) else None
        if not names:
            raise InvalidValueError(
                f"Watermark.merged({asset_label(asset)}): partitions= must be a non-empty list of partition "
                "names (the same values the producers pass as partition=)."
            )
        if len({str(p) for p in names}) != len(names):
            raise InvalidValueError(f"Watermark.merged({asset_label(asset)}): partitions= has duplicates.")
        parts = [
            cls(asset, initial=initial, partition=p, ordering=ordering, codec=codec, key=key, store=store)
            for p in names
        ]
        return MergedWatermark(parts)
