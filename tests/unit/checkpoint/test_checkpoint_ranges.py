"""The compact set of positions finished out of order."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_resumable._checkpoint_ranges import Ranges


def test_adjacent_positions_merge_into_one_run() -> None:
    ranges = Ranges()
    for position in [5, 7, 6, 10, 9, 20]:
        assert ranges.add(position)
    assert ranges.to_json() == [[5, 7], [9, 10], [20, 20]]
    assert len(ranges) == 3
    assert ranges.count() == 6
    assert not ranges.add(6)
    assert 9 in ranges
    assert 8 not in ranges
    assert 21 not in ranges


def test_pop_contiguous_moves_the_watermark_through_the_lowest_run_only() -> None:
    ranges = Ranges.from_json([[5, 7], [9, 10]])
    assert ranges.pop_contiguous(3) == 3
    assert ranges.pop_contiguous(4) == 7
    assert ranges.to_json() == [[9, 10]]


def test_discard_splits_a_run() -> None:
    ranges = Ranges.from_json([[1, 5]])
    ranges.discard(3)
    assert ranges.to_json() == [[1, 2], [4, 5]]
    ranges.discard(1)
    ranges.discard(5)
    ranges.discard(99)
    assert ranges.to_json() == [[2, 2], [4, 4]]


def test_copy_is_independent() -> None:
    ranges = Ranges.from_json([[1, 2]])
    snapshot = ranges.copy()
    ranges.add(3)
    assert snapshot.to_json() == [[1, 2]]
    assert ranges.to_json() == [[1, 3]]


@pytest.mark.parametrize(
    "bad", [[[1]], [[3, 1]], [[1, 2], [3, 4]], [[5, 6], [1, 2]], [["a", "b"]], [[True, 2]]]
)
def test_from_json_refuses_damaged_runs(bad: object) -> None:
    with pytest.raises(ValueError):
        Ranges.from_json(bad)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "discard", "pop"]), st.integers(0, 60)), max_size=80))
def test_behaves_like_a_set_of_integers(operations: list[tuple[str, int]]) -> None:
    ranges, model = Ranges(), set()
    watermark = 0
    for op, position in operations:
        if op == "add":
            assert ranges.add(position) == (position not in model)
            model.add(position)
        elif op == "discard":
            ranges.discard(position)
            model.discard(position)
        else:
            watermark = ranges.pop_contiguous(watermark)
            while watermark + 1 in model or any(p <= watermark for p in model):
                model = {p for p in model if p > watermark}
                if watermark + 1 in model:
                    watermark += 1
        assert {p for first, last in ranges.to_json() for p in range(first, last + 1)} == model
        pairs = ranges.to_json()
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(pairs))  # disjoint and never adjacent
        assert Ranges.from_json(pairs).to_json() == pairs
