"""A stateful search of the durable EMR operators' decisions, against the local AWS (moto).

Hypothesis drives random sequences of tries of one task instance for each EMR service: each try may
crash (before submitting, after submitting but before the id is stored, while polling) and otherwise
polls once (a job still running fails the try with the provider's "max attempts" error, as a short
``waiter_max_attempts`` would). Between tries the jobs on AWS end as scripted (success, failure,
cancelled, forgotten by AWS, and for steps a failed ``ActionOnFailure=CONTINUE`` step while the others
run on), and the task's state may be reset (deleted, as ``clear_on_success`` or a re-created DAG run
leave it); a try's status checks and searches may be throttled (``ThrottlingException``) a few times.
Half the examples pass their own ``client_request_token``; in half, the client sees what AWS does with a
repeated ``clientToken`` (the earlier job run comes back), in the other half what moto does (a new run):
then only the write-ahead intent and the searches stand between a crash and a duplicate.

The operators are the library's real classes with the provider's real hooks over HTTP; transitions are
made in moto's backend, nothing in the hooks is patched. After every try:

- never two live jobs (for steps: two live copies of one step) for one incarnation of the task instance;
- never a failed, cancelled or unfinished job reported as a try's result;
- after a reset, a successful try ran a new job (unless the DAG author passed their own token, which
  names its job for good);
- never one client token for two job runs (with AWS's token dedup emulated on the client, or without it
  as moto answers).
- after a success (and no reset) no job is ever started again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import moto_server
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs import emr
from airflow_resumable.testing import InMemoryStateBackend, make_context

CRASHES = ("none", "before_submit", "after_submit", "during_poll")
ENDINGS = ("success", "failure", "cancel", "gone", "continue_failure")


class Crash(BaseException):
    """The worker dies here (a BaseException: nothing in the operator may catch it)."""


def crashing(cls: type) -> type:
    class Crashing(cls):  # type: ignore[misc, valid-type]
        crash = "none"

        def submit_job(self, context: Any) -> Any:
            if self.crash == "before_submit":
                raise Crash("died before submitting")
            job = super().submit_job(context)
            if self.crash == "after_submit":
                raise Crash("died after submitting, before the id was stored")
            return job

        def poll_until_complete(self, external_id: Any, context: Any) -> Any:
            if self.crash == "during_poll":
                raise Crash("died while polling")
            return super().poll_until_complete(external_id, context)

    return Crashing


@dataclass
class Job:
    """One thing AWS runs for the task: a job run, or one step (``index``: its place in ``steps``)."""

    id: str
    state: str
    index: int = 0


class Service:
    """How the search builds, inspects and scripts one EMR service."""

    name: str
    live: frozenset[str]
    done: str

    def __init__(self, user_token: str | None = None, aws_dedups: bool = False) -> None:
        self.resource = self.create()
        self.user_token = user_token
        self.aws_dedups = aws_dedups

    def tokens(self) -> list[str]:
        """The client tokens of the job runs AWS started (none for steps)."""
        return []

    def _with_token(self, op: Any) -> Any:
        if self.aws_dedups:
            moto_server.honour_client_tokens(op)  # as AWS does and moto does not
        return op

    def throttle(self, op: Any, calls: int) -> None:
        """The next ``calls`` status or search calls of ``op``'s client are throttled (botocore's own
        retries are off for the search's operators, so the operator's retry sees them)."""
        left = [calls]

        class Response:
            status_code = 400

        def throttled(model: Any, **_: Any) -> Any:
            if model.name not in READS or left[0] <= 0:
                return None
            left[0] -= 1
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            return Response(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

        service = op.hook.conn.meta.service_model.service_name
        op.hook.conn.meta.events.register(f"before-call.{service}", throttled)

    def _token_args(self) -> dict[str, Any]:
        return {} if self.user_token is None else {"client_request_token": self.user_token}

    def create(self) -> str:
        raise NotImplementedError

    def operator(self, crash: str) -> Any:
        raise NotImplementedError

    def jobs(self) -> list[Job]:
        raise NotImplementedError

    def set_state(self, job: Job, state: str) -> None:
        raise NotImplementedError

    def forget(self, job: Job) -> None:
        raise NotImplementedError

    def result_jobs(self, result: Any) -> list[str]:
        return [result]


class Serverless(Service):
    name, live, done = "serverless", common.SERVERLESS_STATES.active, "SUCCESS"

    def create(self) -> str:
        return moto_server.create_serverless_application()

    def operator(self, crash: str) -> Any:
        op = crashing(emr.EmrServerlessStartJobOperator)(
            task_id="job",
            application_id=self.resource,
            execution_role_arn=moto_server.ROLE_ARN,
            job_driver={"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}},
            waiter_delay=0,
            waiter_max_attempts=1,
        )
        op.crash = crash
        # moto finishes job runs at once; on AWS they run for a while
        op.hook.conn.meta.events.register(
            "after-call.emr-serverless.StartJobRun",
            lambda parsed, **_: moto_server.set_serverless_state(
                self.resource, parsed["jobRunId"], "RUNNING"
            ),
        )
        return op

    def jobs(self) -> list[Job]:
        return [Job(run.id, run.state) for run in moto_server.serverless_job_runs(self.resource)]

    def set_state(self, job: Job, state: str) -> None:
        moto_server.set_serverless_state(self.resource, job.id, state)

    def forget(self, job: Job) -> None:
        moto_server.forget_serverless_job_run(self.resource, job.id)


class Containers(Service):
    name, live, done = "containers", common.CONTAINERS_STATES.active, "COMPLETED"

    def create(self) -> str:
        return moto_server.create_virtual_cluster()

    def operator(self, crash: str) -> Any:
        op = crashing(emr.EmrContainerOperator)(
            task_id="job",
            name="nightly",
            virtual_cluster_id=self.resource,
            execution_role_arn=moto_server.ROLE_ARN,
            release_label="emr-6.10.0-latest",
            job_driver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
            poll_interval=0,
            max_polling_attempts=1,
            botocore_config=NO_BOTOCORE_RETRIES,
            **self._token_args(),
        )
        op.crash = crash
        return self._with_token(op)

    def tokens(self) -> list[str]:
        return [run.client_token for run in moto_server.containers_job_runs(self.resource)]

    def jobs(self) -> list[Job]:
        return [Job(run.id, run.state) for run in moto_server.containers_job_runs(self.resource)]

    def set_state(self, job: Job, state: str) -> None:
        moto_server.set_containers_state(job.id, state)

    def forget(self, job: Job) -> None:
        moto_server.forget_containers_job_run(job.id)


class Steps(Service):
    name, live, done = "steps", common.STEP_STATES.active, "COMPLETED"
    steps: ClassVar[list[dict[str, Any]]] = [
        {"Name": f"step-{i}", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar"}}
        for i in range(2)
    ]

    def create(self) -> str:
        return moto_server.create_cluster()

    def operator(self, crash: str) -> Any:
        op = crashing(emr.EmrAddStepsOperator)(
            task_id="job",
            job_flow_id=self.resource,
            steps=self.steps,
            wait_for_completion=True,
            waiter_delay=1,
            waiter_max_attempts=1,
            do_xcom_push=False,
            botocore_config=NO_BOTOCORE_RETRIES,
        )
        op.crash = crash
        return op

    def jobs(self) -> list[Job]:
        return [
            Job(step.id, step.state, int(step.name.split()[0].removeprefix("step-")))
            for step in moto_server.cluster_steps(self.resource)
        ]

    def set_state(self, job: Job, state: str) -> None:
        moto_server.set_step_state(self.resource, job.id, state)

    def forget(self, job: Job) -> None:
        moto_server.forget_steps(self.resource, [job.id])

    def result_jobs(self, result: Any) -> list[str]:
        return list(result)


SERVICES = {"serverless": Serverless, "containers": Containers, "steps": Steps}
READS = frozenset({"GetJobRun", "DescribeJobRun", "ListJobRuns", "ListSteps"})
NO_BOTOCORE_RETRIES = {"retries": {"mode": "standard", "max_attempts": 1}}
STATE_OF = {"failure": "FAILED", "cancel": "CANCELLED"}


class EmrDecisionSearch(RuleBasedStateMachine):
    """One task instance of a DAG run, tried again and again under random faults."""

    service_name = "containers"

    @initialize(user_token=st.booleans(), aws_dedups=st.booleans())
    def start(self, user_token: bool, aws_dedups: bool) -> None:
        with_token = user_token and self.service_name != "steps"  # AddJobFlowSteps takes no token
        self.service = SERVICES[self.service_name]("nightly" if with_token else None, aws_dedups)
        self.backend = InMemoryStateBackend()
        self.try_number = 0
        self.epoch_start = 0  # how many jobs existed when the state was last reset
        self.reset_pending = False
        self.succeeded: list[str] | None = None

    @rule(crash=st.sampled_from(CRASHES), throttles=st.integers(0, 3))
    def a_try(self, crash: str, throttles: int) -> None:
        self.try_number += 1
        before = len(self.service.jobs())
        op = self.service.operator(crash)
        self.service.throttle(op, throttles)
        context = make_context(backend=self.backend, task_id="job", try_number=self.try_number)
        try:
            result = op.execute(context)
        except Crash:
            return
        except AssertionError:
            raise
        except Exception:  # a failed try: the job failed, or is still running after one poll
            return
        finally:
            if self.succeeded is not None:
                assert len(self.service.jobs()) == before, "a task that succeeded started another job"
        ids = self.service.result_jobs(result)
        states = {job.id: job for job in self.service.jobs()}
        for job_id in ids:
            assert states[job_id].state == self.service.done, f"{job_id} reported as a result is not done"
        if self.reset_pending and self.service.user_token is None:  # your token names its job for good
            created = [job.id for job in self.service.jobs()[self.epoch_start :]]
            assert set(ids) <= set(created), "a reset brought back the old job"
        if self.succeeded is not None:
            assert ids == self.succeeded
        self.reset_pending = False
        self.succeeded = ids

    @rule(ending=st.sampled_from(ENDINGS))
    def jobs_end(self, ending: str) -> None:
        """What AWS does meanwhile: every live job ends the same way (or, for steps, the first live step
        fails with ActionOnFailure=CONTINUE while the others run on)."""
        live = [job for job in self.service.jobs() if job.state in self.service.live]
        for n, job in enumerate(live):
            if ending == "gone":
                self.service.forget(job)
            elif ending == "success":
                self.service.set_state(job, self.service.done)
            elif ending == "continue_failure":
                if n == 0:
                    self.service.set_state(job, "FAILED")
            else:
                self.service.set_state(job, STATE_OF[ending])

    @rule()
    def reset_state(self) -> None:
        """The task's state is deleted after its jobs ended (REST delete, ``clear_on_success``)."""
        for job in self.service.jobs():
            if job.state in self.service.live:
                self.service.set_state(job, self.service.done)
        self.backend.task_store(dag_id="dag", run_id="run", task_id="job", map_index=-1).clear()
        self.epoch_start = len(self.service.jobs())
        self.reset_pending = True
        self.succeeded = None

    @invariant()
    def one_job_per_token(self) -> None:
        if not hasattr(self, "service"):
            return
        if self.service.user_token is not None and not self.service.aws_dedups:
            return  # moto starts a second run for your token after a reset; AWS would return the first
        tokens = self.service.tokens()
        assert len(tokens) == len(set(tokens)), f"a token was sent for two job runs: {tokens}"

    @invariant()
    def at_most_one_live_copy_per_incarnation(self) -> None:
        if not hasattr(self, "service"):
            return
        live = [job for job in self.service.jobs()[self.epoch_start :] if job.state in self.service.live]
        indices = [job.index for job in live]
        assert len(indices) == len(set(indices)), f"two live copies for one task instance: {live}"


def _case(service: str) -> Any:
    machine = type(f"EmrDecisionSearch_{service}", (EmrDecisionSearch,), {"service_name": service})
    machine.TestCase.settings = settings(
        max_examples=int(os.environ.get("RESUMABLE_EMR_SEARCH_EXAMPLES", "6")),
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return machine.TestCase


@pytest.mark.usefixtures("aws")
class TestServerlessSearch(_case("serverless")):  # type: ignore[misc]
    pass


@pytest.mark.usefixtures("aws")
class TestContainersSearch(_case("containers")):  # type: ignore[misc]
    pass


@pytest.mark.usefixtures("aws")
class TestStepsSearch(_case("steps")):  # type: ignore[misc]
    pass
