"""The crash matrix of ``EcsRunTaskOperator``: ours vs the provider's (without and with ``reattach=True``),
through real ``dag.test()`` retries against the local ECS (``airflow_resumable.testing.ecs_server.FakeEcs``,
which honours ``clientToken`` and forgets tasks as ECS does), side by side in one DAG. Each case crashes
try 1 at one point (a botocore event handler on the operator's own ECS client, or ECS moving the task on);
the tasks each side started are counted per task definition.
"""

from __future__ import annotations

import textwrap
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ecs_local
import pytest
from aws_dags import Case, decisions, return_values, task_outputs

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.airflow

KEY = "ecs_task_arn"
LOST = 'crash_on = "after-call.ecs.RunTask"'
POLL_LOST = 'crash_on = "after-call.ecs.DescribeTasks"'

TEMPLATE = """
from datetime import timedelta

from airflow.sdk import dag, get_current_context

import ecs_local
from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator as Theirs
from airflow_resumable.jobs.ecs import EcsRunTaskOperator as Ours


def first_try():
    return get_current_context()["ti"].try_number == 1


class Crash:
    crash_on = None
    script = None
    forget = False
    reset_state = False

    def execute(self, context, *args, **kwargs):
        print(f"TASK-TRY {{self.task_id}} {{context['ti'].try_number}}")
        if first_try():
            events = self.hook.conn.meta.events
            if self.script:  # ECS runs the task this way (registered first: it happens before a crash)
                events.register("after-call.ecs.RunTask", self._move)
            if self.crash_on:
                events.register(self.crash_on, self._crash)
        elif self.reset_state:
            context["task_state_store"].clear()
        return super().execute(context, *args, **kwargs)

    def _crash(self, **_):
        if self.forget:
            ecs_local.forget(self.arn)
        raise RuntimeError(f"worker lost at {{self.crash_on}}")

    def _move(self, parsed, **_):
        ecs_local.set_script(parsed["tasks"][0]["taskArn"], list(self.script))

    def decide(self, context):
        decision = super().decide(context)
        print(f"RESUME-DECISION {{decision.action.name.lower()}}")
        return decision


{classes}

@dag(dag_id="ecs_matrix", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def matrix():
{tasks}


matrix()
"""

