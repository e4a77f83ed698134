"""The crash matrix of ``BatchOperator``: ours vs the provider's, through real ``dag.test()`` retries against
the local AWS Batch (moto's Docker-free Batch backend on the session's moto server), side by side in one DAG.

Each case crashes try 1 at one point; try 2 must end the task successfully with exactly the jobs a careful
operator would have submitted: one, or a second only where the first failed, was forgotten by AWS Batch,
or the task's state was reset. The provider's operator runs the same cases, and the jobs it leaves behind
are counted too (the figures of the docs page, docs/jobs-aws.md).
"""

from __future__ import annotations

import uuid
from typing import Any

import aws_dags
import pytest
from aws_dags import Case, Matrix, key_renamed

import aws_batch_servers as batch

pytestmark = pytest.mark.airflow

KEY = "batch_job_id"

CASES: dict[str, Case] = {
    "no_crash": Case("", 1, 1, ["fresh"], states=("success",)),
    "before_submit": Case(  # the intent is recorded, SubmitJob never sent: nothing found, submitted again
        'crash_on = "before-call.batch.SubmitJob"\nlisting_settle_seconds = 1',
        1,
        1,
        ["fresh", "fresh"],
    ),
    "after_submit": Case('crash_on = "after-call.batch.SubmitJob"', 1, 2, ["fresh", "already_succeeded"]),
    "after_submit_running": Case(  # the job is still queued: the retry finds it and waits for it
        """
        crash_on = "after-call.batch.SubmitJob"
        after_create = ("after-call.batch.SubmitJob", "jobId", "RUNNABLE")

        def poll_until_complete(self, external_id, context):
            aws.set_job_state(external_id, "SUCCEEDED")  # the job finishes while this try waits
            return super().poll_until_complete(external_id, context)
        """,
        1,
        2,
        ["fresh", "reconnect"],
    ),
    "while_waiting": Case(
        'crash_on = "after-call.batch.DescribeJobs"\ncrash_nth = 2', 1, 2, ["fresh", "already_succeeded"]
    ),
    "job_failed": Case(
        'after_create = ("after-call.batch.SubmitJob", "jobId", "FAILED")',
        2,
        2,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "job_forgotten": Case(
        'crash_on = "after-call.batch.DescribeJobs"\ncrash_nth = 2\nforget = True',
        1,  # + the forgotten one
        None,
        ["fresh", "resubmit"],
        generation=2,
    ),
    "state_reset": Case(
        """
        def execute(self, context, *args, **kwargs):
            if not first_try():
                context["task_state_store"].clear()  # the documented way to force a new job
            result = super().execute(context, *args, **kwargs)
            if first_try():
                raise RuntimeError("the task fails after its job succeeded")
            return result
        """,
        2,
        2,
        ["fresh", "fresh"],
    ),
    "key_renamed": Case(
        key_renamed("batch_job_v1", 'crash_on = "after-call.batch.DescribeJobs"\ncrash_nth = 2'),
        1,
        None,
        ["fresh", "already_succeeded"],
    ),
    "deferred_after_submit": Case(
        """
        crash_on = "after-call.batch.SubmitJob"
        after_create = ("after-call.batch.SubmitJob", "jobId", "RUNNING")

        def defer(self, *, trigger, **kwargs):
            import moto_server
            # the trigger sees the job running, then succeeded
            moto_server.after_async_poll(aws.set_job_state, self.job_id, "SUCCEEDED")
            super().defer(trigger=trigger, **kwargs)
        """,
        1,
        2,
        ["fresh", "reconnect"],
        kwargs=", deferrable=True, poll_interval=1",
    ),
}

_PREAMBLE = """import aws_batch_servers as aws
from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook

BatchClientHook.DEFAULT_DELAY_MIN = BatchClientHook.DEFAULT_DELAY_MAX = 0  # no random 1-10 s pauses
"""


def _kwargs(name: str, extra: str) -> str:
    return f"job_name={name!r}, job_queue={batch.QUEUE!r}, job_definition={batch.JOB_DEFINITION!r}{extra}"


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> Matrix:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    batch.batch_queue()
    tag = uuid.uuid4().hex[:8]
    names, tasks = {}, {}
    for task in aws_dags.matrix_tasks(CASES):
        names[task.task_id] = f"matrix-{tag}-{task.task_id}"
        tasks[task.task_id] = task.dag_entry(_kwargs(names[task.task_id], task.crash.kwargs))
    source = aws_dags.dag_source(
        tasks,
        operator="BatchOperator",
        ours_module="airflow_resumable.jobs.batch",
        theirs_module="airflow.providers.amazon.aws.operators.batch",
        forget="forget_job",
        job_id="self.job_id",
        move="set_job_state",
        dag_id="batch_matrix",
    )
    assert "import aws_servers as aws\n" in source
    source = source.replace("import aws_servers as aws\n", _PREAMBLE)
    return aws_dags.run_matrix(
        _airflow_sandbox_session,
        source,
        sandbox_name="batch-matrix",
        names=names,
        jobs_named=lambda name: [job.job_id for job in batch.jobs_named(name)],
    )


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    intent = aws_dags.assert_ours_recovered(run, crash, KEY, run.result)
    assert batch.job_tags(run.result)["airflow-resumable-token"] == intent["token"]


@pytest.mark.parametrize("case", aws_dags.provider_cases(CASES))
def test_theirs_crash_then_retry(matrix: Matrix, case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    aws_dags.assert_theirs_outcome(run, crash, run.result)


def test_side_by_side_figures(matrix: Matrix) -> None:
    """The figures of docs/jobs-aws.md: jobs left behind by a crash, ours vs the provider's."""
    rows = aws_dags.side_by_side_figures(matrix, CASES, "jobs (ours, provider's)")
    assert rows["after_submit"] == (1, 2)
    assert rows["after_submit_running"] == (1, 2)
    assert rows["while_waiting"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
