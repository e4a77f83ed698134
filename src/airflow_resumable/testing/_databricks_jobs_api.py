"""More of the local Databricks stand-in: jobs, the task runs of a run, the SQL Statement Execution API.

[`FakeDatabricks`][airflow_resumable.testing.databricks_server.FakeDatabricks] routes every request here first
(`route()`); what this module does not answer goes to the server's own run endpoints. Added:

- ``jobs/create``, ``jobs/reset``, ``jobs/get``, ``jobs/delete`` and ``jobs/list`` (by name): a job keeps its
  settings, so ``run-now`` of it has the job's tasks;
- ``jobs/runs/get`` with ``tasks``: every run has one *task run* per task (``task_key``, ``run_id``,
  ``start_time``, ``attempt_number``, ``state``), as the provider's notebook and task operators read them.
  A single-task ``runs/submit`` (no ``tasks`` array) has one task whose key is the ``run_name``. A task run
  follows its own copy of the parent run's script (or ``task_scripts[task_key]``), one step per
  ``runs/get`` of the task run; it shows ``CANCELED`` once it or its parent is cancelled;
- ``jobs/runs/list`` with ``job_id``, ``active_only``, ``completed_only``, ``start_time_from``/``_to``,
  ``limit``/``offset`` (newest first, as Databricks lists them);
- ``api/2.0/sql/statements``: submit (``POST``), get (``GET .../<id>``), cancel (``POST .../<id>/cancel``).
  Each statement follows a script from `JobsApi.statement_scripts` (default ``PENDING``,
  ``RUNNING``, ``SUCCEEDED``), one step per get; ``FAILED`` carries an error, ``GONE`` answers 404 from
  there on. Like Databricks, the API has **no idempotency token**: every ``POST`` is a new statement.

Test controls live on `jobs_api()` (``jobs_api(server).statements``, ``.task_scripts``...).
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_resumable.testing.databricks_server import FakeDatabricks, FakeRun

__all__ = ["FakeStatement", "JobsApi", "jobs_api", "route"]

_SQL = "/api/2.0/sql/statements"
_TERMINAL = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
_SQL_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")


@dataclass
class FakeStatement:
    """One SQL statement submitted to the stand-in."""

    statement_id: str
    payload: dict[str, Any]
    script: list[str]
    gets: int = 0
    cancelled: bool = False
    gone: bool = False

    @property
    def state(self) -> str:
        if self.cancelled:
            return "CANCELED"
        return self.script[min(self.gets, len(self.script) - 1)]


@dataclass
class _TaskRun:
    run_id: int
    parent: int
    task_key: str
    script: list[str]
    started: int
    gets: int = 0
    cancelled: bool = False


@dataclass
class JobsApi:
    """What the extra endpoints keep for one server: job settings, task runs, SQL statements."""

    settings: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Job id -> the settings given to ``jobs/create`` / ``jobs/reset``."""
    task_scripts: dict[str, list[str]] = field(default_factory=dict)
    """Task key -> the script its task runs follow (else a copy of the parent run's script)."""
    statements: list[FakeStatement] = field(default_factory=list)
    statement_scripts: list[list[str]] = field(default_factory=list)
    default_statement_script: list[str] = field(default_factory=lambda: ["PENDING", "RUNNING", "SUCCEEDED"])
    task_runs: dict[int, _TaskRun] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = itertools.count(7_000_001)

    def statement(self, statement_id: str) -> FakeStatement:
        for statement in self.statements:
            if statement.statement_id == statement_id:
                return statement
        raise KeyError(statement_id)


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = status, {"error_code": code, "message": message}


def jobs_api(fake: FakeDatabricks) -> JobsApi:
    """The extra endpoints' state of ``fake`` (created on first use)."""
    state = fake.__dict__.get("_jobs_api")
    if state is None:
        state = fake.__dict__["_jobs_api"] = JobsApi()
    return state


