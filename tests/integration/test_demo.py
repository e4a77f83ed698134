"""The main job: `airflow-resumable demo` runs every story through real Airflow and narrates it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from airflow_resumable.cli import main
from airflow_resumable.demo import runner
from airflow_resumable.demo.story import Story

pytestmark = pytest.mark.airflow


def test_every_story_turns_out_as_expected() -> None:
    out = io.StringIO()
    code = runner.run_demo(out=out)
    text = out.getvalue()
    assert code == 0, text
    stories = runner.discover()
    assert len(re.findall(r"-> as expected", text)) == len(stories) >= 1
    assert f"Ran {len(stories)} of {len(stories)} stories in " in text
    assert "skipped" not in text
    assert "A Checkpointer resumes a loop at the item that failed" in text


def test_a_story_that_goes_wrong_makes_the_demo_fail_and_keep_leaves_the_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(sandbox: object, say: object) -> bool:
        raise RuntimeError("the story broke")

    monkeypatch.setattr(
        runner, "discover", lambda: [Story(1, "fine", lambda s, say: True), Story(2, "broken", broken)]
    )
    out = io.StringIO()
    assert runner.run_demo(keep=True, out=out) == 1
    text = out.getvalue()
    assert "error: RuntimeError: the story broke" in text
    assert "1 of 2 stories run did not turn out as expected: broken" in text
    kept = re.search(r"AIRFLOW_HOME kept for inspection: (\S+)", text)
    assert kept and (Path(kept.group(1)) / "0002-story-1" / "airflow.db").exists()


def test_a_story_whose_extra_is_missing_is_reported_as_skipped_not_as_expected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(
        runner,
        "discover",
        lambda: [
            Story(1, "core", lambda s, say: ran.append("core") or True),
            Story(2, "needs", lambda s, say: ran.append("provider") or True, ("no_such_provider.x",)),
        ],
    )
    out = io.StringIO()
    assert runner.run_demo(out=out) == 0
    text = out.getvalue()
    assert ran == ["core"]
    assert "skipped: needs no_such_provider.x (pip install 'airflow-resumable[demo]')" in text
    assert len(re.findall(r"-> as expected", text)) == 1
    assert "Ran 1 of 2 stories in " in text and "1 skipped" in text


def test_the_demo_fails_when_no_story_could_run(monkeypatch: pytest.MonkeyPatch) -> None:
    story = Story(1, "needs moto", lambda s, say: True, ("moto_nope",))
    monkeypatch.setattr(runner, "discover", lambda: [story])
    out = io.StringIO()
    assert runner.run_demo(out=out) == 1
    assert "No story ran; 1 skipped" in out.getvalue()


def test_shipped_stories_declare_what_they_need() -> None:
    needs = {story.title: story.requires for story in runner.discover()}
    emr = next(r for t, r in needs.items() if "EMR" in t)
    databricks = next(r for t, r in needs.items() if "Databricks" in t)
    assert "moto.server" in emr and "airflow.providers.amazon" in emr
    assert databricks == ("airflow.providers.databricks",)


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert re.match(r"airflow-resumable \d+\.\d+", capsys.readouterr().out)
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_cli_only_filters_stories(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(
        runner,
        "discover",
        lambda: [
            Story(1, "alpha", lambda s, say: ran.append("a") or True),
            Story(2, "beta", lambda s, say: True),
        ],
    )
    assert runner.run_demo(only="ALPHA", out=io.StringIO()) == 0
    assert ran == ["a"]
