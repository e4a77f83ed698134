"""ARS001 (Variable used for run or retry state) and ARS003 (a watermark kept in a Variable).

A Variable is one global row shared by every DAG run, map index and retry. Reading configuration from it
is fine; writing it from a task, or reading back something a task wrote, is state in the wrong place.
"""

from __future__ import annotations

import ast
import itertools
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str, get_arg, key_text, key_words
from airflow_resumable.lint.checks.base import Hit, Module, hit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import CallSite

__all__ = ["check", "is_state_key", "is_watermark_key"]

_READS = {"get", "delete"}
_WRITES = {"set", "update", "setdefault"}
_WATERMARK_WORDS = {
    "watermark",
    "watermarks",
    "highwater",
    "hwm",
    "cursor",
    "offset",
    "checkpoint",
    "bookmark",
    "last",
    "latest",
    "since",
}
_MAX_SUFFIXES = {"id", "ts", "timestamp", "date", "time", "updated", "modified", "seen"}
_STATE_WORDS = {
    "progress",
    "state",
    "status",
    "attempt",
    "attempts",
    "retry",
    "retries",
    "resume",
    "processed",
    "completed",
    "done",
    "submitted",
    "pending",
}
_ID_OWNERS = {"job", "run", "batch", "execution", "step", "query", "task"}
_RUN_SCOPED = {
    "run_id",
    "ds",
    "ts",
    "logical_date",
    "dag_run",
    "try_number",
    "map_index",
    "ti",
    "data_interval_start",
    "data_interval_end",
    "execution_date",
    "ds_nodash",
    "ts_nodash",
}


def is_watermark_key(text: str) -> bool:
    """True for names like ``orders_watermark``, ``last_loaded_at``, ``cursor``, ``high_water_mark``."""
    words = key_words(text)
    if _WATERMARK_WORDS.intersection(words):
        return True
    pairs = set(itertools.pairwise(words))
    return (
        ("high", "water") in pairs
        or ("low", "water") in pairs
        or any(first == "max" and second in _MAX_SUFFIXES for first, second in pairs)
    )


def is_state_key(text: str) -> bool:
    """True for names like ``load_progress``, ``job_id``, ``retry_count``, ``export_status``."""
    words = key_words(text)
    if _STATE_WORDS.intersection(words):
        return True
    return any(first in _ID_OWNERS and second == "id" for first, second in itertools.pairwise(words))


def _run_scoped(key: ast.expr | None) -> bool:
    """True for a key built from run-specific values: ``f"load_{run_id}"``, ``"x_" + ctx["ds"]``..."""
    if key is None or isinstance(key, ast.Constant | ast.Name):
        return False
    for node in ast.walk(key):
        if isinstance(node, ast.Name) and node.id in _RUN_SCOPED:
            return True
        if isinstance(node, ast.Attribute) and node.attr in _RUN_SCOPED:
            return True
        if isinstance(node, ast.Subscript) and const_str(node.slice) in _RUN_SCOPED:
            return True
    return False


def _variable_call(module: Module, site: CallSite) -> tuple[str, ast.expr | None] | None:
    func = site.node.func
    if not isinstance(func, ast.Attribute) or func.attr not in _READS | _WRITES:
        return None
    name = module.index.resolve(func.value)
    if name is None or not name.startswith("airflow.") or not name.endswith(".Variable"):
        return None
    return func.attr, get_arg(site.node, 0, "key")


def check(module: Module) -> Iterator[Hit]:
    """Report Variable reads and writes that hold watermarks (ARS003) or run/retry state (ARS001)."""
    calls = []
    for site in module.index.calls:
        found = _variable_call(module, site)
        if found is not None:
            calls.append((site, found[0], found[1]))
    if not calls:
        return
    written = {key_text(module.index.const_value(key)) for _site, method, key in calls if method in _WRITES}
    for site, method, key in calls:
        text = key_text(module.index.const_value(key))
        names = [text or ""]
        if isinstance(key, ast.Name):
            names.append(key.id)
        shown = (
            repr(text) if text is not None else (key.id if isinstance(key, ast.Name) else "a computed key")
        )
        if any(is_watermark_key(name) for name in names) or (
            method == "get" and site.target is not None and is_watermark_key(site.target)
        ):
            yield hit(
                site.node, "ARS003", f"Variable.{method}() keeps a watermark ({shown}) in a global Variable"
            )
            continue
        if not module.in_task(site.func):
            continue
        if method in _WRITES:
            yield hit(
                site.node,
                "ARS001",
                f"Variable.{method}() inside a task stores state ({shown}) in a "
                "global Variable shared by every run, map index and retry",
            )
        elif any(is_state_key(name) for name in names) or text in written or _run_scoped(key):
            yield hit(
                site.node,
                "ARS001",
                f"Variable.{method}() inside a task reads run or retry state "
                f"({shown}) from a global Variable",
            )
