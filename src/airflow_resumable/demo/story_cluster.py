"""Story: an EMR cluster survives a worker lost right after RunJobFlow; the retry finds it by its tag."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_resumable.demo._local_aws import local_emr
from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

DAG_FILE = DAGS / "emr_cluster_reconnect.py"
LINE = re.compile(r"DEMO operator=\w+ try=(\d+) job_flow_id=(\S+)")
CASES = (
    # dag id, task id, cluster name, who, how many clusters should be up afterwards
    ("demo_emr_cluster_reconnect", "resumable", "demo-nightly-resumable", "airflow-resumable's operator", 1),
    ("demo_emr_cluster_provider", "provider", "demo-nightly-provider", "the provider's own operator", 2),
)


def _clusters_up(emr: Any, name: str) -> list[str]:
    # Every page: ListClusters answers 50 clusters at a time, and the local EMR may hold other clusters.
    pages = emr.get_paginator("list_clusters").paginate(
        ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
    )
    return [c["Id"] for page in pages for c in page["Clusters"] if c["Name"] == name]


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    say("EMR here is moto's local EMR API on 127.0.0.1, reached by the provider's real EmrHook through")
    say("the aws_default connection. RunJobFlow takes no idempotency token: a retry that does not know")
    say("what try 1 requested pays for a whole second cluster.")
    ok = True
    with local_emr() as emr:
        for dag_id, task_id, name, who, expected in CASES:
            before = set(_clusters_up(emr, name))  # the local EMR is process-wide: count this run's only
            result = sandbox.run_dag(DAG_FILE, dag_id=dag_id)
            say(f"{who}:")
            first: str | None = None
            for try_number, job_flow_id in LINE.findall(result.output):
                if try_number == "1":
                    first = job_flow_id
                    say(f"  try 1: EMR accepted RunJobFlow ({job_flow_id}), then the worker was lost")
                else:
                    same = "the cluster try 1 requested" if job_flow_id == first else "a second cluster"
                    say(f"  try {try_number}: returned {job_flow_id} ({same})")
            up = [cluster for cluster in _clusters_up(emr, name) if cluster not in before]
            say(f"  task states per try: {result.states(task_id)}; clusters up and billing: {len(up)}")
            ok = ok and result.state == "success" and len(up) == expected
    return ok


STORY = Story(
    order=36,
    title="An EMR cluster survives a worker lost right after RunJobFlow",
    run=run,
    requires=("airflow.providers.amazon", "moto.server"),
)
