"""The input of a mapped task instance, as a fingerprint, so a checkpoint never resumes another item's
progress.

Airflow keys task state by map index (apache/airflow#72725). When the expansion changes between tries or after
a clear (the upstream list gained, lost or reordered items), index 1 may now hold another input than the one
whose progress is stored under index 1. The checkpoint therefore fingerprints, by default, the value this
index was expanded with: the ``expand()`` arguments of this map index as the running task received them.

Only values the default codec can encode count (JSON-like values, datetimes, tuples...): an argument that is
an arbitrary object is left out rather than fingerprinted by something that changes every try (its ``repr``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow_resumable._checkpoint_record import fingerprint_of
from airflow_resumable.errors import InvalidValueError

__all__ = ["combined_fingerprint", "mapped_input"]

log = logging.getLogger("airflow_resumable.checkpoint")


def mapped_input(context: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{argument: value}`` this mapped task instance was expanded with (``None``: not mapped, unknown)."""
    if context is None:
        return None
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", None)
    if not isinstance(map_index, int) or map_index < 0:
        return None
    try:
        names = _expanded_names(context, ti)
        task = context.get("task") or getattr(ti, "task", None)  # the unmapped, rendered operator
        if task is None:
            return None
        values = getattr(task, "op_kwargs", None) if _is_taskflow(task) else None
        found: dict[str, Any] = {}
        for name in names:
            value = values[name] if isinstance(values, Mapping) and name in values else getattr(task, name)
            try:
                fingerprint_of(value)
            except InvalidValueError:
                log.debug("Mapped argument %r is not fingerprinted: it is not a plain value.", name)
                continue
            found[name] = value
    except Exception as exc:  # an Airflow internal we rely on moved: checkpoint without it, say so once
        log.warning("Could not read the mapped input of this task instance (%r); not fingerprinting it.", exc)
        return None
    return found or None


def combined_fingerprint(user: str | None, mapped: dict[str, Any] | None) -> str | None:
    """The fingerprint to store: the user's, combined with the mapped input when there is one."""
    if mapped is None:
        return user
    parts: dict[str, Any] = {"mapped_input": mapped}
    if user is not None:
        parts["fingerprint"] = user
    return fingerprint_of(parts)


def _expanded_names(context: Mapping[str, Any], ti: Any) -> list[str]:
    """The names of the arguments given to ``expand()``, read from the DAG's mapped operator."""
    dag = context.get("dag")
    mapped = dag.get_task(ti.task_id) if dag is not None else None
    attr = getattr(mapped, "_expand_input_attr", None)
    expand_input = getattr(mapped, attr, None) if attr else None
    value = getattr(expand_input, "value", None)
    if isinstance(value, Mapping):  # expand(name=[...]): the names are known
        return sorted(value)
    # expand_kwargs([...]): every mapped call may set other arguments; use all of a TaskFlow call's kwargs
    task = context.get("task")
    kwargs = getattr(task, "op_kwargs", None) if task is not None and _is_taskflow(task) else None
    return sorted(kwargs) if isinstance(kwargs, Mapping) else []


def _is_taskflow(task: Any) -> bool:
    return isinstance(getattr(task, "op_kwargs", None), Mapping) and callable(
        getattr(task, "python_callable", None)
    )
