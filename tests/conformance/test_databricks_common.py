"""Conformance: what both Databricks run operators do, for the provider's class and the drop-ins.

Each test runs for ``DatabricksSubmitRunOperator`` and ``DatabricksRunNowOperator``, each as the
provider's class, the durable drop-in and the drop-in with ``durable=False`` (see conftest.py).
"""

from __future__ import annotations

import inspect
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowNotFoundException, TaskDeferred
from airflow.providers.databricks.operators import databricks as provider
from conformance_helpers import FLAVOURS, Flavour, flavour, xcom_keys

from airflow_resumable.jobs import databricks as ours

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "databricks_retry_delay": 0}
KINDS = {
    "submit": (
        provider.DatabricksSubmitRunOperator,
        ours.DatabricksSubmitRunOperator,
        {"notebook_task": {"notebook_path": "/Shared/etl"}, "existing_cluster_id": "cluster-1"},
        "jobs/runs/submit",
    ),
    "run_now": (
        provider.DatabricksRunNowOperator,
        ours.DatabricksRunNowOperator,
        {"job_id": 42},
        "jobs/run-now",
    ),
}


@pytest.fixture(params=[(k, f) for k in KINDS for f in FLAVOURS], ids=lambda p: f"{p[0]}-{p[1]}")
def op_factory(request: pytest.FixtureRequest) -> Any:
    kind, name = request.param
    provider_cls, drop_in_cls, args, endpoint = KINDS[kind]
    make = flavour(name, provider_cls, drop_in_cls)

    def build(**kwargs: Any) -> Any:
        return make(task_id="job", **{**args, **FAST, **kwargs})

    build.flavour = make  # type: ignore[attr-defined]
    build.endpoint = endpoint  # type: ignore[attr-defined]
    build.provider_cls = provider_cls  # type: ignore[attr-defined]
    return build


def _flavour(op_factory: Any) -> Flavour:
    return op_factory.flavour  # type: ignore[no-any-return]


def _bodies(databricks: Any, endpoint: str, *, durable: bool) -> list[dict[str, Any]]:
    """Request bodies, without the token the durable operator adds (its one intended difference)."""
    bodies = []
    for request in databricks.requests_to(endpoint):
        body = dict(request.body)
        if durable:
            assert body.pop("idempotency_token")  # intended: always sent
        bodies.append(body)
    return bodies


# -- construction -------------------------------------------------------------------------------------------
def test_defaults_and_attributes_match_the_provider(op_factory):
    op, reference = op_factory(), op_factory.provider_cls(task_id="job", **_args(op_factory))
    skip = {"durable", "_log", "_BaseOperator__init_kwargs", "_BaseOperator__from_mapped"}
    for name, value in vars(reference).items():
        if name not in skip:
            assert getattr(op, name) == value, name
    assert op.durable is (_flavour(op_factory).name != "not_durable")


def _args(op_factory: Any) -> dict[str, Any]:
    kind = "submit" if op_factory.endpoint == "jobs/runs/submit" else "run_now"
    return {**KINDS[kind][2], **FAST}


def test_class_level_settings_match_the_provider(op_factory):
    cls, reference = _flavour(op_factory).cls, op_factory.provider_cls
    for name in ("template_fields", "template_ext", "ui_color", "ui_fgcolor", "external_id_key"):
        assert getattr(cls, name) == getattr(reference, name), name
    assert [type(link) for link in cls.operator_extra_links] == [
        type(link) for link in reference.operator_extra_links
    ]


def test_every_provider_argument_is_accepted_with_its_default(op_factory):
    reference = inspect.signature(op_factory.provider_cls.__init__).parameters
    ours_params = inspect.signature(_flavour(op_factory).cls.__init__).parameters
    assert "kwargs" in ours_params  # the drop-in passes every provider argument through
    for name, param in reference.items():
        if name in ours_params:
            assert ours_params[name].default == param.default, name


# -- a run that succeeds ------------------------------------------------------------
def test_success_returns_none_and_pushes_run_id_and_page_url(op_factory, databricks, task_context):
    context = task_context()
    assert op_factory().execute(context) is None
    (run,) = databricks.created
    assert context["ti"].xcoms == [("run_id", run.run_id), ("run_page_url", context["ti"].xcoms[1][1])]
    assert str(run.run_id) in context["ti"].xcoms[1][1]
    assert run.step == "TERMINATED:SUCCESS"


