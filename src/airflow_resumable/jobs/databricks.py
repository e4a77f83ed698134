"""Crash-safe Databricks operators: drop-in subclasses of the provider's run operators.

Swap the import and keep every argument::

    # from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator

Compared with the provider's operators (which already store the run id in Airflow 3.3):

- every submission carries a write-ahead ``idempotency_token`` derived from the task instance and the
  submission generation, so a worker that dies between ``runs/submit`` (or ``run-now``) and storing the run
  id does not start a second run: the retry sends the same token and Databricks returns the same run;
- a run that failed (or whose history expired) is followed by a *new* token, so the retry starts a new run
  instead of getting the failed one back. A token you pass yourself (``idempotency_token=`` or
  ``json["idempotency_token"]``) is used as is for the first submission and suffixed ``-g<n>`` after that;
- ``deferrable=True`` reconnects too: a retry defers on the run it already has instead of submitting;
- status checks retry transient API errors, and ``external_id_key`` can be renamed safely with
  ``previous_external_id_keys``.

The run ids are stored under the provider's own keys (``databricks_run_id``, ``databricks_run_now_id``), so
a task that was in flight under the provider's operator reconnects after the swap, and tooling that reads
those keys keeps working. Needs ``pip install 'airflow-resumable[databricks]'``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.errors import InvalidValueError
from airflow_resumable.jobs.base import Decision, DurableJobMixin, ResumeDecision

try:
    from airflow.providers.databricks.exceptions import DatabricksApiError
    from airflow.providers.databricks.hooks.databricks import RunState
    from airflow.providers.databricks.operators import databricks as _provider
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "airflow_resumable.jobs.databricks needs the Databricks provider (7.23 or newer): "
        "pip install 'airflow-resumable[databricks]'"
    ) from exc

if not hasattr(_provider.DatabricksSubmitRunOperator, "submit_job"):  # pragma: no cover - old provider
    raise ImportError(
        "airflow_resumable.jobs.databricks needs apache-airflow-providers-databricks 7.23 or newer "
        "(durable run operators): pip install 'airflow-resumable[databricks]'"
    )

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["DatabricksRunNowOperator", "DatabricksSubmitRunOperator"]

TOKEN_MAX_LENGTH = 64
"""Databricks rejects an ``idempotency_token`` longer than this."""


class _DurableDatabricksRun(DurableJobMixin):
    """What both Databricks run operators add to the provider's: tokens, deferrable reconnects, 404s."""

    idempotency_token_max_length = TOKEN_MAX_LENGTH

    if TYPE_CHECKING:
        deferrable: bool
        run_id: int | None
        _hook: Any

        def _get_merged_json(self) -> dict[str, Any]: ...

    # -- tokens ----------------------------------------------------------------------------------------
    def _user_token(self) -> str | None:
        """The token the DAG author passed (``idempotency_token=`` or ``json["idempotency_token"]``)."""
        token = self._get_merged_json().get("idempotency_token")
        if token is None:
            return None
        if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_LENGTH:
            raise InvalidValueError(
                f"{type(self).__name__} {self.task_id!r}: idempotency_token must be a non-empty string of at "
                f"most {TOKEN_MAX_LENGTH} characters (Databricks rejects longer ones), got {token!r}. "
                "Shorten it, or leave it out: the operator derives one per task instance and submission."
            )
        return token

    def _token(self, context: Context, generation: int) -> str:
        """The author's token for generation 1 and ``<token>-g<n>`` after a terminal failure; else derived."""
        user = self._user_token()
        if user is None:
            return super()._token(context, generation)
        if generation == 1:
            return user
        suffix = f"-g{generation}"
        if len(user) + len(suffix) <= TOKEN_MAX_LENGTH:
            return user + suffix
        return hashlib.sha256(user.encode()).hexdigest()[: TOKEN_MAX_LENGTH - len(suffix)] + suffix

    # -- status ----------------------------------------------------------------------------------------
    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """``"LIFE_CYCLE:RESULT"`` of the run. A run Databricks no longer knows raises (404)."""
        run_info = self._hook.get_run(cast("int", external_id))
        state = RunState(**run_info["state"])
        return f"{state.life_cycle_state}:{state.result_state}"

    def is_job_not_found(self, error: BaseException) -> bool:
        """A 404 / ``RESOURCE_DOES_NOT_EXIST`` (or a 400 "does not exist") from ``runs/get``."""
        if isinstance(error, DatabricksApiError):
            text = str(error)
            status = getattr(error, "http_status_code", None)
            if status == 404 or "RESOURCE_DOES_NOT_EXIST" in text:
                return True
            if status == 400 and "does not exist" in text:
                return True
        return super().is_job_not_found(error)

    # -- execution -------------------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        """Blocking: :meth:`execute_resumable`. Deferrable: decide, submit only if needed, then defer."""
        self._user_token()  # reject a bad token before anything is read, written or submitted
        if not self.deferrable:
            return self.execute_resumable(context)
        if not self.durable:
            return super().execute(context)  # type: ignore[misc]
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return self.get_job_result(decision.external_id, context)
        if decision.action is Decision.RECONNECT:
            self.run_id = cast("int", decision.external_id)
            self.log.info("Deferring on the existing run", run_id=self.run_id, status=decision.status)
        else:
            self.run_id = cast("int", self.submit_durably(context, decision))
        _provider._handle_deferrable_databricks_operator_execution(self, self._hook, self.log, context)
        return None


