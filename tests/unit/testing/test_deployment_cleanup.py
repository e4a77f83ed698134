"""The clean-up layer of AirflowDeployment, without Airflow: processes are found by the deployment's
working folder (Airflow's process titles overwrite what /proc shows of the environment), and the watchdog
stops them when the test process is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from airflow_resumable.testing.deployment_procs import kill_marked, marked


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_processes_working_in_the_deployment_folder_are_found_and_killed(tmp_path: Path) -> None:
    workdir = tmp_path / "run-abc123"
    workdir.mkdir()
    # a process that ignores SIGTERM (as a task does, whose handler only calls on_kill())
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    stubborn = subprocess.Popen([sys.executable, "-c", code], cwd=workdir)
    time.sleep(0.3)
    assert [p.pid for p in marked("abc123", workdir)] == [stubborn.pid]
    assert kill_marked("abc123", workdir, grace=0.5) == 1  # SIGTERM ignored, SIGKILL after the grace
    assert _wait_gone(stubborn.pid)


def test_the_watchdog_stops_the_deployment_when_the_test_process_is_killed(tmp_path: Path) -> None:
    workdir = tmp_path / "run-def456"
    workdir.mkdir()
    pid_file = tmp_path / "child.pid"
    # stands for the test process: starts the watchdog and a "component", then waits to be killed
    script = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from pathlib import Path
        from airflow_resumable.testing.deployment_procs import start_reaper

        start_reaper("def456", Path({str(workdir)!r}), None, Path({str(tmp_path / "reaper.log")!r}))
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 cwd={str(workdir)!r}, start_new_session=True)
        Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(60)
        """
    )
    test_process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while not pid_file.exists():
        assert time.monotonic() < deadline, "the stand-in test process did not start"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    os.kill(test_process.pid, signal.SIGKILL)
    test_process.wait()
    assert _wait_gone(child), (tmp_path / "reaper.log").read_text()
