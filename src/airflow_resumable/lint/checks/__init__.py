"""The checks, one module per family of rules.

Each [`Check`][airflow_resumable.lint.checks.Check] names the codes it can report and the words its findings
cannot do without (a check of ``Variable`` calls needs the word ``Variable`` somewhere in the file). A file
lacking them skips that check, and a file that needs no check at all is only parsed: most DAG files cost
little more than ``ast.parse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_resumable.lint.checks import mixin, retries, split_submit, stores, variables, xcom
from airflow_resumable.lint.checks.base import Hit, Module

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

__all__ = ["CHECKS", "Check", "Hit", "Module"]


@dataclass(frozen=True)
class Check:
    """A check function, the codes it reports, and words that must all appear (any word of each group)."""

    codes: frozenset[str]
    run: Callable[[Module], Iterable[Hit]]
    requires: tuple[tuple[str, ...], ...]

    def wanted(self, enabled: Collection[str], source: str) -> bool:
        """True when one of its codes is enabled and the source has the words its findings need."""
        if self.codes.isdisjoint(enabled):
            return False
        return all(any(word in source for word in group) for group in self.requires)


CHECKS: tuple[Check, ...] = (
    Check(frozenset({"ARS001", "ARS003"}), variables.check, (("Variable",),)),
    Check(frozenset({"ARS002"}), xcom.check, (("xcom_pull",),)),
    Check(frozenset({"ARS004"}), split_submit.check, (("Sensor",), ("wait_for_", "EmrAddStepsOperator"))),
    Check(
        frozenset({"ARS005", "ARS006", "ARS007", "ARS010"}),
        mixin.check,
        (("JobMixin", "external_id_key"),),
    ),
    Check(frozenset({"ARS008", "ARS011"}), stores.check, (("state_store", "Watermark"),)),
    Check(
        frozenset({"ARS009"}),
        retries.check,
        (
            (  # something that resumes (retries=0 and retries never set are both findings)
                "task_state_store",
                "airflow_resumable",
                "JobMixin",
                "DatabricksSubmitRunOperator",
                "DatabricksRunNowOperator",
                "GlueJobOperator",
                "RedshiftDataOperator",
            ),
        ),
    ),
)
