"""A local stand-in for the Databricks Jobs API, for tests and the demo: real HTTP on 127.0.0.1.

[`FakeDatabricks`][airflow_resumable.testing.databricks_server.FakeDatabricks] serves the endpoints the
Databricks provider's ``DatabricksHook`` calls for job runs
(``api/2.1`` and ``api/2.2``: ``jobs/runs/submit``, ``jobs/run-now``, ``jobs/runs/get``,
``jobs/runs/get-output``, ``jobs/runs/cancel``, ``jobs/runs/cancel-all``, ``jobs/list``), so the real hook,
the real operators and the real deferrable trigger (aiohttp) talk to it through an ordinary Airflow
connection (``conn_type`` databricks, ``schema`` http, a port):

```python
with FakeDatabricks() as server:
    os.environ.update(server.environ("databricks_default"))
    server.scripts.append(["RUNNING", "TERMINATED:FAILED"])   # the next run fails
    ...                                                        # run a DAG
    assert len(server.created) == 2
```

It honours ``idempotency_token`` as Databricks does (the same token returns the same run, whatever its
state), answers ``404 RESOURCE_DOES_NOT_EXIST`` for unknown runs, and records every run and request. Each
run follows a *script* of states: every ``runs/get`` of the run shows the next step and the last step
stays. A step is ``"LIFE_CYCLE"`` or ``"LIFE_CYCLE:RESULT"`` (``"RUNNING"``, ``"TERMINATED:SUCCESS"``,
``"TERMINATED:FAILED"``, ``"INTERNAL_ERROR:FAILED"``...), or ``"GONE"``: the run's history expires there
and the API no longer knows it.
[`fail_next`][airflow_resumable.testing.databricks_server.FakeDatabricks.fail_next] injects transient errors
(503, 429...).

It is not Databricks: nothing runs, there is no auth check, and only the fields the provider reads are
returned.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_resumable.testing import _databricks_jobs_api as _jobs_api

__all__ = ["FakeDatabricks", "FakeRun", "RecordedRequest"]

GONE = "GONE"
_API_PREFIXES = ("/api/2.1/", "/api/2.2/")
_TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
_ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
}
"""The ``error_code`` of an injected failure, by HTTP status (5xx: ``TEMPORARILY_UNAVAILABLE``)."""


@dataclass
class FakeRun:
    """One run created on the server: how it was created and where its script stands."""

    run_id: int
    job_id: int
    kind: str
    """``"submit"`` (``runs/submit``) or ``"run-now"``."""
    payload: dict[str, Any]
    token: str | None
    script: list[str]
    gets: int = 0
    """How many ``runs/get`` calls have shown this run."""
    cancelled: bool = False
    gone: bool = False

    @property
    def step(self) -> str:
        """The script step the next ``runs/get`` shows."""
        if self.cancelled:
            return "TERMINATED:CANCELED"
        return self.script[min(self.gets, len(self.script) - 1)]

    @property
    def life_cycle_state(self) -> str:
        return self.step.split(":", 1)[0]

    @property
    def result_state(self) -> str:
        parts = self.step.split(":", 1)
        return parts[1] if len(parts) == 2 else ""

    @property
    def is_terminal(self) -> bool:
        return self.life_cycle_state in _TERMINAL

    def state(self) -> dict[str, str]:
        message = {
            "SUCCESS": "",
            "FAILED": "Task failed with an error (scripted by the local stand-in).",
            "CANCELED": "Run cancelled.",
        }.get(self.result_state, "In run")
        state = {"life_cycle_state": self.life_cycle_state, "state_message": message}
        if self.result_state:
            state["result_state"] = self.result_state
        return state


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered (including injected failures)."""

    method: str
    endpoint: str
    body: dict[str, Any]
    status: int


@dataclass
class _Failure:
    remaining: int
    status: int
    endpoint: str | None


