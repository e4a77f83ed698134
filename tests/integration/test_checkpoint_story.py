"""The Checkpointer's demo story runs through real Airflow and narrates both tries."""

from __future__ import annotations

import pytest

from airflow_resumable.demo.story_checkpoint import STORY

pytestmark = pytest.mark.airflow


def test_the_checkpoint_story_turns_out_as_expected(airflow_sandbox) -> None:
    lines: list[str] = []
    assert STORY.run(airflow_sandbox, lines.append), "\n".join(lines)
    text = "\n".join(lines)
    assert "try 1: processed items 1-337 and failed at item 338" in text
    assert "try 2: started at item 338, processed the other 163 items, succeeded" in text
    assert "6 store writes in all for 500 items" in text
    assert STORY.order == 10
