"""Story: a task keeps its progress in task_state_store, fails on try 1 and resumes on try 2."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    result = sandbox.run_dag(DAGS / "task_state_resume.py")
    tries = re.findall(r"DEMO try=(\d+) started_at=(\d+) stopped_at=(\d+) outcome=(\w+)", result.output)
    for try_number, start, stop, outcome in tries:
        say(f"try {try_number}: started at item {start}, reached item {stop}, {outcome}")
    say(f"task states per try: {result.states('process')}; DagRun: {result.state}")
    expected = [("1", "0", "6", "failed"), ("2", "6", "10", "succeeded")]
    return result.state == "success" and tries == expected


STORY = Story(order=5, title="A task resumes from its own progress in task_state_store", run=run)
