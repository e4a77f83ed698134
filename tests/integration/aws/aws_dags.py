"""Builds the crash-matrix DAG files of the AWS job families, and reads back what their runs did.

Every task has ``retries=1, retry_delay=0`` and is either the library's operator (``ours``) or the
provider's (``theirs``), subclassed only to crash try 1 at one point. A crash is a botocore event handler
on the operator's own client that raises (``after-call``: the API call was answered, so AWS did what it
was asked, and the worker is lost before anything else runs; ``before-call``: lost before the call), or a
state moved on the AWS side (moto's in-process backend). Nothing patches the provider's hooks: every AWS
call is a real boto3 call to the local moto server.

A family's matrix module lists its ``CASES`` (``key_renamed`` builds the body of the case every family
has), builds one task per case and side (``matrix_tasks``, ``dag_source``), runs them in one DAG
(``run_matrix``) and checks each side with the shared assertions (``assert_ours_recovered``,
``assert_theirs_outcome``) and the figures both sides are compared by (``side_by_side_figures``).
"""

from __future__ import annotations

import re
import textwrap
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import moto_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from contextlib import AbstractContextManager

TEMPLATE = """
from datetime import timedelta

from airflow.sdk import dag, get_current_context

import aws_servers as aws
from {theirs_module} import {operator} as Theirs
from {ours_module} import {operator} as Ours


def first_try():
    return get_current_context()["ti"].try_number == 1


class Crash:
    crash_on = None
    crash_nth = 1
    after_create = None
    forget = False

    def execute(self, context, *args, **kwargs):
        print(f"TASK-TRY {{self.task_id}} {{context['ti'].try_number}}")
        self._calls = 0
        if first_try():
            events = self.hook.conn.meta.events
            if self.after_create:  # first: AWS moves the job, then the worker is lost
                events.register(self.after_create[0], self._move)
            if self.crash_on:
                events.register(self.crash_on, self._crash)
        return super().execute(context, *args, **kwargs)

    def _crash(self, **_):
        self._calls += 1
        if self._calls < self.crash_nth:
            return
        if self.forget:
            aws.{forget}({job_id})
        raise RuntimeError(f"worker lost at {{self.crash_on}} #{{self.crash_nth}}")

    def _move(self, parsed, **_):
        aws.{move}(parsed[self.after_create[1]], self.after_create[2])

    def decide(self, context):
        decision = super().decide(context)
        print(f"RESUME-DECISION {{decision.action.name.lower()}}")
        return decision


{classes}

@dag(dag_id="{dag_id}", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def matrix():
{tasks}


matrix()
"""


@dataclass(frozen=True)
class Case:
    """One crash on try 1, and what must have happened by the end of try 2."""

    body: str
    ours: int
    """Jobs (clusters, queries...) the library's operator leaves behind."""
    theirs: int | None
    """Jobs the provider's operator leaves behind (``None``: the case is not run with it)."""
    decisions: list[str]
    generation: int = 1
    kwargs: str = ""
    states: tuple[str, ...] = ("failed", "success")
    extra: dict[str, Any] = field(default_factory=dict)


KEY_RENAMED = """
{crash}
previous_external_id_keys = ("{old_key}",)

def execute(self, context, *args, **kwargs):
    if first_try():  # the version deployed before the rename
        self.external_id_key = "{old_key}"
        self.previous_external_id_keys = ()
    return super().execute(context, *args, **kwargs)
"""


def key_renamed(old_key: str, crash: str) -> str:
    """The class body of a task whose try 1 is the version deployed before its key was renamed: it records
    under ``old_key``; try 2 records under the operator's own key, ``old_key`` its previous one. ``crash``
    (class attributes) crashes try 1."""
    return KEY_RENAMED.format(crash=crash, old_key=old_key)


SIDES = ("ours", "theirs")
"""The library's operator and the provider's; a family may add more (ECS: ``theirs_reattach``)."""


def jobs_expected(crash: Case, side: str) -> int | None:
    """The jobs ``side`` must leave behind in ``crash`` (``None``: the case is not run on that side).

    Sides other than ``ours`` and ``theirs`` read their figure from ``crash.extra[side]``.
    """
    if side == "ours":
        return crash.ours
    if side == "theirs":
        return crash.theirs
    return crash.extra.get(side)


@dataclass(frozen=True)
class MatrixTask:
    """One case on one side: a task of the matrix DAG."""

    case: str
    side: str
    crash: Case

    @property
    def task_id(self) -> str:
        return f"{self.case}__{self.side}"

    def dag_entry(self, kwargs: str) -> tuple[str, str, str]:
        """Its entry in ``dag_source``'s ``tasks``: the operator it subclasses, its crash, its arguments."""
        return ("Ours" if self.side == "ours" else "Theirs", self.crash.body, kwargs)


def matrix_tasks(cases: dict[str, Case], sides: Iterable[str] = SIDES) -> Iterator[MatrixTask]:
    """Every case on every side it runs on (see ``jobs_expected``), case by case."""
    for case, crash in cases.items():
        for side in sides:
            if jobs_expected(crash, side) is not None:
                yield MatrixTask(case, side, crash)


def provider_cases(cases: dict[str, Case]) -> list[str]:
    """The cases the provider's operator runs too."""
    return [case for case, crash in cases.items() if crash.theirs is not None]