def test_request_json_is_the_providers(op_factory, databricks, task_context):
    extra = {"timeout_seconds": 600} if op_factory.endpoint == "jobs/runs/submit" else {}
    op_factory(params={"env": "prod"}, **extra).execute(task_context())
    bodies = _bodies(databricks, op_factory.endpoint, durable=_flavour(op_factory).durable)
    expected = {
        "jobs/runs/submit": {
            "notebook_task": {"notebook_path": "/Shared/etl", "base_parameters": {"env": "prod"}},
            "existing_cluster_id": "cluster-1",
            "timeout_seconds": "600",
            "run_name": "job",
        },
        "jobs/run-now": {"job_id": "42", "job_parameters": {"env": "prod"}},
    }[op_factory.endpoint]
    assert bodies == [expected]


def test_a_users_idempotency_token_is_sent_as_given(op_factory, databricks, task_context):
    op_factory(idempotency_token="nightly-2026-01-01").execute(task_context())
    assert [r.token for r in databricks.created] == ["nightly-2026-01-01"]


def test_without_waiting_for_termination_it_returns_after_submitting(op_factory, databricks, task_context):
    context = task_context()
    assert op_factory(wait_for_termination=False).execute(context) is None
    assert xcom_keys(context) == ["run_id", "run_page_url"]
    assert len(databricks.requests_to("jobs/runs/get")) == 1  # the run page url, no polling


def test_no_xcoms_without_do_xcom_push(op_factory, databricks, task_context):
    context = task_context()
    op_factory(do_xcom_push=False).execute(context)
    assert context["ti"].xcoms == []


# -- failures come out as the provider raises them -----------------------------------------------------------
def test_a_failed_run_raises_the_providers_error_after_one_poll(op_factory, databricks, task_context):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    with pytest.raises(AirflowException) as raised:
        op_factory().execute(task_context())
    assert type(raised.value) is AirflowException
    assert str(raised.value) == (
        "job failed with terminal state: {'life_cycle_state': 'TERMINATED', 'result_state': 'FAILED', "
        "'state_message': 'Task failed with an error (scripted by the local stand-in).'} "
        "and with the errors []"
    )
    assert len(databricks.requests_to("jobs/runs/get")) == 2
    assert len(databricks.created) == 1


def test_a_cancelled_run_raises_the_providers_error(op_factory, databricks, task_context):
    databricks.scripts.append(["RUNNING", "TERMINATED:CANCELED"])
    with pytest.raises(AirflowException, match=r"^job failed with terminal state: .*CANCELED.*Run cancelled"):
        op_factory().execute(task_context())


def test_an_api_that_stays_down_raises_the_hooks_error(op_factory, databricks, task_context):
    databricks.fail_next(50, status=503, endpoint=op_factory.endpoint)
    with pytest.raises(AirflowException, match=r"^API requests to Databricks failed 1 times .*Giving up\.$"):
        op_factory().execute(task_context())
    assert databricks.created == []


def test_a_missing_connection_raises_airflows_not_found_error(op_factory, databricks, task_context):
    with pytest.raises(AirflowNotFoundException, match="The conn_id `not_configured` isn't defined"):
        op_factory(databricks_conn_id="not_configured").execute(task_context())


def test_a_rejected_request_raises_the_api_error(op_factory, databricks, task_context):
    from airflow.providers.databricks.exceptions import DatabricksApiError

    databricks.fail_next(1, status=400, endpoint=op_factory.endpoint)
    with pytest.raises(DatabricksApiError, match=r"Status Code: 400$") as raised:
        op_factory().execute(task_context())
    assert raised.value.http_status_code == 400


# -- contexts users pass in their own tests --------------------------------------------------
def test_a_plain_dict_context_without_store_runs_the_job(op_factory, databricks):
    assert op_factory(do_xcom_push=False).execute({}) is None
    assert len(databricks.created) == 1


