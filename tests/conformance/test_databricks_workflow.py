"""Conformance: ``DatabricksWorkflowTaskGroup`` and its launch task (provider's, drop-in, ``durable=False``).

The group builds the same tasks and dependencies; the launch task sends the same ``jobs/create`` /
``jobs/reset`` and ``run-now`` requests (the durable launch adds ``idempotency_token`` to ``run-now``),
returns the same XCom and cancels the same run on kill. The group's notebook tasks monitor their task in
the launch's run, unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.databricks.operators import databricks as provider_ops
from airflow.providers.databricks.operators import databricks_workflow as provider
from airflow.sdk import DAG
from conformance_helpers import FLAVOURS

from airflow_resumable.jobs import databricks as ours
from airflow_resumable.jobs.databricks_workflow import CreateDatabricksWorkflowOperator

STARTED = ["RUNNING"] * 6 + ["TERMINATED:SUCCESS"]  # no PENDING: the launch sleeps 5 s per PENDING poll


def build(name: str, **group_args: Any) -> DAG:
    group_cls = (
        provider.DatabricksWorkflowTaskGroup if name == "provider" else ours.DatabricksWorkflowTaskGroup
    )
    notebook = (
        provider_ops.DatabricksNotebookOperator if name == "provider" else ours.DatabricksNotebookOperator
    )
    if name == "not_durable":
        group_args["durable"] = False
    dag = DAG("wf", schedule=None)
    with dag, group_cls(group_id="g", databricks_conn_id="databricks_default", **group_args):
        a = notebook(
            task_id="a", notebook_path="/a", source="WORKSPACE", job_cluster_key="c", polling_period_seconds=0
        )
        b = notebook(
            task_id="b", notebook_path="/b", source="WORKSPACE", job_cluster_key="c", polling_period_seconds=0
        )
        a >> b
    return dag


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


def launch_of(dag: DAG) -> Any:
    return dag.get_task("g.launch")


def run_now_bodies(databricks: Any, durable: bool) -> list[dict[str, Any]]:
    bodies = []
    for request in databricks.requests_to("jobs/run-now"):
        body = dict(request.body)
        if durable:
            assert body.pop("idempotency_token")  # intended
        bodies.append(body)
    return bodies


def test_the_group_builds_the_providers_tasks_and_dependencies(flavour):
    dag, reference = build(flavour, notebook_params={"p": "1"}), build("provider", notebook_params={"p": "1"})
    assert sorted(dag.task_dict) == sorted(reference.task_dict) == ["g.a", "g.b", "g.launch"]
    for task_id, task in reference.task_dict.items():
        assert dag.get_task(task_id).upstream_task_ids == task.upstream_task_ids, task_id
    launch = launch_of(dag)
    assert isinstance(launch, provider._CreateDatabricksWorkflowOperator)
    assert (type(launch) is CreateDatabricksWorkflowOperator) is (flavour == "durable")
    assert launch.relevant_upstreams == ["g.a", "g.b"]
    assert sorted(launch.tasks_to_convert) == ["g.a", "g.b"]
    assert launch.notebook_params == {"p": "1"}
    assert type(launch).template_fields == provider._CreateDatabricksWorkflowOperator.template_fields
    assert [type(x) for x in launch.operator_extra_links] == [
        type(x) for x in launch_of(reference).operator_extra_links
    ]


def test_launch_creates_the_job_runs_it_and_returns_the_providers_xcom(flavour, databricks, task_context):
    databricks.default_script = STARTED
    context = task_context()
    result = launch_of(build(flavour)).execute(context)
    (run,) = databricks.created
    assert result == {"conn_id": "databricks_default", "job_id": run.job_id, "run_id": run.run_id}
    (create,) = databricks.requests_to("jobs/create")
    assert create.body["name"] == "wf.g"
    assert [t["task_key"] for t in create.body["tasks"]] == [
        launch_of(build("provider")).tasks_to_convert[k].databricks_task_key for k in ("g.a", "g.b")
    ]
    assert run_now_bodies(databricks, flavour == "durable") == [
        {
            "job_id": run.job_id,
            "jar_params": [],
            "notebook_params": {},
            "python_params": [],
            "spark_submit_params": [],
        }
    ]
    assert [key for key, _ in context["ti"].xcoms] == ["databricks_job_run_link"]


def test_launch_of_an_existing_job_resets_it_with_the_same_spec(flavour, databricks, task_context):
    databricks.default_script = STARTED
    launch_of(build("provider")).execute(task_context())
    launch_of(build(flavour)).execute(task_context(try_number=1))
    create, reset = databricks.requests_to("jobs/create"), databricks.requests_to("jobs/reset")
    assert len(create) == 1
    assert reset[0].body["new_settings"] == create[0].body


def test_a_run_that_cannot_start_raises_the_providers_error(flavour, databricks, task_context):
    databricks.default_script = ["INTERNAL_ERROR:FAILED"]
    with pytest.raises(AirflowException, match=r"^Could not start the workflow job. State: INTERNAL_ERROR$"):
        launch_of(build(flavour)).execute(task_context())


def test_launch_outside_a_workflow_group_is_refused(flavour, databricks, task_context):
    cls = (
        provider._CreateDatabricksWorkflowOperator
        if flavour == "provider"
        else CreateDatabricksWorkflowOperator
    )
    extra = {"durable": False} if flavour == "not_durable" else {}
    with pytest.raises(AirflowException, match=r"^Task group must be a DatabricksWorkflowTaskGroup$"):
        cls(task_id="launch", databricks_conn_id="databricks_default", **extra).execute(task_context())
    assert databricks.requests == []


def test_on_kill_cancels_the_run_after_launch_and_nothing_before(flavour, databricks, task_context):
    databricks.default_script = STARTED
    launch = launch_of(build(flavour))
    launch.on_kill()
    assert databricks.requests == []
    launch.execute(task_context())
    launch.on_kill()
    assert [r.body for r in databricks.requests_to("jobs/runs/cancel")] == [
        {"run_id": databricks.created[0].run_id}
    ]


def test_the_groups_tasks_monitor_their_task_in_the_launchs_run(flavour, databricks, task_context):
    databricks.default_script = STARTED
    dag = build(flavour)
    metadata = launch_of(dag).execute(task_context())
    task = dag.get_task("g.a")
    task.workflow_run_metadata = metadata
    assert task.execute(task_context()) is None
    assert len(databricks.created) == 1  # the task submits nothing
    assert databricks.requests_to("jobs/runs/submit") == []


@pytest.mark.parametrize(
    ("script", "new_runs"),
    [(STARTED, 0), (["TERMINATED:SUCCESS"], 0), (["TERMINATED:FAILED"], 1), (["GONE"], 1)],
)
def test_a_launch_retry_after_an_earlier_try_ran_the_job(flavour, databricks, task_context, script, new_runs):
    databricks.default_script = STARTED
    dag = build(flavour)
    first = launch_of(dag).execute(task_context())
    databricks.run(first["run_id"]).script = script
    databricks.run(first["run_id"]).gets = 0
    context = task_context(try_number=2)
    second = launch_of(build(flavour)).execute(context)
    expected = new_runs if flavour == "durable" else 1
    assert len(databricks.created) - 1 == expected
    assert (second == first) is (expected == 0)
    if flavour == "durable" and new_runs == 0:
        assert databricks.requests_to("jobs/reset") == []  # the job is not reset under its running run
