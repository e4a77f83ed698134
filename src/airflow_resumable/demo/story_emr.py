"""Story: EMR steps survive a worker lost right after AddJobFlowSteps; the retry finds them by marker."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_resumable.demo._local_aws import local_emr
from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

DAG_FILE = DAGS / "emr_steps_reconnect.py"
LINE = re.compile(r"DEMO operator=\w+ try=(\d+) step_ids=(\S+)")
CASES = (
    # dag id, task id, who, how many steps the cluster should hold afterwards
    ("demo_emr_steps_reconnect", "resumable", "airflow-resumable's operator", 2),
    ("demo_emr_steps_provider", "provider", "the provider's own operator", 4),
)


def _new_cluster(emr: Any, name: str) -> str:
    return str(
        emr.run_job_flow(
            Name=name,
            ReleaseLabel="emr-7.1.0",
            Instances={
                "InstanceCount": 1,
                "MasterInstanceType": "m5.xlarge",
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
    )


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    say("EMR here is moto's local EMR API on 127.0.0.1, reached by the provider's real EmrHook")
    say("through the aws_default connection; its steps stay PENDING, so the task does not wait for them.")
    ok = True
    with local_emr() as emr:
        for dag_id, task_id, who, expected in CASES:
            cluster = _new_cluster(emr, dag_id)
            result = sandbox.run_dag(DAG_FILE, dag_id=dag_id, run_conf={"cluster_id": cluster})
            say(f"{who}:")
            first: str | None = None
            for try_number, step_ids in LINE.findall(result.output):
                if try_number == "1":
                    first = step_ids
                    say(f"  try {try_number}: added steps {step_ids}, then the worker was lost")
                else:
                    same = "the steps try 1 added" if step_ids == first else "new steps: the same work again"
                    say(f"  try {try_number}: returned {step_ids} ({same})")
            names = [step["Name"] for step in emr.list_steps(ClusterId=cluster)["Steps"]]
            say(f"  task states per try: {result.states(task_id)}; steps on the cluster: {len(names)}")
            ok = ok and result.state == "success" and len(names) == expected
    return ok


STORY = Story(
    order=35,
    title="EMR steps survive a worker lost right after AddJobFlowSteps",
    run=run,
    requires=("airflow.providers.amazon", "moto.server"),
)
