"""A scripted tour of state-store behaviour, run against the real stores and the in-memory ones.

``run_task_script(store)`` and ``run_asset_script(mapping, first, second, undeclared)`` perform the same
operations on whatever stores they are given and return one outcome per step: ``["ok", value]`` or
``["raises", exception type name, HTTP status or None]``. The project's parity suite runs them inside a
real ``dag.test()`` task and against :mod:`airflow_resumable.testing.stores`, and requires identical
outcomes, so a change in Airflow's behaviour shows up as a failing test. Anyone can run them against
their own Airflow the same way.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_resumable._store import never_expire

__all__ = ["run_asset_script", "run_task_script"]

Outcome = list[Any]


def _outcome(fn: Callable[[], Any]) -> Outcome:
    try:
        value = fn()
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return ["raises", type(exc).__name__, status]
    if isinstance(value, float) and math.isnan(value):  # pragma: no cover - never stored
        return ["ok", "nan"]
    return ["ok", value]


def run_task_script(store: Any) -> list[tuple[str, Outcome]]:
    """Exercise a ``task_state_store``: values, defaults, bad values, retention, keys, delete and clear."""
    naive = datetime(2026, 1, 1)
    aware = datetime(2026, 1, 1, tzinfo=timezone.utc)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("get missing", lambda: store.get("missing")),
        ("get missing with default", lambda: store.get("missing", 5)),
        ("set int", lambda: store.set("int", 42)),
        ("get int", lambda: store.get("int")),
        ("set str", lambda: store.set("str", "héllo ✓")),
        ("get str", lambda: store.get("str")),
        ("set float", lambda: store.set("float", 1.5)),
        ("get float", lambda: store.get("float")),
        ("set bool", lambda: store.set("bool", False)),
        ("get bool", lambda: store.get("bool")),
        ("set nested", lambda: store.set("nested", {"a": [1, {"b": None}], "c": "d"})),
        ("get nested", lambda: store.get("nested")),
        ("set empty list", lambda: store.set("empty", [])),
        ("get empty list", lambda: store.get("empty", "default")),
        ("set None", lambda: store.set("none", None)),
        ("set naive datetime", lambda: store.set("dt", naive)),
        ("set aware datetime", lambda: store.set("dt", aware)),
        ("set tuple", lambda: store.set("tuple", (1, 2))),
        ("set dict with int keys", lambda: store.set("intkeys", {1: "a"})),
        ("set bytes", lambda: store.set("bytes", b"x")),
        ("set set", lambda: store.set("set", {1})),
        ("set nan", lambda: store.set("nan", float("nan"))),
        ("set inf in list", lambda: store.set("inf", [float("inf"), 1])),
        ("get inf in list", lambda: store.get("inf")),
        ("set nan in dict", lambda: store.set("nan2", {"x": float("nan")})),
        ("get nan in dict", lambda: store.get("nan2")),
        ("get after rejected writes", lambda: [store.get(k) for k in ("none", "dt", "tuple", "nan")]),
        ("set empty key", lambda: store.set("", 1)),
        ("get empty key", lambda: store.get("")),
        ("delete empty key", lambda: store.delete("")),
        ("set retention int", lambda: store.set("ret", 1, retention=5)),
        ("set retention NEVER_EXPIRE", lambda: store.set("ret", 2, retention=never_expire())),
        ("set retention timedelta", lambda: store.set("ret2", 3, retention=timedelta(hours=1))),
        ("get retained", lambda: [store.get("ret"), store.get("ret2")]),
        ("key with slash and dot", lambda: store.set("a/b.c", "x")),
        ("get key with slash and dot", lambda: store.get("a/b.c")),
        ("overwrite", lambda: store.set("int", 43)),
        ("get overwritten", lambda: store.get("int")),
        ("delete", lambda: store.delete("int")),
        ("get deleted", lambda: store.get("int", "gone")),
        ("delete missing", lambda: store.delete("never-set")),
        ("large value", lambda: store.set("large", "x" * 70_000)),
        ("get large length", lambda: len(store.get("large"))),
        ("clear", lambda: store.clear()),
        ("get after clear", lambda: [store.get(k) for k in ("str", "nested", "ret", "a/b.c")]),
        (
            "has async methods",
            lambda: sorted(n for n in ("aget", "aset", "adelete", "aclear") if hasattr(store, n)),
        ),
    ]
    return [(name, _outcome(fn)) for name, fn in steps]


def run_asset_script(
    mapping: Any, first: Any, second: Any, undeclared: Any, *, include_async: bool = True
) -> list[tuple[str, Outcome]]:
    """Exercise ``context["asset_state_store"]`` for a task with two declared assets.

    ``include_async=False`` leaves out the async methods: under ``dag.test()`` on Airflow 3.3.2 they raise
    ``AttributeError`` (its in-process comms channel has no ``asend``), although real workers support them.
    """
    a = mapping[first]
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("shorthand with two assets", lambda: mapping.get("k")),
        ("undeclared asset", lambda: mapping[undeclared]),
        ("not an asset", lambda: mapping["orders"]),
        ("get missing", lambda: a.get("k")),
        ("get missing with default", lambda: a.get("k", 0)),
        ("set", lambda: a.set("k", {"v": 1})),
        ("get", lambda: a.get("k")),
        ("other asset is separate", lambda: mapping[second].get("k")),
        ("set None", lambda: a.set("k", None)),
        ("set aware datetime", lambda: a.set("k", datetime(2026, 1, 1, tzinfo=timezone.utc))),
        ("set tuple", lambda: a.set("k", (1,))),
        ("set nan", lambda: a.set("k", float("nan"))),
        ("set empty key", lambda: a.set("", 1)),
        ("get empty key", lambda: a.get("")),
        ("value survives rejected writes", lambda: a.get("k")),
    ]
    if include_async:
        steps += [
            ("async set", lambda: asyncio.run(a.aset("async", 7))),
            ("async get", lambda: asyncio.run(a.aget("async"))),
            ("async delete", lambda: asyncio.run(a.adelete("async"))),
            ("get after async delete", lambda: a.get("async", "gone")),
        ]
    steps += [
        ("delete", lambda: a.delete("k")),
        ("get deleted", lambda: a.get("k", "gone")),
        ("set two keys", lambda: [a.set("x", 1), a.set("y", 2)]),
        ("clear", lambda: a.clear()),
        ("get after clear", lambda: [a.get("x"), a.get("y")]),
        (
            "has async methods",
            lambda: sorted(n for n in ("aget", "aset", "adelete", "aclear") if hasattr(a, n)),
        ),
    ]
    return [(name, _outcome(fn)) for name, fn in steps]
