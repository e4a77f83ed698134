"""Conformance: ``SageMakerTrainingOperator`` and ``SageMakerProcessingOperator`` as the provider's class, the
drop-in and the drop-in with ``durable=False``, each compared with the provider's class run the same way
against the local AWS (moto, answering taken and unknown job names as SageMaker does:
``aws_sagemaker_front.sagemaker_like_aws``).

There is no intended difference in a first submission's requests: the job name is yours, made unique as
the provider makes it. Jobs of the two runs compared get different names (SageMaker refuses a second job
of one name), so names are read as ``<name>`` when results and messages are compared.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import sagemaker as provider
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.sdk.exceptions import TaskDeferred
from conformance_helpers import first_event, outcome, xcom_keys

import aws_sagemaker_front as front
import moto_server
from airflow_resumable.jobs import _errors
from airflow_resumable.jobs import sagemaker as ours

SERVICE = "sagemaker"
VOLATILE = {"ResponseMetadata", "SecondaryStatusTransitions", "FinalMetricDataList"}


@dataclass(frozen=True)
class Kind:
    name: str
    theirs: type
    ours: type
    key: str

    @property
    def field(self) -> str:
        return f"{self.name}JobName"

    def config(self, job_name: str, data: str) -> dict[str, Any]:
        if self.name == "Training":
            return {
                "TrainingJobName": job_name,
                "AlgorithmSpecification": {"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
                "RoleArn": moto_server.ROLE_ARN,
                "OutputDataConfig": {"S3OutputPath": f"s3://{front.BUCKET}/models"},
                "ResourceConfig": {"InstanceCount": "1", "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
                "StoppingCondition": {"MaxRuntimeInSeconds": "3600"},
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}},
                    }
                ],
            }
        return {
            "ProcessingJobName": job_name,
            "AppSpecification": {"ImageUri": "sklearn:1"},
            "RoleArn": moto_server.ROLE_ARN,
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": "1", "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
            },
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "evaluation",
                        "S3Output": {
                            "S3Uri": f"s3://{front.BUCKET}/eval",
                            "LocalPath": "/opt/ml/processing/eval",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        }


KINDS = {
    "Training": Kind(
        "Training",
        provider.SageMakerTrainingOperator,
        ours.SageMakerTrainingOperator,
        "sagemaker_training_job_name",
    ),
    "Processing": Kind(
        "Processing",
        provider.SageMakerProcessingOperator,
        ours.SageMakerProcessingOperator,
        "sagemaker_processing_job_name",
    ),
}


@pytest.fixture
def sagemaker(aws: str) -> Any:
    with front.sagemaker_like_aws() as created:
        yield created


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[str(request.param)]


@pytest.fixture
def data(sagemaker: Any) -> str:
    return front.input_data()


@pytest.fixture
def make(flavour_name: str, kind: Kind, data: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference. Each call
    names its job ``<prefix>-<n>`` unless ``job_name`` is given."""
    prefix = f"{kind.name.lower()[:4]}-{uuid.uuid4().hex[:8]}"
    count = iter(range(1, 100))

    def args(job_name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        job_name = job_name or f"{prefix}-{next(count)}"
        config = kwargs.pop("config", None) or kind.config(job_name, data)
        return {
            "task_id": "job",
            "config": config,
            "check_interval": 0,
            "max_attempts": 3,
            **copy.deepcopy(kwargs),
        }

    build = conformance.operator_maker(flavour_name, kind.theirs, kind.ours, args)
    build.kind = kind  # type: ignore[attr-defined]
    build.prefix = prefix  # type: ignore[attr-defined]
    return build


def _requests(op: Any) -> moto_server.Requests:
    return moto_server.Requests(op, SERVICE)


def _normal(value: Any, *names: str) -> Any:
    """``value`` with the job names read as ``<name>`` (and a timestamp or generation suffix dropped), and
    fields that differ between any two jobs (times, request ids) left out."""
    text = json.dumps(value, default=repr, sort_keys=True)
    for name in names:
        text = re.sub(rf"{re.escape(name)}(-[0-9]{{10}}|-[0-9a-f]{{12}}-g\d+)?", "<name>", text)
    return _drop(json.loads(text))


def _drop(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop(v) for k, v in value.items() if k not in VOLATILE and "Time" not in k}
    if isinstance(value, list):
        return [_drop(v) for v in value]
    return value


def _move_after_create(op: Any, kind: Kind, state: str) -> None:
    """Move the job ``op`` creates to ``state`` on AWS as soon as ``Create*Job`` returns."""

    def move(parsed: dict[str, Any], **_: Any) -> None:
        front.set_status(kind.name, parsed[f"{kind.name}JobArn"], state)

    op.hook.conn.meta.events.register(f"after-call.sagemaker.Create{kind.name}Job", move)


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op, theirs = make(), make.kind.theirs
    conformance.assert_class_surface_is_the_providers(op, theirs)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "deferrable": True,
            "wait_for_completion": False,
            "action_if_job_exists": "fail",
            "max_attempts": None,
        },
    ],
)
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(job_name="same", **extra), make.provider(job_name="same", **extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)


