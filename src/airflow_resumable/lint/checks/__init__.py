"""The checks, one module per family of rules.

Each check is a function ``check(module) -> Iterable[Hit]`` registered in :data:`CHECKS` with the codes it
can report, so that ``--select`` skips checks whose codes are all off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_resumable.lint.checks import mixin, retries, split_submit, stores, variables, xcom
from airflow_resumable.lint.checks.base import Hit, Module

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["CHECKS", "Hit", "Module"]

CHECKS: tuple[tuple[frozenset[str], Callable[[Module], Iterable[Hit]]], ...] = (
    (frozenset({"ARS001", "ARS003"}), variables.check),
    (frozenset({"ARS002"}), xcom.check),
    (frozenset({"ARS004"}), split_submit.check),
    (frozenset({"ARS005", "ARS006", "ARS007", "ARS010"}), mixin.check),
    (frozenset({"ARS008", "ARS011"}), stores.check),
    (frozenset({"ARS009"}), retries.check),
)
