"""The crash matrix, through real ``dag.test()`` retries against a local AWS (moto) for all three services.

Each case crashes try 1 at one point; try 2 must end the task successfully with exactly the jobs a careful
operator would have started: one, or a second only where the first failed for good or was forgotten.

All cases of one service run as separate tasks of one DAG (each with its own application, virtual
cluster or EMR cluster), so the service's matrix costs one ``dag.test()`` run; each case is then checked
by its own test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from emr_dags import (
    CONTAINERS,
    SERVERLESS,
    STEP_LIST,
    STEPS,
    Service,
    containers_kwargs,
    decisions,
    return_values,
    serverless_kwargs,
    steps_kwargs,
    task_outputs,
)

import moto_server

pytestmark = pytest.mark.airflow


@dataclass(frozen=True)
class Crash:
    body: str
    decisions: list[str]
    submissions: int
    """How many submissions AWS must have seen (a forgotten one included)."""
    generation: int
    states: tuple[str, ...] = ("failed", "success")
    deferrable: bool = False
    trigger_polls: int = 0
    """How many status calls the provider's triggers made to AWS (moto) over both tries."""


CRASHES: dict[str, Crash] = {
    "no_crash": Crash("", ["fresh"], 1, 1, states=("success",)),
    "before_submit": Crash(
        """
        def submit_job(self, context):
            if first_try():
                raise RuntimeError("worker lost before the submit call")
            return super().submit_job(context)
        """,
        ["fresh", "fresh"],
        1,
        1,
    ),
    "after_submit": Crash(
        """
        def submit_job(self, context):
            external_id = super().submit_job(context)
            if first_try():
                raise RuntimeError("worker lost after the submit call, before the id was stored")
            return external_id
        """,
        ["fresh", "reconnect"],
        1,
        1,
    ),
    "after_store": Crash(
        """
        def poll_until_complete(self, external_id, context):
            if first_try():
                raise RuntimeError("worker lost after storing the id")
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "reconnect"],
        1,
        1,
    ),
    "mid_poll": Crash(
        """
        def poll_until_complete(self, external_id, context):
            if first_try():
                print("POLLED", self.get_job_status(external_id, context))
                raise RuntimeError("worker lost while polling")
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "reconnect"],
        1,
        1,
    ),
    "job_failed": Crash(
        """
        def poll_until_complete(self, external_id, context):
            if first_try():
                {fail}
                return {operator}.poll_until_complete(self, external_id, context)
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "resubmit"],
        2,
        2,
    ),
    "id_unknown": Crash(
        """
        def poll_until_complete(self, external_id, context):
            if first_try():
                {forget}
                raise RuntimeError("worker lost; meanwhile AWS forgot the job")
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "resubmit"],
        2,
        2,
    ),
    "key_renamed": Crash(
        """
        previous_external_id_keys = ("emr_job_v1",)

        def execute(self, context, *args, **kwargs):
            if first_try():  # the version deployed before the rename
                self.external_id_key = "emr_job_v1"
                self.previous_external_id_keys = ()
            return super().execute(context, *args, **kwargs)

        def poll_until_complete(self, external_id, context):
            if first_try():
                raise RuntimeError("worker lost while the job runs")
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "reconnect"],
        1,
        1,
    ),
    "state_reset": Crash(
        """
        def execute(self, context, *args, **kwargs):
            if not first_try():
                context["task_state_store"].clear()  # the documented way to force a new job
            result = super().execute(context, *args, **kwargs)
            if first_try():
                raise RuntimeError("the task fails after its job succeeded")
            return result

        def poll_until_complete(self, external_id, context):
            {finish}
            return super().poll_until_complete(external_id, context)
        """,
        ["fresh", "fresh"],
        2,
        1,
    ),
    "deferrable_crash": Crash(
        """
        def submit_job(self, context):
            external_id = super().submit_job(context)
            if first_try():
                {finish}
                raise RuntimeError("worker lost after the submit call; the job finished meanwhile")
            return external_id
        """,
        ["fresh", "already_succeeded"],
        1,
        1,
        deferrable=True,
    ),
    "deferred_after_submit": Crash(
        """
        def submit_job(self, context):
            external_id = super().submit_job(context)
            if first_try():
                raise RuntimeError("worker lost after the submit call, before the id was stored")
            return external_id

        def defer(self, *, trigger, **kwargs):
            args = trigger.waiter_args
            aws.after_async_poll({finish_deferred})  # the trigger sees the job running, then finished
            super().defer(trigger=trigger, **kwargs)
        """,
        ["fresh", "reconnect"],
        1,
        1,
        deferrable=True,
        trigger_polls=2,
    ),
    "deferred_resume_crash": Crash(
        """
        def defer(self, *, trigger, **kwargs):
            args = trigger.waiter_args
            now({finish_deferred})
            super().defer(trigger=trigger, **kwargs)

        def execute_complete(self, context, event=None):
            if first_try():
                raise RuntimeError("worker lost while resuming after the trigger fired")
            return super().execute_complete(context, event)
        """,
        ["fresh", "already_succeeded"],
        1,
        1,
        deferrable=True,
        trigger_polls=1,
    ),
    "deferred_job_failed": Crash(
        """
        def defer(self, *, trigger, **kwargs):
            args = trigger.waiter_args
            now({fail_deferred}) if first_try() else now({finish_deferred})
            super().defer(trigger=trigger, **kwargs)
        """,
        ["fresh", "resubmit"],
        2,
        2,
        deferrable=True,
        trigger_polls=2,
    ),
}


SERVICES: dict[str, Service] = {"serverless": SERVERLESS, "containers": CONTAINERS, "steps": STEPS}


@dataclass
class CaseRun:
    """What one case (one task) of a matrix run did, read back right after the run."""

    states: list[str | None]
    output: str
    stored: dict[str, Any]
    result: Any
    submissions: int
    trigger_polls: int


def _resources(service_name: str) -> list[str]:
    if service_name == "serverless":
        return [moto_server.create_serverless_application() for _ in CRASHES]
    if service_name == "containers":
        return [moto_server.create_virtual_cluster() for _ in CRASHES]
    return [moto_server.create_cluster() for _ in CRASHES]


def _kwargs(service_name: str, resource: str, extra: str) -> str:
    build = {"serverless": serverless_kwargs, "containers": containers_kwargs, "steps": steps_kwargs}
    return build[service_name](resource, extra)


def _submissions(service_name: str, resource: str) -> int:
    if service_name == "serverless":
        return len(moto_server.serverless_job_runs(resource))
    if service_name == "containers":
        return len(moto_server.containers_job_runs(resource))
    return len(moto_server.cluster_steps(resource)) // len(STEP_LIST)


@pytest.fixture(scope="module", params=list(SERVICES))
def matrix(
    request: pytest.FixtureRequest, aws: str, _airflow_sandbox_session: Any
) -> tuple[str, dict[str, CaseRun]]:
    """Run one service's whole matrix in one DAG; return what each case did."""
    service_name = request.param
    service = SERVICES[service_name]
    resources = dict(zip(CRASHES, _resources(service_name), strict=True))
    tasks = {}
    for case, crash in CRASHES.items():
        body = crash.body.format(
            fail=service.fail,
            forget=service.forget,
            finish=service.finish,
            operator=service.operator,
            finish_deferred=service.finish_deferred,
            fail_deferred=service.fail_deferred,
        )
        extra = ", deferrable=True" if crash.deferrable else ""
        tasks[case] = (body, _kwargs(service_name, resources[case], extra))
    sandbox = _airflow_sandbox_session
    sandbox.fresh(f"emr-matrix-{service_name}")
    result = sandbox.run_dag(service.dag(tasks, dag_id=f"emr_matrix_{service_name}"))
    outputs = task_outputs(result.output)
    returned = return_values(result.dag_id, result.run_id)
    runs = {
        case: CaseRun(
            states=result.states(case),
            output=outputs.get(case, ""),
            stored=result.task_state_keys(case),
            result=returned.get(case),
            submissions=_submissions(service_name, resources[case]),
            trigger_polls=len(moto_server.async_requests(resources[case])),
        )
        for case in CRASHES
    }
    return service_name, runs


@pytest.mark.parametrize("case", list(CRASHES))
def test_crash_then_retry(matrix: tuple[str, dict[str, CaseRun]], case: str) -> None:
    service_name, runs = matrix
    service, crash, run = SERVICES[service_name], CRASHES[case], runs[case]

    assert run.states == list(crash.states), run.output[-4000:]
    assert decisions(run.output) == crash.decisions
    forgotten = 1 if case == "id_unknown" else 0
    assert run.submissions == crash.submissions - forgotten
    intent = run.stored[f"{service.key}.intent"]
    assert intent["generation"] == crash.generation
    assert intent["state"] == "submitted"
    assert intent["token"].endswith(f"-g{crash.generation}")
    assert run.stored[service.key] == intent["external_id"]
    assert set(run.stored) == {service.key, f"{service.key}.intent"}  # a renamed key was moved, not copied
    expected = run.stored[service.key]["step_ids"] if service is STEPS else run.stored[service.key]
    assert run.result == expected
    # the provider's trigger waited on the job through moto (an aiobotocore client honouring endpoint_url)
    assert run.trigger_polls == crash.trigger_polls, run.output[-4000:]
    if case == "mid_poll":
        assert re.search(r"POLLED (RUNNING|PENDING)", run.output)
