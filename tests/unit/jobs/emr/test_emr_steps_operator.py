"""EmrAddStepsOperator against a local EMR cluster (moto): markers, ListSteps discovery, partial adds."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.amazon.aws.operators import emr as provider
from airflow.providers.amazon.aws.triggers.emr import EmrAddStepsTrigger
from airflow.sdk.exceptions import TaskDeferred

import moto_server
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs.base import Decision
from airflow_resumable.jobs.emr import EmrAddStepsOperator

KEY = "emr_step_ids"
INTENT = f"{KEY}.intent"


class _Response:
    status_code = 400


def _steps(count: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "Name": f"step-{i}",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://bucket/s{i}.py"]},
        }
        for i in range(count)
    ]


def _op(cluster: str, steps: Any = None, **kwargs: Any) -> EmrAddStepsOperator:
    kwargs.setdefault("waiter_delay", 1)
    kwargs.setdefault("waiter_max_attempts", 3)
    if "job_flow_name" not in kwargs:
        kwargs["job_flow_id"] = cluster
    return EmrAddStepsOperator(task_id="job", steps=_steps() if steps is None else steps, **kwargs)


def test_every_step_name_carries_the_marker_and_the_result_is_the_provider_shape(cluster, retry_context):
    ctx = retry_context()
    step_ids = _op(cluster).execute(ctx)

    on_cluster = moto_server.cluster_steps(cluster)
    token = ctx["task_state_store"].get(INTENT)["token"]
    assert step_ids == [step.id for step in on_cluster]
    assert [step.name for step in on_cluster] == [f"step-{i} [{token}/{i}]" for i in range(3)]
    assert ctx["task_state_store"].get(KEY) == {"job_flow_id": cluster, "step_ids": step_ids}
    assert ctx["ti"].xcoms["job_flow_id"] == cluster  # the provider's XCom and links are still pushed


def test_only_the_missing_steps_are_added(cluster, retry_context):
    ctx = retry_context(2)
    token = _op(cluster).idempotency_token(ctx, 1)
    emr = moto_server.client("emr")
    emr.add_job_flow_steps(JobFlowId=cluster, Steps=[{**_steps()[1], "Name": f"step-1 [{token}/1]"}])
    emr.add_job_flow_steps(JobFlowId=cluster, Steps=[{**_steps()[0], "Name": "someone else's step"}])
    ctx["task_state_store"].set(INTENT, {"generation": 1, "token": token, "state": "submitting"})

    op = _op(cluster)
    assert op.decide(ctx).action is Decision.FRESH  # a partial find is not "the job"
    step_ids = op.execute(ctx)

    on_cluster = {step.id: step.name for step in moto_server.cluster_steps(cluster)}
    assert len(on_cluster) == 4
    assert [on_cluster[step_id] for step_id in step_ids] == [f"step-{i} [{token}/{i}]" for i in range(3)]


def test_statuses_of_many_steps_are_read_in_batches_of_ten(cluster, retry_context):
    step_ids = _op(cluster, steps=_steps(12)).execute(retry_context(1))
    moto_server.complete_steps(cluster, step_ids)
    moto_server.set_step_state(cluster, step_ids[11], "INTERRUPTED")

    decision = _op(cluster, steps=_steps(12)).decide(retry_context(2))

    assert (decision.action, decision.status, decision.generation) == (Decision.RESUBMIT, "INTERRUPTED", 2)


@pytest.mark.parametrize(
    ("states", "action"),
    [
        (["COMPLETED", "RUNNING", "PENDING"], Decision.RECONNECT),
        (["COMPLETED", "COMPLETED", "COMPLETED"], Decision.ALREADY_SUCCEEDED),
        (["COMPLETED", "FAILED", "CANCELLED"], Decision.RESUBMIT),
    ],
)
def test_the_steps_together_decide(cluster, retry_context, states, action):
    ctx = retry_context(2)
    step_ids = moto_server.client("emr").add_job_flow_steps(JobFlowId=cluster, Steps=_steps())["StepIds"]
    for step_id, state in zip(step_ids, states, strict=True):
        moto_server.set_step_state(cluster, step_id, state)
    ctx["task_state_store"].set(KEY, {"job_flow_id": cluster, "step_ids": step_ids})  # an earlier try's

    assert _op(cluster).decide(ctx).action is action


def test_a_resubmission_adds_all_steps_with_new_markers(cluster, retry_context):
    first = _op(cluster).execute(retry_context(1))
    moto_server.complete_steps(cluster, first)
    moto_server.set_step_state(cluster, first[0], "FAILED")

    second = _op(cluster).execute(retry_context(2))

    token = retry_context(2)["task_state_store"].get(INTENT)["token"]
    assert token.endswith("-g2")
    names = {step.id: step.name for step in moto_server.cluster_steps(cluster)}
    assert [names[step_id] for step_id in second] == [f"step-{i} [{token}/{i}]" for i in range(3)]
    assert set(first).isdisjoint(second)


def test_steps_unknown_to_the_cluster_are_resubmitted(cluster, retry_context):
    first = _op(cluster).execute(retry_context(1))
    moto_server.forget_steps(cluster, first[:1])

    decision = _op(cluster).decide(retry_context(2))

    assert (decision.action, decision.generation) == (Decision.RESUBMIT, 2)


def test_an_unreadable_stored_id_is_resubmitted(cluster, retry_context):
    ctx = retry_context(2)
    ctx["task_state_store"].set(KEY, ["s-OLDSHAPE"])

    assert _op(cluster).decide(ctx).action is Decision.RESUBMIT


def test_steps_given_as_a_string_and_a_cluster_given_by_name(aws, retry_context):
    cluster = moto_server.create_cluster("cluster-by-name")
    op = _op(cluster, steps=repr(_steps(2)), job_flow_name="cluster-by-name", cluster_states=["WAITING"])
    assert op.decide(retry_context()).action is Decision.FRESH  # decide() alone resolves the name too
    step_ids = op.execute(retry_context())

    assert step_ids == [step.id for step in moto_server.cluster_steps(cluster)]


@pytest.mark.parametrize("steps", [[], None, "[]"], ids=["empty", "missing", "empty string"])
def test_no_steps_behave_as_the_provider_with_nothing_stored(cluster, retry_context, steps):
    ctx = retry_context()
    ours = EmrAddStepsOperator(task_id="job", job_flow_id=cluster, steps=steps).execute(ctx)
    theirs = provider.EmrAddStepsOperator(task_id="job", job_flow_id=cluster, steps=steps).execute(ctx)

    assert ours == theirs == []
    assert ctx["task_state_store"].get(INTENT) is None
    assert moto_server.cluster_steps(cluster) == []


def test_steps_that_are_not_step_dicts_fail_as_the_provider_does(cluster, retry_context):
    from botocore.exceptions import ParamValidationError

    ctx = retry_context()
    with pytest.raises(ParamValidationError) as ours:
        _op(cluster, steps=[["not", "a", "dict"]]).execute(ctx)
    with pytest.raises(ParamValidationError) as theirs:
        provider.EmrAddStepsOperator(
            task_id="job", job_flow_id=cluster, steps=[["not", "a", "dict"]]
        ).execute(ctx)
    assert str(ours.value) == str(theirs.value)
    assert ctx["task_state_store"].get(INTENT) is None


def test_a_missing_cluster_fails_with_the_providers_error_first(aws, retry_context):
    from airflow.providers.common.compat.sdk import AirflowException

    with pytest.raises(AirflowException, match=r"^No cluster found for name: nowhere$"):
        _op("unused", steps=[], job_flow_name="nowhere").execute(retry_context())


def test_fewer_step_ids_than_steps_are_returned_as_the_api_gave_them(cluster, retry_context):
    op = _op(cluster)

    def two_ids(parsed: Any, model: Any, **_: Any) -> None:
        if model.name == "AddJobFlowSteps":
            parsed["StepIds"] = parsed["StepIds"][:2]

    op.hook.conn.meta.events.register("after-call.emr.AddJobFlowSteps", two_ids)
    ids = op.execute(retry_context())

    assert len(ids) == 2
    assert retry_context()["task_state_store"].get(KEY)["step_ids"] == ids


def test_openlineage_injection_runs_once_per_execute(cluster, retry_context, mocker):
    op = _op(cluster, openlineage_inject_parent_job_info=True)
    spy = mocker.spy(op, "_inject_openlineage_parent_job_information")

    op.execute(retry_context())

    assert spy.call_count == 1


def test_a_state_reset_adds_new_steps(cluster, retry_context):
    first = _op(cluster).execute(retry_context(1))
    moto_server.complete_steps(cluster, first)
    store = retry_context()["task_state_store"]
    store.delete(KEY)
    store.delete(INTENT)  # the documented way to force a new job

    second = _op(cluster).execute(retry_context(2))

    assert set(first).isdisjoint(second)
    assert len(moto_server.cluster_steps(cluster)) == 6


def test_a_running_step_is_not_added_again_after_a_continue_step_failed(cluster, retry_context):
    first = _op(cluster).execute(retry_context(1))
    moto_server.set_step_state(cluster, first[0], "FAILED")  # ActionOnFailure=CONTINUE: the others run on
    moto_server.set_step_state(cluster, first[1], "RUNNING")

    decision = _op(cluster).decide(retry_context(2))
    ids = _op(cluster).execute(retry_context(2))

    assert (decision.action, decision.status) == (Decision.RECONNECT, "RUNNING")
    assert ids == first
    assert len(moto_server.cluster_steps(cluster)) == 3


def test_the_intent_records_the_cluster_and_a_retry_searches_there(aws, retry_context):
    cluster = moto_server.create_cluster("by-name")
    ctx = retry_context(1)
    first = _op(cluster, job_flow_name="by-name", cluster_states=["WAITING"]).execute(ctx)
    intent = ctx["task_state_store"].get(INTENT)
    assert intent["job_flow_id"] == cluster
    ctx["task_state_store"].set(INTENT, {**intent, "state": "submitting", "external_id": None})
    ctx["task_state_store"].delete(KEY)  # the crash: steps added, ids never stored
    moto_server.set_cluster_state(cluster, "RUNNING")  # busy with the steps: the name no longer resolves

    decision = _op(cluster, job_flow_name="by-name", cluster_states=["WAITING"]).decide(retry_context(2))

    assert (decision.action, decision.external_id) == (
        Decision.RECONNECT,
        {"job_flow_id": cluster, "step_ids": first},
    )


def test_steps_whose_cluster_is_gone_are_resubmitted(cluster, retry_context):
    first = _op(cluster).execute(retry_context(1))
    other = moto_server.create_cluster()
    store = retry_context()["task_state_store"]
    gone = {"job_flow_id": "j-GONE", "step_ids": first}
    store.set(KEY, gone)
    store.set(INTENT, {**store.get(INTENT), "job_flow_id": "j-GONE", "external_id": gone})
    op = _op(other)

    def as_aws_answers(params: Any, **_: Any) -> Any:  # moto fails with a 500 for an unknown cluster
        if b"j-GONE" in params["body"]:
            error = {"Code": "InvalidRequestException", "Message": "Cluster id 'j-GONE' is not valid."}
            return _Response(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    op.hook.conn.meta.events.register("before-call.emr.ListSteps", as_aws_answers)
    ids = op.execute(retry_context(2))

    assert [step.id for step in moto_server.cluster_steps(other)] == ids


def test_deferrable_reconnect_defers_on_the_existing_steps(cluster, retry_context):
    step_ids = _op(cluster).execute(retry_context(1))

    with pytest.raises(TaskDeferred) as deferred:
        _op(cluster, deferrable=True).execute(retry_context(2))

    trigger = deferred.value.trigger
    assert isinstance(trigger, EmrAddStepsTrigger)
    assert trigger.waiter_args == {"ClusterId": cluster, "StepIds": step_ids}
    assert trigger.return_value == step_ids
    assert len(moto_server.cluster_steps(cluster)) == 3


def test_durable_false_is_the_provider_operator(cluster, retry_context):
    ctx = retry_context()
    first = _op(cluster, durable=False).execute(ctx)
    second = _op(cluster, durable=False).execute(ctx)

    assert len(set(first + second)) == 6
    assert [step.name for step in moto_server.cluster_steps(cluster)][:3] == ["step-0", "step-1", "step-2"]
    assert ctx["task_state_store"].get(KEY) is None
    assert not any(common.has_marker(step.name, "x") for step in moto_server.cluster_steps(cluster))


def test_a_repeated_submission_that_finds_a_failed_step_starts_the_next_generation(cluster, retry_context):
    ctx = retry_context(1)
    first = _op(cluster).execute(ctx)
    moto_server.forget_steps(cluster, first[2:])  # the crash: only two steps reached the cluster...
    moto_server.set_step_state(cluster, first[0], "COMPLETED")
    moto_server.set_step_state(cluster, first[1], "FAILED")  # ...and one of them failed since
    intent = ctx["task_state_store"].get(INTENT)
    ctx["task_state_store"].set(INTENT, {**intent, "state": "submitting", "external_id": None})
    ctx["task_state_store"].delete(KEY)

    ids = _op(cluster).execute(retry_context(2))

    assert ctx["task_state_store"].get(INTENT)["generation"] == 2
    assert set(ids).isdisjoint(first) and len(ids) == 3
    assert len(moto_server.cluster_steps(cluster)) == 5
