"""A crash-safe ``DatabricksWorkflowTaskGroup``: its launch task reconnects to its run, never starts another.

The provider's task group (databricks 7.23) adds a ``launch`` task that creates the group's Databricks job
(or resets the job of the same name: ``jobs/list`` by name, then ``jobs/reset`` or ``jobs/create``), starts
it with ``jobs/run-now`` and returns ``{"conn_id", "job_id", "run_id"}``; the group's tasks read that XCom
and monitor their own task in that run. The provider's launch stores nothing and sends no token, so a
retry of the launch (the worker died after ``run-now``, or while waiting for the run to start) starts a
*second* run of the whole workflow while the first keeps running.

Swap the import to make the launch durable:

```python
# from airflow.providers.databricks.operators.databricks_workflow import DatabricksWorkflowTaskGroup
from airflow_resumable.jobs.databricks import DatabricksWorkflowTaskGroup
```

Its launch task is `CreateDatabricksWorkflowOperator`: ``run-now`` carries Databricks'
``idempotency_token`` from a write-ahead intent, the run id is stored under
``databricks_workflow_run_id``, and a retry reconnects to the run (waits for it to start, or returns at once
if it already finished successfully) and returns the same XCom, so the group's tasks monitor the run that
exists. The job itself is found by name, as the provider does (``jobs/create`` has no token; the job name
``<dag_id>.<group_id>`` is the marker), and is not reset again when the launch reconnects. A run that failed
or is unknown to Databricks is followed by a new run with a new token, as a fresh launch would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs.base import DurableJobMixin
from airflow_resumable.jobs.databricks_tasks import ACTIVE_STATES, is_not_found, run_status

try:
    from airflow.providers.common.compat.sdk import AirflowException
    from airflow.providers.databricks.operators import databricks_workflow as _provider
    from airflow.providers.databricks.plugins.databricks_workflow import store_databricks_job_run_link
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "airflow_resumable.jobs.databricks_workflow needs the Databricks provider (7.23 or newer): "
        "pip install 'airflow-resumable[databricks]'"
    ) from exc

if TYPE_CHECKING:
    from types import TracebackType

    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["CreateDatabricksWorkflowOperator", "DatabricksWorkflowTaskGroup"]


class CreateDatabricksWorkflowOperator(DurableJobMixin, _provider._CreateDatabricksWorkflowOperator):
    """The provider's workflow launch task (``_CreateDatabricksWorkflowOperator``), crash-safe.

    Same arguments, XCom (the returned ``{"conn_id", "job_id", "run_id"}``), extra link and ``on_kill``;
    plus ``durable`` (default ``True``), ``external_id_key`` (default ``"databricks_workflow_run_id"``) and
    ``previous_external_id_keys``. Built by `DatabricksWorkflowTaskGroup`, not by DAG authors.
    """

    external_id_key = "databricks_workflow_run_id"
    idempotency_token_max_length = 64

    _job_id: int | None = None

    def execute(self, context: Context) -> Any:
        """Create or reset the job and run it durably; a retry reconnects to the run it started."""
        if not self.durable:
            return super().execute(context)
        if not isinstance(self.task_group, _provider.DatabricksWorkflowTaskGroup):
            raise AirflowException("Task group must be a DatabricksWorkflowTaskGroup")
        return self.execute_resumable(context)

    def submit_job(self, context: Context) -> int:
        """The provider's ``jobs/create``-or-``reset`` and ``run-now``, with `submission_token`."""
        self._job_id = self._create_or_reset_job(context)
        payload: dict[str, Any] = {
            "job_id": self._job_id,
            "jar_params": self.jar_params,
            "notebook_params": self.notebook_params,
            "python_params": self.python_params,
            "spark_submit_params": self.spark_submit_params,
        }
        if self.submission_token is not None:
            payload["idempotency_token"] = self.submission_token
        return self._hook.run_now(payload)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        return run_status(self._hook, external_id)

    def is_job_active(self, status: str) -> bool:
        return status.split(":", 1)[0] in ACTIVE_STATES

    def is_job_succeeded(self, status: str) -> bool:
        return status == "TERMINATED:SUCCESS"

    def is_job_not_found(self, error: BaseException) -> bool:
        return is_not_found(error) or super().is_job_not_found(error)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Wait for the run to start, as the provider's launch does (it does not wait for the run to end)."""
        self._wait_for_job_to_start(cast("int", external_id))

    def get_job_result(self, external_id: JsonValue, context: Context) -> dict[str, Any]:
        """The provider's XCom, the run link, and ``workflow_run_metadata`` (for ``on_kill``)."""
        run_id = cast("int", external_id)
        job_id = self._job_id if self._job_id is not None else self._hook.get_job_id(run_id)
        self.workflow_run_metadata = _provider.WorkflowRunMetadata(self.databricks_conn_id, job_id, run_id)
        store_databricks_job_run_link(context=context, metadata=self.workflow_run_metadata, logger=self.log)
        return {"conn_id": self.databricks_conn_id, "job_id": job_id, "run_id": run_id}


class DatabricksWorkflowTaskGroup(_provider.DatabricksWorkflowTaskGroup):
    """The provider's ``DatabricksWorkflowTaskGroup`` whose launch task is crash-safe.

    Takes every argument of the provider's group, plus ``durable`` (default ``True``; ``False`` builds the
    provider's own launch task). The group's tasks are unchanged: use the provider's or this library's
    notebook and task operators inside it.
    """

    launch_operator_class: type[Any] = CreateDatabricksWorkflowOperator
    """The class of the ``launch`` task this group adds."""

    def __init__(self, *args: Any, durable: bool = True, **kwargs: Any) -> None:
        self.durable = durable
        super().__init__(*args, **kwargs)

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        """Add the tasks to one launch task, as the provider's group does (its ``__exit__``, our class)."""
        if not self.durable:
            return super().__exit__(_type, _value, _tb)
        roots = list(self.get_roots())
        tasks = _provider._flatten_node(self)
        launch = self.launch_operator_class(
            dag=self.dag,
            task_group=self,
            task_id="launch",
            databricks_conn_id=self.databricks_conn_id,
            access_control_list=self.access_control_list,
            existing_clusters=self.existing_clusters,
            extra_job_params=self.extra_job_params,
            jar_params=self.jar_params,
            job_clusters=self.job_clusters,
            max_concurrent_runs=self.max_concurrent_runs,
            notebook_params=self.notebook_params,
            python_params=self.python_params,
            spark_submit_params=self.spark_submit_params,
        )
        try:
            for task in tasks:
                if not callable(getattr(task, "_convert_to_databricks_workflow_task", None)):
                    raise AirflowException(
                        f"Task {task.task_id} does not support conversion to databricks workflow task."
                    )
                task.workflow_run_metadata = launch.output
                launch.relevant_upstreams.append(task.task_id)
                launch.add_task(task.task_id, task)
            for root_task in roots:
                root_task.set_upstream(launch)
            for upstream_id in self.upstream_task_ids:
                launch.set_upstream(self.dag.get_task(upstream_id))
            for downstream_id in self.downstream_task_ids:
                for leaf_task in self.get_leaves():
                    leaf_task.set_downstream(self.dag.get_task(downstream_id))
        finally:
            super(_provider.DatabricksWorkflowTaskGroup, self).__exit__(_type, _value, _tb)  # type: ignore[no-untyped-call]
