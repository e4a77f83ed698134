"""The crash matrix of ``EcsRunTaskOperator``: ours vs the provider's (without and with ``reattach=True``),
through real ``dag.test()`` retries against the local ECS (``airflow_resumable.testing.ecs_server.FakeEcs``,
which honours ``clientToken`` and forgets tasks as ECS does), side by side in one DAG. Each case crashes
try 1 at one point (a botocore event handler on the operator's own ECS client, or ECS moving the task on);
the tasks each side started are counted per task definition.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import aws_dags
import ecs_local
import pytest
from aws_dags import Case, Matrix, key_renamed

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
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",), extra={"theirs_reattach": 1}),
    "before_submit": Case(
        'crash_on = "before-call.ecs.RunTask"', 1, 1, ["fresh", "fresh"], extra={"theirs_reattach": 1}
    ),
    # the retry sends the recorded clientToken again: ECS hands back the task it started
    "after_submit": Case(
        f"{LOST}\nscript = ['RUNNING', 'RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "fresh"],
        extra={"theirs_reattach": 1},
    ),
    "after_submit_task_finished": Case(
        f"{LOST}\nscript = ['STOPPED:0']", 1, 2, ["fresh", "fresh"], extra={"theirs_reattach": 2}
    ),
    "while_running": Case(
        f"{POLL_LOST}\nscript = ['RUNNING', 'RUNNING', 'RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "reconnect"],
        extra={"theirs_reattach": 1},
    ),
    "finished_while_down": Case(
        f"{POLL_LOST}\nscript = ['RUNNING', 'STOPPED:0']",
        1,
        2,
        ["fresh", "already_succeeded"],
        extra={"theirs_reattach": 2},
    ),
    "task_failed": Case(
        "script = ['RUNNING', 'STOPPED:1']",
        2,
        2,
        ["fresh", "resubmit"],
        generation=2,
        extra={"theirs_reattach": 2},
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
        def record_success(self, context, arn, status=None):
            super().record_success(context, arn, status)
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
        key_renamed("ecs_task_v1", f"{POLL_LOST}\nscript = ['RUNNING', 'RUNNING', 'STOPPED:0']"),
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
        extra={"theirs_reattach": 1},
    ),
}
SIDES = ("ours", "theirs", "theirs_reattach")
"""The provider's operator runs each case without and with ``reattach=True`` (figure: ``extra``)."""


@pytest.fixture(scope="module")
def matrix(_airflow_sandbox_session: Any) -> Iterator[Matrix]:
    """Run every case on every side in one DAG; give what each (case, side) did."""
    ecs = ecs_local.start()
    tag = uuid.uuid4().hex[:8]
    families, tasks = {}, {}
    for task in aws_dags.matrix_tasks(CASES, SIDES):
        task_id = task.task_id
        families[task_id] = ecs.add_task_definition(f"{task_id}-{tag}", ["app"]).split(":")[0]
        kwargs = f'aws_conn_id="{ecs_local.CONN}", cluster="{ecs_local.CLUSTER}", '
        kwargs += f'task_definition="{families[task_id]}", overrides={{}}, waiter_delay=0, '
        kwargs += "waiter_max_attempts=20" + task.crash.kwargs
        kwargs += ", reattach=True" if task.side == "theirs_reattach" else ""
        tasks[task_id] = task.dag_entry(kwargs)
    yield aws_dags.run_matrix(
        _airflow_sandbox_session,
        aws_dags.dag_source(tasks, template=TEMPLATE),
        sandbox_name="ecs-matrix",
        names=families,
        jobs_named=lambda family: [t.arn for t in ecs.tasks_of(family=family)],
        xcom_key="ecs_task_arn",
    )
    ecs_local.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    intent = aws_dags.assert_ours_recovered(run, crash, KEY, run.xcom)
    assert intent["outcome"] == {
        **intent["outcome"],
        "external_id": run.jobs[-1],
        "status": "STOPPED:SUCCEEDED",
    }
    assert run.result is None


@pytest.mark.parametrize(
    ("case", "side"), [(task.case, task.side) for task in aws_dags.matrix_tasks(CASES, SIDES[1:])]
)
def test_theirs_crash_then_retry(matrix: Matrix, case: str, side: str) -> None:
    crash, run = CASES[case], matrix[(case, side)]

    aws_dags.assert_theirs_outcome(run, crash, run.xcom, side)


def test_side_by_side_figures(matrix: Matrix) -> None:
    """The figures of docs/jobs-aws.md: ECS tasks run after a crash, ours vs the provider's (both ways)."""
    rows = aws_dags.side_by_side_figures(
        matrix, CASES, "ECS tasks (ours, provider's, provider's with reattach=True)", SIDES
    )
    assert rows["after_submit"] == (1, 2, 1)
    assert rows["after_submit_task_finished"] == (1, 2, 2)
    assert rows["finished_while_down"] == (1, 2, 2)
    assert rows["deferred_after_submit"] == (1, 2, 1)
