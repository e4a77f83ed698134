"""Crash-safe Databricks operators: drop-in subclasses of the provider's run operators.

Swap the import and keep every argument:

```python
# from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator
```

Compared with the provider's operators (which already store the run id in Airflow 3.3):

- every submission carries a write-ahead ``idempotency_token`` (the task instance's hash, a random part and
  the submission generation), so a worker that dies between ``runs/submit`` (or ``run-now``) and storing the
  run id does not start a second run: the retry reads the token back and Databricks returns the same run;
- a run that failed (or whose history expired) is followed by a *new* token, so the retry starts a new run
  instead of getting the failed one back; a run handed back by a repeated token is checked first and never
  reported if it failed. A token you pass yourself (``idempotency_token=`` or ``json["idempotency_token"]``)
  is sent as is for the first submission and rotated (``<token>-<random>-g<n>``) after a failure;
- ``deferrable=True`` reconnects too: a retry defers on the run it already has instead of submitting;
- status checks and polling retry transient API errors (the hook's own retries gave up on a 429/5xx), and
  ``external_id_key`` can be renamed safely with ``previous_external_id_keys``.

With ``durable=False`` both operators are the provider's operators, unchanged. The run ids are stored under
the provider's own keys (``databricks_run_id``, ``databricks_run_now_id``), so a task that was in flight
under the provider's operator reconnects after the swap.
Needs ``pip install 'airflow-resumable[databricks]'``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _intent
from airflow_resumable.jobs.base import DurableJobMixin, ResumeDecision

try:
    from airflow.providers.databricks.exceptions import DatabricksApiError
    from airflow.providers.databricks.operators import databricks as _provider
    from airflow.providers.databricks.utils.databricks import normalise_json_content
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

    from airflow_resumable.jobs.databricks_sql import DatabricksSQLStatementsOperator
    from airflow_resumable.jobs.databricks_tasks import DatabricksNotebookOperator, DatabricksTaskOperator
    from airflow_resumable.jobs.databricks_workflow import DatabricksWorkflowTaskGroup

__all__ = [
    "DatabricksNotebookOperator",
    "DatabricksRunNowOperator",
    "DatabricksSQLStatementsOperator",
    "DatabricksSubmitRunOperator",
    "DatabricksTaskOperator",
    "DatabricksWorkflowTaskGroup",
]

TOKEN_MAX_LENGTH = 64
"""Databricks rejects an ``idempotency_token`` longer than this."""


class _DurableDatabricksRun(DurableJobMixin):
    """What both Databricks run operators add to the provider's: tokens, checks, deferrable reconnects."""

    idempotency_token_max_length = TOKEN_MAX_LENGTH

    if TYPE_CHECKING:
        deferrable: bool
        run_id: int | None
        _hook: Any

        def _get_merged_json(self) -> dict[str, Any]: ...

        @staticmethod
        def _validate_merged_json(json: Any) -> None: ...

    # -- tokens ----------------------------------------------------------------------------------------
    def _user_token(self) -> str | None:
        """The token the DAG author passed (``idempotency_token=`` or ``json["idempotency_token"]``), as the
        provider sends it (numbers become strings); ``None`` when there is none."""
        token = self._get_merged_json().get("idempotency_token")
        if token is None or token == "" or isinstance(token, dict | list):
            return None
        return token if isinstance(token, str) else str(token)

    def _token(self, context: Context, generation: int) -> str:
        """The author's token for generation 1 (sent as the provider sends it), rotated after a failure."""
        user = self._user_token()
        if user is None:
            return super()._token(context, generation)
        if generation == 1:
            return user
        return _intent.rotated_token(user, generation, TOKEN_MAX_LENGTH, owner=type(self).__name__)

    def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
        """A repeated submission, or the author's own token: Databricks may hand back an earlier run."""
        return decision.repeats_submission or decision.token == self._user_token()

    # -- status ----------------------------------------------------------------------------------------
    def is_job_not_found(self, error: BaseException) -> bool:
        """A 404, or a 400 "does not exist" from ``runs/get`` (the provider reads a 404 as ``NOT_FOUND:``)."""
        if (
            isinstance(error, DatabricksApiError)
            and error.http_status_code == 400
            and "does not exist" in str(error)
        ):
            return True
        return super().is_job_not_found(error)

    # -- execution -------------------------------------------------------------------------------------
    def _check_payload(self) -> None:
        """The provider's own payload checks, run before anything is read, written or sent."""
        json = self._get_merged_json()
        self._validate_merged_json(json)
        normalise_json_content(json)

    def execute(self, context: Context) -> Any:
        """Blocking: [`execute_resumable`][airflow_resumable.jobs.base.DurableJobMixin.execute_resumable].
        Deferrable: decide, submit only if needed, then defer.

        With ``durable=False``: the provider's ``execute``, unchanged.
        """
        if not self.durable:
            return super().execute(context)  # type: ignore[misc]
        self._check_payload()
        if not self.deferrable:
            return self.execute_resumable(context)
        decision = self.decide(context)
        if decision.submits:
            self.run_id = cast("int", self.submit_durably(context, decision))
        else:
            self.run_id = cast("int", decision.external_id)
            self.log.info("Deferring on the existing run", run_id=self.run_id, status=decision.status)
        # Pushes the provider's XComs, then defers on an active run or completes a finished one.
        _provider._handle_deferrable_databricks_operator_execution(self, self._hook, self.log, context)
        return None