def test_a_mock_context_runs_the_job(op_factory, databricks):
    context = mock.MagicMock()
    assert op_factory().execute(context) is None
    assert len(databricks.created) == 1
    assert [c.kwargs["key"] for c in context["ti"].xcom_push.call_args_list] == ["run_id", "run_page_url"]


# -- retries with a stored run (the provider's operators are durable in Airflow 3.3 too) -------------------
@pytest.mark.parametrize(
    ("script", "submits"),
    [
        (["RUNNING", "TERMINATED:SUCCESS"], 0),  # reconnect
        (["TERMINATED:SUCCESS"], 0),  # already succeeded
        (["TERMINATED:FAILED"], 1),  # terminal: a new run
        (["GONE"], 1),  # history expired: a new run
    ],
    ids=["active", "succeeded", "failed", "gone"],
)
def test_a_retry_with_a_stored_run(op_factory, databricks, task_context, script, submits):
    databricks.scripts.append(script)
    old = databricks.handle("POST", op_factory.endpoint, {"job_id": 42})[1]["run_id"]
    context = task_context(try_number=2)
    context["task_state_store"].set(op_factory.provider_cls.external_id_key, old)
    assert op_factory().execute(context) is None
    not_durable = _flavour(op_factory).name == "not_durable"
    assert len(databricks.created) - 1 == (1 if not_durable else submits)
    assert xcom_keys(context) == ["run_id", "run_page_url"]


# -- on_kill and deferrable ----------------------------------------------------------------------------------
def test_on_kill_cancels_the_submitted_run(op_factory, databricks, task_context):
    op = op_factory(wait_for_termination=False)
    op.execute(task_context())
    op.on_kill()
    assert [r.body for r in databricks.requests_to("jobs/runs/cancel")] == [
        {"run_id": databricks.created[0].run_id}
    ]


def test_on_kill_before_any_run_sends_nothing(op_factory, databricks):
    op_factory().on_kill()
    assert databricks.requests == []


def test_deferrable_defers_on_the_run_with_the_providers_trigger(op_factory, databricks, task_context):
    databricks.default_script = ["RUNNING"]
    context = task_context()
    with pytest.raises(TaskDeferred) as deferred:
        op_factory(deferrable=True).execute(context)
    (run,) = databricks.created
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow.providers.databricks.triggers.databricks.DatabricksExecutionTrigger"
    assert kwargs["run_id"] == run.run_id
    assert (kwargs["polling_period_seconds"], kwargs["retry_limit"], kwargs["databricks_conn_id"]) == (
        0,
        1,
        "databricks_default",
    )
    assert deferred.value.method_name == "execute_complete"
    assert xcom_keys(context) == ["job_id", "run_id", "run_page_url"]


def test_deferrable_with_a_run_already_finished_completes_without_deferring(
    op_factory, databricks, task_context
):
    databricks.default_script = ["TERMINATED:SUCCESS"]
    assert op_factory(deferrable=True).execute(task_context()) is None


def test_deferrable_with_a_run_already_failed_raises_the_providers_error(
    op_factory, databricks, task_context
):
    databricks.default_script = ["TERMINATED:FAILED"]
    with pytest.raises(AirflowException, match=r"^Job run failed with terminal state: .*FAILED"):
        op_factory(deferrable=True).execute(task_context())


def test_execute_complete_success_and_failure(op_factory, task_context):
    from airflow.providers.databricks.hooks.databricks import RunState

    def event(result: str) -> dict[str, Any]:
        state = RunState("TERMINATED", result, "msg")
        return {
            "run_id": 7,
            "run_page_url": "u",
            "run_state": state.to_json(),
            "repair_run": False,
            "errors": [],
        }

    op = op_factory()
    assert op.execute_complete(task_context(), event("SUCCESS")) is None
    with pytest.raises(
        AirflowException, match=r"^Job run failed with terminal state: .*FAILED.* and with the errors \[\]$"
    ):
        op.execute_complete(task_context(), event("FAILED"))


def test_openlineage_injection_runs_once_per_execute(op_factory, databricks, task_context, mocker):
    spy = mocker.spy(op_factory.provider_cls, "_inject_openlineage_properties_into_databricks_job")
    op_factory(openlineage_inject_parent_job_info=True).execute(task_context())
    assert spy.call_count == 1
    assert len(databricks.created) == 1
