"""Watermarks: "how far have we loaded" per asset, committed only when the load succeeded.

A :class:`Watermark` keeps one typed cursor (an aware datetime, a date, an int, an opt-in lexicographic str,
or any comparable type a codec can store) in the asset's ``asset_state_store``, shared by every DAG run that
produces or consumes the asset. It adds what the raw store lacks:

- **commit on success**: ``with wm.window(until=...) as w:`` yields a half-open range ``[w.start, w.end)``;
  the watermark moves to ``w.end`` only if the block finishes without an exception;
- **monotonic**: it never moves backwards (:class:`~airflow_resumable.WatermarkRegressionError`); only
  :meth:`Watermark.rewind` goes back, and it records who, when and why;
- **late rows**: ``lag`` re-reads a margin behind the watermark; ``settle`` keeps the window end behind "now";
- **backfills**: :meth:`Watermark.backfill` processes an explicit range without touching the stored value;
- **parallel writers**: one key per partition (``partition=``) and a read-only minimum over partitions
  (:meth:`Watermark.merged`); writes to a shared key are read back and a concurrent overwrite raises
  :class:`~airflow_resumable.ConcurrentWriteError` instead of losing progress silently;
- **a commit record**: value, previous value, writer, time and a user summary (:class:`WatermarkCommit`).

What it does not do: move data. Loading ``[w.start, w.end)`` exactly once downstream is the loader's job
(``lag`` makes delivery at-least-once at the boundary; deduplicate or upsert there).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from airflow_resumable import _store
from airflow_resumable._codec import describe
from airflow_resumable._watermark_kinds import Kind, Ordering, kind_for
from airflow_resumable._watermark_record import (
    MAX_REWINDS,
    Operation,
    StoredWatermark,
    WatermarkCommit,
    WatermarkRewind,
    WatermarkWriter,
    decode_record,
    encode_record,
    encode_summary,
    new_commit_id,
)
from airflow_resumable.errors import (
    CommitError,
    ConcurrentWriteError,
    InvalidValueError,
    WatermarkRegressionError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

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
_MAX_KEY = 512


def _utcnow() -> datetime:
    """The clock behind ``settle`` and ``committed_at`` (a seam for tests)."""
    return datetime.now(tz=timezone.utc)


def _show(value: object) -> str:
    """A value for messages: ISO text for datetimes and dates, a short repr otherwise."""
    return value.isoformat() if isinstance(value, date) else describe(value)


def _asset_label(asset: Any) -> str:
    name = getattr(asset, "name", None)
    return f"Asset({name!r})" if isinstance(name, str) else repr(asset)


def _key_for(key: str, partition: str | int | None, what: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidValueError(f"{what}: key= must be a non-empty str, got {_show(key)}.")
    if partition is None:
        full = key
    else:
        if isinstance(partition, bool) or not isinstance(partition, str | int):
            raise InvalidValueError(
                f"{what}: partition= must be a str or int (e.g. a region or the map index), "
                f"got {_show(partition)}."
            )
        text = str(partition)
        if not text.strip():
            raise InvalidValueError(f"{what}: partition= must not be empty.")
        full = f"{key}/{text}"
    if len(full) > _MAX_KEY:
        raise InvalidValueError(
            f"{what}: the store key {full[:40]!r}... is longer than {_MAX_KEY} characters."
        )
    return full


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
    :param partition: one key per writer (e.g. a region, or the map index of a mapped task). Read all of
        them as one value with :meth:`merged`.
    :param ordering: ``"lexicographic"`` to allow a ``str`` watermark (compared character by character).
    :param codec: how values are stored; defaults to :class:`~airflow_resumable.TypedCodec`.
    :param key: the store key (``"watermark"``, or ``"watermark/<partition>"``); change it only to keep
        two watermarks on one asset apart.
    :param store: an asset store accessor to use instead of the running task's
        ``asset_state_store[asset]`` (for tests: ``airflow_resumable.testing.InMemoryAssetStateStore``).

    Every read goes to the store, so one object may be defined at module level and used from several tasks.
    Bad arguments raise :class:`~airflow_resumable.InvalidValueError` here, before anything is written.
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
        label = _asset_label(asset) + ("" if partition is None else f", partition={partition!r}")
        self._what = f"Watermark({label})"
        self.key = _key_for(key, partition, self._what)
        self.partition = None if partition is None else str(partition)
        self._kind: Kind = kind_for(initial, ordering=ordering, codec=codec, what=self._what)
        self.initial: T = self._kind.check(initial, "initial=")
        self.lag: Any = None if lag is None else self._kind.check_step(lag, "lag")
        self.settle: Any = None if settle is None else self._kind.check_step(settle, "settle")
        self._store = store

    def __repr__(self) -> str:
        return f"<{self._what} key={self.key!r} initial={_show(self.initial)}>"

    # -- reading ------------------------------------------------------------------------------------------
    def _accessor(self) -> AssetStore:
        return _store.asset_store(self.asset, self._store, who=self._what)

    def _where(self) -> str:
        return f"Key {self.key!r} of {_asset_label(self.asset)}"

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

        Explicit range: ``window(start=..., end=..., commit=False)`` (or :meth:`backfill`) processes that
        range and leaves the stored watermark alone. With ``commit=True`` the range must start at or before
        the committed value (no gap), and a successful block moves the watermark to ``end`` if that is
        further.

        On leaving the block without an exception the window commits its end (or the smaller value given
        to :meth:`WatermarkWindow.commit_up_to`) with the summary from :meth:`WatermarkWindow.record`. On
        an exception nothing is written.
        """
        kind = self._kind
        if start is not None or end is not None:
            if start is None or end is None or until is not None or now is not None:
                raise InvalidValueError(
                    f"{self._what}: an explicit range needs both start= and end= (and no until=/now=). "
                    "For the next incremental window pass only until=."
                )
            lo, hi = kind.check(start, "start="), kind.check(end, "end=")
            if kind.less(hi, lo):
                raise InvalidValueError(f"{self._what}: end= {_show(hi)} is before start= {_show(lo)}.")
            stored = self._read()
            current = self.initial if stored is None else stored.commit.value
            if commit and kind.less(current, lo):
                raise InvalidValueError(
                    f"{self._what}: committing [{_show(lo)}, {_show(hi)}) would skip "
                    f"[{_show(current)}, {_show(lo)}), which was never loaded. Start at or before the "
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
        :class:`~airflow_resumable.WatermarkRegressionError`, nothing written (use :meth:`rewind`).
        """
        new = self._kind.check(value, "the new value")
        encoded_summary = dict(summary or {})
        encode_summary(encoded_summary, self._what)
        store = self._accessor()
        stored = self._read(store)
        current = self.initial if stored is None else stored.commit.value
        if self._kind.less(new, current):
            raise WatermarkRegressionError(
                f"{self._what}: refusing to move back from {_show(current)} to {_show(new)}; "
                "nothing was written. If this is deliberate (a backfill or a fix), call "
                "rewind(value, reason=...); to reprocess a range without moving the watermark use "
                "backfill(start, end)."
            )
        if not self._kind.less(current, new):
            log.info("%s: advance to %s is a no-op (already there)", self._what, _show(new))
            return None
        return self._commit(store, stored, new, "advance", encoded_summary)

    def rewind(self, value: T, *, reason: str) -> WatermarkCommit[T]:
        """Move the watermark back to ``value`` on purpose, recording who, when and ``reason``.

        The next window starts from ``value`` again (so the range is loaded again). ``value`` must be
        before the committed value; ``reason`` must say why (it is kept in :attr:`rewinds`).
        """
        new = self._kind.check(value, "the rewind value")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidValueError(
                f"{self._what}: rewind() needs reason= (why the watermark goes back, e.g. "
                "'backfill 2026-03 after the currency fix'); it is recorded with the rewind."
            )
        store = self._accessor()
        stored = self._read(store)
        current = self.initial if stored is None else stored.commit.value
        if not self._kind.less(new, current):
            raise InvalidValueError(
                f"{self._what}: rewind to {_show(new)} does not move back from {_show(current)}. "
                "Use advance() to move forward."
            )
        return self._commit(store, stored, new, "rewind", {}, reason=reason.strip())

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
        """Write ``value`` if the key still holds ``seen``; read it back; raise on interference."""
        previous = self.initial if seen is None else seen.commit.value
        seen_id = None if seen is None else seen.commit.commit_id
        writer = WatermarkWriter.from_json(_store.writer_identity())
        now = _utcnow()
        commit = WatermarkCommit(
            value=value,
            previous=previous,
            operation=operation,
            committed_at=now,
            writer=writer,
            summary=dict(summary),
            commit_id=new_commit_id(),
            reason=reason,
        )
        rewinds = () if seen is None else seen.rewinds
        if operation == "rewind":
            assert reason is not None
            rewinds = (*rewinds, WatermarkRewind(previous, value, reason, now, writer))[-MAX_REWINDS:]
        record = encode_record(StoredWatermark(commit, rewinds), self._kind)  # bad summary: raised here

        before = self._read_for_commit(store)
        before_id = None if before is None else before.commit.commit_id
        if before_id != seen_id:
            found = (
                "finds the key deleted"
                if before is None
                else f"now finds {_show(before.commit.value)} written by {before.commit.writer} at "
                f"{before.commit.committed_at.isoformat()}"
            )
            raise ConcurrentWriteError(
                f"{self._what}: another writer changed {self.key!r} while this task was working: it read "
                f"{_show(previous)} and {found}. Nothing was written; the retry starts from what is stored "
                "now. Give each parallel writer its own key with Watermark(..., partition=...) and read "
                "them together with Watermark.merged(...)."
            )
        try:
            _store.retry_call(f"{self._what}: writing {self.key!r}", store.set, self.key, record)
        except Exception as exc:
            raise CommitError(
                f"{self._what}: could not write {_show(value)} to {self.key!r} after retries ({exc!r}). "
                "The watermark did not move; the task fails so that its retry loads the range again."
            ) from exc
        after = self._read_for_commit(store)
        if after is None or after.commit.commit_id != commit.commit_id:
            other = "nothing" if after is None else f"{_show(after.commit.value)} by {after.commit.writer}"
            raise ConcurrentWriteError(
                f"{self._what}: the write of {_show(value)} to {self.key!r} was overwritten at once "
                f"(reading back found {other}). Another writer shares this key; this commit may be lost. "
                "Give each parallel writer its own key with Watermark(..., partition=...)."
            )
        log.info(
            "%s: %s %s -> %s (commit %s)%s",
            self._what,
            operation,
            _show(previous),
            _show(value),
            commit.commit_id[:8],
            f" summary={dict(summary)}" if summary else "",
        )
        return commit

    def _read_for_commit(self, store: AssetStore) -> StoredWatermark[T] | None:
        try:
            return self._read(store)
        except InvalidValueError:
            raise
        except Exception as exc:
            raise CommitError(
                f"{self._what}: could not read {self.key!r} while committing ({exc!r}); the watermark was "
                "not confirmed. The task fails so that its retry loads the range again."
            ) from exc

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
                f"Watermark.merged({_asset_label(asset)}): partitions= must be a non-empty list of partition "
                "names (the same values the producers pass as partition=)."
            )
        if len({str(p) for p in names}) != len(names):
            raise InvalidValueError(f"Watermark.merged({_asset_label(asset)}): partitions= has duplicates.")
        parts = [
            cls(asset, initial=initial, partition=p, ordering=ordering, codec=codec, key=key, store=store)
            for p in names
        ]
        return MergedWatermark(parts)


class WatermarkWindow(Generic[T]):
    """One half-open range ``[start, end)`` to load; commits ``end`` when its ``with`` block succeeds.

    Obtained from :meth:`Watermark.window` or :meth:`Watermark.backfill`. ``value in w`` tells whether a
    cursor value falls inside the range.
    """

    def __init__(
        self,
        watermark: Watermark[T],
        seen: StoredWatermark[T] | None,
        start: T,
        end: T,
        *,
        until: T,
        empty: bool,
        commit: bool,
    ) -> None:
        self._wm = watermark
        self._seen = seen
        self.start: T = start
        """First value in the window (inclusive)."""
        self.end: T = end
        """Where the window stops (exclusive); what a successful block commits."""
        self.until: T = until
        """The upper bound asked for (``end`` may be smaller because of ``settle``)."""
        self.empty = empty
        """Nothing new to load: ``end`` is not past the committed value. Leaving the block commits nothing."""
        self.commits = commit and not empty
        """Whether a successful block will write (False for backfills and empty windows)."""
        self.summary: dict[str, Any] = {}
        """Attached to the commit record; fill it with :meth:`record` (or directly)."""
        self.committed: WatermarkCommit[T] | None = None
        """The commit written on leaving the block (``None`` if nothing was written)."""
        self._up_to: T | None = None
        self._entered = False
        kind = "empty window" if empty else ("window" if commit else "backfill window")
        log.info(
            "%s: %s [%s, %s)%s",
            watermark._what,
            kind,
            _show(start),
            _show(end),
            ""
            if empty
            else f" from committed {_show(watermark.initial if seen is None else seen.commit.value)}",
        )

    def __repr__(self) -> str:
        return f"<WatermarkWindow [{_show(self.start)}, {_show(self.end)}) commits={self.commits}>"

    def __contains__(self, value: object) -> bool:
        kind = self._wm._kind
        return not kind.less(value, self.start) and kind.less(value, self.end)

    @property
    def previous(self) -> T:
        """The committed value when the window was opened (``start`` plus the ``lag`` margin)."""
        return self._wm.initial if self._seen is None else self._seen.commit.value

    def record(self, **summary: Any) -> None:
        """Attach values to the commit record, e.g. ``w.record(rows=1200, files=3)``; later calls add."""
        encode_summary(summary, self._wm._what)
        self.summary.update(summary)

    def commit_up_to(self, value: T) -> None:
        """Commit ``value`` instead of ``end`` (the source returned less than planned).

        ``value`` must lie in ``[start, end]``. If it is not past the committed value nothing is written.
        """
        kind = self._wm._kind
        checked = kind.check(value, "commit_up_to()")
        if kind.less(checked, self.start) or kind.less(self.end, checked):
            raise InvalidValueError(
                f"{self._wm._what}: commit_up_to({_show(checked)}) is outside the window "
                f"[{_show(self.start)}, {_show(self.end)}]; a window never commits past its end."
            )
        self._up_to = checked

    def __enter__(self) -> WatermarkWindow[T]:
        if self._entered:
            raise InvalidValueError(f"{self._wm._what}: a window is used once; call wm.window() again.")
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        wm = self._wm
        if exc_type is not None:
            log.warning(
                "%s: the block raised %s; the watermark stays at %s",
                wm._what,
                exc_type.__name__,
                _show(self.previous),
            )
            return False
        if not self.commits:
            return False
        target = self.end if self._up_to is None else self._up_to
        if not wm._kind.less(self.previous, target):
            log.info("%s: nothing past %s to commit", wm._what, _show(self.previous))
            return False
        self.committed = wm._commit(wm._accessor(), self._seen, target, "window", self.summary)
        return False


class MergedWatermark(Generic[T]):
    """Read-only minimum over partitioned watermarks (from :meth:`Watermark.merged`).

    Each partition has a single writer, so there is nothing to race on; this view gives consumers one
    value that no partition is behind of.
    """

    def __init__(self, parts: list[Watermark[T]]) -> None:
        self._parts = parts
        self._kind = parts[0]._kind

    def __repr__(self) -> str:
        return f"<MergedWatermark partitions={self.partitions}>"

    @property
    def partitions(self) -> list[str]:
        """The partition names, as strings."""
        return [p.partition or "" for p in self._parts]

    @property
    def values(self) -> dict[str, T]:
        """Each partition's committed value (``initial`` for a partition that has not committed)."""
        return {p.partition or "": p.value for p in self._parts}

    def _slowest(self) -> tuple[str, T]:
        name, result = "", self._parts[0].initial
        for i, (part, value) in enumerate(self.values.items()):
            if i == 0 or self._kind.less(value, result):
                name, result = part, value
        return name, result

    @property
    def value(self) -> T:
        """The smallest partition value: everything before it is loaded in every partition."""
        return self._slowest()[1]

    @property
    def slowest(self) -> str:
        """The partition holding the merged value back (the first one, on a tie)."""
        return self._slowest()[0]

    @property
    def last_commits(self) -> dict[str, WatermarkCommit[T] | None]:
        """Each partition's last commit record (``None`` before its first)."""
        return {p.partition or "": p.last_commit for p in self._parts}

    def partition(self, name: str | int) -> Watermark[T]:
        """The watermark of one partition (to read its value or commit record)."""
        for part in self._parts:
            if part.partition == str(name):
                return part
        raise InvalidValueError(f"{self!r} has no partition {name!r}.")
