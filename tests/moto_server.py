"""A real local AWS endpoint for the EMR tests: moto's ThreadedMotoServer on 127.0.0.1, a free port.

The Amazon provider's own hooks talk to it through an ordinary Airflow connection
(``AIRFLOW_CONN_AWS_DEFAULT`` with ``extra.endpoint_url``), exactly as they would talk to AWS. The server
runs in the test process, so a test (or a test DAG, which ``dag.test()`` also runs in this process) can
move a job to another state through moto's in-process backends, standing in for time passing on AWS.

What moto 5.2.5 does on its own: EMR Serverless job runs are ``SUCCESS`` at once; EMR on EKS job runs
stay ``RUNNING`` and EMR steps ``PENDING``/``RUNNING`` until changed; ``clientToken`` is not honoured
(the same token gives a new job run).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/emr-job-role"

_lock = threading.Lock()
_server: Any = None
_endpoint: str | None = None


class _AsyncClientWatch:
    """WSGI middleware that notes the requests made by async clients (aiobotocore: the providers' triggers).

    A request counts once moto has answered it, so a callback registered with :func:`after_async_poll`
    runs after the trigger has seen the state it asked about.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[str] = []
        self.callbacks: list[tuple[Any, tuple[Any, ...]]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "aiobotocore" not in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        import io

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        response = self.app(environ, start_response)  # moto has read (and answered from) its state here
        with self.lock:
            self.requests.append(f"{environ.get('PATH_INFO', '')} {body.decode(errors='replace')}")
            callbacks, self.callbacks = self.callbacks, []
        for fn, args in callbacks:
            fn(*args)
        return response


_watch: _AsyncClientWatch | None = None


def endpoint() -> str:
    """Start the shared server once per process and return its URL."""
    global _server, _endpoint
    with _lock:
        if _endpoint is None:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from moto.server import ThreadedMotoServer
            from werkzeug.serving import make_server

            class WatchedMotoServer(ThreadedMotoServer):
                def _server_entry(self) -> None:  # ThreadedMotoServer's, with the app wrapped
                    global _watch
                    _watch = _AsyncClientWatch(DomainDispatcherApplication(create_backend_app))
                    self._server = make_server(
                        self._ip_address, self._port, _watch, True, request_handler=MotoRequestHandler
                    )
                    self._server_ready_event.set()
                    self._server.serve_forever()

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            _server = WatchedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            _server.start()
            host, port = _server.get_host_and_port()
            _endpoint = f"http://{host}:{port}"
        return _endpoint


def aws_env() -> dict[str, str]:
    """Environment that points ``aws_default`` (and plain boto3) at the local server."""
    url = endpoint()
    conn = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": url, "region_name": REGION},
    }
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


@contextmanager
def aws_environment() -> Iterator[str]:
    """Set :func:`aws_env` for the block, restoring the previous values after."""
    env = aws_env()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield endpoint()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client(service: str) -> Any:
    """A plain boto3 client on the local server (for setting up and counting, not for the code under test)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint(),
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# -- what a client sent ------------------------------------------------------------------------------
class Requests:
    """The AWS API calls one operator's client makes from now on, in order: ``[(operation, params)]``.

    Read with a botocore event hook (``provide-client-params``: the API parameters exactly as the
    provider's hook passed them) on the operator's own client; nothing in the hook is replaced.
    """

    def __init__(self, op: Any, service: str) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        op.hook.conn.meta.events.register(f"provide-client-params.{service}", self._note)

    def _note(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        import copy

        self.calls.append((model.name, copy.deepcopy(params)))

    def names(self) -> list[str]:
        """The operation names, in order."""
        return [name for name, _ in self.calls]

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``operation``, in order."""
        return [params for name, params in self.calls if name == operation]


def honour_client_tokens(op: Any) -> None:
    """Make ``op``'s client see what AWS does and moto does not: ``StartJobRun`` with a ``clientToken``
    that was used before returns the job run it started then (EMR on EKS and EMR Serverless)."""

    def existing(params: dict[str, Any], model: Any, **_: Any) -> Any:
        body = json.loads(params["body"] or b"{}")
        token = body.get("clientToken")
        if model.service_model.service_name == "emr-containers":
            runs = [r for r in _containers_backend().job_runs.values() if r.client_token == token]
            answer = {"id": runs[0].id, "name": runs[0].name, "arn": runs[0].arn} if runs else None
            if answer:
                answer["virtualClusterId"] = runs[0].virtual_cluster_id
        else:
            application_id = params["url_path"].split("/")[2]  # /applications/{applicationId}/jobruns
            runs = [r for r in serverless_job_runs(application_id) if r.client_token == token]
            answer = (
                {"applicationId": application_id, "jobRunId": runs[0].id, "arn": runs[0].arn}
                if runs
                else None
            )
        if answer is None:
            return None

        class Response:
            status_code = 200

        return Response(), {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    service = op.hook.conn.meta.service_model.service_name
    op.hook.conn.meta.events.register(f"before-call.{service}.StartJobRun", existing)


def api_calls(op: Any, service: str) -> list[str]:
    """A live list of the names of the API calls ``op``'s client makes from now on."""
    calls: list[str] = []
    op.hook.conn.meta.events.register(
        f"provide-client-params.{service}", lambda model, **_: calls.append(model.name)
    )
    return calls


# -- resources ---------------------------------------------------------------------------------------
def _unique(prefix: str) -> str:
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_serverless_application(name: str | None = None) -> str:
    return str(
        client("emr-serverless").create_application(
            name=name or _unique("app"), releaseLabel="emr-6.6.0", type="SPARK"
        )["applicationId"]
    )


def create_virtual_cluster(namespace: str | None = None) -> str:
    namespace = namespace or _unique("ns")
    return str(
        client("emr-containers").create_virtual_cluster(
            name=f"vc-{namespace}",
            containerProvider={"id": "eks", "type": "EKS", "info": {"eksInfo": {"namespace": namespace}}},
        )["id"]
    )


def create_cluster(name: str | None = None) -> str:
    name = name or _unique("cluster")
    return str(
        client("emr").run_job_flow(
            Name=name,
            ReleaseLabel="emr-6.10.0",
            Instances={
                "InstanceCount": 1,
                "MasterInstanceType": "m5.xlarge",
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
    )


# -- what exists on the "AWS" side --------------------------------------------------------------------
def _serverless_backend() -> Any:
    from moto.emrserverless.models import emrserverless_backends

    return emrserverless_backends[ACCOUNT_ID][REGION]


def _containers_backend() -> Any:
    from moto.emrcontainers.models import emrcontainers_backends

    return emrcontainers_backends[ACCOUNT_ID][REGION]


def _emr_backend() -> Any:
    from moto.emr.models import emr_backends

    return emr_backends[ACCOUNT_ID][REGION]


def serverless_job_runs(application_id: str) -> list[Any]:
    """Every job run started on the application, oldest first (moto's model objects)."""
    return list(_serverless_backend().job_runs.get(application_id, []))


def containers_job_runs(virtual_cluster_id: str) -> list[Any]:
    """Every job run started on the virtual cluster, oldest first (moto's model objects)."""
    runs = _containers_backend().job_runs.values()
    return [run for run in runs if run.virtual_cluster_id == virtual_cluster_id]


def cluster_steps(cluster_id: str) -> list[Any]:
    """Every step added to the cluster, oldest first (moto's model objects)."""
    return list(_emr_backend().clusters[cluster_id].steps)


def set_serverless_state(application_id: str, job_run_id: str, state: str) -> None:
    for run in serverless_job_runs(application_id):
        if run.id == job_run_id:
            run.state = state
            return
    raise KeyError(job_run_id)


def set_containers_state(job_run_id: str, state: str) -> None:
    _containers_backend().job_runs[job_run_id].state = state


def set_step_state(cluster_id: str, step_id: str, state: str) -> None:
    for step in cluster_steps(cluster_id):
        if step.id == step_id:
            step.state = state
            return
    raise KeyError(step_id)


def async_requests(resource_id: str) -> list[str]:
    """The requests async clients (the providers' triggers) made about ``resource_id``: path and body."""
    assert _watch is not None, "the server is not running"
    with _watch.lock:
        return [request for request in _watch.requests if resource_id in request]


def after_async_poll(fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` once the next request of an async client has been answered.

    Stands for a job that finishes while a trigger waits on it: the trigger's first poll sees the job
    still running, the next one sees it finished.
    """
    assert _watch is not None, "the server is not running"
    with _watch.lock:
        _watch.callbacks.append((fn, args))


def later(seconds: float, fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` on a timer thread: a remote job that changes state while someone polls it."""
    timer = threading.Timer(seconds, fn, args)
    timer.daemon = True
    timer.start()


def set_cluster_state(cluster_id: str, state: str) -> None:
    """Move a cluster to ``state`` (e.g. ``RUNNING`` while it works on steps)."""
    _emr_backend().clusters[cluster_id].state = state


def complete_steps(cluster_id: str, step_ids: list[str], state: str = "COMPLETED") -> None:
    for step_id in step_ids:
        set_step_state(cluster_id, step_id, state)


def fail_first_step(cluster_id: str, step_ids: list[str]) -> None:
    """The first step fails, the others (``ActionOnFailure=CONTINUE``) run on and complete."""
    complete_steps(cluster_id, step_ids[1:])
    set_step_state(cluster_id, step_ids[0], "FAILED")


@contextmanager
def job_run_times_like_aws() -> Iterator[None]:
    """While the block runs, EMR Serverless and EMR on EKS job runs carry their creation time as AWS
    reports it (``createdAt`` to the microsecond; moto 5.2.5 rounds it down to midnight UTC).

    Done in moto's model (the service side): every job run created in the block is stamped when it is
    created; the providers' hooks and their calls are untouched.
    """
    from moto.core.utils import utcnow
    from moto.emrcontainers.models import JobRun as ContainersJobRun
    from moto.emrserverless.models import JobRun as ServerlessJobRun

    originals = {cls: cls.__init__ for cls in (ContainersJobRun, ServerlessJobRun)}

    def stamped(original: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self.created_at = utcnow()
            if hasattr(self, "updated_at"):
                self.updated_at = self.created_at

        return __init__

    for cls, original in originals.items():
        cls.__init__ = stamped(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.__init__ = original  # type: ignore[method-assign]


def backdate_job_run(run: Any, *, hours: float) -> None:
    """Make a job run (moto's model object) look created ``hours`` earlier: a run of an earlier day."""
    from datetime import timedelta

    run.created_at -= timedelta(hours=hours)
    if hasattr(run, "updated_at"):
        run.updated_at -= timedelta(hours=hours)


def forget_serverless_job_run(application_id: str, job_run_id: str) -> None:
    """Remove a job run, as if AWS no longer knew it (expired history, deleted application)."""
    runs = _serverless_backend().job_runs[application_id]
    runs[:] = [run for run in runs if run.id != job_run_id]


def forget_containers_job_run(job_run_id: str) -> None:
    """Remove a job run, as if AWS no longer knew it."""
    del _containers_backend().job_runs[job_run_id]


def forget_steps(cluster_id: str, step_ids: list[str]) -> None:
    """Remove steps from the cluster's history, as if EMR no longer knew them."""
    steps = _emr_backend().clusters[cluster_id].steps
    steps[:] = [step for step in steps if step.id not in step_ids]


@contextmanager
def jobs_finish_after(seconds: float = 0.5) -> Iterator[None]:
    """While the block runs, EMR on EKS job runs and EMR steps complete ``seconds`` after they are seen.

    Stands for real jobs that take a while (a poll sees them running, then completed). With ``0`` they
    complete within a few milliseconds of being started, before the operator's first status check in
    practice, so examples with realistic poll intervals (30 s) finish without waiting.
    """
    stop = threading.Event()
    seen: dict[int, float] = {}

    def finish_due() -> None:
        import time

        while not stop.wait(0.005):
            now = time.monotonic()
            active = [
                run
                for run in _containers_backend().job_runs.values()
                if run.state in ("PENDING", "SUBMITTED", "RUNNING")
            ]
            for cluster in _emr_backend().clusters.values():
                active += [step for step in cluster.steps if step.state in ("PENDING", "RUNNING")]
            for item in active:
                if now - seen.setdefault(id(item), now) >= seconds:
                    item.state = "COMPLETED"

    thread = threading.Thread(target=finish_due, name="moto-jobs-finish", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
