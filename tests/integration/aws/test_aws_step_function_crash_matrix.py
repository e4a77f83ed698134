"""The crash matrix of ``StepFunctionStartExecutionOperator``: ours vs the provider's, through real
``dag.test()`` retries against the local AWS (moto keeps execution names unique as Step Functions does),
side by side in one DAG. Each case crashes try 1 at one point; the executions each side started are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_dags import Case, dag_source, decisions, return_values, task_outputs

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
        f"""
        {LOST}
        previous_external_id_keys = ("sfn_execution_v1",)

        def execute(self, context, *args, **kwargs):
            if first_try():  # the version deployed before the rename
                self.external_id_key = "sfn_execution_v1"
                self.previous_external_id_keys = ()
            return super().execute(context, *args, **kwargs)
        """,
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


@dataclass
class Side:
    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    executions: list[str]


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> dict[tuple[str, str], Side]:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    machines, tasks = {}, {}
    for case, crash in CASES.items():
        for side in ("ours", "theirs"):
            if side == "theirs" and crash.theirs is None:
                continue
            task_id = f"{case}__{side}"
            machines[task_id] = aws_servers.create_state_machine()
            kwargs = f'state_machine_arn="{machines[task_id]}", state_machine_input={{"day": "2026-12-05"}}, '
            kwargs += f"waiter_delay=1, waiter_max_attempts=5{crash.kwargs}"
            tasks[task_id] = ("Ours" if side == "ours" else "Theirs", crash.body, kwargs)
    source = dag_source(
        operator="StepFunctionStartExecutionOperator",
        ours_module="airflow_resumable.jobs.step_function",
        theirs_module="airflow.providers.amazon.aws.operators.step_function",
        forget="forget_execution",
        job_id="_['parsed']['executionArn']",
        move="set_execution_status",
        tasks=tasks,
        dag_id="step_function_matrix",
    )
    sandbox = _airflow_sandbox_session
    sandbox.fresh("step-function-matrix")
    result = sandbox.run_dag(source)
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    return {
        tuple(task_id.split("__")): Side(  # type: ignore[misc]
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            executions=[e.execution_arn for e in aws_servers.executions(machine)],
        )
        for task_id, machine in machines.items()
    }


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.executions) == crash.ours, run.executions
    intent = run.stored[f"{KEY}.intent"]
    assert intent["generation"] == crash.generation
    assert intent["state"] == "submitted"
    assert run.stored[KEY] == intent["external_id"] == run.result == run.executions[-1]
    assert run.result.endswith(f":{intent['token']}")  # the execution is named by the recorded name
    assert set(run.stored) == {KEY, f"{KEY}.intent"}  # a renamed key was moved, not copied


@pytest.mark.parametrize("case", [case for case, crash in CASES.items() if crash.theirs is not None])
def test_theirs_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.executions) == crash.theirs, run.executions
    assert run.result == run.executions[-1]
    assert run.stored == {}


def test_side_by_side_figures(matrix: dict[tuple[str, str], Side]) -> None:
    """The figures of docs/jobs-aws.md: executions started after a crash, ours vs the provider's."""
    rows = {
        case: (len(matrix[(case, "ours")].executions), len(matrix[(case, "theirs")].executions))
        for case, crash in CASES.items()
        if crash.theirs is not None
    }
    print("executions (ours, provider's):", rows)
    assert rows["after_submit"] == (1, 2)
    assert rows["after_submit_closed"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
