"""The local SageMaker of the training and processing job tests: moto's, answering as SageMaker does.

What moto 5.2.5 does on its own (checked in tests/conformance/aws/test_aws_sagemaker.py): it serves
``CreateTrainingJob``, ``DescribeTrainingJob``, ``ListTrainingJobs``, ``CreateProcessingJob``,
``DescribeProcessingJob``, ``ListProcessingJobs`` and ``StopProcessingJob`` (no ``StopTrainingJob``); a new
job is ``Completed`` at once. Two answers differ from SageMaker's, and the tests depend on both:

- a second ``Create*Job`` with a name that is taken *replaces* the first job (and looks like one job),
  where SageMaker refuses it: ``ResourceInUse: Training job names must be unique within an AWS account
  and region, and a training job with this name already exists (<arn>)``;
- ``Describe*Job`` of an unknown name says ``ValidationException: Could not find training job '<arn>'``
  where SageMaker says ``ValidationException: Requested resource not found.``

:func:`sagemaker_like_aws` makes moto answer both as SageMaker does, in moto's request handler (the
service side): the provider's hook and its calls are untouched. It also counts every job created, and
can keep new jobs ``InProgress`` for a number of status calls (a job that takes a while).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import moto_server

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT_ID = moto_server.ACCOUNT_ID
REGION = moto_server.REGION
BUCKET = "sagemaker-front-data"
"""A bucket holding ``train/data.csv`` (created by :func:`input_data`), for configs the hook checks."""

_KINDS = {
    "Training": ("training_jobs", "training_job_status"),
    "Processing": ("processing_jobs", "processing_job_status"),
}

_lock = threading.Lock()
_describes_left: dict[tuple[str, str], int] = {}
"""(kind, name) -> DescribeJob calls a new job stays ``InProgress`` for (under :func:`sagemaker_like_aws`)."""
created: list[tuple[str, str]] = []
"""Every (kind, name) created while :func:`sagemaker_like_aws` was active, in order (refused ones not)."""


def _backend() -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT_ID][REGION]


def _jobs(kind: str) -> dict[str, Any]:
    return getattr(_backend(), _KINDS[kind][0])  # type: ignore[no-any-return]


def _name(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def jobs(kind: str, prefix: str) -> list[str]:
    """The names of the ``kind`` (``Training``/``Processing``) jobs whose name starts with ``prefix``,
    oldest first: what a run paid for."""
    found = [job for name, job in _jobs(kind).items() if name.startswith(prefix)]
    return [_name(job.arn) for job in sorted(found, key=lambda job: job.creation_time)]


def status(kind: str, arn_or_name: str) -> str:
    return str(getattr(_jobs(kind)[_name(arn_or_name)], _KINDS[kind][1]))


def set_status(kind: str, arn_or_name: str, state: str, reason: str = "AlgorithmError: it broke") -> None:
    """Move a job to ``state`` (``InProgress``, ``Completed``, ``Failed``, ``Stopped``...): time passing."""
    job = _jobs(kind)[_name(arn_or_name)]
    setattr(job, _KINDS[kind][1], state)
    if kind == "Training":
        job.secondary_status = state
    if state == "Failed":
        job.failure_reason = reason
    with _lock:
        _describes_left.pop((kind, _name(arn_or_name)), None)


def keep_in_progress(kind: str, arn_or_name: str, describes: int) -> None:
    """Make a job ``InProgress`` for its next ``describes`` describe calls, then ``Completed`` (under
    :func:`sagemaker_like_aws`): a job that is still running when a retry looks, and ends while it waits."""
    set_status(kind, arn_or_name, "InProgress")
    with _lock:
        _describes_left[(kind, _name(arn_or_name))] = describes


def set_training_status(arn_or_name: str, state: str) -> None:
    set_status("Training", arn_or_name, state)


def set_processing_status(arn_or_name: str, state: str) -> None:
    set_status("Processing", arn_or_name, state)


def forget(kind: str, arn_or_name: str) -> None:
    """Remove a job, as if SageMaker no longer knew it (never happens on AWS within a year: a test case)."""
    del _jobs(kind)[_name(arn_or_name)]


def forget_training_job(arn_or_name: str) -> None:
    forget("Training", arn_or_name)


def forget_processing_job(arn_or_name: str) -> None:
    forget("Processing", arn_or_name)


def input_data() -> str:
    """``s3://<BUCKET>/train/``, existing (the training hook checks input URLs before creating a job)."""
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/data.csv", Body=b"1,2,3\n")
    return f"s3://{BUCKET}/train/"


