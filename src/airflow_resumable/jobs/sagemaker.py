"""Crash-safe SageMaker jobs: ``SageMakerTrainingOperator`` and ``SageMakerProcessingOperator`` as drop-in
subclasses of the provider's.

The provider's operators send the job name of your ``config``; when that name is taken (by the job an
earlier try created before its worker was lost) they pick a new one, ``<name>-<timestamp>`` (the default
``action_if_job_exists="timestamp"``), so a retry starts a second training or processing job; with
``"fail"`` the retry fails. These record the job name in a write-ahead intent before creating the job and
find the job by that name on a retry (see [`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]).

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

try:
    import airflow.providers.amazon.aws.operators.sagemaker as _provider
    from airflow.providers.amazon.aws.hooks.sagemaker import (
        LogState,
        SageMakerHook,
        secondary_training_status_message,
    )
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(
        "airflow_resumable.jobs.sagemaker needs the Amazon provider "
        f"(apache-airflow-providers-amazon>=9.39), which could not be imported ({exc}). "
        "Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc

from airflow_resumable.jobs._sagemaker_common import JOB_STATES, MAX_NAME_LENGTH, SageMakerDurable

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["JOB_STATES", "MAX_NAME_LENGTH", "SageMakerProcessingOperator", "SageMakerTrainingOperator"]


class SageMakerTrainingOperator(SageMakerDurable, _provider.SageMakerTrainingOperator):
    """``SageMakerTrainingOperator`` that finds its training job after a crash, never starting two.

    Same arguments, attributes and result (``{"Training": <DescribeTrainingJob>}``) as the provider's
    operator, plus ``durable`` (default ``True``). SageMaker's own idempotency is used: a job name is
    unique within an account and region, and ``CreateTrainingJob`` refuses a taken one (``ResourceInUse``).

    - Before ``CreateTrainingJob`` a write-ahead intent records the job name: your ``TrainingJobName`` for
      the first submission (with ``check_if_job_exists``, the default, made unique as the provider does:
      ``<name>-<timestamp>`` if taken, or an error with ``action_if_job_exists="fail"``), and
      ``<name>-<nonce>-g<n>`` (at most 63 characters) for a new job after a failed one. The name is stored
      under ``sagemaker_training_job_name``.
    - A retry reads the recorded name and never checks or renames it again: after a crash between
      ``CreateTrainingJob`` and storing the name it asks ``DescribeTrainingJob`` for it (nothing is listed or
      guessed), and creates the job with that same name only when SageMaker does not know it. A repeated
      create that finds the name taken gives that job.
    - With ``wait_for_completion`` (the default) a retry waits again on a job ``InProgress`` or ``Stopping``
      and returns the result of a ``Completed`` one; without it, a retry returns the result of a job that
      exists and is not ``Failed``, ``Stopping`` or ``Stopped``. A new generation starts after ``Failed``
      or ``Stopped``, or when SageMaker does not know the job.
    - With ``deferrable=True`` a retry defers to ``SageMakerTrigger`` on the existing job.

    Killing the task does nothing, as with the provider (the job runs on; the retry reconnects to it).
    Without a task state store in the context it is the provider's operator (with a warning).
    """

    kind = "Training"
    external_id_key = "sagemaker_training_job_name"

    def execute(self, context: Context) -> dict[str, Any]:
        """Durable create-and-wait, or the provider's own ``execute`` without a task state store."""
        if not self.runs_durably(context):
            return cast("dict[str, Any]", super().execute(context))
        return self._execute_durably(context)

    def _checks_name(self) -> bool:
        return bool(self.check_if_job_exists)

    def _describe(self, name: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self.hook.describe_training_job(name))

    def _create(self) -> dict[str, Any]:
        self.log.info("Creating SageMaker training job %s.", self.config["TrainingJobName"])
        return cast(
            "dict[str, Any]",
            self.hook.create_training_job(
                self.config,
                wait_for_completion=False,
                print_log=False,
                check_interval=self.check_interval,
                max_ingestion_time=self.max_ingestion_time,
            ),
        )

    def _after_create(self, name: str, wait_for_completion: bool) -> None:
        """The provider hook's ``create_training_job`` after its create call."""
        hook = self.hook
        if self.print_log:
            hook.check_training_status_with_log(
                name,
                hook.non_terminal_states,
                hook.training_failed_states,
                wait_for_completion,
                self.check_interval,
                self.max_ingestion_time,
            )
        elif wait_for_completion:
            done = hook.check_status(
                name,
                "TrainingJobStatus",
                hook.describe_training_job,
                self.check_interval,
                self.max_ingestion_time,
            )
            billable_seconds = SageMakerHook.count_billable_seconds(
                training_start_time=done["TrainingStartTime"],
                training_end_time=done["TrainingEndTime"],
                instance_count=done["ResourceConfig"]["InstanceCount"],
            )
            self.log.info("Billable seconds: %d", billable_seconds)

    def _finish_or_defer(self, name: str) -> dict[str, Any]:
        """The provider's deferrable path after ``CreateTrainingJob``, for this job."""
        description = self._describe(name)
        status = description["TrainingJobStatus"]
        if self.print_log:
            instance_count = description["ResourceConfig"]["InstanceCount"]
            done = status not in self.hook.non_terminal_states
            _, description, _ = self.hook.describe_training_job_with_log(
                name,
                {},
                [],
                instance_count,
                LogState.COMPLETE if done else LogState.TAILING,
                description,
                time.monotonic(),
            )
            self.log.info(secondary_training_status_message(description, None))
        if status in self.hook.failed_states:
            reason = description.get("FailureReason", "(No reason provided)")
            raise AirflowException(f"SageMaker job failed because {reason}")
        if status == "Completed":
            log_message = f"{self.task_id} completed successfully."
            if self.print_log:
                billable_seconds = SageMakerHook.count_billable_seconds(
                    training_start_time=description["TrainingStartTime"],
                    training_end_time=description["TrainingEndTime"],
                    instance_count=instance_count,
                )
                log_message = f"Billable seconds: {billable_seconds}\n{log_message}"
            self.log.info(log_message)
            return {"Training": _provider.serialize(description)}
        self._defer(name)
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """``{"Training": <DescribeTrainingJob>}``, as the provider's operator returns it."""
        return self.serialize_result(str(external_id))


