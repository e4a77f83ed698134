"""The crash matrix of ``StepFunctionStartExecutionOperator``: ours vs the provider's, through real
``dag.test()`` retries against the local AWS (moto keeps execution names unique as Step Functions does),
side by side in one DAG. Each case crashes try 1 at one point; the executions each side started are counted.
"""

from __future__ import annotations

from typing import Any

import aws_dags
import pytest
from aws_dags import Case, Matrix, key_renamed

import aws_servers

pytestmark = pytest.mark.airflow

KEY = "step_function_execution_arn"
LOST = 'crash_on = "after-call.sfn.StartExecution"'
MOVE = 'after_create = ("after-call.sfn.StartExecution", "executionArn", "{}")'
DEFER = """
def defer(self, *, trigger, **kwargs):
    import moto_server
    arn = trigger.waiter_args["executionArn"]
    status = "{first}" if first_try() else "SUCCEEDED"
    moto_server.after_async_poll(aws.set_execution_status, arn, status)  # the trigger sees it running first
    super().defer(trigger=trigger, **kwargs)
"""

CASES: dict[str, Case] = {
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",)),
    "before_submit": Case('crash_on = "before-call.sfn.StartExecution"', 1, 1, ["fresh", "fresh"]),
    "after_submit": Case(LOST, 1, 2, ["fresh", "already_succeeded"]),
    "after_submit_closed": Case(f"{LOST}\n{MOVE.format('SUCCEEDED')}", 1, 2, ["fresh", "already_succeeded"]),
    "execution_failed": Case(f"{LOST}\n{MOVE.format('FAILED')}", 2, 2, ["fresh", "resubmit"], generation=2),
    "execution_forgotten": Case(f"{LOST}\nforget = True", 1, None, ["fresh", "fresh"]),  # + the forgotten one
    "key_renamed": Case(
        key_renamed("sfn_execution_v1", LOST),
        1,
        None,
        ["fresh", "already_succeeded"],
    ),
    "deferred_after_submit": Case(
        f"{LOST}\n{DEFER.format(first='SUCCEEDED')}", 1, 2, ["fresh", "reconnect"], kwargs=", deferrable=True"
    ),
    "deferred_failed": Case(
        DEFER.format(first="FAILED"), 2, 2, ["fresh", "resubmit"], generation=2, kwargs=", deferrable=True"
    ),
}


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> Matrix:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    machines, tasks = {}, {}
    for task in aws_dags.matrix_tasks(CASES):
        machines[task.task_id] = aws_servers.create_state_machine()
        kwargs = (
            f'state_machine_arn="{machines[task.task_id]}", state_machine_input={{"day": "2026-12-05"}}, '
        )
        kwargs += f"waiter_delay=1, waiter_max_attempts=5{task.crash.kwargs}"
        tasks[task.task_id] = task.dag_entry(kwargs)
    source = aws_dags.dag_source(
        tasks,
        operator="StepFunctionStartExecutionOperator",
        ours_module="airflow_resumable.jobs.step_function",
        theirs_module="airflow.providers.amazon.aws.operators.step_function",
        forget="forget_execution",
        job_id="_['parsed']['executionArn']",
        move="set_execution_status",
        dag_id="step_function_matrix",
    )
    return aws_dags.run_matrix(
        _airflow_sandbox_session,
        source,
        sandbox_name="step-function-matrix",
        names=machines,
        jobs_named=lambda machine: [e.execution_arn for e in aws_servers.executions(machine)],
    )


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    intent = aws_dags.assert_ours_recovered(run, crash, KEY, run.result)
    assert run.result.endswith(f":{intent['token']}")  # the execution is named by the recorded name


@pytest.mark.parametrize("case", aws_dags.provider_cases(CASES))
def test_theirs_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    aws_dags.assert_theirs_outcome(run, crash, run.result)


def test_side_by_side_figures(matrix: Matrix) -> None:
    """The figures of docs/jobs-aws.md: executions started after a crash, ours vs the provider's."""
    rows = aws_dags.side_by_side_figures(matrix, CASES, "executions (ours, provider's)")
    assert rows["after_submit"] == (1, 2)
    assert rows["after_submit_closed"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
