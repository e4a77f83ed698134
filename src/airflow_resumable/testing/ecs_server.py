"""A local stand-in for Amazon ECS tasks (and their CloudWatch log streams): real HTTP on 127.0.0.1.

[`FakeEcs`][airflow_resumable.testing.ecs_server.FakeEcs] speaks the AWS JSON 1.1 protocol of the ECS
API (``RunTask``, ``DescribeTasks``, ``ListTasks``, ``StopTask``, ``CreateCluster``,
``RegisterTaskDefinition``) and of CloudWatch Logs (``GetLogEvents``), so the Amazon provider's own
``EcsHook``, ``EcsRunTaskOperator``, its log fetcher and its deferrable ``TaskDoneTrigger`` (aiobotocore)
talk to it through an ordinary Airflow connection whose ``endpoint_url`` points here:

```python
with FakeEcs() as ecs:
    os.environ.update(ecs.environ("aws_default"))
    ecs.add_cluster("jobs")
    ecs.add_task_definition("etl", containers=["app"])
    ecs.scripts.append(["RUNNING", "STOPPED:1"])     # the next task exits with code 1
    ...                                                # run a DAG
    assert len(ecs.tasks) == 2
```

What it models, from the ECS API reference (moto 5.2.5 does none of the first three):

- ``RunTask`` idempotency: a ``clientToken`` repeated within ``token_ttl`` (24 hours on AWS) on the same
  cluster with the same parameters returns the task it started then; with other parameters it is refused
  (``ConflictException`` carrying ``resourceIds``). Tokens are kept per cluster. botocore fills in a random
  token when the caller gives none, as the AWS SDKs do.
- ``DescribeTasks`` of a task ECS no longer knows (a stopped task is kept "for at least one hour") answers
  a ``failures`` entry with reason ``MISSING``, not an error; so does an unknown ARN.
- Each task follows a *script* of steps, one per ``DescribeTasks`` that shows it (the last step stays):
  a ``lastStatus`` (``"PENDING"``, ``"RUNNING"``...), ``"STOPPED:<exit code>"`` (``"STOPPED:0"``: success),
  ``"STOPPED:TaskFailedToStart"``, or ``"GONE"``: ECS forgets the task there. ``StopTask`` stops a task at
  once (``stopCode`` ``UserInitiated``, exit code 143).
- ``ListTasks`` filters by cluster, ``startedBy``, ``family`` and ``desiredStatus`` (default ``RUNNING``).

It is not ECS: nothing runs, there is no auth or placement, unknown clusters are refused
(``ClusterNotFoundException``) and only the fields the provider reads are returned.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeEcs", "FakeTask"]

ACCOUNT_ID = "123456789012"
GONE = "GONE"
DEFAULT_SCRIPT = ("RUNNING", "STOPPED:0")
_ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
_LOGS_PREFIX = "Logs_20140328."
_ACTIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING")


class _ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra


@dataclass
class FakeTask:
    """One task started on the server: the request that started it and where its script stands."""

    arn: str
    cluster: str
    family: str
    request: dict[str, Any]
    containers: list[str]
    script: list[str]
    created_at: float = field(default_factory=time.time)
    describes: int = 0
    """How many ``DescribeTasks`` answers have shown this task."""
    stopped_by: str | None = None
    """The ``reason`` of a ``StopTask`` call, once one stopped it."""
    logs: list[str] = field(default_factory=list)
    """What the task's containers wrote to their ``awslogs`` stream (``<prefix>/<container>/<task id>``)."""

    @property
    def step(self) -> str:
        """The script step the next ``DescribeTasks`` shows."""
        if self.stopped_by is not None:
            return "STOPPED:143"
        return self.script[min(self.describes, len(self.script) - 1)]

    @property
    def gone(self) -> bool:
        """True once ECS no longer knows the task (its script reached ``GONE``)."""
        return self.step == GONE

    @property
    def desired_status(self) -> str:
        return "STOPPED" if self.step.startswith("STOPPED") or self.gone else "RUNNING"

    def describe(self, region: str) -> dict[str, Any]:
        """The task as ``DescribeTasks`` (and ``RunTask``) show it now."""
        step = self.step
        last, _, detail = step.partition(":")
        cluster_arn = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:cluster/{self.cluster}"
        containers: list[dict[str, Any]] = [
            {
                "name": name,
                "containerArn": f"{cluster_arn}/container/{name}",
                "taskArn": self.arn,
                "lastStatus": last,
            }
            for name in self.containers
        ]
        task: dict[str, Any] = {
            "taskArn": self.arn,
            "clusterArn": cluster_arn,
            "taskDefinitionArn": f"arn:aws:ecs:{region}:{ACCOUNT_ID}:task-definition/{self.family}",
            "lastStatus": last,
            "desiredStatus": self.desired_status,
            "startedBy": self.request.get("startedBy", ""),
            "group": self.request.get("group") or f"family:{self.family.split(':')[0]}",
            "launchType": self.request.get("launchType", ""),
            "overrides": self.request.get("overrides") or {},
            "createdAt": self.created_at,
            "containers": containers,
            "tags": self.request.get("tags") or [],
        }
        if last == "STOPPED":
            task["stoppedAt"] = time.time()
            if self.stopped_by is not None:
                task.update(stopCode="UserInitiated", stoppedReason=self.stopped_by)
            elif detail == "TaskFailedToStart":
                task.update(stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError: no image")
                for container in containers:
                    container["reason"] = "CannotPullContainerError: no image"
            else:
                task.update(stopCode="EssentialContainerExited", stoppedReason="Essential container exited")
            if detail.lstrip("-").isdigit():
                for container in containers:
                    container["exitCode"] = int(detail)
        return task


class FakeEcs:
    """A local ECS (tasks) and CloudWatch Logs (``GetLogEvents``) endpoint; a context manager.

    ``scripts`` is a queue of scripts for the next tasks (``DEFAULT_SCRIPT`` when empty: running, then
    exited 0); ``tasks`` every task started, oldest first; ``requests`` every ``(operation, body)`` received.
    """

    def __init__(self, *, region: str = "us-east-1", token_ttl: float = 24 * 3600) -> None:
        self.region = region
        self.token_ttl = token_ttl
        self.scripts: list[list[str]] = []
        self.tasks: list[FakeTask] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.clusters: set[str] = set()
        self.task_definitions: dict[str, list[str]] = {}
        self.logs: dict[tuple[str, str], list[str]] = {}
        """``(log group, stream) -> messages``: what ``GetLogEvents`` serves, besides the tasks' own logs."""
        self.task_logs: list[str] = []
        """The log lines every new task writes (served for any stream whose name ends with its task id)."""
        self._tokens: dict[tuple[str, str], tuple[float, str, list[str], dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> FakeEcs:
        """Listen on a free port of 127.0.0.1 (a daemon thread serves requests)."""
        handler = type("Handler", (_Handler,), {"ecs": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeEcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeEcs is not started: call start() or use it as a context manager.")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def environ(self, conn_id: str = "aws_default") -> dict[str, str]:
        """Environment variables defining ``conn_id`` as an AWS connection to this server."""
        conn = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.url, "region_name": self.region},
        }
        return {
            f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    # -- set-up and reading ----------------------------------------------------------------------------------
    def add_cluster(self, name: str) -> str:
        with self._lock:
            self.clusters.add(name)
        return name

    def add_task_definition(self, family: str, containers: list[str] | tuple[str, ...] = ("app",)) -> str:
        """Register ``family`` (revision 1) with these container names; returns ``family:1``."""
        with self._lock:
            self.task_definitions[family] = list(containers)
        return f"{family}:1"

    def task(self, arn: str) -> FakeTask:
        with self._lock:
            for task in self.tasks:
                if task.arn == arn:
                    return task
        raise KeyError(arn)

    def tasks_of(self, *, started_by: str | None = None, family: str | None = None) -> list[FakeTask]:
        """The tasks started with this ``startedBy`` / task definition family (what a run paid for)."""
        with self._lock:
            return [
                t
                for t in self.tasks
                if (started_by is None or t.request.get("startedBy") == started_by)
                and (family is None or t.family.split(":")[0] == family)
            ]

    def forget(self, arn: str) -> None:
        """ECS no longer knows the task (``DescribeTasks``: ``MISSING``); its token is forgotten too."""
        task = self.task(arn)
        with self._lock:
            task.script, task.describes, task.stopped_by = [GONE], 0, None
            self._tokens = {k: v for k, v in self._tokens.items() if v[2] != [arn]}

    def set_script(self, arn: str, script: list[str]) -> None:
        """Make the task follow ``script`` from its next ``DescribeTasks`` on."""
        task = self.task(arn)
        with self._lock:
            task.script, task.describes = list(script), 0

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """The bodies of every ``operation`` request received, in order."""
        with self._lock:
            return [body for op, body in self.requests if op == operation]

    # -- the API -------------------------------------------------------------------------------------------
    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append((operation, body))
            method = getattr(self, f"_op_{operation}", None)
            if method is None:
                raise _ApiError("UnknownOperationException", f"{operation} is not served by FakeEcs")
            return method(body)  # type: ignore[no-any-return]

    def _cluster(self, body: dict[str, Any]) -> str:
        name = str(body.get("cluster") or "default").rsplit("/", 1)[-1]
        if name not in self.clusters:
            raise _ApiError("ClusterNotFoundException", "Cluster not found.")
        return name

    def _op_CreateCluster(self, body: dict[str, Any]) -> dict[str, Any]:
        name = self.add_cluster(str(body.get("clusterName") or "default"))
        arn = f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:cluster/{name}"
        return {"cluster": {"clusterName": name, "clusterArn": arn, "status": "ACTIVE"}}

    def _op_RegisterTaskDefinition(self, body: dict[str, Any]) -> dict[str, Any]:
        family = str(body["family"])
        revision = self.add_task_definition(family, [c["name"] for c in body.get("containerDefinitions", [])])
        return {
            "taskDefinition": {
                "family": family,
                "revision": 1,
                "status": "ACTIVE",
                "taskDefinitionArn": f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task-definition/{revision}",
            }
        }

    def _op_RunTask(self, body: dict[str, Any]) -> dict[str, Any]:
        cluster = self._cluster(body)
        token = body.get("clientToken")
        request = {k: v for k, v in body.items() if k != "clientToken"}
        fingerprint = json.dumps(request, sort_keys=True)
        now = time.time()
        if token:
            seen = self._tokens.get((cluster, token))
            if seen is not None and now - seen[0] < self.token_ttl:
                if seen[1] != fingerprint:
                    raise _ApiError(
                        "ConflictException",
                        "The clientToken is already in use with a different RunTask request.",
                        resourceIds=seen[2],
                    )
                return {"tasks": [self.task(arn).describe(self.region) for arn in seen[2]], "failures": []}
        family = str(body.get("taskDefinition", "")).rsplit("/", 1)[-1]
        containers = self.task_definitions.get(family.split(":")[0])
        if containers is None:
            raise _ApiError("ClientException", "TaskDefinition not found.")
        arn = f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:task/{cluster}/{uuid.uuid4().hex}"
        script = self.scripts.pop(0) if self.scripts else list(DEFAULT_SCRIPT)
        task = FakeTask(
            arn, cluster, family, request, list(containers), list(script), logs=list(self.task_logs)
        )
        self.tasks.append(task)
        if token:
            self._tokens[(cluster, token)] = (now, fingerprint, [arn], request)
        return {"tasks": [task.describe(self.region)], "failures": []}

    def _op_DescribeTasks(self, body: dict[str, Any]) -> dict[str, Any]:
        cluster = self._cluster(body)
        tasks, failures = [], []
        for ref in body.get("tasks") or []:
            found = [
                t for t in self.tasks if t.cluster == cluster and (t.arn == ref or t.arn.endswith(f"/{ref}"))
            ]
            if not found or found[0].gone:
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            tasks.append(found[0].describe(self.region))
            found[0].describes += 1
        return {"tasks": tasks, "failures": failures}

    def _op_ListTasks(self, body: dict[str, Any]) -> dict[str, Any]:
        cluster = self._cluster(body)
        desired = body.get("desiredStatus") or "RUNNING"
        family = body.get("family")
        arns = [
            t.arn
            for t in self.tasks
            if t.cluster == cluster
            and not t.gone
            and t.desired_status == desired
            and (body.get("startedBy") is None or t.request.get("startedBy") == body["startedBy"])
            and (family is None or t.family.split(":")[0] == family)
        ]
        return {"taskArns": arns}

    def _op_StopTask(self, body: dict[str, Any]) -> dict[str, Any]:
        cluster = self._cluster(body)
        ref = str(body.get("task"))
        for task in self.tasks:
            if (
                task.cluster == cluster
                and not task.gone
                and (task.arn == ref or task.arn.endswith(f"/{ref}"))
            ):
                if not task.step.startswith("STOPPED"):
                    task.stopped_by = str(body.get("reason") or "")
                return {"task": task.describe(self.region)}
        raise _ApiError("InvalidParameterException", "The referenced task was not found.")

    def _op_GetLogEvents(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("logGroupName")), str(body.get("logStreamName")))
        task_id = key[1].rsplit("/", 1)[-1]
        owners = [t for t in self.tasks if t.arn.endswith(f"/{task_id}") and t.logs]
        if key not in self.logs and not owners:
            raise _ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
        messages = self.logs[key] if key in self.logs else owners[0].logs
        start = int(str(body.get("nextToken") or "f/0").split("/")[-1])
        limit = int(body.get("limit") or 10000)
        if body.get("nextToken") is None and not body.get("startFromHead", False):
            start = max(0, len(messages) - limit)
        chosen = messages[start : start + limit]
        events = [
            {"timestamp": 1_000 * (i + 1), "message": m, "ingestionTime": 1_000 * (i + 1)}
            for i, m in enumerate(chosen, start)
        ]
        end = start + len(chosen)
        return {"events": events, "nextForwardToken": f"f/{end}", "nextBackwardToken": f"b/{start}"}


class _Handler(BaseHTTPRequestHandler):
    ecs: FakeEcs

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        target = self.headers.get("X-Amz-Target", "")
        operation = target.split(".", 1)[-1] if target.startswith((_ECS_PREFIX, _LOGS_PREFIX)) else target
        try:
            answer, status = self.ecs.handle(operation, json.loads(raw or b"{}")), 200
        except _ApiError as exc:
            answer, status = {"__type": exc.code, "message": exc.message, **exc.extra}, exc.status
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)