class DatabricksSubmitRunOperator(_DurableDatabricksRun, _provider.DatabricksSubmitRunOperator):  # type: ignore[misc]
    """The provider's ``DatabricksSubmitRunOperator`` (``runs/submit``), crash-safe in both modes.

    Takes every argument of the provider's operator, plus ``external_id_key`` (default
    ``"databricks_run_id"``, the provider's key) and ``previous_external_id_keys`` (keys used before a
    rename, read when the current one is empty). See the module documentation for what changes.
    """

    def submit_job(self, context: Context) -> int:
        """``runs/submit`` with :attr:`submission_token` as the run's ``idempotency_token``."""
        json = self._prepare_submit_json(context)
        if self.submission_token is not None:
            json["idempotency_token"] = self.submission_token
        self.run_id = cast("int", self._hook.submit_run(json))
        self.log.info("Run submitted", run_id=self.run_id, idempotency_token=json.get("idempotency_token"))
        return self.run_id


class DatabricksRunNowOperator(_DurableDatabricksRun, _provider.DatabricksRunNowOperator):  # type: ignore[misc]
    """The provider's ``DatabricksRunNowOperator`` (``run-now``), crash-safe in both modes.

    Takes every argument of the provider's operator, plus ``external_id_key`` (default
    ``"databricks_run_now_id"``, the provider's key) and ``previous_external_id_keys``. With
    ``cancel_previous_runs=True`` the job's other runs are cancelled before the submission intent is
    written, and not again when a retry repeats that submission, so a retry never cancels its own run.
    """

    def submit_durably(self, context: Context, decision: ResumeDecision) -> JsonValue:
        """Cancel the job's other runs first (if asked, and not when repeating a submission), then submit."""
        if self.cancel_previous_runs and decision.submits and not decision.repeats_submission:
            job_id = self._build_run_now_payload(context).get("job_id")
            if job_id is None:
                raise InvalidValueError(
                    f"{type(self).__name__} {self.task_id!r}: cancel_previous_runs=True needs job_id or "
                    "job_name, to know which job's runs to cancel."
                )
            self._hook.cancel_all_runs(job_id)
        return super().submit_durably(context, decision)

    def submit_job(self, context: Context) -> int:
        """``run-now`` with :attr:`submission_token` as the run's ``idempotency_token``."""
        json = self._build_run_now_payload(context)
        if self.submission_token is not None:
            json["idempotency_token"] = self.submission_token
        self._merged_json = json
        self.run_id = cast("int", self._hook.run_now(json))
        self.log.info("Run triggered", run_id=self.run_id, idempotency_token=json.get("idempotency_token"))
        return self.run_id
