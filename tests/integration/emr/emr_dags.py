"""Builds the test DAG files for the EMR crash matrix, and reads back what their runs did.

Every EMR task has ``retries=1, retry_delay=0``; its operator is a subclass of the library's operator in
two layers:

- ``Remote`` stands for the AWS side: a job (or step) runs until someone polls it and finishes 0.3 s later
  (moto would otherwise leave EMR on EKS jobs and steps running forever, and finish EMR Serverless jobs
  before anyone looks);
- ``Op`` holds the crash of the test, on try 1 only, raised *after* or *before* calling ``super()``.

In deferrable mode the provider's own trigger waits on the job: ``dag.test()`` runs it inline, and its
aiobotocore client reaches moto through the same ``aws_default`` connection (``endpoint_url`` extra). The
job's end is driven from the ``defer()`` of the test operator: at once, or (``aws.after_async_poll``) once
the trigger has seen it running.

Nothing patches the provider's hooks: every AWS call is a real boto3 call to the local moto server.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

import moto_server

TEMPLATE = """
from datetime import timedelta

from airflow.sdk import dag, get_current_context

import moto_server as aws
from airflow_resumable.jobs.emr import {operator}


def first_try():
    return get_current_context()["ti"].try_number == 1


def now(fn, *args):
    fn(*args)


class Remote({operator}):
    def execute(self, context, *args, **kwargs):
        print(f"TASK-TRY {{self.task_id}} {{context['ti'].try_number}}")
        return super().execute(context, *args, **kwargs)

    def decide(self, context):
        decision = super().decide(context)
        print(f"RESUME-DECISION {{decision.action.name.lower()}}")
        return decision

{remote}


{classes}

@dag(dag_id="{dag_id}", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def emr_dag():
{tasks}


emr_dag()
"""


@dataclass(frozen=True)
class Service:
    """How to build, run and inspect one EMR service's test DAG."""

    operator: str
    remote: str
    key: str
    fail: str
    """Statement(s) that make ``external_id`` fail on AWS now."""
    finish: str
    """Statement(s) that make ``external_id`` succeed on AWS now."""
    forget: str
    """Statement(s) that make AWS forget ``external_id``."""
    finish_deferred: str
    """``fn, *args`` that make the job a trigger waits on succeed (``args`` is the trigger's waiter_args)."""
    fail_deferred: str
    """``fn, *args`` that make the job a trigger waits on fail."""

    def dag(self, tasks: dict[str, tuple[str, str]], dag_id: str = "emr") -> str:
        """A DAG with one independent EMR task per entry: ``task_id -> (class body, operator kwargs)``."""
        classes, calls = [], []
        for number, (task_id, (body, kwargs)) in enumerate(tasks.items()):
            body = textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
            classes.append(f"class Op{number}(Remote):\n{body}\n")
            calls.append(f'    Op{number}(task_id="{task_id}", {kwargs})')
        return TEMPLATE.format(
            operator=self.operator,
            remote=textwrap.indent(textwrap.dedent(self.remote).strip(), "    "),
            classes="\n\n".join(classes),
            tasks="\n".join(calls),
            dag_id=dag_id,
        )


SERVERLESS = Service(
    operator="EmrServerlessStartJobOperator",
    remote="""
        def submit_job(self, context):
            job_id = super().submit_job(context)
            aws.set_serverless_state(self.application_id, job_id, "RUNNING")
            return job_id

        def poll_until_complete(self, external_id, context):
            aws.set_serverless_state(self.application_id, external_id, "SUCCESS")
            return super().poll_until_complete(external_id, context)
    """,
    key="emr_serverless_job_run_id",
    fail='aws.set_serverless_state(self.application_id, external_id, "FAILED")',
    finish='aws.set_serverless_state(self.application_id, external_id, "SUCCESS")',
    forget="aws.forget_serverless_job_run(self.application_id, external_id)",
    finish_deferred='aws.set_serverless_state, args["applicationId"], args["jobRunId"], "SUCCESS"',
    fail_deferred='aws.set_serverless_state, args["applicationId"], args["jobRunId"], "FAILED"',
)

CONTAINERS = Service(
    operator="EmrContainerOperator",
    remote="""
        def poll_until_complete(self, external_id, context):
            aws.set_containers_state(external_id, "COMPLETED")
            return super().poll_until_complete(external_id, context)
    """,
    key="emr_containers_job_run_id",
    fail='aws.set_containers_state(external_id, "FAILED")',
    finish='aws.set_containers_state(external_id, "COMPLETED")',
    forget="aws.forget_containers_job_run(external_id)",
    finish_deferred='aws.set_containers_state, args["id"], "COMPLETED"',
    fail_deferred='aws.set_containers_state, args["id"], "FAILED"',
)

STEPS = Service(
    operator="EmrAddStepsOperator",
    remote="""
        def poll_until_complete(self, external_id, context):
            aws.complete_steps(external_id["job_flow_id"], external_id["step_ids"])
            return super().poll_until_complete(external_id, context)
    """,
    key="emr_step_ids",
    fail='aws.fail_first_step(external_id["job_flow_id"], external_id["step_ids"])',
    finish='aws.complete_steps(external_id["job_flow_id"], external_id["step_ids"])',
    forget='aws.forget_steps(external_id["job_flow_id"], external_id["step_ids"])',
    finish_deferred='aws.complete_steps, args["ClusterId"], args["StepIds"]',
    fail_deferred='aws.fail_first_step, args["ClusterId"], args["StepIds"]',
)


def serverless_kwargs(application_id: str, extra: str = "") -> str:
    return (
        f'application_id="{application_id}", execution_role_arn="{moto_server.ROLE_ARN}", '
        'job_driver={"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}}, '
        f"waiter_delay=1, waiter_max_attempts=10{extra}"
    )


def containers_kwargs(virtual_cluster_id: str, extra: str = "") -> str:
    return (
        f'name="nightly-report", virtual_cluster_id="{virtual_cluster_id}", '
        f'execution_role_arn="{moto_server.ROLE_ARN}", release_label="emr-6.10.0-latest", '
        'job_driver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}}, '
        f"poll_interval=1, max_polling_attempts=10{extra}"
    )


STEP_LIST = [
    {
        "Name": f"step-{i}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://bucket/step{i}.py"]},
    }
    for i in range(3)
]


def steps_kwargs(cluster_id: str, extra: str = "", steps: list[dict[str, Any]] | None = None) -> str:
    return (
        f'job_flow_id="{cluster_id}", steps={steps or STEP_LIST!r}, '
        f"wait_for_completion=True, waiter_delay=1, waiter_max_attempts=10{extra}"
    )


# -- reading a run back -----------------------------------------------------------------------------------
DECISION = re.compile(r"RESUME-DECISION (\w+)")
TASK_START = re.compile(r"TASK-TRY (\S+) \d+")


def task_outputs(output: str) -> dict[str, str]:
    """The output of a run, split by EMR task (``dag.test()`` runs one task at a time; tries say which)."""
    parts: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        started = TASK_START.search(line)
        if started:
            current = started.group(1)
        if current is not None:
            parts.setdefault(current, []).append(line)
    return {task_id: "\n".join(lines) for task_id, lines in parts.items()}


def decisions(output: str) -> list[str]:
    """The decision of each try (``fresh``, ``reconnect``, ``already_succeeded``, ``resubmit``), in order."""
    return DECISION.findall(output)


def return_values(dag_id: str, run_id: str) -> dict[str, Any]:
    """What each task of a run returned (its ``return_value`` XCom), read from the metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
        )
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}
