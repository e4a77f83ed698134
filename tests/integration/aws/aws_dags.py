"""Builds the crash-matrix DAG files of the AWS job families, and reads back what their runs did.

Every task has ``retries=1, retry_delay=0`` and is either the library's operator (``ours``) or the
provider's (``theirs``), subclassed only to crash try 1 at one point. A crash is a botocore event handler
on the operator's own client that raises (``after-call``: the API call was answered, so AWS did what it
was asked, and the worker is lost before anything else runs; ``before-call``: lost before the call), or a
state moved on the AWS side (moto's in-process backend). Nothing patches the provider's hooks: every AWS
call is a real boto3 call to the local moto server.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

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


def dag_source(
    *,
    operator: str,
    ours_module: str,
    theirs_module: str,
    forget: str,
    job_id: str,
    move: str,
    tasks: dict[str, tuple[str, str, str]],
    dag_id: str,
) -> str:
    """A DAG with one task per entry: ``task_id -> ("Ours" | "Theirs", class body, operator kwargs)``."""
    classes, calls = [], []
    for number, (task_id, (base, body, kwargs)) in enumerate(tasks.items()):
        body = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
        classes.append(f"class Op{number}(Crash, {base}):\n{body}\n")
        calls.append(f'    Op{number}(task_id="{task_id}", {kwargs})')
    return TEMPLATE.format(
        operator=operator,
        ours_module=ours_module,
        theirs_module=theirs_module,
        forget=forget,
        job_id=job_id,
        move=move,
        classes="\n\n".join(classes),
        tasks="\n".join(calls),
        dag_id=dag_id,
    )


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


def return_values(dag_id: str, run_id: str) -> dict[str, Any]:
    """What each task of a run returned (its ``return_value`` XCom), read from the metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
        )
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}
