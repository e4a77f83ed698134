"""The crash matrix of ``EmrCreateJobFlowOperator``: ours vs the provider's, through real ``dag.test()``
retries against the local AWS (moto), side by side in one DAG.

Each case crashes try 1 at one point; try 2 must end the task successfully with exactly the clusters a
careful operator would have created: one, or a second only where the first failed for good, was
terminated on request, or was forgotten by EMR. The provider's operator runs the same cases, and the
clusters it leaves behind are counted too (the figures of the docs page, docs/jobs-aws.md).
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
        """
        crash_on = "after-call.emr.DescribeCluster"
        crash_nth = 2
        previous_external_id_keys = ("emr_cluster_v1",)

        def execute(self, context, *args, **kwargs):
            if first_try():  # the version deployed before the rename
                self.external_id_key = "emr_cluster_v1"
                self.previous_external_id_keys = ()
            return super().execute(context, *args, **kwargs)
        """,
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


@dataclass
class Side:
    """What one case did on one side (``ours`` or ``theirs``)."""

    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    clusters: list[str]
    trigger_polls: int
    """DescribeCluster calls the provider's trigger (aiobotocore) made to moto about the last cluster."""


def _kwargs(name: str, extra: str) -> str:
    overrides = aws_servers.cluster_job_flow_overrides(name)
    attempts = "" if "waiter_max_attempts" in extra else ", waiter_max_attempts=5"
    return (
        f"job_flow_overrides={overrides!r}, emr_conn_id=None, wait_for_completion=True, "
        f"waiter_delay=1{attempts}{extra}"
    )


@pytest.fixture(scope="module")
def matrix(aws: str, _airflow_sandbox_session: Any) -> dict[tuple[str, str], Side]:
    """Run every case on both sides in one DAG; return what each (case, side) did."""
    tag = uuid.uuid4().hex[:8]
    names, tasks = {}, {}
    for case, crash in CASES.items():
        for side in ("ours", "theirs"):
            if side == "theirs" and crash.theirs is None:
                continue
            task_id = f"{case}__{side}"
            names[task_id] = f"matrix-{tag}-{task_id}"
            base = "Ours" if side == "ours" else "Theirs"
            tasks[task_id] = (base, crash.body, _kwargs(names[task_id], crash.kwargs))
    source = dag_source(
        operator="EmrCreateJobFlowOperator",
        ours_module="airflow_resumable.jobs.emr",
        theirs_module="airflow.providers.amazon.aws.operators.emr",
        forget="forget_cluster",
        job_id="self._job_flow_id",
        move="set_cluster_state",
        tasks=tasks,
        dag_id="emr_create_matrix",
    )
    sandbox = _airflow_sandbox_session
    sandbox.fresh("emr-create-matrix")
    with aws_servers.emr_terminations_like_aws():
        result = sandbox.run_dag(source)
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    return {
        tuple(task_id.split("__")): Side(  # type: ignore[misc]
            states=result.states(task_id),
            output=outputs.get(task_id, ""),
            stored=result.task_state_keys(task_id),
            result=returned.get(task_id),
            clusters=[c.id for c in aws_servers.clusters_named(name)],
            trigger_polls=_trigger_polls(name),
        )
        for task_id, name in names.items()
    }


def _trigger_polls(name: str) -> int:
    clusters = aws_servers.clusters_named(name)
    return len(moto_server.async_requests(clusters[-1].id)) if clusters else 0


@pytest.mark.parametrize("case", list(CASES))
def test_ours_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "ours")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    assert len(run.clusters) == crash.ours, run.clusters
    intent = run.stored[f"{KEY}.intent"]
    assert intent["generation"] == crash.generation
    assert intent["state"] == "submitted"
    assert run.stored[KEY] == intent["external_id"] == run.result == run.clusters[-1]
    assert set(run.stored) == {KEY, f"{KEY}.intent"}  # a renamed key was moved, not copied
    assert aws_servers.cluster_tags(run.result)["airflow-resumable-token"] == intent["token"]
    if case == "deferred_after_submit":  # the provider's trigger saw the cluster starting, then waiting
        assert run.trigger_polls == 2, run.output[-4000:]


@pytest.mark.parametrize("case", [case for case, crash in CASES.items() if crash.theirs is not None])
def test_theirs_crash_then_retry(matrix: dict[tuple[str, str], Side], case: str) -> None:
    crash, run = CASES[case], matrix[(case, "theirs")]

    assert run.states == list(crash.states), run.output[-4000:]
    assert len(run.clusters) == crash.theirs, run.clusters
    assert run.result == run.clusters[-1]
    assert run.stored == {}


def test_side_by_side_figures(matrix: dict[tuple[str, str], Side]) -> None:
    """The figures of docs/jobs-aws.md: clusters left behind by a crash, ours vs the provider's."""
    rows = {
        case: (len(matrix[(case, "ours")].clusters), len(matrix[(case, "theirs")].clusters))
        for case, crash in CASES.items()
        if crash.theirs is not None
    }
    print("clusters (ours, provider's):", rows)
    assert rows["after_submit"] == (1, 2)
    assert rows["while_waiting"] == (1, 2)
    assert rows["deferred_after_submit"] == (1, 2)