def dag_source(tasks: dict[str, tuple[str, str, str]], *, template: str = TEMPLATE, **fields: str) -> str:
    """A DAG with one task per entry: ``task_id -> ("Ours" | "Theirs", class body, operator kwargs)``.

    Each task's class is ``Op<n>(Crash, <base>)`` with the body indented into it; ``template`` is formatted
    with ``classes``, ``tasks`` and ``fields`` (for ``TEMPLATE``: ``operator``, ``ours_module``,
    ``theirs_module``, ``forget``, ``job_id``, ``move``, ``dag_id``).
    """
    classes, calls = [], []
    for number, (task_id, (base, body, kwargs)) in enumerate(tasks.items()):
        body = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
        classes.append(f"class Op{number}(Crash, {base}):\n{body}\n")
        calls.append(f'    Op{number}(task_id="{task_id}", {kwargs})')
    return template.format(classes="\n\n".join(classes), tasks="\n".join(calls), **fields)


DECISION = re.compile(r"RESUME-DECISION (\w+)")
TASK_START = re.compile(r"TASK-TRY (\S+) \d+")


def task_outputs(output: str) -> dict[str, str]:
    """The output of a run, split by task (``dag.test()`` runs one task at a time; tries say which)."""
    parts: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        started = TASK_START.search(line)
        if started:
            current = started.group(1)
        if current is not None:
            parts.setdefault(current, []).append(line)
    return {task_id: "\n".join(lines) for task_id, lines in parts.items()}


def decisions(output: str) -> list[str]:
    """The decision of each try (``fresh``, ``reconnect``, ``already_succeeded``, ``resubmit``), in order."""
    return DECISION.findall(output)


def task_xcoms(dag_id: str, run_id: str, key: str = "return_value") -> dict[str, Any]:
    """Each task's XCom ``key`` in a run (by default what it returned), read from the metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == key
        )
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


@dataclass
class Side:
    """What one case did on one side (``ours``, ``theirs``...)."""

    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    name: str
    """What its jobs are found by on the AWS side (a job name or prefix, a query, a state machine...)."""
    jobs: list[str]
    """The jobs (clusters, queries, executions, ECS tasks) it left behind, oldest first."""
    trigger_polls: int = 0
    """Requests the provider's trigger (aiobotocore) made to moto about the last job (when counted)."""
    xcom: Any = None
    """Its XCom ``xcom_key`` (when ``run_matrix`` is asked for one)."""


Matrix = dict[tuple[str, str], Side]
"""``(case, side) -> Side``."""


def run_matrix(
    sandbox: Any,
    source: str,
    *,
    sandbox_name: str,
    names: dict[str, str],
    jobs_named: Callable[[str], list[str]],
    during: AbstractContextManager[Any] | None = None,
    trigger_polls: bool = False,
    xcom_key: str | None = None,
) -> Matrix:
    """Run the matrix DAG ``source`` in a fresh sandbox (inside ``during``) and read back each task.

    ``names`` maps each task id to what its jobs are found by, ``jobs_named`` finds them (after ``during``
    has ended). ``trigger_polls`` counts the provider's trigger's requests about the last job (moto's);
    ``xcom_key`` reads that XCom of each task as well.
    """
    sandbox.fresh(sandbox_name)
    with during or nullcontext():
        result = sandbox.run_dag(source)
    outputs = task_outputs(result.output)
    returned = task_xcoms(result.dag_id, result.run_id)
    xcoms = task_xcoms(result.dag_id, result.run_id, xcom_key) if xcom_key else {}
    sides = {}
    for task_id, name in names.items():
        case, side = task_id.split("__")
        jobs = jobs_named(name)
        sides[(case, side)] = Side(
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            name=name,
            jobs=jobs,
            trigger_polls=len(moto_server.async_requests(jobs[-1])) if trigger_polls and jobs else 0,
            xcom=xcoms.get(task_id),
        )
    return sides


def assert_ours_recovered(run: Side, crash: Case, key: str, returned: Any) -> dict[str, Any]:
    """What every family checks of the library's operator after ``crash``; returns the recorded intent.

    The tries ended in ``crash.states`` with ``crash.decisions`` and left ``crash.ours`` jobs; the task state
    holds ``key`` and its submitted intent of ``crash.generation`` (a renamed key moved, not copied), both
    naming the last job, which is also what the task ``returned`` (its result, or an XCom).
    """
    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.jobs) == crash.ours, run.jobs
    intent: dict[str, Any] = run.stored[f"{key}.intent"]
    assert intent["generation"] == crash.generation
    assert intent["state"] == "submitted"
    assert run.stored[key] == intent["external_id"] == returned == run.jobs[-1]
    assert set(run.stored) == {key, f"{key}.intent"}  # a renamed key was moved, not copied
    return intent


def assert_theirs_outcome(run: Side, crash: Case, returned: Any, side: str = "theirs") -> None:
    """What every family checks of the provider's operator: the tries' states, the jobs it left behind,
    the last one being what the task ``returned`` (its result, or an XCom), and nothing in the task state."""
    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.jobs) == jobs_expected(crash, side), run.jobs
    assert returned == run.jobs[-1]
    assert run.stored == {}


def side_by_side_figures(
    matrix: Matrix, cases: dict[str, Case], heading: str, sides: Iterable[str] = SIDES
) -> dict[str, tuple[int, ...]]:
    """The figures of docs/jobs-aws.md: jobs left behind per case the provider runs, one per side.

    Printed as ``<heading>: {case: (ours, theirs...)}``; returned for the family's own assertions.
    """
    sides = tuple(sides)
    rows = {case: tuple(len(matrix[(case, side)].jobs) for side in sides) for case in provider_cases(cases)}
    print(f"{heading}:", rows)
    return rows
