"""The provider authors' example (docs/examples/jobs/provider_author.py), on real Airflow against its service.

The example DAG runs as shipped; then the same operators run with try 1 crashing right after the job was
started: the provider's operator starts a second job, the durable drop-in (under 40 lines) does not.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.airflow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "jobs"
EXAMPLE = EXAMPLES / "provider_author.py"

CRASHING = """
from datetime import timedelta

from airflow.sdk import dag

from provider_author import {operator} as Base


class Crashing(Base):
    def execute(self, context):
        self.try_number = context["ti"].try_number
        return super().execute(context)

    def start(self, key=None):
        job_id = super().start(key)
        print(f"TRY {{self.try_number}} STARTED {{job_id}}")
        if self.try_number == 1:
            raise RuntimeError("the worker died right after starting the job")
        return job_id


@dag(schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def acme_crash():
    Crashing(task_id="train", command="train --epochs 3")


acme_crash()
"""


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from provider_author_service import JobService

    running = JobService()
    monkeypatch.setenv("ACME_JOBS_URL", running.url)
    yield running
    running.stop()
    for name in ("provider_author", "provider_author_service"):
        sys.modules.pop(name, None)


def test_the_durable_operator_is_under_40_lines() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DurableAcmeJobOperator"]
    assert cls.end_lineno is not None
    assert cls.end_lineno - cls.lineno + 1 < 40


def test_the_example_dag_runs_as_shipped(airflow_sandbox, service):
    result = airflow_sandbox.run_dag(EXAMPLE)
    assert result.state == "success", result.output[-3000:]
    assert list(service.jobs) == ["job-1"]
    intent = result.task_state("train", "acme_job_id.intent")
    assert (intent["state"], intent["generation"], intent["external_id"]) == ("submitted", 1, "job-1")
    assert service.jobs["job-1"]["key"] == intent["token"]


@pytest.mark.parametrize(
    ("operator", "jobs"), [("DurableAcmeJobOperator", ["job-1"]), ("AcmeJobOperator", ["job-1", "job-2"])]
)
def test_a_crash_after_starting_the_job(airflow_sandbox, service, operator, jobs):
    result = airflow_sandbox.run_dag(CRASHING.format(operator=operator), dag_id="acme_crash")
    assert result.states("train") == ["failed", "success"], result.output[-3000:]
    assert list(service.jobs) == jobs
    if operator == "DurableAcmeJobOperator":
        assert "TRY 2 STARTED job-1" in result.output  # the same key: the service answered the same job
