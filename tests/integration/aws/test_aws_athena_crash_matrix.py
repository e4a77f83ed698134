"""The crash matrix of ``AthenaOperator``: ours vs the provider's, through real ``dag.test()`` retries
against the local AWS (moto answering ``ClientRequestToken`` and unknown ids as Athena does), side by side
in one DAG. Each case crashes try 1 at one point; the queries each side started are counted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from aws_dags import Case, dag_source, decisions, return_values, task_outputs

import aws_servers
import moto_server

pytestmark = pytest.mark.airflow

KEY = "athena_query_execution_id"

CASES: dict[str, Case] = {
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",)),
    "before_submit": Case('crash_on = "before-call.athena.StartQueryExecution"', 1, 1, ["fresh", "fresh"]),
    # the retry sends the recorded token again: Athena hands back the query it started
    "after_submit": Case('crash_on = "after-call.athena.StartQueryExecution"', 1, 2, ["fresh", "fresh"]),
    "while_polling": Case(
        'crash_on = "after-call.athena.GetQueryExecution"', 1, 2, ["fresh", "already_succeeded"]
    ),
    "query_failed": Case(
        'after_create = ("after-call.athena.StartQueryExecution", "QueryExecutionId", "FAILED")',
        2,
        2,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "query_forgotten": Case(
        'crash_on = "after-call.athena.GetQueryExecution"\nforget = True',
        1,  # + the forgotten one
        None,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "key_renamed": Case(
        """
        crash_on = "after-call.athena.GetQueryExecution"
        previous_external_id_keys = ("athena_query_v1",)

        def execute(self, context, *args, **kwargs):
            if first_try():  # the version deployed before the rename
                self.external_id_key = "athena_query_v1"
                self.previous_external_id_keys = ()
            return super().execute(context, *args, **kwargs)
        """,
        1,
        None,
        ["fresh", "already_succeeded"],
    ),
    "deferred_after_submit": Case(
        'crash_on = "after-call.athena.StartQueryExecution"',
        1,
        2,
        ["fresh", "fresh"],
        kwargs=", deferrable=True",
    ),
}


@dataclass
class Side:
    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    queries: list[str]
    trigger_polls: int


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> dict[tuple[str, str], Side]:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    tag = uuid.uuid4().hex[:8]
    queries, tasks = {}, {}
    for case, crash in CASES.items():
        for side in ("ours", "theirs"):
            if side == "theirs" and crash.theirs is None:
                continue
            task_id = f"{case}__{side}"
            queries[task_id] = f"SELECT '{task_id}-{tag}'"
            kwargs = f'query="{queries[task_id]}", database="sales", output_location="s3://results/", '
            kwargs += f"sleep_time=1, max_polling_attempts=5{crash.kwargs}"
            tasks[task_id] = ("Ours" if side == "ours" else "Theirs", crash.body, kwargs)
    source = dag_source(
        operator="AthenaOperator",
        ours_module="airflow_resumable.jobs.athena",
        theirs_module="airflow.providers.amazon.aws.operators.athena",
        forget="forget_athena_execution",
        job_id="self.query_execution_id",
        move="set_athena_state",
        tasks=tasks,
        dag_id="athena_matrix",
    )
    sandbox = _airflow_sandbox_session
    sandbox.fresh("athena-matrix")
    with aws_servers.athena_like_aws():
        result = sandbox.run_dag(source)
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    sides = {}
    for task_id, query in queries.items():
        ids = [e.id for e in aws_servers.athena_executions(query)]
        sides[tuple(task_id.split("__"))] = Side(
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            queries=ids,
            trigger_polls=len(moto_server.async_requests(ids[-1])) if ids else 0,
        )
    return sides  # type: ignore[return-value]


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.queries) == crash.ours, run.queries
    intent = run.stored[f"{KEY}.intent"]
    assert intent["generation"] == crash.generation
    assert intent["state"] == "submitted"
    assert run.stored[KEY] == intent["external_id"] == run.result == run.queries[-1]
    assert set(run.stored) == {KEY, f"{KEY}.intent"}  # a renamed key was moved, not copied
    if case == "deferred_after_submit":  # the provider's trigger waited on the query, through moto
        assert run.trigger_polls >= 1, run.output[-4000:]


@pytest.mark.parametrize("case", [case for case, crash in CASES.items() if crash.theirs is not None])
def test_theirs_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.queries) == crash.theirs, run.queries
    assert run.result == run.queries[-1]
    assert run.stored == {}


def test_side_by_side_figures(matrix: dict[tuple[str, str], Side]) -> None:
    """The figures of docs/jobs-aws.md: queries started after a crash, ours vs the provider's."""
    rows = {
        case: (len(matrix[(case, "ours")].queries), len(matrix[(case, "theirs")].queries))
        for case, crash in CASES.items()
        if crash.theirs is not None
    }
    print("queries (ours, provider's):", rows)
    assert rows["after_submit"] == (1, 2)
    assert rows["while_polling"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