class SageMakerProcessingOperator(SageMakerDurable, _provider.SageMakerProcessingOperator):
    """``SageMakerProcessingOperator`` that finds its processing job after a crash, never starting two.

    Same arguments, attributes and result (``{"Processing": <DescribeProcessingJob>}``, with
    ``OutputFiles`` when ``output_files_to_xcom`` is set) as the provider's operator, plus ``durable``
    (default ``True``). Durable exactly as
    [`SageMakerTrainingOperator`][airflow_resumable.jobs.sagemaker.SageMakerTrainingOperator] is, with
    ``ProcessingJobName`` (always made unique as the provider does, by ``action_if_job_exists``),
    ``CreateProcessingJob`` / ``DescribeProcessingJob``, the key ``sagemaker_processing_job_name``, and a
    retry that waits again, returns the result (reading the output files again) or starts a new generation.

    Killing the task does nothing, as with the provider. Without a task state store in the context it is
    the provider's operator (with a warning).
    """

    kind = "Processing"
    external_id_key = "sagemaker_processing_job_name"

    def execute(self, context: Context) -> dict[str, Any]:
        """Durable create-and-wait, or the provider's own ``execute`` without a task state store."""
        if not self.runs_durably(context):
            return cast("dict[str, Any]", super().execute(context))
        if self.output_files_to_xcom and not self.wait_for_completion:
            raise ValueError(
                "output_files_to_xcom requires wait_for_completion=True. "
                "Output files cannot be read before the job completes."
            )
        return self._execute_durably(context)

    def _describe(self, name: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self.hook.describe_processing_job(name))

    def _create(self) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            self.hook.create_processing_job(
                self.config,
                wait_for_completion=False,
                check_interval=self.check_interval,
                max_ingestion_time=self.max_ingestion_time,
            ),
        )

    def _after_create(self, name: str, wait_for_completion: bool) -> None:
        """The provider hook's ``create_processing_job`` after its create call."""
        if wait_for_completion:
            hook = self.hook
            hook.check_status(
                name,
                "ProcessingJobStatus",
                hook.describe_processing_job,
                self.check_interval,
                self.max_ingestion_time,
            )

    def _finish_or_defer(self, name: str) -> dict[str, Any]:
        """The provider's deferrable path after ``CreateProcessingJob``, for this job."""
        response = self._describe(name)
        status = response["ProcessingJobStatus"]
        if status in self.hook.processing_job_failed_states:
            raise AirflowException(f"SageMaker job failed because {response['FailureReason']}")
        if status == "Completed":
            self.log.info("%s completed successfully.", self.task_id)
            result = {"Processing": _provider.serialize(response)}
            result.update(self._read_output_files())
            return result
        self._defer(name)
        raise AssertionError("defer() returned")  # pragma: no cover - defer always raises

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """``{"Processing": <DescribeProcessingJob>}`` plus the output files, as the provider returns it."""
        self.serialized_job = _provider.serialize(self._describe(str(external_id)))
        result: dict[str, Any] = {"Processing": self.serialized_job}
        result.update(self._read_output_files())
        return result
