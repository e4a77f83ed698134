"""Property: over any sequence of runs, failures and late rows, nothing is skipped and nothing goes back.

A source holds records with an event position (``ts``) that become visible ``delay`` after it (rows
committed late at the source). Each run opens the next window at its "now", loads the visible records in
``[w.start, w.end)`` and sometimes fails after loading (so its rows do not count) or commits a smaller end.
With ``lag + settle >= max delay`` the consumer must see every record at least once, and the watermark
must never decrease, whatever the order of runs and failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_resumable import Watermark, WatermarkRegressionError
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

if TYPE_CHECKING:
    from collections.abc import Callable

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class LoadFailed(Exception):
    pass


def _as(kind: str) -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    """(value, step) converters: plain ints, or minutes after T0 for a datetime watermark."""
    if kind == "int":
        return (lambda n: n), (lambda n: n)
    return (lambda n: T0 + timedelta(minutes=n)), (lambda n: timedelta(minutes=n))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    max_delay = draw(st.integers(0, 12))
    settle = draw(st.integers(0, max_delay))
    lag = max_delay - settle + draw(st.integers(0, 3))
    delays = st.one_of(st.just(max_delay), st.integers(0, max_delay))  # the latest rows matter most
    records = draw(st.lists(st.tuples(st.integers(0, 120), delays), max_size=30))
    runs = draw(
        st.lists(
            st.tuples(
                st.integers(0, 20),  # how far "now" moves before the run
                st.sampled_from(["ok", "ok", "fail", "partial", "regress"]),
                st.integers(0, 100),  # where a partial commit stops, as a percentage of the window
            ),
            max_size=12,
        )
    )
    return {
        "kind": draw(st.sampled_from(["int", "datetime"])),
        "lag": lag,
        "settle": settle,
        "records": records,
        "runs": runs,
    }


@settings(max_examples=75, deadline=None)
@given(scenario=scenarios())
def test_every_record_is_seen_at_least_once_and_the_watermark_never_decreases(
    scenario: dict[str, Any],
) -> None:
    val, step = _as(scenario["kind"])
    store = InMemoryAssetStateStore("orders", InMemoryStateBackend())
    wm = Watermark(
        "orders", initial=val(0), lag=step(scenario["lag"]), settle=step(scenario["settle"]), store=store
    )
    records = scenario["records"]
    seen: set[int] = set()  # indexes of records delivered by successful runs
    history = [wm.value]
    now = 0

    def run(at: int, mode: str, percent: int) -> None:
        window = wm.window(until=val(at), now=val(at))
        loaded: set[int] = set()
        try:
            with window as w:
                limit = w.end
                if mode == "partial" and not w.empty:
                    span = w.end - w.start
                    limit = w.start + span * percent // 100
                    w.commit_up_to(limit)
                for i, (ts, delay) in enumerate(records):
                    if ts + delay <= at and val(ts) in w and val(ts) < limit:
                        loaded.add(i)
                w.record(rows=len(loaded))
                if mode == "fail":
                    raise LoadFailed
        except LoadFailed:
            return
        seen.update(loaded)

    for advance, mode, percent in scenario["runs"]:
        now += advance
        if mode == "regress":
            current = wm.value
            if current > val(0):
                with pytest.raises(WatermarkRegressionError):
                    wm.advance(val(0))
        else:
            run(now, mode, percent)
        assert not wm.value < history[-1]
        history.append(wm.value)
        # Everything below the committed watermark that was already visible has been delivered, except
        # rows still inside the re-read margin (they are delivered by a later window).
        margin = scenario["lag"] + scenario["settle"]
        for i, (ts, delay) in enumerate(records):
            if val(ts) < wm.value and ts + delay + margin <= now and val(ts) < wm.value - step(margin):
                assert i in seen, (i, records[i], wm.value)

    run(now + 1000, "ok", 100)  # a final, successful run long after every record became visible
    assert seen == set(range(len(records)))
    assert wm.value == val(now + 1000 - scenario["settle"])
