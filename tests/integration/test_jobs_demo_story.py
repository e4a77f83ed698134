"""The jobs demo story: a Databricks run survives a worker lost right after submit (local Jobs API stand-in)."""

from __future__ import annotations

import os

import pytest

from airflow_resumable.demo.story_jobs import CONN, STORY

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated"),
]


def test_story_turns_out_as_expected_and_narrates_each_try(airflow_sandbox, monkeypatch):
    monkeypatch.delenv(CONN, raising=False)
    lines: list[str] = []
    assert STORY.run(airflow_sandbox, lines.append) is True
    text = "\n".join(lines)
    assert STORY.order == 30
    assert "local stand-in for the Databricks Jobs API" in text
    ours, theirs = text.split("the provider's own operator:")
    assert "try 1: submitted with idempotency token" in ours
    assert "then the worker was lost before storing the run id" in ours
    assert "Jobs API runs created: 1" in ours
    assert "try 2: submitted with no idempotency token" in theirs
    assert "Jobs API runs created: 2" in theirs
    assert CONN not in os.environ  # the story leaves the environment as it found it


def test_story_tells_the_same_run_came_back(airflow_sandbox):
    lines: list[str] = []
    STORY.run(airflow_sandbox, lines.append)
    ours = [line for line in lines if "the Jobs API answered run" in line][:2]
    run_ids = {line.rsplit("answered run ", 1)[1].split(",")[0] for line in ours}
    tokens = {line.split("idempotency token ", 1)[1].split(";")[0] for line in ours}
    assert len(run_ids) == 1
    assert len(tokens) == 1
