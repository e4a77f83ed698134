"""One range to load, ``[start, end)``, that commits its end when its ``with`` block succeeds.

Obtained from [`window()`][airflow_resumable.watermark.Watermark.window] or
[`backfill()`][airflow_resumable.watermark.Watermark.backfill].
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from airflow_resumable._watermark_keys import show
from airflow_resumable._watermark_record import StoredWatermark, WatermarkCommit, encode_summary
from airflow_resumable.errors import InvalidValueError

if TYPE_CHECKING:
    from types import TracebackType

    from airflow_resumable.watermark import Watermark

__all__ = ["WatermarkWindow"]

log = logging.getLogger("airflow_resumable.watermark")
T = TypeVar("T")


class WatermarkWindow(Generic[T]):
    """One half-open range ``[start, end)`` to load; commits ``end`` when its ``with`` block succeeds.

    Obtained from [`Watermark.window()`][airflow_resumable.watermark.Watermark.window] or
    [`Watermark.backfill()`][airflow_resumable.watermark.Watermark.backfill]. ``value in w`` tells whether a
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
        """Attached to the commit record; fill it with
        [`record()`][airflow_resumable._watermark_window.WatermarkWindow.record] (or directly)."""
        self.committed: WatermarkCommit[T] | None = None
        """The commit written on leaving the block (``None`` if nothing was written)."""
        self._up_to: T | None = None
        self._entered = False
        kind = "empty window" if empty else ("window" if commit else "backfill window")
        log.info(
            "%s: %s [%s, %s)%s",
            watermark._what,
            kind,
            show(start),
            show(end),
            ""
            if empty
            else f" from committed {show(watermark.initial if seen is None else seen.commit.value)}",
        )

    def __repr__(self) -> str:
        return f"<WatermarkWindow [{show(self.start)}, {show(self.end)}) commits={self.commits}>"

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
                f"{self._wm._what}: commit_up_to({show(checked)}) is outside the window "
                f"[{show(self.start)}, {show(self.end)}]; a window never commits past its end."
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
                show(self.previous),
            )
            return False
        if not self.commits:
            return False
        target = self.end if self._up_to is None else self._up_to
        if not wm._kind.less(self.previous, target):
            log.info("%s: nothing past %s to commit", wm._what, show(self.previous))
            return False
        self.committed = wm._commit(wm._accessor(), self._seen, target, "window", self.summary)
        return False
