"""The rule table: one stable code per anti-pattern, with a title and the fix to suggest.

Codes never change meaning once published, so ``# noqa: ARS004`` comments and ``--select`` lists in user
repositories keep working across releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["RULES", "Rule", "UnknownCodeError", "resolve_codes"]


@dataclass(frozen=True)
class Rule:
    """One checked anti-pattern: its code, a one-line title and the hint printed with every finding."""

    code: str
    title: str
    hint: str


_TABLE = (
    Rule("ARS000", "File cannot be parsed", "fix the syntax error; nothing else in this file was checked"),
    Rule(
        "ARS001",
        "Variable used for run or retry state",
        "keep per-run and retry state in context['task_state_store'] or airflow_resumable.Checkpointer: "
        "it is scoped to one task instance, survives retries and is not shared with other runs",
    ),
    Rule(
        "ARS002",
        "XCom used to carry a job id or cursor across retries",
        "Airflow 3 clears a task instance's XComs before each attempt; keep the id or cursor in "
        "context['task_state_store'], or build the operator on ResumableJobMixin",
    ),
    Rule(
        "ARS003",
        "Watermark kept in a Variable",
        "use airflow_resumable.Watermark: it lives in the asset state store, scoped to the asset, "
        "records who wrote it and refuses to move backwards by accident",
    ),
    Rule(
        "ARS004",
        "Submit without waiting, then a sensor on the same job",
        "a green submit only means the job was accepted. Either (1) let the operator wait with "
        "deferrable=True, (2) wait synchronously on a durable operator (wait_for_termination=True on a "
        "ResumableJobMixin operator) so a retry reconnects to the running job, or (3) keep the split "
        "with a mode='reschedule' sensor and hang downstream work and alerts on the sensor, not the submit",
    ),
    Rule(
        "ARS005",
        "Resumable operator does not return execute_resumable()",
        "write execute() as: return self.execute_resumable(context)",
    ),
    Rule(
        "ARS006",
        "ResumableJobMixin listed after the operator base",
        "put the mixin first: class MyOperator(ResumableJobMixin, BaseOperator); the other order fails "
        "on Airflow 3.3 with TypeError: object.__init__() takes exactly one argument",
    ),
    Rule(
        "ARS007",
        "submit_job can return None",
        "return the external job id on every path and raise when there is none: a None id is never "
        "stored, so crash safety is silently off and a retry submits a duplicate",
    ),
    Rule(
        "ARS008",
        "Mapped task writes a fixed asset state key",
        "writes are plain upserts and the last writer wins: use one key per map index "
        "(f'...{ti.map_index}') or airflow_resumable.Watermark(partition=...)",
    ),
    Rule(
        "ARS009",
        "Resume disabled: retries=0 or never set",
        "set retries >= 1 (and a retry_delay): stored state is only read back by a later try of the "
        "same task instance",
    ),
    Rule(
        "ARS010",
        "external_id_key renamed",
        "restore the old key, or base the operator on airflow_resumable.DurableJobMixin and list the old "
        "key in previous_external_id_keys (a retry then finds the id there and moves it); then refresh the "
        "baseline with --write-baseline",
    ),
    Rule(
        "ARS011",
        "State store value is not JSON",
        "store JSON only: an ISO-8601 string from a timezone-aware datetime (.isoformat()), lists "
        "instead of tuples or sets, str dict keys, finite numbers, and delete() instead of None",
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in _TABLE})
"""Every rule, by code, in code order."""


class UnknownCodeError(ValueError):
    """A ``select`` / ``ignore`` entry matches no rule code."""


def resolve_codes(patterns: Iterable[str]) -> frozenset[str]:
    """Expand codes and code prefixes (``ARS00`` selects ARS000-ARS009, ``ARS`` selects all).

    Raises [`UnknownCodeError`][airflow_resumable.lint.rules.UnknownCodeError] for an entry that matches
    nothing, so a typo in a ``--select`` list fails loudly instead of silently checking nothing.
    """
    codes: set[str] = set()
    for raw in patterns:
        pattern = raw.strip().upper()
        if not pattern:
            continue
        matched = [code for code in RULES if code.startswith(pattern)]
        if not matched:
            raise UnknownCodeError(f"unknown rule code {raw.strip()!r} (known: {', '.join(RULES)})")
        codes.update(matched)
    return frozenset(codes)
