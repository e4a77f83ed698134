"""The jobs demo story: a Databricks run survives a worker lost right after submit (local API stand-in)."""

from __future__ import annotations

import os
import re

import pytest

from airflow_resumable.demo.story_jobs import CONN, STORY

pytestmark = pytest.mark.airflow


def test_story_turns_out_as_expected_and_narrates_each_try(airflow_sandbox, monkeypatch):
    monkeypatch.delenv(CONN, raising=False)
    lines: list[str] = []
    assert STORY.run(airflow_sandbox, lines.append) is True
    text = "\n".join(lines)
    assert STORY.order == 30
    assert "local stand-in for the Databricks Jobs API" in text
    ours, theirs = text.split("the provider's own operator:")
    assert "then the worker was lost before storing the run id" in ours
    assert "(the run try 1 started)" in ours
    assert "(a second run)" in theirs
    assert "Jobs API runs created: 1" in ours
    answered = [line for line in ours.splitlines() if "the Jobs API answered run" in line]
    assert len(answered) == 2
    run_ids = {re.search(r"answered run (\d+)", line).group(1) for line in answered}
    tokens = {line.split("idempotency token ", 1)[1].split(";")[0] for line in answered}
    assert len(run_ids) == 1  # the same run came back to try 2...
    assert len(tokens) == 1  # ...because try 2 sent the same token
    assert "try 2: submitted with no idempotency token" in theirs
    assert "Jobs API runs created: 2" in theirs
    assert CONN not in os.environ  # the story leaves the environment as it found it
