"""The EMR cluster demo story runs through real Airflow and turns out as narrated."""

from __future__ import annotations

import pytest

from airflow_resumable.demo.story_cluster import STORY

pytestmark = pytest.mark.airflow


def test_cluster_story(airflow_sandbox) -> None:
    lines: list[str] = []

    assert STORY.run(airflow_sandbox, lines.append) is True

    text = "\n".join(lines)
    assert "(the cluster try 1 requested)" in text
    assert "(a second cluster)" in text
    assert "clusters up and billing: 1" in text
    assert "clusters up and billing: 2" in text
