"""The set of positions finished out of order, kept as sorted, disjoint runs ``[first, last]``.

When work completes out of order (a thread pool, async fan-out), only the lowest contiguous finished
position may be committed; everything finished above it is remembered here, so that a retry does not
redo it. A run of consecutive positions costs one pair however long it is, so the set stays small as long
as the gaps do: with 8 workers there are at most about 8 gaps.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

__all__ = ["Ranges"]


class Ranges:
    """Sorted, disjoint, non-adjacent runs of integers. Not thread-safe: the owner holds a lock."""

    __slots__ = ("_firsts", "_lasts")

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._lasts: list[int] = []

    def __len__(self) -> int:
        """The number of runs (what the stored size depends on), not the number of positions."""
        return len(self._firsts)

    def __bool__(self) -> bool:
        return bool(self._firsts)

    def __contains__(self, position: int) -> bool:
        i = bisect_right(self._firsts, position) - 1
        return i >= 0 and self._lasts[i] >= position

    def __repr__(self) -> str:
        return f"Ranges({self.to_json()!r})"

    def copy(self) -> Ranges:
        """An independent copy (a snapshot for a reader while the owner keeps adding)."""
        other = Ranges()
        other._firsts, other._lasts = list(self._firsts), list(self._lasts)
        return other

    def count(self) -> int:
        """How many positions the runs hold."""
        return sum(last - first + 1 for first, last in zip(self._firsts, self._lasts, strict=True))

    def add(self, position: int) -> bool:
        """Add one position, merging it into neighbouring runs. Return False if it was already there."""
        firsts, lasts = self._firsts, self._lasts
        i = bisect_right(firsts, position) - 1
        if i >= 0 and lasts[i] >= position:
            return False
        joins_left = i >= 0 and lasts[i] == position - 1
        joins_right = i + 1 < len(firsts) and firsts[i + 1] == position + 1
        if joins_left and joins_right:
            lasts[i] = lasts[i + 1]
            del firsts[i + 1], lasts[i + 1]
        elif joins_left:
            lasts[i] = position
        elif joins_right:
            firsts[i + 1] = position
        else:
            firsts.insert(i + 1, position)
            lasts.insert(i + 1, position)
        return True

    def discard(self, position: int) -> None:
        """Remove one position (used to undo an `add()` that would make the set too large)."""
        firsts, lasts = self._firsts, self._lasts
        i = bisect_right(firsts, position) - 1
        if i < 0 or lasts[i] < position:
            return
        first, last = firsts[i], lasts[i]
        if first == last:
            del firsts[i], lasts[i]
        elif position == first:
            firsts[i] = position + 1
        elif position == last:
            lasts[i] = position - 1
        else:
            lasts[i] = position - 1
            firsts.insert(i + 1, position + 1)
            lasts.insert(i + 1, last)

    def pop_contiguous(self, watermark: int) -> int:
        """If the lowest run starts right after ``watermark``, remove it and return its last position.

        Otherwise return ``watermark`` unchanged. Runs at or below the watermark are dropped as well.
        """
        firsts, lasts = self._firsts, self._lasts
        while firsts and firsts[0] <= watermark + 1:
            watermark = max(watermark, lasts[0])
            del firsts[0], lasts[0]
        return watermark

    def to_json(self) -> list[list[int]]:
        """The runs as ``[[first, last], ...]``, the form stored in the checkpoint."""
        return [[first, last] for first, last in zip(self._firsts, self._lasts, strict=True)]

    @classmethod
    def from_json(cls, data: Any) -> Ranges:
        """Rebuild from `to_json()` output; raise ``ValueError`` if ``data`` is not in that form."""
        ranges = cls()
        previous: int | None = None
        for pair in data:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(p, int) and not isinstance(p, bool) for p in pair)
            ):
                raise ValueError(f"not a [first, last] pair of integers: {pair!r}")
            first, last = pair
            if first > last or (previous is not None and first <= previous + 1):
                raise ValueError(f"runs are not sorted and disjoint at {pair!r}")
            ranges._firsts.append(first)
            ranges._lasts.append(last)
            previous = last
        return ranges
