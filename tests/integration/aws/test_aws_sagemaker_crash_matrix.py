"""The crash matrix of ``SageMakerTrainingOperator`` and ``SageMakerProcessingOperator``: ours vs the
provider's, through real ``dag.test()`` retries against the local AWS (moto, refusing taken job names and
answering unknown ones as SageMaker does: ``aws_sagemaker_front.sagemaker_like_aws``), side by side in one
DAG per kind. Every job stays ``InProgress`` for three status calls, then completes (a job that takes a
while). Each case crashes try 1 at one point; the jobs each side created are counted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from aws_dags import Case, dag_source, decisions, return_values, task_outputs

import aws_sagemaker_front as front

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
RENAMED = """
{lost}
previous_external_id_keys = ("sagemaker_job_v1",)

def execute(self, context, *args, **kwargs):
    if first_try():  # the version deployed before the rename
        self.external_id_key = "sagemaker_job_v1"
        self.previous_external_id_keys = ()
    return super().execute(context, *args, **kwargs)
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
        "key_renamed": Case(RENAMED.format(lost=lost), 1, None, ["fresh", "reconnect"]),
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


@dataclass
class Side:
    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    jobs: list[str]
    prefix: str


@pytest.fixture(scope="module", params=list(KINDS))
def matrix(request: pytest.FixtureRequest, aws: str, _airflow_sandbox_session: Any) -> Any:
    """Run every case on both sides in one DAG; return the kind and what each (case, side) did."""
    kind = str(request.param)
    operator, _, extra = KINDS[kind]
    prefixes, tasks = {}, {}
    for case, crash in cases(kind).items():
        for side in ("ours", "theirs"):
            if side == "theirs" and crash.theirs is None:
                continue
            task_id = f"{case}__{side}"
            prefixes[task_id] = f"{case.replace('_', '-')}-{side}-{uuid.uuid4().hex[:6]}"
            config = f'aws.{kind.lower()}_config("{prefixes[task_id]}{crash.extra.get("suffix", "")}")'
            kwargs = f"config={config}, check_interval=0{extra}{crash.kwargs}"
            tasks[task_id] = ("Ours" if side == "ours" else "Theirs", crash.body, kwargs)
    source = dag_source(
        operator=operator,
        ours_module="airflow_resumable.jobs.sagemaker",
        theirs_module="airflow.providers.amazon.aws.operators.sagemaker",
        forget=f"forget_{kind.lower()}_job",
        job_id=f"_['parsed']['{kind}JobArn']",
        move=f"set_{kind.lower()}_status",
        tasks=tasks,
        dag_id=f"sagemaker_{kind.lower()}_matrix",
    ).replace("import aws_servers as aws", "import aws_sagemaker_front as aws")
    sandbox = _airflow_sandbox_session
    sandbox.fresh(f"sagemaker-{kind.lower()}-matrix")
    with front.sagemaker_like_aws(in_progress_for=3):
        front.input_data()
        result = sandbox.run_dag(source)
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    sides = {
        tuple(task_id.split("__")): Side(
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            jobs=front.jobs(kind, prefix),
            prefix=prefix,
        )
        for task_id, prefix in prefixes.items()
    }
    return kind, sides


def _case_ids() -> list[str]:
    return list(cases("Training"))


@pytest.mark.parametrize("case", _case_ids())
def test_ours_crash_then_retry(matrix: Any, case: str) -> None:
    kind, sides = matrix
    crash, run = cases(kind)[case], sides[(case, "ours")]
    key = KINDS[kind][1]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.jobs) == crash.ours, run.jobs
    intent = run.stored[f"{key}.intent"]
    assert intent["generation"] == (1 if case == "state_reset" else crash.generation)
    assert intent["state"] == "submitted"
    name = run.jobs[-1]
    assert run.stored[key] == intent["external_id"] == intent["token"] == name
    assert run.result[kind][f"{kind}JobName"] == name
    if crash.generation == 2:
        assert re.fullmatch(rf"{run.prefix}-[0-9a-f]{{12}}-g2", name)
    elif case == "state_reset":  # a new job: your name made unique, as the provider makes it
        assert re.fullmatch(rf"{run.prefix}-\d{{10}}", name)
    else:
        assert name == run.prefix + crash.extra.get("first", "")  # your name (as first rendered), once
    assert set(run.stored) == {key, f"{key}.intent"}  # a renamed key was moved, not copied


@pytest.mark.parametrize(
    "case", [case for case, crash in cases("Training").items() if crash.theirs is not None]
)
def test_theirs_crash_then_retry(matrix: Any, case: str) -> None:
    kind, sides = matrix
    crash, run = cases(kind)[case], sides[(case, "theirs")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.jobs) == crash.theirs, run.jobs
    assert run.result[kind][f"{kind}JobName"] == run.jobs[-1]
    assert run.stored == {}


def test_side_by_side_figures(matrix: Any) -> None:
    """The figures of docs/jobs-aws.md: jobs created after a crash, ours vs the provider's."""
    kind, sides = matrix
    rows = {
        case: (len(sides[(case, "ours")].jobs), len(sides[(case, "theirs")].jobs))
        for case, crash in cases(kind).items()
        if crash.theirs is not None
    }
    print(f"{kind} jobs (ours, provider's):", rows)
    assert rows["after_submit"] == (1, 2)
    assert rows["after_submit_completed"] == (1, 2)
    assert rows["while_waiting"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
    assert rows["name_renders_anew"] == (1, 2)
