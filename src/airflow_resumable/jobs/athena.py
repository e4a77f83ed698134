"""Crash-safe Athena queries: ``AthenaOperator`` as a drop-in subclass of the provider's.

The provider's operator sends ``StartQueryExecution`` without a ``ClientRequestToken`` unless you pass
one, so a retry after a crash runs (and scans, and pays for) the query again; a ``client_request_token``
you pass is the same on every try, so a retry after a *failed* query gets the failed query back. This one
records a token per submission in a write-ahead intent before starting the query (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]).

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _aws_common as common

try:
    import airflow.providers.amazon.aws.operators.athena as _provider
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook
    from airflow.providers.amazon.aws.links.athena import AthenaQueryResultsLink
    from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(
        "airflow_resumable.jobs.athena needs the Amazon provider (apache-airflow-providers-amazon>=9.39), "
        f"which could not be imported ({exc}). Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue


__all__ = ["ATHENA_STATES", "AthenaOperator"]

# Athena QueryExecutionState (API reference, QueryExecutionStatus.State).
ATHENA_STATES = common.JobStates(
    service="Athena",
    active=frozenset({"QUEUED", "RUNNING"}),
    succeeded=frozenset({"SUCCEEDED"}),
    failed=frozenset({"FAILED", "CANCELLED"}),
)


class AthenaOperator(common.AwsDurable, _provider.AthenaOperator):
    """``AthenaOperator`` that reconnects to its query after a crash instead of running it again.

    Same arguments, attributes, link and result (the query execution id) as the provider's operator, plus
    ``durable`` (default ``True``). Athena's own idempotency is used, the strongest there is:
    ``StartQueryExecution`` takes a ``ClientRequestToken`` (32 to 128 characters), and a repeated request
    with the same token returns the same query execution id instead of starting another query.

    - Before the query starts, a write-ahead intent records the token: your ``client_request_token`` for
      the first submission (``<token>-<nonce>-g<n>`` after a failed one), else one derived per task
      instance and submission. The query execution id is stored under ``athena_query_execution_id``.
    - After a crash between ``StartQueryExecution`` and storing the id, the retry sends the *same* request
      with the same token and Athena returns the query it already started. Athena offers no way to
      search for a query by token (``ListQueryExecutions`` returns ids only), so this relies on Athena
      still remembering the token; how long it does is not documented. The query must render the same on
      every try (Athena refuses a known token with changed parameters).
    - A retry reconnects to a query that is queued or running, returns the id of one that succeeded, and
      starts a new generation (new token) after ``FAILED`` or ``CANCELLED``, or when Athena no longer
      knows the query (its history is kept 45 days).
    - With ``deferrable=True`` a retry defers to ``AthenaTrigger`` on the existing query.

    Killing the task stops the query (the provider's ``on_kill``, also for a query this try reconnected
    to; in deferrable mode nothing is stopped, as upstream). Without a task state store in the context it
    is the provider's operator (with a warning).
    """

    external_id_key = "athena_query_execution_id"
    job_states = ATHENA_STATES
    idempotency_token_max_length = 128
    """``ClientRequestToken`` takes 32 to 128 characters (derived tokens have at least 32)."""

    def execute(self, context: Context) -> str | None:
        """Durable start: decide, then reconnect, return, or start the query once with the recorded token."""
        if not self.runs_durably(context):
            return super().execute(context)
        if self.database:
            self.query_execution_context["Database"] = self.database
        self.query_execution_context["Catalog"] = self.catalog
        if self.output_location:
            self.result_configuration["OutputLocation"] = self.output_location
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            query_execution_id = str(decision.external_id)
            self._adopt(query_execution_id, context)
        else:
            query_execution_id = str(self.submit_durably(context, decision))
        if self.deferrable:
            self.defer(
                trigger=AthenaTrigger(
                    query_execution_id=query_execution_id,
                    waiter_delay=self.sleep_time,
                    waiter_max_attempts=self.max_polling_attempts,
                    **self.aws_args(),
                ),
                method_name="execute_complete",
            )
        self._poll(query_execution_id, context)
        return query_execution_id

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """``StartQueryExecution`` through the provider's hook, with the recorded ``ClientRequestToken``."""
        query_execution_id = self.hook.run_query(
            self.query,
            self.query_execution_context,
            self.result_configuration,
            self.require_token(),
            self.workgroup,
        )
        self._adopt(query_execution_id, context)
        return query_execution_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The query's state from GetQueryExecution (an unknown id raises: a new generation)."""
        response = self.hook.get_conn().get_query_execution(QueryExecutionId=str(external_id))
        return str(response["QueryExecution"]["Status"]["State"])

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait for the query like the provider does; raise its errors, with its messages."""
        query_execution_id = str(external_id)
        self._adopt(query_execution_id, context)
        query_status = self.hook.poll_query_status(
            query_execution_id, max_polling_attempts=self.max_polling_attempts, sleep_time=self.sleep_time
        )
        if query_status in AthenaHook.FAILURE_STATES:
            error_message = self.hook.get_state_change_reason(query_execution_id)
            raise AirflowException(
                f"Final state of Athena job is {query_status}, query_execution_id is "
                f"{query_execution_id}. Error: {error_message}"
            )
        if not query_status or query_status in AthenaHook.INTERMEDIATE_STATES:
            raise AirflowException(
                f"Final state of Athena job is {query_status}. Max tries of poll status exceeded, "
                f"query_execution_id is {query_execution_id}."
            )
        return query_execution_id

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The query execution id, as the provider's operator returns it."""
        query_execution_id = str(external_id)
        self._adopt(query_execution_id, context)
        return query_execution_id

    def job_created_at(self, external_id: JsonValue) -> datetime | None:
        """The query's ``SubmissionDateTime`` (GetQueryExecution): tells a query your token handed back
        from an earlier try's apart from one this submission started."""
        response = self.hook.get_conn().get_query_execution(QueryExecutionId=str(external_id))
        submitted = response["QueryExecution"]["Status"].get("SubmissionDateTime")
        if not isinstance(submitted, datetime):
            return None
        return submitted if submitted.tzinfo is not None else submitted.replace(tzinfo=timezone.utc)

    # -- helpers ---------------------------------------------------------------------------------------
    def _adopt(self, query_execution_id: str, context: Context) -> None:
        """Make the query this try's: ``on_kill`` stops it, the results link points at it."""
        if self.query_execution_id == query_execution_id:
            return
        self.query_execution_id = query_execution_id
        AthenaQueryResultsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            query_execution_id=query_execution_id,
        )
