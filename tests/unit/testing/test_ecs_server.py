"""``FakeEcs`` answers as the ECS API reference says ECS does, through a plain boto3 client."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_resumable.testing.ecs_server import FakeEcs

pytest.importorskip("boto3", reason="FakeEcs is exercised through boto3 (the amazon extra)")


@pytest.fixture
def ecs() -> Any:
    with FakeEcs() as server:
        server.add_cluster("jobs")
        server.add_task_definition("etl", ["app"])
        yield server


def _client(ecs: FakeEcs, service: str = "ecs") -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=ecs.url,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )


RUN = {"cluster": "jobs", "taskDefinition": "etl", "overrides": {}, "startedBy": "me", "launchType": "EC2"}


def test_a_repeated_client_token_returns_the_same_task_and_other_parameters_conflict(ecs):
    client = _client(ecs)
    first = client.run_task(**RUN, clientToken="t-1")["tasks"][0]["taskArn"]
    assert client.run_task(**RUN, clientToken="t-1")["tasks"][0]["taskArn"] == first
    with pytest.raises(client.exceptions.ConflictException) as conflict:
        client.run_task(**{**RUN, "group": "other"}, clientToken="t-1")
    assert conflict.value.response["resourceIds"] == [first]
    assert client.run_task(**RUN)["tasks"][0]["taskArn"] != first  # botocore's own random token
    assert len(ecs.tasks) == 2


def test_a_token_is_kept_per_cluster_and_for_token_ttl(ecs):
    ecs.add_cluster("other")
    client = _client(ecs)
    first = client.run_task(**RUN, clientToken="t-2")["tasks"][0]["taskArn"]
    assert client.run_task(**{**RUN, "cluster": "other"}, clientToken="t-2")["tasks"][0]["taskArn"] != first
    ecs.token_ttl = 0.0
    assert client.run_task(**RUN, clientToken="t-2")["tasks"][0]["taskArn"] != first


def test_tasks_follow_their_script_and_a_forgotten_one_is_missing(ecs):
    client = _client(ecs)
    ecs.scripts.append(["PENDING", "STOPPED:2"])
    arn = client.run_task(**RUN)["tasks"][0]["taskArn"]
    seen = [client.describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0] for _ in range(3)]
    assert [t["lastStatus"] for t in seen] == ["PENDING", "STOPPED", "STOPPED"]
    assert seen[-1]["containers"][0]["exitCode"] == 2 and seen[-1]["desiredStatus"] == "STOPPED"
    assert client.list_tasks(cluster="jobs", startedBy="me")["taskArns"] == []
    assert client.list_tasks(cluster="jobs", startedBy="me", desiredStatus="STOPPED")["taskArns"] == [arn]
    ecs.forget(arn)
    assert client.describe_tasks(cluster="jobs", tasks=[arn]) | {"ResponseMetadata": None} == {
        "tasks": [],
        "failures": [{"arn": arn, "reason": "MISSING"}],
        "ResponseMetadata": None,
    }
    with pytest.raises(client.exceptions.ClusterNotFoundException):
        client.describe_tasks(cluster="nowhere", tasks=[arn])


def test_stop_task_and_task_logs(ecs):
    client = _client(ecs)
    ecs.task_logs = ["one", "two", "three"]
    arn = client.run_task(**RUN)["tasks"][0]["taskArn"]
    stopped = client.stop_task(cluster="jobs", task=arn, reason="enough")["task"]
    assert (stopped["lastStatus"], stopped["stopCode"], stopped["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "enough",
    )
    logs = _client(ecs, "logs")
    stream = f"ecs/app/{arn.rsplit('/', 1)[-1]}"
    last = logs.get_log_events(logGroupName="/ecs", logStreamName=stream, startFromHead=False, limit=2)
    assert [e["message"] for e in last["events"]] == ["two", "three"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="/ecs", logStreamName="ecs/app/unknown")
