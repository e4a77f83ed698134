"""The EMR demo story runs through real Airflow and turns out as narrated."""

from __future__ import annotations

import pytest

from airflow_resumable.demo.story_emr import STORY

pytestmark = pytest.mark.airflow


def test_emr_story(airflow_sandbox) -> None:
    lines: list[str] = []

    assert STORY.run(airflow_sandbox, lines.append) is True

    text = "\n".join(lines)
    assert "try 2: returned" in text
    assert "(the steps try 1 added)" in text
    assert "(new steps: the same work again)" in text
    assert "steps on the cluster: 2" in text
    assert "steps on the cluster: 4" in text