class DatabricksSubmitRunOperator(_DurableDatabricksRun, _provider.DatabricksSubmitRunOperator):  # type: ignore[misc]
    """The provider's ``DatabricksSubmitRunOperator`` (``runs/submit``), crash-safe in both modes.

    Takes every argument of the provider's operator, plus ``external_id_key`` (default
    ``"databricks_run_id"``, the provider's key) and ``previous_external_id_keys`` (keys used before a
    rename, read when the current one is empty). See the module documentation for what changes.
    """

    def submit_job(self, context: Context) -> int:
        """``runs/submit`` with
        [`submission_token`][airflow_resumable.jobs.base.DurableJobMixin.submission_token] as the run's
        ``idempotency_token``.

        Without a submission token (``durable=False``) this is the provider's ``submit_job``.
        """
        if self.submission_token is None:
            return super().submit_job(context)
        json = self._prepare_submit_json(context)
        json["idempotency_token"] = self.submission_token
        self.run_id = cast("int", self._hook.submit_run(json))
        self.log.info("Run submitted with run_id: %s", self.run_id)
        return self.run_id


class DatabricksRunNowOperator(_DurableDatabricksRun, _provider.DatabricksRunNowOperator):  # type: ignore[misc]
    """The provider's ``DatabricksRunNowOperator`` (``run-now``), crash-safe in both modes.

    Takes every argument of the provider's operator, plus ``external_id_key`` (default
    ``"databricks_run_now_id"``, the provider's key) and ``previous_external_id_keys``. With
    ``cancel_previous_runs=True`` the job's other runs are cancelled (with the provider's checks and errors)
    before the submission intent is written, and not again when a retry repeats that submission, so a retry
    never cancels its own run.
    """

    _prepared_json: dict[str, Any] | None = None

    def submit_durably(self, context: Context, decision: ResumeDecision) -> JsonValue:
        """Cancel the job's other runs first (if asked, and not when repeating a submission), then submit."""
        if self.cancel_previous_runs and decision.submits and not decision.repeats_submission:
            self._prepared_json = self._prepare_run_now_json(context)  # the provider's checks and cancel
        try:
            return super().submit_durably(context, decision)
        finally:
            self._prepared_json = None

    def submit_job(self, context: Context) -> int:
        """``run-now`` with [`submission_token`][airflow_resumable.jobs.base.DurableJobMixin.submission_token]
        as the run's ``idempotency_token``.

        Without a submission token (``durable=False``) this is the provider's ``submit_job``.
        """
        if self.submission_token is None:
            return super().submit_job(context)
        prepared = self._prepared_json
        json = dict(prepared) if prepared is not None else self._build_run_now_payload(context)
        json["idempotency_token"] = self.submission_token
        self._merged_json = json
        self.run_id = cast("int", self._hook.run_now(json))
        self.log.info("Run submitted with run_id: %s", self.run_id)
        return self.run_id


# -- the other Databricks drop-ins, each in its own module, imported on first use ---------------------------
_ELSEWHERE = {
    "DatabricksNotebookOperator": "databricks_tasks",
    "DatabricksTaskOperator": "databricks_tasks",
    "DatabricksWorkflowTaskGroup": "databricks_workflow",
    "DatabricksSQLStatementsOperator": "databricks_sql",
}


def __getattr__(name: str) -> Any:
    """``DatabricksNotebookOperator`` and the rest, from ``databricks_tasks``, ``_workflow``, ``_sql``."""
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"airflow_resumable.jobs.{module}"), name)
    globals()[name] = value
    return value
