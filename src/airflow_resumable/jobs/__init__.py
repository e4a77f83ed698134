"""Crash-safe external job operators.

[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin] (in ``airflow_resumable.jobs.base``) is the
shared resume logic; one module per
backend builds on it (``airflow_resumable.jobs.databricks``, ``airflow_resumable.jobs.emr``). Backend
modules import their provider package, so they are never imported from here: import them by name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Decision", "DurableJobMixin", "ResumeDecision"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("airflow_resumable.jobs.base"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'airflow_resumable.jobs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from airflow_resumable.jobs.base import Decision, DurableJobMixin, ResumeDecision
