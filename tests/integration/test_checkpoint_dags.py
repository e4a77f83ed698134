"""The Checkpointer on real Airflow 3.3 (dag.test(), real retries, the real task_state_store): the docs'
example DAGs, mapped tasks, an async task, typed cursors, and what is left in the store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "checkpoint"


def _per_try(output: str, pattern: str) -> dict[int, list[int]]:
    """{try number: [numbers]} from print lines like 'try 2 loaded row 137'."""
    found: dict[int, list[int]] = {}
    for try_number, value in re.findall(pattern, output):
        found.setdefault(int(try_number), []).append(int(value))
    return found


def test_exception_at_row_k_on_try_1_makes_try_2_start_exactly_at_k(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(EXAMPLES / "load_rows.py")

    assert result.state == "success", result.output[-3000:]
    assert result.states("load_rows") == ["failed", "success"]
    loaded = _per_try(result.output, r"try (\d) loaded row (\d+)")
    assert loaded == {1: list(range(1, 137)), 2: list(range(137, 251))}
    # 136, not 100 (the last every(50) commit): try 1 saved its last completed row on the way out.
    assert "try 2 starts after position 136" in result.output
    assert result.task_state_keys("load_rows") == {}  # success cleared it: a clear-and-rerun starts fresh


def test_a_datetime_cursor_round_trips_through_the_real_store(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(EXAMPLES / "event_cursor.py")

    assert result.states("copy_events") == ["failed", "success"], result.output[-3000:]
    assert "try 1 resumes after None" in result.output
    assert (
        "try 2 resumes after datetime.datetime(2026, 5, 4, 11, 34, tzinfo=datetime.timezone.utc)"
        in result.output
    )
    copied = _per_try(result.output, r"try (\d) copied event (\d+)")
    assert copied == {1: list(range(23)), 2: list(range(23, 40))}
    assert result.task_state_keys("copy_events") == {}


def test_each_map_index_resumes_its_own_progress(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(EXAMPLES / "mapped_partitions.py")

    assert result.state == "success", result.output[-3000:]
    for map_index, (partition, fail_at) in enumerate([("eu", 7), ("us", 18), ("apac", 25)]):
        assert result.states("load_partition", map_index) == ["failed", "success"]
        assert f"{partition} try 1 starts after position 0" in result.output
        assert f"{partition} try 2 starts after position {fail_at}" in result.output
        assert result.task_state_keys("load_partition", map_index) == {}


def test_an_async_task_with_async_with_and_aiterate(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(EXAMPLES / "async_pages.py")

    assert result.states("sync_pages") == ["failed", "success"], result.output[-3000:]
    stored = _per_try(result.output, r"try (\d) stored page (\d+)")
    assert stored == {1: list(range(1, 12)), 2: list(range(12, 31))}
    assert "try 2 starts after page 11" in result.output
    assert result.task_state_keys("sync_pages") == {}


def test_a_thread_pool_retry_redoes_only_the_failed_item(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(EXAMPLES / "thread_pool.py")

    assert result.states("resize_images") == ["failed", "success"], result.output[-3000:]
    assert "try 1: 100 images to resize" in result.output
    assert "try 2: 1 images to resize: ['img-042.png']" in result.output


def test_the_stored_progress_is_readable_in_the_metadata_db(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(
        """
        from datetime import datetime, timezone
        from airflow.sdk import dag, task
        from airflow_resumable import Checkpointer, every

        @dag(schedule=None)
        def checkpoint_visible_progress():
            @task
            def export(ti=None):
                with Checkpointer("export", commit=every(25), fingerprint={"table": "orders"}) as ckpt:
                    for n, _ in enumerate(ckpt.iterate(range(100))):
                        if n == 60:
                            raise RuntimeError("stop here")

            export()

        checkpoint_visible_progress()
        """
    )
    assert result.states("export") == ["failed"]
    record = result.task_state("export", "export")
    assert record["position"] == 60
    assert record["items_done"] == 60
    assert record["try_number"] == 1
    assert re.fullmatch(r"[0-9a-f]{16}", record["fingerprint"])
    assert record["updated_at"].endswith("+00:00")
    assert record["items_per_second"] > 0


# -- guarantees (issue 11) ----------------------------------------------------------------------------
def test_a_tenacity_retry_inside_the_task_redoes_the_failed_row(airflow_sandbox) -> None:
    # Rows 1-10, a transient error on row 5 inside a tenacity @retry around the loop, and a real task retry
    # for a later hard failure: every row is loaded once, row 5 attempted twice (redone), none skipped.
    result = airflow_sandbox.run_dag(
        """
        from datetime import timedelta
        import tenacity
        from airflow.sdk import dag, task
        from airflow_resumable import Checkpointer

        class Transient(Exception):
            pass

        @dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
        def checkpoint_in_task_retry():
            @task
            def load_rows(ti=None):
                failed = set()
                with Checkpointer("rows") as ckpt:

                    @tenacity.retry(retry=tenacity.retry_if_exception_type(Transient))
                    def load_all():
                        for row in ckpt.iterate(range(1, 11)):
                            if row == 5 and "transient" not in failed:
                                failed.add("transient")
                                raise Transient(row)
                            if row == 8 and ti.try_number == 1:
                                raise RuntimeError("worker lost")
                            print(f"try {ti.try_number} loaded row {row}")

                    load_all()

            load_rows()

        checkpoint_in_task_retry()
        """
    )
    assert result.states("load_rows") == ["failed", "success"], result.output[-3000:]
    loaded = _per_try(result.output, r"try (\d) loaded row (\d+)")
    assert loaded == {1: [1, 2, 3, 4, 5, 6, 7], 2: [8, 9, 10]}  # row 5 redone in try 1, none skipped
    assert result.task_state_keys("load_rows") == {}


MAPPED_DAG = """
import json, os, pathlib
from airflow.sdk import dag, task
from airflow_resumable import Checkpointer

