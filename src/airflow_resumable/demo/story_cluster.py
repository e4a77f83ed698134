"""Story: an EMR cluster survives a worker lost right after RunJobFlow; the retry finds it by its tag."""

from __future__ import annotations

import json
import logging
import os
import re
from typing import TYPE_CHECKING, Any

from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

DAG_FILE = DAGS / "emr_cluster_reconnect.py"
CONN = "AIRFLOW_CONN_AWS_DEFAULT"
LINE = re.compile(r"DEMO operator=\w+ try=(\d+) job_flow_id=(\S+)")
CASES = (
    # dag id, task id, cluster name, who, how many clusters should be up afterwards
    ("demo_emr_cluster_reconnect", "resumable", "demo-nightly-resumable", "airflow-resumable's operator", 1),
    ("demo_emr_cluster_provider", "provider", "demo-nightly-provider", "the provider's own operator", 2),
)


def _local_emr() -> tuple[Any, str, Any]:
    """A moto server on 127.0.0.1: (server, endpoint url, boto3 EMR client)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    emr = boto3.client(
        "emr",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    return server, url, emr


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
    server, url, emr = _local_emr()
    previous = os.environ.get(CONN)
    os.environ[CONN] = json.dumps(
        {
            "conn_type": "aws",
            "login": "demo",
            "password": "demo",
            "extra": {"endpoint_url": url, "region_name": "us-east-1"},
        }
    )
    ok = True
    try:
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
    finally:
        if previous is None:
            os.environ.pop(CONN, None)
        else:
            os.environ[CONN] = previous
        server.stop()
    return ok


STORY = Story(
    order=36,
    title="An EMR cluster survives a worker lost right after RunJobFlow",
    run=run,
    requires=("airflow.providers.amazon", "moto.server"),
)
