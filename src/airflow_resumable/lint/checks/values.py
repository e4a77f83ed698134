"""Which literal values and constructor calls are not JSON (ARS011).

The state stores accept JSON only. On Airflow 3.3: ``None`` raises ValueError; datetimes, tuples and dicts
with int keys raise a pydantic ValidationError (tuples are rejected, not converted); NaN fails in the API
server. Only expressions whose type is visible in the source are judged, so nothing is guessed.
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING, NamedTuple

from airflow_resumable.lint.astutil import const_str, get_arg

if TYPE_CHECKING:
    from airflow_resumable.lint.index import ModuleIndex

__all__ = ["Problem", "non_json_reason"]

_DT_CLASSES = {"datetime", "date", "time", "timedelta"}
_NAIVE_ALWAYS = {"utcnow", "today", "utcfromtimestamp", "fromordinal"}
_TZ_POSITION = {"now": 0, "fromtimestamp": 1}
_DT_FACTORIES = {"fromisoformat", "strptime", "combine", "fromtimestamp", "astimezone"}
_PENDULUM_FACTORIES = {
    "now",
    "today",
    "datetime",
    "parse",
    "instance",
    "from_timestamp",
    "yesterday",
    "tomorrow",
}
_CONTEXT_DATETIMES = {
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "execution_date",
    "prev_data_interval_start_success",
    "prev_data_interval_end_success",
    "prev_start_date_success",
    "prev_end_date_success",
}
_CONVERSIONS = {
    "tuple": "a tuple",
    "set": "a set",
    "frozenset": "a set",
    "bytes": "bytes",
    "bytearray": "bytes",
    "Decimal": "a Decimal",
    "UUID": "a UUID",
    "uuid4": "a UUID",
    "uuid1": "a UUID",
}


def _datetime_reason(name: str, call: ast.Call) -> str | None:
    """Judge ``datetime.datetime.now()``, ``datetime(...)``, ``date.today()``, ``pendulum.now()``..."""
    if name.startswith("pendulum."):
        return "a datetime object" if name.rpartition(".")[2] in _PENDULUM_FACTORIES else None
    parts = name.split(".")
    if parts[0] != "datetime" or len(parts) < 2:
        return None
    parts = parts[1:]
    if parts[0] not in _DT_CLASSES or len(parts) > 2:
        return None
    cls, method = parts[0], (parts[1] if len(parts) == 2 else None)
    if cls == "datetime":
        shown = "datetime(...)" if method is None else f"datetime.{method}()"
        if method is None:
            aware = get_arg(call, 7, "tzinfo") is not None
        elif method in _NAIVE_ALWAYS:
            aware = False
        elif method in _TZ_POSITION:
            aware = get_arg(call, _TZ_POSITION[method], "tz") is not None
        elif method in _DT_FACTORIES:
            return "a datetime object"
        else:
            return None
        return "a datetime object" if aware else f"a naive datetime ({shown} without tz)"
    if cls == "date":
        return "a date object" if method in (None, "today", "fromisoformat", "fromtimestamp") else None
    return f"a {cls} object" if method is None else None


def _call_reason(index: ModuleIndex, call: ast.Call) -> str | None:
    name = index.resolve(call.func)
    if name is None:
        return None
    if name == "float" and call.args:
        text = const_str(call.args[0])
        if text is not None and text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            return "NaN or infinity"
        return None
    last = name.rpartition(".")[2]
    if last in _CONVERSIONS and (name == last or name.startswith(("decimal.", "uuid."))):
        return _CONVERSIONS[last]
    return _datetime_reason(name, call)


class Problem(NamedTuple):
    """Why a value is not JSON, and whether the store refuses it (True) or silently stores null (False)."""

    reason: str
    refused: bool = True


def non_json_reason(index: ModuleIndex, node: ast.expr, depth: int = 0) -> Problem | None:
    """Return why ``node`` is not a JSON value, or None when it is JSON or its type cannot be told.

    At the top level NaN and infinity are refused by the API server; inside a list or dict Airflow 3.3.2
    stores them as null without a word, which
    [`Problem.refused`][airflow_resumable.lint.checks.values.Problem.refused] tells apart.
    """
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None and depth == 0:  # null inside a list or dict is valid JSON
            return Problem("None (the store rejects it; use delete() to remove a key)")
        if isinstance(value, bytes):
            return Problem("bytes")
        if isinstance(value, float) and not math.isfinite(value):
            return Problem("NaN or infinity", refused=depth == 0)
        return None
    if isinstance(node, ast.Tuple):
        return Problem("a tuple (rejected, not converted to a list)")
    if isinstance(node, ast.Set | ast.SetComp):
        return Problem("a set")
    if isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        reason = _call_reason(index, node) if isinstance(node, ast.Call) else _name_reason(index, node)
        if reason is None:
            return None
        return Problem(reason, refused=depth == 0 or not reason.startswith("NaN"))
    if depth > 8:
        return None
    if isinstance(node, ast.Dict):
        if any(isinstance(key, ast.Constant) and not isinstance(key.value, str) for key in node.keys):
            return Problem("a dict with non-str keys")
        children: list[ast.expr] = node.values
    elif isinstance(node, ast.List):
        children = node.elts
    else:
        return None
    for child in children:
        found = non_json_reason(index, child, depth + 1)
        if found is not None:
            where = "dict" if isinstance(node, ast.Dict) else "list"
            return Problem(f"{found.reason} inside a {where}", found.refused)
    return None


def _name_reason(index: ModuleIndex, node: ast.Attribute | ast.Subscript) -> str | None:
    if isinstance(node, ast.Attribute):
        return "NaN or infinity" if index.resolve(node) in ("math.nan", "math.inf") else None
    key = const_str(node.slice)
    return f"a datetime object (context[{key!r}])" if key in _CONTEXT_DATETIMES else None