def route(
    fake: FakeDatabricks, method: str, endpoint: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    """Answer ``method endpoint`` if this module serves it, else ``None`` (the server's own routes then)."""
    api = jobs_api(fake)
    handlers = {
        ("POST", "jobs/create"): _create_job,
        ("POST", "jobs/reset"): _reset_job,
        ("GET", "jobs/get"): _get_job,
        ("POST", "jobs/delete"): _delete_job,
        ("GET", "jobs/runs/list"): _list_runs,
        ("GET", "jobs/runs/get"): _get_run,
        ("GET", "jobs/runs/get-output"): _get_task_output,
        ("POST", "jobs/runs/cancel"): _cancel_task_run,
    }
    try:
        if endpoint.startswith(_SQL):
            return _sql(fake, api, method, endpoint[len(_SQL) :].strip("/"), body)
        handler = handlers.get((method, endpoint))
        return None if handler is None else handler(fake, api, body)
    except _Error as exc:
        return exc.answer


# -- jobs ----------------------------------------------------------------------------------------------------
def _job_id(fake: FakeDatabricks, body: dict[str, Any]) -> int:
    try:
        job_id = int(body["job_id"])
    except (KeyError, TypeError, ValueError):
        raise _Error(400, "INVALID_PARAMETER_VALUE", "Missing required field: job_id") from None
    if job_id not in fake.jobs:
        raise _Error(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
    return job_id


def _create_job(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    job_id = fake.add_job(str(body.get("name") or "Untitled"), 600 + len(fake.jobs) + 1)
    api.settings[job_id] = dict(body)
    return 200, {"job_id": job_id}


def _reset_job(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    job_id = _job_id(fake, body)
    settings = dict(body.get("new_settings") or {})
    api.settings[job_id] = settings
    fake.jobs[job_id] = str(settings.get("name") or fake.jobs[job_id])
    return 200, {}


def _get_job(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    job_id = _job_id(fake, body)
    return 200, {"job_id": job_id, "settings": api.settings.get(job_id, {"name": fake.jobs[job_id]})}


def _delete_job(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    job_id = _job_id(fake, body)
    del fake.jobs[job_id]
    api.settings.pop(job_id, None)
    return 200, {}


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def _list_runs(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    runs = [run for run in reversed(fake.created) if not run.gone]
    if body.get("job_id") not in (None, ""):
        runs = [run for run in runs if run.job_id == int(body["job_id"])]
    if _flag(body.get("active_only")):
        runs = [run for run in runs if not run.is_terminal]
    if _flag(body.get("completed_only")):
        runs = [run for run in runs if run.is_terminal]
    started = {run.run_id: _started(fake, run) for run in runs}
    if body.get("start_time_from") not in (None, ""):
        runs = [run for run in runs if started[run.run_id] >= int(body["start_time_from"])]
    if body.get("start_time_to") not in (None, ""):
        runs = [run for run in runs if started[run.run_id] <= int(body["start_time_to"])]
    offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 25)
    page = runs[offset : offset + limit]
    answer: dict[str, Any] = {"runs": [_run_summary(fake, run) for run in page]}
    answer["has_more"] = offset + limit < len(runs)
    return 200, answer


def _started(fake: FakeDatabricks, run: FakeRun) -> int:
    stamps = fake.__dict__.setdefault("_run_started", {})
    return stamps.setdefault(run.run_id, int(time.time() * 1000))  # type: ignore[no-any-return]


def _run_summary(fake: FakeDatabricks, run: FakeRun) -> dict[str, Any]:
    return {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "run_name": run.payload.get("run_name", f"run {run.run_id}"),
        "start_time": _started(fake, run),
        "state": run.state(),
    }


# -- task runs inside a run ----------------------------------------------------------------------------------
def _task_keys(api: JobsApi, run: FakeRun) -> list[str]:
    tasks = run.payload.get("tasks")
    if run.kind == "run-now":
        tasks = api.settings.get(run.job_id, {}).get("tasks")
    if isinstance(tasks, list):
        return [str(task.get("task_key")) for task in tasks if isinstance(task, dict)]
    return [str(run.payload["run_name"])] if run.kind == "submit" and run.payload.get("run_name") else []


def _task_runs(fake: FakeDatabricks, api: JobsApi, run: FakeRun) -> list[_TaskRun]:
    found = {t.task_key: t for t in api.task_runs.values() if t.parent == run.run_id}
    for key in _task_keys(api, run):
        if key not in found:
            script = list(api.task_scripts.get(key, run.script))
            task = _TaskRun(next(api._ids), run.run_id, key, script, _started(fake, run) + len(found))
            api.task_runs[task.run_id] = found[key] = task
    return list(found.values())


def _task_state(fake: FakeDatabricks, task: _TaskRun) -> dict[str, str]:
    parent = fake.run(task.parent)
    step = (
        "TERMINATED:CANCELED"
        if task.cancelled or parent.cancelled
        else task.script[min(task.gets, len(task.script) - 1)]
    )
    life, _, result = step.partition(":")
    message = {
        "SUCCESS": "",
        "FAILED": "Task failed with an error (scripted by the local stand-in).",
        "CANCELED": "Run cancelled.",
    }
    state = {"life_cycle_state": life, "state_message": message.get(result, "In run")}
    if result:
        state["result_state"] = result
    return state


def _describe_task(fake: FakeDatabricks, task: _TaskRun) -> dict[str, Any]:
    return {
        "run_id": task.run_id,
        "task_key": task.task_key,
        "start_time": task.started,
        "attempt_number": 0,
        "state": _task_state(fake, task),
        "run_page_url": f"{fake.url}/#job/run/{task.run_id}",
    }


def _get_run(fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    task = _task_run(api, body)
    if task is not None:
        answer = {"job_id": fake.run(task.parent).job_id, "run_name": task.task_key, "tasks": []}
        answer.update(_describe_task(fake, task))
        task.gets += 1
        return 200, answer
    status, answer = fake._get(body)
    if status == 200 and not answer.get("tasks"):
        run = fake.run(int(body["run_id"]))
        answer["tasks"] = [_describe_task(fake, t) for t in _task_runs(fake, api, run)]
        answer["start_time"] = _started(fake, run)
    return status, answer


def _task_run(api: JobsApi, body: dict[str, Any]) -> _TaskRun | None:
    try:
        return api.task_runs.get(int(body.get("run_id", -1)))
    except (TypeError, ValueError):
        return None


def _get_task_output(
    fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    task = _task_run(api, body)
    if task is None:
        return None
    state = _task_state(fake, task)
    answer: dict[str, Any] = {"metadata": _describe_task(fake, task)}
    if state.get("result_state") == "FAILED":
        answer["error"] = state["state_message"]
    return 200, answer


def _cancel_task_run(
    fake: FakeDatabricks, api: JobsApi, body: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    task = _task_run(api, body)
    if task is None:
        return None
    task.cancelled = True
    return 200, {}


# -- SQL statements ------------------------------------------------------------------------------------------
def _sql(
    fake: FakeDatabricks, api: JobsApi, method: str, rest: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if method == "POST" and rest == "":
        for name in ("statement", "warehouse_id"):
            if not body.get(name):
                raise _Error(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {name}")
        script = api.statement_scripts.pop(0) if api.statement_scripts else list(api.default_statement_script)
        new = FakeStatement(f"01f0-{uuid.uuid4().hex[:24]}", dict(body), list(script))
        api.statements.append(new)
        return 200, {"statement_id": new.statement_id, "status": {"state": "PENDING"}}
    statement_id, _, action = rest.partition("/")
    statement: FakeStatement | None
    try:
        statement = api.statement(statement_id)
    except KeyError:
        statement = None
    if statement is None or statement.gone or (method == "GET" and statement.state == "GONE"):
        if statement is not None:
            statement.gone = True
        raise _Error(404, "RESOURCE_DOES_NOT_EXIST", f"Statement {statement_id} does not exist.")
    if method == "POST" and action == "cancel":
        if statement.state not in _SQL_TERMINAL:
            statement.cancelled = True
        return 200, {}
    if method == "GET" and action == "":
        status: dict[str, Any] = {"state": statement.state}
        if statement.state == "FAILED":
            status["error"] = {
                "error_code": "BAD_REQUEST",
                "message": "Statement failed (scripted by the local stand-in).",
            }
        statement.gets += 1
        return 200, {"statement_id": statement.statement_id, "status": status}
    raise _Error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {_SQL}/{rest}'")
