"""Crash-safe Databricks notebook and task operators: drop-in subclasses of the provider's (7.23).

Swap the import and keep every argument:

```python
# from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
from airflow_resumable.jobs.databricks import DatabricksNotebookOperator
```

Standalone, the provider's ``DatabricksNotebookOperator`` and ``DatabricksTaskOperator`` submit a one-task run
(``runs/submit``) on every try and store nothing: a retry after the worker died starts a second run while
the first one is still running. The drop-ins make the submission durable with Databricks' own
``idempotency_token`` (the strongest guarantee the Jobs API offers: a repeated token returns the run it
created, for as long as Databricks keeps the run): a write-ahead intent holds the token before
``runs/submit``, the run id is stored under ``databricks_run_id`` after it, and a retry reconnects to the
run (blocking or deferrable: the provider's own monitoring then follows the task's run). A run that failed
or is unknown to Databricks is followed by a new run with a new token.

Inside a ``DatabricksWorkflowTaskGroup`` these operators submit nothing: they monitor their task in the run
the group's launch task started (found through the launch task's XCom, as the provider does). The launch
is what must be durable: use `DatabricksWorkflowTaskGroup` from this library, whose launch task
(`CreateDatabricksWorkflowOperator`) reconnects to its run instead of starting a second one.

With ``durable=False`` the operators are the provider's, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs.base import DurableJobMixin

try:
    from airflow.providers.databricks.exceptions import DatabricksApiError
    from airflow.providers.databricks.hooks.databricks import RunState
    from airflow.providers.databricks.operators import databricks as _provider
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "airflow_resumable.jobs.databricks_tasks needs the Databricks provider (7.23 or newer): "
        "pip install 'airflow-resumable[databricks]'"
    ) from exc

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["DatabricksNotebookOperator", "DatabricksTaskOperator", "run_status"]

ACTIVE_STATES = ("PENDING", "QUEUED", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY")
"""Life-cycle states of a run that is still going (the provider's run operators' list)."""


def run_status(hook: Any, run_id: JsonValue) -> str:
    """``"LIFE_CYCLE:RESULT"`` of a run, as the provider's run operators encode it for the mixin."""
    state = RunState(**hook.get_run(run_id)["state"])
    return f"{state.life_cycle_state}:{state.result_state}"


def is_not_found(error: BaseException) -> bool:
    """A 400 ``... does not exist`` from ``runs/get`` (the 404 case is the base class's)."""
    return (
        isinstance(error, DatabricksApiError)
        and error.http_status_code == 400
        and "does not exist" in str(error)
    )


class _DurableTaskRun(DurableJobMixin):
    """The durable submit-and-monitor shared by the notebook and task operators."""

    external_id_key = "databricks_run_id"
    idempotency_token_max_length = 64

    if TYPE_CHECKING:
        databricks_run_id: int | None
        do_xcom_push: bool
        wait_for_termination: bool
        _hook: Any

        @property
        def _databricks_workflow_task_group(self) -> Any: ...

        def _get_run_json(self) -> dict[str, Any]: ...

        def monitor_databricks_job(self) -> None: ...

    def execute(self, context: Context) -> None:
        """Standalone: submit durably (or reconnect), then monitor as the provider does.

        In a workflow task group, or with ``durable=False``: the provider's ``execute``, unchanged.
        """
        if not self.durable or self._databricks_workflow_task_group is not None:
            return cast("None", super().execute(context))  # type: ignore[misc]
        self._get_run_json()  # the provider's cluster and timeout checks, before anything is written
        decision = self.decide(context)
        if decision.submits:
            self.databricks_run_id = cast("int", self.submit_durably(context, decision))
        else:
            self.databricks_run_id = cast("int", decision.external_id)
        # The provider's XComs, once the run id is stored (every try pushes them, as the provider does).
        self._push_run_xcoms(context, self._hook.get_run_page_url(self.databricks_run_id))
        if self.wait_for_termination:
            self._poll(self.databricks_run_id, context)
        return None

    def _push_run_xcoms(self, context: Context | None, url: str) -> None:
        self.log.info("Check the job run in Databricks: %s", url)
        if self.do_xcom_push and context is not None:
            context["ti"].xcom_push(key=_provider.XCOM_RUN_ID_KEY, value=self.databricks_run_id)
            context["ti"].xcom_push(key=_provider.XCOM_RUN_PAGE_URL_KEY, value=url)

    # -- the six methods of the mixin ----------------------------------------------------------------------
    def submit_job(self, context: Context) -> int:
        """The provider's ``runs/submit`` (same JSON), `submission_token` as ``idempotency_token``.

        Nothing else: the run page URL and the XComs come after the run id is stored (in `execute()`),
        so the window between ``runs/submit`` and storing the id is one request long.
        """
        run_json = self._get_run_json()
        if self.submission_token is not None:
            run_json = {**run_json, "idempotency_token": self.submission_token}
        self.databricks_run_id = cast("int", self._hook.submit_run(run_json))
        return self.databricks_run_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        return run_status(self._hook, external_id)

    def is_job_active(self, status: str) -> bool:
        return status.split(":", 1)[0] in ACTIVE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        return status == "TERMINATED:SUCCESS"

    def is_job_not_found(self, error: BaseException) -> bool:
        return is_not_found(error) or super().is_job_not_found(error)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The provider's monitoring (it defers on the task's run in deferrable mode)."""
        self.databricks_run_id = cast("int", external_id)
        self.monitor_databricks_job()

    def get_job_result(self, external_id: JsonValue, context: Context) -> None:
        return None


class DatabricksNotebookOperator(_DurableTaskRun, _provider.DatabricksNotebookOperator):
    """The provider's ``DatabricksNotebookOperator``, crash-safe standalone (``runs/submit`` with a token).

    Takes every argument of the provider's operator, plus ``durable`` (default ``True``),
    ``external_id_key`` (default ``"databricks_run_id"``) and ``previous_external_id_keys``. Inside a
    ``DatabricksWorkflowTaskGroup`` it monitors its task in the group's run, as the provider's does.
    """


class DatabricksTaskOperator(_DurableTaskRun, _provider.DatabricksTaskOperator):
    """The provider's ``DatabricksTaskOperator``, crash-safe standalone (``runs/submit`` with a token).

    Takes every argument of the provider's operator, plus ``durable`` (default ``True``),
    ``external_id_key`` (default ``"databricks_run_id"``) and ``previous_external_id_keys``. Inside a
    ``DatabricksWorkflowTaskGroup`` it monitors its task in the group's run, as the provider's does.
    """
