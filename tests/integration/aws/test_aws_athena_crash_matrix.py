"""The crash matrix of ``AthenaOperator``: ours vs the provider's, through real ``dag.test()`` retries
against the local AWS (moto answering ``ClientRequestToken`` and unknown ids as Athena does), side by side
in one DAG. Each case crashes try 1 at one point; the queries each side started are counted.
"""

from __future__ import annotations

import uuid
from typing import Any

import aws_dags
import pytest
from aws_dags import Case, Matrix, key_renamed

import aws_servers

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
        key_renamed("athena_query_v1", 'crash_on = "after-call.athena.GetQueryExecution"'),
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


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> Matrix:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    tag = uuid.uuid4().hex[:8]
    queries, tasks = {}, {}
    for task in aws_dags.matrix_tasks(CASES):
        queries[task.task_id] = f"SELECT '{task.task_id}-{tag}'"
        kwargs = f'query="{queries[task.task_id]}", database="sales", output_location="s3://results/", '
        kwargs += f"sleep_time=1, max_polling_attempts=5{task.crash.kwargs}"
        tasks[task.task_id] = task.dag_entry(kwargs)
    source = aws_dags.dag_source(
        tasks,
        operator="AthenaOperator",
        ours_module="airflow_resumable.jobs.athena",
        theirs_module="airflow.providers.amazon.aws.operators.athena",
        forget="forget_athena_execution",
        job_id="self.query_execution_id",
        move="set_athena_state",
        dag_id="athena_matrix",
    )
    return aws_dags.run_matrix(
        _airflow_sandbox_session,
        source,
        sandbox_name="athena-matrix",
        names=queries,
        jobs_named=lambda query: [e.id for e in aws_servers.athena_executions(query)],
        during=aws_servers.athena_like_aws(),
        trigger_polls=True,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    aws_dags.assert_ours_recovered(run, crash, KEY, run.result)
    if case == "deferred_after_submit":  # the provider's trigger waited on the query, through moto
        assert run.trigger_polls >= 1, run.output[-4000:]


@pytest.mark.parametrize("case", aws_dags.provider_cases(CASES))
def test_theirs_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    aws_dags.assert_theirs_outcome(run, crash, run.result)


def test_side_by_side_figures(matrix: Matrix) -> None:
    """The figures of docs/jobs-aws.md: queries started after a crash, ours vs the provider's."""
    rows = aws_dags.side_by_side_figures(matrix, CASES, "queries (ours, provider's)")
    assert rows["after_submit"] == (1, 2)
    assert rows["while_polling"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
