"""A crash-safe ``DatabricksSQLStatementsOperator``: a retry reconnects to its statement, never reruns it.

Swap the import and keep every argument:

```python
# from airflow.providers.databricks.operators.databricks import DatabricksSQLStatementsOperator
from airflow_resumable.jobs.databricks import DatabricksSQLStatementsOperator
```

The provider's operator (databricks 7.23) submits the statement (``POST /api/2.0/sql/statements`` with
``wait_timeout: 0s``) on every try and stores nothing: a retry after the worker died, or after it deferred,
runs the statement a second time while the first one may still be running (an ``INSERT`` twice).

The drop-in stores the statement id under ``databricks_statement_id`` right after the submission and a
retry reconnects to it (polls it, or defers on it in deferrable mode), or returns at once if it already
succeeded (``SUCCEEDED``, or ``CLOSED``: succeeded and its result closed). A statement that failed, was
cancelled, or is unknown to the warehouse (Databricks forgets statements at least 12 hours after they end)
is submitted again as a new generation.

**The limit.** The Statement Execution API has no idempotency token and no lookup of an earlier submission
by a marker (no client request id; the query history API lists a warehouse's queries by time and status,
not by a tag, and lags behind), so this operator does not search: the window between ``POST`` and storing
the returned id stays open, and a worker that dies inside it makes the retry run the statement again.
The drop-in keeps that window to the one HTTP round trip (the write-ahead intent is written before the
``POST``, the id stored before anything else, even the XCom), and a retry that finds such an unfinished
submission logs a warning naming it. Make statements that must not run twice idempotent themselves
(``MERGE``, ``INSERT OVERWRITE``, ``CREATE ... IF NOT EXISTS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs.base import DurableJobMixin

try:
    from airflow.providers.databricks.operators import databricks as _provider
    from airflow.providers.databricks.utils.query_tags import build_query_tags, dict_to_query_tag_list
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "airflow_resumable.jobs.databricks_sql needs the Databricks provider (7.23 or newer): "
        "pip install 'airflow-resumable[databricks]'"
    ) from exc

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["DatabricksSQLStatementsOperator"]

SUCCEEDED_STATES = ("SUCCEEDED", "CLOSED")
"""``CLOSED``: the statement succeeded and its result was closed (Databricks' statement states)."""


class DatabricksSQLStatementsOperator(DurableJobMixin, _provider.DatabricksSQLStatementsOperator):
    """The provider's ``DatabricksSQLStatementsOperator``, reconnecting to its statement on a retry.

    Takes every argument of the provider's operator, plus ``durable`` (default ``True``),
    ``external_id_key`` (default ``"databricks_statement_id"``) and ``previous_external_id_keys``. Same
    request JSON, XCom (``statement_id``), exceptions, ``on_kill`` (cancels the statement) and deferrable
    path. See the module documentation for the window no API lets it close.
    """

    external_id_key = "databricks_statement_id"

    def execute(self, context: Context) -> None:
        """Submit durably or reconnect, then wait (or defer) as the provider does."""
        if not self.durable:
            return cast("None", super().execute(context))
        decision = self.decide(context)
        if decision.submits:
            self.statement_id = cast("str", self.submit_durably(context, decision))
            self._push_statement_id(context)
            self.log.info("SQL Statement submitted with statement_id: %s", self.statement_id)
        else:
            self.statement_id = cast("str", decision.external_id)
            self._push_statement_id(context)
            self.log.info("Reconnected to SQL statement with statement_id: %s", self.statement_id)
        if not self.wait_for_termination:
            return None
        if decision.status in SUCCEEDED_STATES:  # already done: CLOSED would read as a failure below
            self.log.info("%s completed successfully.", self.task_id)
            return None
        if self.deferrable:
            self._handle_deferrable_execution(defer_method_name=_provider.DEFER_METHOD_NAME)  # type: ignore[misc]
        else:
            self._poll(self.statement_id, context)
        return None

    def _push_statement_id(self, context: Context | None) -> None:
        if self.do_xcom_push and context is not None:
            context["ti"].xcom_push(key=_provider.XCOM_STATEMENT_ID_KEY, value=self.statement_id)

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """Nothing is searched (no token, no marker lookup): warn that the statement may run twice."""
        self.log.warning(
            "An earlier try may have submitted this SQL statement without storing its id; the Statement "
            "Execution API cannot find it, so it is submitted again",
            external_id_key=self.external_id_key,
            submitted_at=None if submitted_at is None else submitted_at.isoformat(),
        )
        return None

    # -- the six methods of the mixin ----------------------------------------------------------------------
    def submit_job(self, context: Context) -> str:
        """The provider's request (same JSON and query tags); returns the statement id.

        Unlike the provider's ``execute`` it pushes no XCom: `execute()` does, after the id is stored.
        """
        tags = build_query_tags(context, self.query_tags, self.include_airflow_query_tags)
        json: dict[str, Any] = {
            "statement": self.statement,
            "warehouse_id": self.warehouse_id,
            "catalog": self.catalog,
            "schema": self.schema,
            "parameters": self.parameters,
            "wait_timeout": "0s",
        }
        if tags:
            json["query_tags"] = dict_to_query_tag_list(tags)
        self.statement_id = cast("str", self._hook.post_sql_statement(json))
        return self.statement_id  # the XCom is pushed once the id is stored (execute)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        return cast("str", self._hook.get_sql_statement_state(cast("str", external_id)).state)

    def is_job_active(self, status: str) -> bool:
        return status in ("PENDING", "RUNNING")

    def is_job_succeeded(self, status: str) -> bool:
        return status in SUCCEEDED_STATES

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The provider's polling (its timeout, cancel on timeout and error message)."""
        self.statement_id = cast("str", external_id)
        self._handle_execution()  # type: ignore[misc]

    def get_job_result(self, external_id: JsonValue, context: Context) -> None:
        return None
