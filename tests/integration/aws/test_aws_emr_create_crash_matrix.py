"""The crash matrix of ``EmrCreateJobFlowOperator``: ours vs the provider's, through real ``dag.test()``
retries against the local AWS (moto), side by side in one DAG.

Each case crashes try 1 at one point; try 2 must end the task successfully with exactly the clusters a
careful operator would have created: one, or a second only where the first failed for good, was
terminated on request, or was forgotten by EMR. The provider's operator runs the same cases, and the
clusters it leaves behind are counted too (the figures of the docs page, docs/jobs-aws.md).
"""

from __future__ import annotations

import uuid
from typing import Any

import aws_dags
import pytest
from aws_dags import Case, Matrix, key_renamed

import aws_servers

pytestmark = pytest.mark.airflow

KEY = "emr_job_flow_id"

CASES: dict[str, Case] = {
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",)),
    "before_submit": Case('crash_on = "before-call.emr.RunJobFlow"', 1, 1, ["fresh", "fresh"]),
    "after_submit": Case('crash_on = "after-call.emr.RunJobFlow"', 1, 2, ["fresh", "already_succeeded"]),
    "while_waiting": Case(
        'crash_on = "after-call.emr.DescribeCluster"\ncrash_nth = 2', 1, 2, ["fresh", "already_succeeded"]
    ),
    "cluster_failed": Case(
        'after_create = ("after-call.emr.RunJobFlow", "JobFlowId", "TERMINATED_WITH_ERRORS")',
        2,
        2,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "terminated_on_request": Case(  # still starting when the waiter gave up: terminated by the operator
        'after_create = ("after-call.emr.RunJobFlow", "JobFlowId", "STARTING")',
        2,
        2,
        ["fresh", "resubmit"],
        generation=2,
        kwargs=", waiter_max_attempts=2",
    ),
    "cluster_forgotten": Case(
        'crash_on = "after-call.emr.DescribeCluster"\ncrash_nth = 2\nforget = True',
        1,  # + the forgotten one
        None,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "key_renamed": Case(
        key_renamed("emr_cluster_v1", 'crash_on = "after-call.emr.DescribeCluster"\ncrash_nth = 2'),
        1,
        None,
        ["fresh", "already_succeeded"],
    ),
    "deferred_after_submit": Case(
        """
        crash_on = "after-call.emr.RunJobFlow"
        after_create = ("after-call.emr.RunJobFlow", "JobFlowId", "STARTING")

        def defer(self, *, trigger, **kwargs):
            import moto_server
            # the trigger sees the cluster starting, then waiting
            moto_server.after_async_poll(aws.set_cluster_state, trigger.waiter_args["ClusterId"], "WAITING")
            super().defer(trigger=trigger, **kwargs)
        """,
        1,
        2,
        ["fresh", "reconnect"],
        kwargs=", deferrable=True",
    ),
}


def _kwargs(name: str, extra: str) -> str:
    overrides = aws_servers.cluster_job_flow_overrides(name)
    attempts = "" if "waiter_max_attempts" in extra else ", waiter_max_attempts=5"
    return (
        f"job_flow_overrides={overrides!r}, emr_conn_id=None, wait_for_completion=True, "
        f"waiter_delay=1{attempts}{extra}"
    )


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> Matrix:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    tag = uuid.uuid4().hex[:8]
    names, tasks = {}, {}
    for task in aws_dags.matrix_tasks(CASES):
        names[task.task_id] = f"matrix-{tag}-{task.task_id}"
        tasks[task.task_id] = task.dag_entry(_kwargs(names[task.task_id], task.crash.kwargs))
    source = aws_dags.dag_source(
        tasks,
        operator="EmrCreateJobFlowOperator",
        ours_module="airflow_resumable.jobs.emr",
        theirs_module="airflow.providers.amazon.aws.operators.emr",
        forget="forget_cluster",
        job_id="self._job_flow_id",
        move="set_cluster_state",
        dag_id="emr_create_matrix",
    )
    return aws_dags.run_matrix(
        _airflow_sandbox_session,
        source,
        sandbox_name="emr-create-matrix",
        names=names,
        jobs_named=lambda name: [c.id for c in aws_servers.clusters_named(name)],
        during=aws_servers.emr_terminations_like_aws(),
        trigger_polls=True,  # DescribeCluster calls of the provider's trigger about the last cluster
    )


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    intent = aws_dags.assert_ours_recovered(run, crash, KEY, run.result)
    assert aws_servers.cluster_tags(run.result)["airflow-resumable-token"] == intent["token"]
    if case == "deferred_after_submit":  # the provider's trigger saw the cluster starting, then waiting
        assert run.trigger_polls == 2, run.output[-4000:]


@pytest.mark.parametrize("case", aws_dags.provider_cases(CASES))
def test_theirs_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    aws_dags.assert_theirs_outcome(run, crash, run.result)


def test_side_by_side_figures(matrix: Matrix) -> None:
    """The figures of docs/jobs-aws.md: clusters left behind by a crash, ours vs the provider's."""
    rows = aws_dags.side_by_side_figures(matrix, CASES, "clusters (ours, provider's)")
    assert rows["after_submit"] == (1, 2)
    assert rows["while_waiting"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