CASES: dict[str, Case] = {
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",), extra={"reattach": 1}),
    "before_submit": Case(
        'crash_on = "before-call.ecs.RunTask"', 1, 1, ["fresh", "fresh"], extra={"reattach": 1}
    ),
    # the retry sends the recorded clientToken again: ECS hands back the task it started
    "after_submit": Case(
        f"{LOST}\nscript = ['RUNNING', 'RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "fresh"],
        extra={"reattach": 1},
    ),
    "after_submit_task_finished": Case(
        f"{LOST}\nscript = ['STOPPED:0']", 1, 2, ["fresh", "fresh"], extra={"reattach": 2}
    ),
    "while_running": Case(
        f"{POLL_LOST}\nscript = ['RUNNING', 'RUNNING', 'RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "reconnect"],
        extra={"reattach": 1},
    ),
    "finished_while_down": Case(
        f"{POLL_LOST}\nscript = ['RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "already_succeeded"],
        extra={"reattach": 2},
    ),
    "task_failed": Case(
        "script = ['RUNNING', 'STOPPED:1']", 2, 2, ["fresh", "resubmit"], generation=2, extra={"reattach": 2}
    ),
    "task_forgotten": Case(
        f"{POLL_LOST}\nforget = True\nscript = ['RUNNING', 'RUNNING']",
        2,
        None,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "succeeded_then_forgotten": Case(
        """
        def _record_outcome(self, context, arn, status):
            super()._record_outcome(context, arn, status)
            if first_try():  # the task succeeded; the worker dies before the task instance does, and
                ecs_local.forget(arn)  # the retry comes after ECS forgot the stopped task
                raise RuntimeError("worker lost after the ECS task succeeded")
        """,
        1,
        None,
        ["fresh", "already_succeeded"],
    ),
    "state_reset": Case(f"{LOST}\nreset_state = True", 2, None, ["fresh", "fresh"]),
    "key_renamed": Case(
        f"""
        {POLL_LOST}
        script = ['RUNNING', 'RUNNING', 'STOPPED:0']
        previous_external_id_keys = ("ecs_task_v1",)

        def execute(self, context, *args, **kwargs):
            if first_try():  # the version deployed before the rename
                self.external_id_key = "ecs_task_v1"
                self.previous_external_id_keys = ()
            return super().execute(context, *args, **kwargs)
        """,
        1,
        None,
        ["fresh", "reconnect"],
    ),
    "reattach_after_submit": Case(
        f"{LOST}\nscript = ['RUNNING', 'STOPPED:0']", 1, None, ["fresh", "fresh"], kwargs=", reattach=True"
    ),
    "deferred_after_submit": Case(
        f"{LOST}\nscript = ['RUNNING', 'RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "fresh"],
        kwargs=", deferrable=True",
        extra={"reattach": 1},
    ),
}
SIDES = ("ours", "theirs", "theirs_reattach")


@dataclass
class Side:
    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    tasks: list[str]
    xcom_arn: Any


def _expected(crash: Case, side: str) -> int | None:
    return {"ours": crash.ours, "theirs": crash.theirs, "theirs_reattach": crash.extra.get("reattach")}[side]


def _dag_source(tasks: dict[str, tuple[str, str, str]]) -> str:
    classes, calls = [], []
    for number, (task_id, (base, body, kwargs)) in enumerate(tasks.items()):
        body = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
        classes.append(f"class Op{number}(Crash, {base}):\n{body}\n")
        calls.append(f'    Op{number}(task_id="{task_id}", {kwargs})')
    return TEMPLATE.format(classes="\n\n".join(classes), tasks="\n".join(calls))


def _xcoms(dag_id: str, run_id: str, key: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == key
        )
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


@pytest.fixture(scope="module")
def matrix(_airflow_sandbox_session: Any) -> Iterator[dict[tuple[str, str], Side]]:
    """Run every case on every side in one DAG; give what each (case, side) did."""
    ecs = ecs_local.start()
    tag = uuid.uuid4().hex[:8]
    families, tasks = {}, {}
    for case, crash in CASES.items():
        for side in SIDES:
            if _expected(crash, side) is None:
                continue
            task_id = f"{case}__{side}"
            families[task_id] = ecs.add_task_definition(f"{task_id}-{tag}", ["app"]).split(":")[0]
            kwargs = f'aws_conn_id="{ecs_local.CONN}", cluster="{ecs_local.CLUSTER}", '
            kwargs += f'task_definition="{families[task_id]}", overrides={{}}, waiter_delay=0, '
            kwargs += "waiter_max_attempts=20" + crash.kwargs
            kwargs += ", reattach=True" if side == "theirs_reattach" else ""
            tasks[task_id] = ("Ours" if side == "ours" else "Theirs", crash.body, kwargs)
    sandbox = _airflow_sandbox_session
    sandbox.fresh("ecs-matrix")
    result = sandbox.run_dag(_dag_source(tasks))
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    arns = _xcoms(result.dag_id, result.run_id, "ecs_task_arn")
    sides = {}
    for task_id, family in families.items():
        case, side = task_id.split("__")
        sides[(case, side)] = Side(
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            tasks=[t.arn for t in ecs.tasks_of(family=family)],
            xcom_arn=arns.get(task_id),
        )
    yield sides
    ecs_local.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.tasks) == crash.ours, run.tasks
    intent = run.stored[f"{KEY}.intent"]
    assert intent["generation"] == (1 if case == "state_reset" else crash.generation)
    assert intent["state"] == "submitted"
    assert run.stored[KEY] == intent["external_id"] == run.xcom_arn == run.tasks[-1]
    assert intent["outcome"] == {
        **intent["outcome"],
        "external_id": run.tasks[-1],
        "status": "STOPPED:SUCCEEDED",
    }
    assert run.result is None
    assert set(run.stored) == {KEY, f"{KEY}.intent"}  # a renamed key was moved, not copied


@pytest.mark.parametrize(
    ("case", "side"),
    [
        (case, side)
        for case, crash in CASES.items()
        for side in SIDES[1:]
        if _expected(crash, side) is not None
    ],
)
def test_theirs_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str, side: str) -> None:
    crash, run = CASES[case], matrix[(case, side)]

    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.tasks) == _expected(crash, side), run.tasks
    assert run.xcom_arn == run.tasks[-1]
    assert run.stored == {}


def test_side_by_side_figures(matrix: dict[tuple[str, str], Side]) -> None:
    """The figures of docs/jobs-aws.md: ECS tasks run after a crash, ours vs the provider's (both ways)."""
    rows = {
        case: tuple(len(matrix[(case, side)].tasks) for side in SIDES)
        for case, crash in CASES.items()
        if crash.theirs is not None
    }
    print("ECS tasks (ours, provider's, provider's with reattach=True):", rows)
    assert rows["after_submit"] == (1, 2, 1)
    assert rows["after_submit_task_finished"] == (1, 2, 2)
    assert rows["finished_while_down"] == (1, 2, 2)
    assert rows["deferred_after_submit"] == (1, 2, 1)
