"""The crash matrix of ``SageMakerTrainingOperator`` and ``SageMakerProcessingOperator``: ours vs the
provider's, through real ``dag.test()`` retries against the local AWS (moto, refusing taken job names and
answering unknown ones as SageMaker does: ``aws_sagemaker_front.sagemaker_like_aws``), side by side in one
DAG per kind. Every job stays ``InProgress`` for three status calls, then completes (a job that takes a
while). Each case crashes try 1 at one point; the jobs each side created are counted.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import aws_dags
import pytest
from aws_dags import Case, key_renamed

import aws_sagemaker_front as front

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.airflow

LOST = 'crash_on = "after-call.sagemaker.Create{kind}Job"'
MOVE = 'after_create = ("after-call.sagemaker.Create{kind}Job", "{kind}JobArn", "{state}")'
DEFER = """
def defer(self, *, trigger, **kwargs):
    import moto_server
    if first_try():  # the trigger sees the job in progress first, then {state}
        moto_server.after_async_poll(aws.set_status, "{kind}", trigger.job_name, "{state}")
    super().defer(trigger=trigger, **kwargs)
"""
RESET = """
{lost}

def execute(self, context, *args, **kwargs):
    if not first_try():  # the documented way to force a new job
        context["task_state_store"].clear()
    return super().execute(context, *args, **kwargs)
"""


def cases(kind: str) -> dict[str, Case]:
    lost = LOST.format(kind=kind)
    deferrable = ", deferrable=True"
    return {
        "no_crash": Case("", 1, 1, ["fresh"], states=("success",)),
        "before_submit": Case(
            f'crash_on = "before-call.sagemaker.Create{kind}Job"', 1, 1, ["fresh", "fresh"]
        ),
        "after_submit": Case(lost, 1, 2, ["fresh", "reconnect"]),
        "after_submit_completed": Case(
            f"{lost}\n{MOVE.format(kind=kind, state='Completed')}", 1, 2, ["fresh", "already_succeeded"]
        ),
        # the first status call after the create (the provider's name check is the one before it)
        "while_waiting": Case(
            f'crash_on = "after-call.sagemaker.Describe{kind}Job"\ncrash_nth = 2',
            1,
            2,
            ["fresh", "reconnect"],
        ),
        "job_failed": Case(MOVE.format(kind=kind, state="Failed"), 2, 2, ["fresh", "resubmit"], generation=2),
        "job_stopped": Case(
            f"{lost}\n{MOVE.format(kind=kind, state='Stopped')}", 2, 2, ["fresh", "resubmit"], generation=2
        ),
        "job_forgotten": Case(f"{lost}\nforget = True", 1, None, ["fresh", "fresh"]),  # + the forgotten one
        "key_renamed": Case(key_renamed("sagemaker_job_v1", lost), 1, None, ["fresh", "reconnect"]),
        # your name renders differently on the retry: the recorded one is looked up, the provider's new one
        # is created as well
        "name_renders_anew": Case(
            lost, 1, 2, ["fresh", "reconnect"], extra={"suffix": "-t{{ ti.try_number }}", "first": "-t1"}
        ),
        "state_reset": Case(RESET.format(lost=lost), 2, None, ["fresh", "fresh"]),
        "deferred_after_submit": Case(lost, 1, 2, ["fresh", "reconnect"], kwargs=deferrable),
        "deferred_failed": Case(
            DEFER.format(kind=kind, state="Failed"),
            2,
            2,
            ["fresh", "resubmit"],
            generation=2,
            kwargs=deferrable,
        ),
    }


KINDS = {
    "Training": ("SageMakerTrainingOperator", "sagemaker_training_job_name", ", print_log=False"),
    "Processing": ("SageMakerProcessingOperator", "sagemaker_processing_job_name", ""),
}
"""kind -> (operator, key, extra arguments). Training logs are off: with them the provider's hook reads the
job's status at most every 30 seconds."""


@contextmanager
def _sagemaker_with_input_data() -> Iterator[None]:
    with front.sagemaker_like_aws(in_progress_for=3):
        front.input_data()
        yield


@pytest.fixture(scope="module", params=list(KINDS))
def matrix(request: pytest.FixtureRequest, aws: str, _airflow_sandbox_session: Any) -> Any:
    """Run every case on both sides in one DAG; return the kind and what each (case, side) did."""
    kind = str(request.param)
    operator, _, extra = KINDS[kind]
    prefixes, tasks = {}, {}
    for task in aws_dags.matrix_tasks(cases(kind)):
        prefixes[task.task_id] = f"{task.case.replace('_', '-')}-{task.side}-{uuid.uuid4().hex[:6]}"
        config = f'aws.{kind.lower()}_config("{prefixes[task.task_id]}{task.crash.extra.get("suffix", "")}")'
        tasks[task.task_id] = task.dag_entry(f"config={config}, check_interval=0{extra}{task.crash.kwargs}")
    source = aws_dags.dag_source(
        tasks,
        operator=operator,
        ours_module="airflow_resumable.jobs.sagemaker",
        theirs_module="airflow.providers.amazon.aws.operators.sagemaker",
        forget=f"forget_{kind.lower()}_job",
        job_id=f"_['parsed']['{kind}JobArn']",
        move=f"set_{kind.lower()}_status",
        dag_id=f"sagemaker_{kind.lower()}_matrix",
    ).replace("import aws_servers as aws", "import aws_sagemaker_front as aws")
    sides = aws_dags.run_matrix(
        _airflow_sandbox_session,
        source,
        sandbox_name=f"sagemaker-{kind.lower()}-matrix",
        names=prefixes,
        jobs_named=lambda prefix: front.jobs(kind, prefix),
        during=_sagemaker_with_input_data(),
    )
    return kind, sides


def _case_ids() -> list[str]:
    return list(cases("Training"))


@pytest.mark.parametrize("case", _case_ids())
def test_ours_crash_then_retry(matrix: Any, case: str) -> None:
    kind, sides = matrix
    crash, run = cases(kind)[case], sides[(case, "ours")]
    key = KINDS[kind][1]

    intent = aws_dags.assert_ours_recovered(run, crash, key, run.result[kind][f"{kind}JobName"])
    name = run.jobs[-1]
    assert intent["token"] == name
    if crash.generation == 2:
        assert re.fullmatch(rf"{run.name}-[0-9a-f]{{12}}-g2", name)
    elif case == "state_reset":  # a new job: your name made unique, as the provider makes it
        assert re.fullmatch(rf"{run.name}-\d{{10}}", name)
    else:
        assert name == run.name + crash.extra.get("first", "")  # your name (as first rendered), once


@pytest.mark.parametrize("case", aws_dags.provider_cases(cases("Training")))
def test_theirs_crash_then_retry(matrix: Any, case: str) -> None:
    kind, sides = matrix
    crash, run = cases(kind)[case], sides[(case, "theirs")]

    aws_dags.assert_theirs_outcome(run, crash, run.result[kind][f"{kind}JobName"])


def test_side_by_side_figures(matrix: Any) -> None:
    """The figures of docs/jobs-aws.md: jobs created after a crash, ours vs the provider's."""
    kind, sides = matrix
    rows = aws_dags.side_by_side_figures(sides, cases(kind), f"{kind} jobs (ours, provider's)")
    assert rows["after_submit"] == (1, 2)
    assert rows["after_submit_completed"] == (1, 2)
    assert rows["while_waiting"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
    assert rows["name_renders_anew"] == (1, 2)