def test_an_unknown_action_if_job_exists_is_refused_alike(make):
    assert outcome(make, action_if_job_exists="increment") == outcome(
        make.provider, action_if_job_exists="increment"
    )
    assert outcome(make, action_if_job_exists="increment")[0] == "raised"


# -- creating and waiting ------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{}, {"print_log": False}, {"wait_for_completion": False}])
def test_create_request_result_calls_and_xcoms(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_calls, calls = _requests(ref), _requests(op)
    ref_ctx, ctx = task_context(), task_context()
    ref_name, name = ref.config[make.kind.field], op.config[make.kind.field]

    ref_result = ref.execute(ref_ctx)
    result = op.execute(ctx)

    create = f"Create{make.kind.name}Job"
    assert _normal(calls.of(create), name) == _normal(ref_calls.of(create), ref_name)
    assert calls.of(create)[0][make.kind.field] == name  # your name, unchanged
    assert calls.names() == ref_calls.names()
    assert _normal(result, name) == _normal(ref_result, ref_name)
    assert _normal(op.config, name) == _normal(ref.config, ref_name)  # integers parsed, the name kept
    assert xcom_keys(ctx) == xcom_keys(ref_ctx)


@pytest.mark.parametrize("action", ["timestamp", "fail"])
def test_your_name_taken_before_the_first_try(make, task_context, action):
    """Both make the name unique with a timestamp, or both fail, before anything is created."""
    taken = f"{make.prefix}-taken"
    make.provider(job_name=taken).execute(task_context(9))
    ref, op = (
        make.provider(job_name=taken, action_if_job_exists=action),
        make(job_name=taken, action_if_job_exists=action),
    )
    ref_calls, calls = _requests(ref), _requests(op)

    got, expected = (
        outcome(op.execute, task_context()),
        outcome(ref.execute, task_context(8)),
    )

    assert _normal(got, taken) == _normal(expected, taken)
    if action == "fail":
        assert got == ("raised", f"AirflowException: A SageMaker job with name {taken} already exists.")
        assert calls.names() == ref_calls.names() == [f"Describe{make.kind.name}Job"]
    else:
        assert re.fullmatch(rf"{taken}-\d{{10}}", op.config[make.kind.field])


@pytest.mark.parametrize("kind", ["Training"], indirect=True)  # the only one with check_if_job_exists
def test_training_without_the_name_check_fails_on_a_taken_name_alike(make, task_context):
    taken = f"{make.prefix}-taken"
    make.provider(job_name=taken).execute(task_context(9))
    got = outcome(make(job_name=taken, check_if_job_exists=False).execute, task_context())
    expected = outcome(make.provider(job_name=taken, check_if_job_exists=False).execute, task_context(8))
    assert got == expected
    assert got[0] == "raised" and "ResourceInUse" in got[1]


@pytest.mark.parametrize("extra", [{}, {"print_log": False}])
def test_a_failed_job_raises_alike(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    _move_after_create(ref, make.kind, "Failed")
    _move_after_create(op, make.kind, "Failed")
    ref_name, name = ref.config[make.kind.field], op.config[make.kind.field]

    got, expected = (
        outcome(op.execute, task_context()),
        outcome(ref.execute, task_context(8)),
    )

    assert got[0] == "raised"
    assert _normal(got, name) == _normal(expected, ref_name)


@pytest.mark.parametrize("kind", ["Processing"], indirect=True)  # the only one reading output files
def test_processing_output_files_alike(make, task_context, monkeypatch):
    # The provider reads them with a client of the hook's session, which ignores the connection's
    # endpoint_url: botocore's own setting points that client at the local S3.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint())
    moto_server.client("s3").put_object(Bucket=front.BUCKET, Key="eval/metrics.json", Body=b'{"mse": 0.5}')
    files = [
        {"output_name": "evaluation", "file_name": "metrics.json", "result_name": "Report"},
        {"output_name": "evaluation", "file_name": "missing.json", "result_name": "Missing"},
    ]
    result = make(output_files_to_xcom=files).execute(task_context())
    expected = make.provider(output_files_to_xcom=files).execute(task_context(8))
    assert result["OutputFiles"] == expected["OutputFiles"]
    assert result["OutputFiles"]["Report"] == {"mse": 0.5}

    no_wait = {"output_files_to_xcom": files, "wait_for_completion": False}
    got = outcome(make(**no_wait).execute, task_context())
    assert got == outcome(make.provider(**no_wait).execute, task_context(8))
    assert got[0] == "raised" and got[1].startswith("ValueError: output_files_to_xcom requires")


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    op = make()
    op.execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get(make.kind.key) == op.config[make.kind.field]) is make.durable
    assert (stored.get(f"{make.kind.key}.intent") is not None) is make.durable


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    _move_after_create(ref, make.kind, "InProgress")
    _move_after_create(op, make.kind, "InProgress")
    ref_calls, calls = _requests(ref), _requests(op)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(
        got, expected, SageMakerTrigger, "job_name", "waiter_args", "return_value"
    )
    assert calls.names() == ref_calls.names()

    name = got.trigger.job_name
    assert name == op.config[make.kind.field]
    moto_server.after_async_poll(front.set_status, make.kind.name, name, "Completed")
    event = first_event(got.trigger)  # against moto: in progress, then completed
    assert event == {"status": "success", "job_name": name}
    ref_event = {**event, "job_name": expected.trigger.job_name}
    front.set_status(make.kind.name, expected.trigger.job_name, "Completed")
    assert _normal(outcome(op.execute_complete, task_context(), event), name) == _normal(
        outcome(ref.execute_complete, task_context(), ref_event), expected.trigger.job_name
    )


@pytest.mark.parametrize("state", ["Completed", "Failed"])
def test_deferrable_with_a_job_that_ended_at_once(make, task_context, state):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    _move_after_create(ref, make.kind, state)
    _move_after_create(op, make.kind, state)
    ref_name, name = ref.config[make.kind.field], op.config[make.kind.field]
    got, expected = (
        outcome(op.execute, task_context()),
        outcome(ref.execute, task_context(8)),
    )
    assert got[0] == ("returned" if state == "Completed" else "raised")
    assert _normal(got, name) == _normal(expected, ref_name)


@pytest.mark.parametrize("status", ["success", "failed"])
def test_execute_complete(make, task_context, status):
    name = f"{make.prefix}-done"
    make.provider(job_name=name).execute(task_context(9))
    event = {"status": status, "job_name": name, "message": "it broke"}
    assert _normal(outcome(make().execute_complete, task_context(), event)) == _normal(
        outcome(make.provider().execute_complete, task_context(), event)
    )


def test_on_kill_does_nothing_as_with_the_provider(make, task_context):
    op = make()
    op.execute(task_context())
    calls = _requests(op)
    op.on_kill()
    assert calls.names() == []
    assert type(op).on_kill is make.kind.theirs.on_kill


# -- contexts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [mock.MagicMock(), {}], ids=["mock", "plain dict"])
def test_a_context_without_a_store_works_as_with_the_provider(make, context):
    op, ref = make(), make.provider()
    calls, ref_calls = _requests(op), _requests(ref)
    name, ref_name = op.config[make.kind.field], ref.config[make.kind.field]
    assert _normal(op.execute(context), name) == _normal(ref.execute(context), ref_name)
    assert calls.names() == ref_calls.names()


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable(kind: Kind, data: str) -> Any:
    prefix = f"{kind.name.lower()[:4]}-{uuid.uuid4().hex[:8]}"

    def build(**kwargs: Any) -> Any:
        config = kind.config(prefix, data)
        return kind.ours(task_id="job", config=config, check_interval=0, print_log=False, **kwargs)

    build.prefix = prefix  # type: ignore[attr-defined]
    build.kind = kind  # type: ignore[attr-defined]
    return build


def _crash_after_create(op: Any, kind: Kind, state: str | None = None) -> None:
    def crash(parsed: dict[str, Any], **_: Any) -> None:
        if state == "InProgress":  # still running when the retry looks (twice), ends while it waits
            front.keep_in_progress(kind.name, parsed[f"{kind.name}JobArn"], 3)
        elif state:
            front.set_status(kind.name, parsed[f"{kind.name}JobArn"], state)
        raise RuntimeError(f"worker lost after Create{kind.name}Job returned")

    op.hook.conn.meta.events.register(f"after-call.sagemaker.Create{kind.name}Job", crash)


@pytest.mark.parametrize("state", ["InProgress", "Completed"])
def test_a_crash_after_create_is_found_by_its_name(durable, task_context, sagemaker, state):
    kind = durable.kind
    op = durable()
    _crash_after_create(op, kind, state)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable()
    calls = _requests(retry)
    decisions: list[str] = []
    decide = retry.decide

    def noted(context: Any) -> Any:
        decision = decide(context)
        decisions.append(decision.action.name)
        return decision

    retry.decide = noted
    result = retry.execute(task_context(2))

    assert front.jobs(kind.name, durable.prefix) == [durable.prefix]
    assert sagemaker == [(kind.name, durable.prefix)]  # one create
    assert result[kind.name][kind.field] == durable.prefix
    assert result[kind.name][f"{kind.name}JobStatus"] == "Completed"
    assert f"Create{kind.name}Job" not in calls.names()
    assert calls.names()[:2] == [f"Describe{kind.name}Job"] * 2  # found by its name, then its status
    assert decisions == ["RECONNECT" if state == "InProgress" else "ALREADY_SUCCEEDED"]


@pytest.mark.parametrize(
    ("state", "new"), [("InProgress", False), ("Completed", False), ("Failed", True), ("Stopped", True)]
)
def test_a_retry_after_the_name_was_stored(durable, task_context, state, new):
    kind = durable.kind
    first = durable()
    _move_after_create(first, kind, state if state != "InProgress" else "Completed")
    outcome(first.execute, task_context(1))
    if state == "InProgress":  # running again when the retry looks; ends while the retry waits
        front.keep_in_progress(kind.name, durable.prefix, 2)

    retry = durable()
    result = retry.execute(task_context(2))

    names = front.jobs(kind.name, durable.prefix)
    assert len(names) == (2 if new else 1)
    got = result[kind.name][kind.field]
    if new:
        assert re.fullmatch(rf"{durable.prefix}-[0-9a-f]{{12}}-g2", got) and got == names[-1]
    else:
        assert got == durable.prefix


def test_a_recorded_name_is_not_checked_or_renamed_again(durable, task_context, sagemaker):
    """With ``action_if_job_exists="fail"`` the provider's retry fails on its own job; ours finds it."""
    kind = durable.kind
    op = durable(action_if_job_exists="fail")
    _crash_after_create(op, kind)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    result = durable(action_if_job_exists="fail").execute(task_context(2))

    assert result[kind.name][kind.field] == durable.prefix and len(sagemaker) == 1


def test_a_repeated_create_that_finds_its_name_taken_gives_that_job(durable, task_context, sagemaker):
    """A lookup that misses the job (read lagging behind the create) makes the retry create again with
    the recorded name; SageMaker refuses it (``ResourceInUse``), and that job is this submission's."""
    kind = durable.kind
    op = durable()
    _crash_after_create(op, kind)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable()
    misses = iter([True])

    def lagging(**_: Any) -> Any:
        if next(misses, False):

            class Response:
                status_code = 400

            error = {"Code": "ValidationException", "Message": "Requested resource not found."}
            return Response(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    retry.hook.conn.meta.events.register(f"before-call.sagemaker.Describe{kind.name}Job", lagging)
    calls = _requests(retry)
    result = retry.execute(task_context(2))

    assert result[kind.name][kind.field] == durable.prefix
    assert sagemaker == [(kind.name, durable.prefix)]  # the second create was refused
    assert f"Create{kind.name}Job" in calls.names()


def test_a_stored_job_that_is_gone_starts_the_next_generation(durable, task_context):
    kind = durable.kind
    durable().execute(task_context(1))
    front.forget(kind.name, durable.prefix)

    retry = durable()
    calls = _requests(retry)
    result = retry.execute(task_context(2))

    got = result[kind.name][kind.field]
    assert re.fullmatch(rf"{durable.prefix}-[0-9a-f]{{12}}-g2", got)
    assert front.jobs(kind.name, durable.prefix) == [got]
    assert calls.names()[:2] == [f"Describe{kind.name}Job", f"Create{kind.name}Job"]  # read once as gone


def test_a_deferrable_retry_defers_on_the_existing_job(durable, task_context, sagemaker):
    kind = durable.kind
    op = durable(deferrable=True)
    _move_after_create(op, kind, "InProgress")
    with pytest.raises(TaskDeferred):
        op.execute(task_context(1))

    retry = durable(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        retry.execute(task_context(2))

    assert deferred.value.trigger.job_name == durable.prefix
    assert len(sagemaker) == 1


# -- names and errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 20, 47, 48, 63])
def test_a_new_generation_name_keeps_sagemakers_rules(length):
    name = ("a-" * 40)[: length - 1] + "z"
    from airflow_resumable.jobs._sagemaker_common import rotated_name

    got = rotated_name(name, 12, "0123456789ab")
    assert len(got) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", got)
    assert got.endswith("-0123456789ab-g12") and got.startswith(name[:10].rstrip("-")[:1])


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_sagemakers_answers_to_unknown_and_taken_names_are_read_as_such(sagemaker, data, kind_name):
    """The front answers as SageMaker does; an unknown name is "not found", a taken one "taken", and
    neither is worth retrying."""
    from botocore.exceptions import ClientError

    from airflow_resumable.jobs._sagemaker_common import is_name_taken

    kind, client = KINDS[kind_name], moto_server.client("sagemaker")
    op = kind.ours(task_id="job", config={})
    with pytest.raises(ClientError) as unknown:
        getattr(client, f"describe_{kind_name.lower()}_job")(**{kind.field: f"never-{uuid.uuid4().hex[:8]}"})
    error = unknown.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", "Requested resource not found.")
    assert op.is_job_not_found(unknown.value) and not _errors.is_transient(unknown.value)

    config = kind.config(f"taken-{uuid.uuid4().hex[:8]}", data)
    config = json.loads(json.dumps(config).replace('"1"', "1").replace('"3600"', "3600"))
    create = getattr(client, f"create_{kind_name.lower()}_job")
    create(**config)
    with pytest.raises(ClientError) as taken:
        create(**config)
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    assert taken.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert is_name_taken(taken.value) and not op.is_job_not_found(taken.value)
    assert not _errors.is_transient(taken.value)


def test_what_moto_does_without_the_front(aws):
    """Why the front exists: moto replaces a job on a second create of its name and words an unknown name
    differently (still a ValidationException)."""
    from botocore.exceptions import ClientError

    client, name = moto_server.client("sagemaker"), f"moto-{uuid.uuid4().hex[:8]}"
    config = KINDS["Processing"].config(name, "")
    config["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    client.create_processing_job(**config)
    client.create_processing_job(**config)  # SageMaker: ResourceInUse
    assert front.jobs("Processing", name) == [name]
    with pytest.raises(ClientError) as unknown:
        client.describe_processing_job(ProcessingJobName=f"{name}-x")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    assert unknown.value.response["Error"]["Message"].startswith("Could not find processing job")


def test_without_the_provider_the_import_says_what_to_install():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['airflow.providers.amazon.aws.operators.sagemaker'] = None\n"
        "import airflow_resumable.jobs.sagemaker"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert "airflow_resumable.jobs.sagemaker needs the Amazon provider" in run.stderr
    assert "pip install 'airflow-resumable[amazon]'" in run.stderr