SETTINGS = pathlib.Path(os.environ["CHECKPOINT_MAPPED_SETTINGS"])

@dag(schedule=None, default_args={"retries": 0})
def checkpoint_reexpanded():
    @task
    def partitions():
        return json.loads(SETTINGS.read_text())["partitions"]

    @task
    def load(partition):
        fail_at = json.loads(SETTINGS.read_text()).get("fail", {}).get(partition)
        with Checkpointer("rows", initial=0) as ckpt:
            print(f"{partition} resumes after {ckpt.position}")
            for row in ckpt.iterate(range(1, 11)):
                if row == fail_at:
                    raise RuntimeError(f"{partition} fails at row {row}")
                print(f"{partition} loaded row {row}")

    load.expand(partition=partitions())

checkpoint_reexpanded()
"""


def _rerun_after_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next ``dag.test()`` clear the existing run's task instances and run it again (as a clear in
    the UI does: on 3.3.2 the task state stays), instead of deleting the run and making a new one."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.taskinstance import clear_task_instances
    from airflow.utils.state import DagRunState

    def rerun(*, dag, logical_date, session, **_: object):  # type: ignore[no-untyped-def]
        run = session.scalar(
            dagrun_module.select(dagrun_module.DagRun).where(
                dagrun_module.DagRun.dag_id == dag.dag_id, dagrun_module.DagRun.logical_date == logical_date
            )
        )
        clear_task_instances(
            run.get_task_instances(session=session), session, dag_run_state=DagRunState.RUNNING
        )
        session.commit()
        session.refresh(run)
        run.dag = dag
        return run

    monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", rerun)


def test_a_changed_expansion_never_resumes_another_items_progress(
    airflow_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "settings.json"
    monkeypatch.setenv("CHECKPOINT_MAPPED_SETTINGS", str(settings))
    when = datetime(2026, 5, 4, tzinfo=timezone.utc)

    settings.write_text(json.dumps({"partitions": ["a", "b", "c"], "fail": {"b": 6}}))
    first = airflow_sandbox.run_dag(MAPPED_DAG, logical_date=when)
    assert first.states("load", 1) == ["failed"], first.output[-3000:]
    assert first.task_state("load", "rows", 1)["position"] == 5

    # The upstream list changes and the run is cleared: map index 1 now holds "x", not "b".
    settings.write_text(json.dumps({"partitions": ["a", "x", "c"]}))
    _rerun_after_clear(monkeypatch)
    second = airflow_sandbox.run_dag(MAPPED_DAG, logical_date=when)
    assert second.run_id == first.run_id
    assert second.state == "success", second.output[-3000:]
    assert "x resumes after 0" in second.output
    assert [int(n) for n in re.findall(r"x loaded row (\d+)", second.output)] == list(range(1, 11))
    assert "was saved for other inputs" in second.output


def test_a_second_block_on_one_key_and_a_cursor_across_the_end_of_dst(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(
        """
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo
        from airflow.sdk import dag, task
        from airflow_resumable import Checkpointer

        NY = ZoneInfo("America/New_York")
        # Sorted by instant across the end of DST: by wall clock 01:10 EST looks earlier than 01:30 EDT.
        EVENTS = [
            datetime(2026, 11, 1, 0, 50, tzinfo=NY),
            datetime(2026, 11, 1, 1, 30, tzinfo=NY),
            datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NY),
            datetime(2026, 11, 1, 1, 40, fold=1, tzinfo=NY),
            datetime(2026, 11, 1, 2, 10, tzinfo=NY),
        ]

        @dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
        def checkpoint_guarantees():
            @task(retries=0)
            def nested_same_key():
                with Checkpointer("progress") as outer:
                    for _ in outer.iterate(["a", "b"]):
                        with Checkpointer("progress") as inner:
                            for _ in inner.iterate(range(3)):
                                pass

            @task
            def copy_events(ti=None):
                with Checkpointer("events") as ckpt:
                    for event in ckpt.iterate(EVENTS, key=lambda e: e):
                        if ti.try_number == 1 and event == EVENTS[3]:
                            raise RuntimeError("lost the connection")
                        print(f"try {ti.try_number} copied event {EVENTS.index(event)}")

            nested_same_key()
            copy_events()

        checkpoint_guarantees()
        """
    )
    assert result.states("nested_same_key") == ["failed"], result.output[-3000:]
    assert "another Checkpointer on this key is already open in this task" in result.output
    assert result.states("copy_events") == ["failed", "success"], result.output[-3000:]
    assert _per_try(result.output, r"try (\d) copied event (\d+)") == {1: [0, 1, 2], 2: [3, 4]}