def training_config(name: str) -> dict[str, Any]:
    """A small ``CreateTrainingJob`` config moto accepts (input data from :func:`input_data`)."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
        "RoleArn": moto_server.ROLE_ARN,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}},
            }
        ],
    }


def processing_config(name: str) -> dict[str, Any]:
    """A small ``CreateProcessingJob`` config moto accepts."""
    return {
        "ProcessingJobName": name,
        "AppSpecification": {"ImageUri": "sklearn:1"},
        "RoleArn": moto_server.ROLE_ARN,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
    }


@contextmanager
def sagemaker_like_aws(*, in_progress_for: int = 0) -> Iterator[list[tuple[str, str]]]:
    """While the block runs, moto's SageMaker refuses taken job names and says "Requested resource not
    found." for unknown ones, as SageMaker does; yields the live list of jobs created (kind, name).

    With ``in_progress_for=n`` a new job is ``InProgress`` for its first ``n`` describe calls, then
    ``Completed`` (moto: ``Completed`` at once), unless a test moved it meanwhile.
    """
    from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    originals = {}

    def create_of(kind: str, param: str) -> Any:
        original = getattr(SageMakerResponse, f"create_{kind.lower()}_job")

        def create(self: Any) -> Any:
            name = self._get_param(param)
            with _lock:
                if name in _jobs(kind):
                    arn = _jobs(kind)[name].arn
                    raise ResourceInUseException(
                        f"{kind} job names must be unique within an AWS account and region, and a "
                        f"{kind.lower()} job with this name already exists ({arn})"
                    )
                answer = original(self)
                created.append((kind, name))
                if in_progress_for > 0:
                    setattr(_jobs(kind)[name], _KINDS[kind][1], "InProgress")
                    if kind == "Training":
                        _jobs(kind)[name].secondary_status = "Training"
                    _describes_left[(kind, name)] = in_progress_for
            return answer

        return original, create

    def describe_of(kind: str, param: str) -> Any:
        original = getattr(SageMakerResponse, f"describe_{kind.lower()}_job")

        def describe(self: Any) -> Any:
            name = self._get_param(param)
            with _lock:
                if name not in _jobs(kind):
                    raise ValidationError("Requested resource not found.")
                left = _describes_left.get((kind, name))
                if left is not None:
                    if left <= 0:
                        del _describes_left[(kind, name)]
                        if getattr(_jobs(kind)[name], _KINDS[kind][1]) == "InProgress":
                            setattr(_jobs(kind)[name], _KINDS[kind][1], "Completed")
                            if kind == "Training":
                                _jobs(kind)[name].secondary_status = "Completed"
                    else:
                        _describes_left[(kind, name)] = left - 1
            return original(self)

        return original, describe

    for kind in _KINDS:
        param = f"{kind}JobName"
        for verb, make in (("create", create_of), ("describe", describe_of)):
            attr = f"{verb}_{kind.lower()}_job"
            originals[attr], replacement = make(kind, param)
            setattr(SageMakerResponse, attr, replacement)
    created.clear()
    try:
        yield created
    finally:
        for attr, original in originals.items():
            setattr(SageMakerResponse, attr, original)
        with _lock:
            _describes_left.clear()
