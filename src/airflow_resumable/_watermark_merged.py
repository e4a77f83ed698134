"""A read-only view over partitioned watermarks: the minimum across partitions.

Obtained from [`merged()`][airflow_resumable.watermark.Watermark.merged].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from airflow_resumable.errors import InvalidValueError

if TYPE_CHECKING:
    from airflow_resumable._watermark_record import WatermarkCommit
    from airflow_resumable.watermark import Watermark

__all__ = ["MergedWatermark"]

T = TypeVar("T")


class MergedWatermark(Generic[T]):
    """Read-only minimum over partitioned watermarks (from
    [`Watermark.merged()`][airflow_resumable.watermark.Watermark.merged]).

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
