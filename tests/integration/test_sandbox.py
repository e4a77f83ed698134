"""The real-Airflow harness itself: fresh databases, real retries, captured output, state readers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow

RETRYING_DAG = """
from datetime import timedelta
from airflow.sdk import dag, task

@dag(schedule=None, default_args={"retries": 2, "retry_delay": timedelta(0)})
def retrying():
    @task
    def flaky(task_state_store=None, ti=None):
        seen = task_state_store.get("tries", [])
        task_state_store.set("tries", seen + [ti.try_number])
        print(f"SANDBOX try={ti.try_number} seen={seen}")
        if ti.try_number < 3:
            raise RuntimeError("not yet")

    flaky()

retrying()
"""


def test_real_retries_share_the_task_store(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    result = airflow_sandbox.run_dag(RETRYING_DAG)
    assert result.state == "success"
    assert result.states("flaky") == ["failed", "failed", "success"]
    assert "SANDBOX try=3 seen=[1, 2]" in result.output
    assert result.task_state("flaky", "tries") == [1, 2, 3]
    assert result.task_state_keys("flaky") == {"tries": [1, 2, 3]}


def test_each_test_starts_with_an_empty_database(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        assert session.query(DagRun).count() == 0
    assert list(airflow_sandbox.dags_folder.iterdir()) == []


def test_a_dag_that_does_not_import_is_reported(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match=r"did not import.*no_such_module_anywhere"):
        airflow_sandbox.run_dag("from airflow.sdk import dag\nimport no_such_module_anywhere\n")
    with pytest.raises(RuntimeError, match="defines no DAG"):
        airflow_sandbox.run_dag("from airflow.sdk import dag\n", filename="empty.py")


def test_failed_run_is_reported_not_raised(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    result = airflow_sandbox.run_dag(
        """
        from airflow.sdk import dag, task

        @dag(schedule=None)
        def failing():
            @task
            def boom():
                raise RuntimeError("boom")
            boom()

        failing()
        """
    )
    assert result.state == "failed"
    assert result.states("boom") == ["failed"]
    assert "RuntimeError: boom" in result.output


def test_library_log_records_are_captured(airflow_sandbox) -> None:  # type: ignore[no-untyped-def]
    result = airflow_sandbox.run_dag(
        """
        import logging
        from airflow.sdk import dag, task

        @dag(schedule=None)
        def logging_dag():
            @task
            def talk():
                logging.getLogger("airflow_resumable.sandbox_check").warning("SANDBOX-LOG %s", 42)
            talk()

        logging_dag()
        """
    )
    assert result.state == "success"
    assert "SANDBOX-LOG 42" in result.output