@dataclass
class FakeDatabricks:
    """A threaded HTTP server on 127.0.0.1 that behaves like the Databricks Jobs API for job runs.

    ``scripts`` is a queue: each new run takes the first script, or ``default_script`` when it is empty.
    ``created`` lists every run created, in order (runs whose history expired stay listed).
    """

    default_script: list[str] = field(default_factory=lambda: ["PENDING", "RUNNING", "TERMINATED:SUCCESS"])
    scripts: list[list[str]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    created: list[FakeRun] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    jobs: dict[int, str] = field(default_factory=dict)
    """Job id -> job name, for ``run-now`` and ``jobs/list``. Unknown job ids are accepted by ``run-now``."""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1001)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self) -> FakeDatabricks:
        """Start serving in a daemon thread; ``port`` is filled in if it was 0."""
        if self._httpd is not None:
            return self
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-databricks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeDatabricks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection(self) -> dict[str, Any]:
        """The Airflow connection (as JSON-able fields) that points the Databricks hook here."""
        return {
            "conn_type": "databricks",
            "host": self.host,
            "port": self.port,
            "schema": "http",
            "password": "local-stand-in-token",
        }

    def environ(self, conn_id: str = "databricks_default") -> dict[str, str]:
        """``{"AIRFLOW_CONN_<ID>": <connection JSON>}``: add it to ``os.environ`` to use the server."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(self.connection())}

    # -- test controls ---------------------------------------------------------------------------------
    def fail_next(self, count: int = 1, *, status: int = 503, endpoint: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (only those to ``endpoint``, if given).

        The body carries the error code Databricks uses for that status (``REQUEST_LIMIT_EXCEEDED`` for
        429, ``TEMPORARILY_UNAVAILABLE`` for 5xx, ``INVALID_PARAMETER_VALUE`` for 400...).
        """
        with self._lock:
            self._failures.append(_Failure(count, status, endpoint))

    def add_job(self, name: str, job_id: int | None = None) -> int:
        """Register a job for ``run-now`` / ``jobs/list`` and return its id."""
        with self._lock:
            new_id = job_id if job_id is not None else 500 + len(self.jobs) + 1
            self.jobs[new_id] = name
            return new_id

    def forget(self, run_id: int) -> None:
        """Expire a run's history: the API answers 404 for it from now on."""
        with self._lock:
            self.run(run_id).gone = True

    def run(self, run_id: int) -> FakeRun:
        """The run with ``run_id`` (also after its history expired)."""
        with self._lock:
            for run in self.created:
                if run.run_id == run_id:
                    return run
        raise KeyError(run_id)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """The recorded requests to one endpoint (``"jobs/runs/submit"``...)."""
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    # -- the API ---------------------------------------------------------------------------------------
    def handle(self, method: str, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one API call: ``(status, JSON body)``."""
        with self._lock:
            status, answer = self._injected(endpoint) or self._route(method, endpoint, body)
            self.requests.append(RecordedRequest(method, endpoint, body, status))
            return status, answer

    def _injected(self, endpoint: str) -> tuple[int, dict[str, Any]] | None:
        for failure in self._failures:
            if failure.remaining > 0 and failure.endpoint in (None, endpoint):
                failure.remaining -= 1
                code = _ERROR_CODES.get(failure.status, "TEMPORARILY_UNAVAILABLE")
                if failure.status < 500 and failure.status not in _ERROR_CODES:
                    code = "BAD_REQUEST"
                return failure.status, {"error_code": code, "message": "Injected by the local stand-in."}
        return None

    def _route(self, method: str, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        routes = {
            ("POST", "jobs/runs/submit"): self._submit,
            ("POST", "jobs/run-now"): self._run_now,
            ("GET", "jobs/runs/get"): self._get,
            ("GET", "jobs/runs/get-output"): self._get_output,
            ("POST", "jobs/runs/cancel"): self._cancel,
            ("POST", "jobs/runs/cancel-all"): self._cancel_all,
            ("GET", "jobs/list"): self._list_jobs,
        }
        try:  # jobs, task runs and SQL statements: see _databricks_jobs_api
            extended = _jobs_api.route(self, method, endpoint, body)
        except _ApiError as exc:
            return exc.status, {"error_code": exc.code, "message": exc.message}
        if extended is not None:
            return extended
        route = routes.get((method, endpoint))
        if route is None:
            return 404, {
                "error_code": "ENDPOINT_NOT_FOUND",
                "message": f"No API found for '{method} {endpoint}'",
            }
        try:
            return route(body)
        except _ApiError as exc:
            return exc.status, {"error_code": exc.code, "message": exc.message}

    def _create(self, kind: str, job_id: int, body: dict[str, Any]) -> dict[str, Any]:
        token = body.get("idempotency_token")
        if token is not None:
            if not isinstance(token, str) or len(token) > 64:
                raise _ApiError(
                    400, "INVALID_PARAMETER_VALUE", "idempotency_token must be at most 64 characters"
                )
            for run in self.created:
                if run.token == token:
                    return {"run_id": run.run_id, "number_in_job": run.run_id}
        run_id = next(self._ids)
        script = self.scripts.pop(0) if self.scripts else list(self.default_script)
        if not script:
            raise ValueError("a run script needs at least one step")
        self.created.append(FakeRun(run_id, job_id, kind, dict(body), token, list(script)))
        return {"run_id": run_id, "number_in_job": run_id}

    def _submit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, self._create("submit", 900_000 + len(self.created) + 1, body)

    def _run_now(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = body.get("job_id")
        if job_id is None:
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: job_id")
        return 200, self._create("run-now", int(job_id), body)

    def _known(self, body: dict[str, Any]) -> FakeRun:
        try:
            run_id = int(body["run_id"])
            run = self.run(run_id)
        except (KeyError, TypeError, ValueError):
            raise _ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"Run {body.get('run_id')} does not exist."
            ) from None
        if run.gone:
            raise _ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist.")
        return run

    def _describe(self, run: FakeRun) -> dict[str, Any]:
        return {
            "job_id": run.job_id,
            "run_id": run.run_id,
            "run_name": run.payload.get("run_name", f"run {run.run_id}"),
            "run_page_url": f"{self.url}/#job/{run.job_id}/run/{run.run_id}",
            "state": run.state(),
            "tasks": [],
        }

    def _get(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self._known(body)
        if run.step == GONE:
            run.gone = True
            raise _ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Run {run.run_id} does not exist.")
        answer = self._describe(run)
        run.gets += 1
        return 200, answer

    def _get_output(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self._known(body)
        answer: dict[str, Any] = {"metadata": self._describe(run)}
        if run.result_state == "FAILED":
            answer["error"] = run.state()["state_message"]
        return 200, answer

    def _cancel(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self._known(body)
        if not run.is_terminal:
            run.cancelled = True
        return 200, {}

    def _cancel_all(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = int(body.get("job_id", -1))
        for run in self.created:
            if run.job_id == job_id and not run.gone and not run.is_terminal:
                run.cancelled = True
        return 200, {}

    def _list_jobs(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("name")
        jobs = [
            {"job_id": job_id, "settings": {"name": job_name}}
            for job_id, job_name in sorted(self.jobs.items())
            if name in (None, "", job_name)
        ]
        return 200, {"jobs": jobs, "has_more": False}


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    fake: FakeDatabricks

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        body: dict[str, Any] = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length)
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                body.update(parsed)  # aiohttp sends GET parameters as a JSON body
        endpoint = next((parts.path[len(p) :] for p in _API_PREFIXES if parts.path.startswith(p)), parts.path)
        status, answer = self.fake.handle(method, endpoint, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests` instead
        return
