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


def test_cluster_story_counts_every_page_of_clusters(
    airflow_sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local EMR is process-wide: clusters left by other tests push the story's past ListClusters' first
    # page of 50, which once made the provider's second cluster invisible to the story.
    from contextlib import contextmanager

    from airflow_resumable.demo import story_cluster

    local_emr = story_cluster.local_emr

    @contextmanager
    def crowded():
        with local_emr() as emr:
            instances = {
                "InstanceCount": 1,
                "MasterInstanceType": "m5.xlarge",
                "KeepJobFlowAliveWhenNoSteps": True,
            }
            for i in range(60):
                emr.run_job_flow(
                    Name=f"other-{i}",
                    ReleaseLabel="emr-7.1.0",
                    Instances=instances,
                    JobFlowRole="r",
                    ServiceRole="s",
                )
            yield emr

    monkeypatch.setattr(story_cluster, "local_emr", crowded)
    lines: list[str] = []

    assert story_cluster.STORY.run(airflow_sandbox, lines.append) is True, "\n".join(lines)
