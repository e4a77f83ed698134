"""Crash-safe EMR clusters: ``EmrCreateJobFlowOperator`` as a drop-in subclass of the provider's.

``RunJobFlow`` takes no idempotency token, so the provider's operator creates a new cluster on every try:
a worker that dies after the cluster was requested leaves it running (and billing) while the retry starts
a second one. This one tags every cluster with its submission's token and, on a retry, finds the cluster
an earlier try created before creating anything (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]). Import it from
`airflow_resumable.jobs.emr`.
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _emr_common as common

try:
    import airflow.providers.amazon.aws.operators.emr as _provider
    from airflow.providers.amazon.aws.links.emr import EmrClusterLink, EmrLogsLink, get_log_uri
    from airflow.providers.amazon.aws.triggers.emr import EmrCreateJobFlowTrigger
    from airflow.providers.amazon.aws.utils.waiter import WAITER_POLICY_NAME_MAPPING, WaitPolicy
    from airflow.providers.common.compat.sdk import AirflowException
    from airflow.utils.helpers import prune_dict
    from botocore.exceptions import WaiterError
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(common.PROVIDER_MISSING.format(error=exc)) from exc

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["EmrCreateJobFlowOperator", "cluster_status"]

TERMINATED_BY_REQUEST = "USER_REQUEST"
"""``StateChangeReason.Code`` of a cluster someone terminated (a killed try's ``on_kill``, a person)."""

_FAILED = "TERMINATED_WITH_ERRORS"
_ENDING = frozenset({"TERMINATING", "TERMINATED"})
_READY = frozenset({"WAITING", "RUNNING", "TERMINATED"})
"""What the provider's ``job_flow_waiting`` waiter accepts as success."""


def cluster_status(cluster: dict[str, Any]) -> str:
    """A cluster's state, with its reason code once it ends (``TERMINATED:USER_REQUEST``)."""
    status = cluster.get("Status") or {}
    state = str(status.get("State"))
    code = (status.get("StateChangeReason") or {}).get("Code")
    return f"{state}:{code}" if state in _ENDING and code else state


def _split(status: str) -> tuple[str, str]:
    state, _, code = status.partition(":")
    return state, code


class EmrCreateJobFlowOperator(common.EmrDurable, _provider.EmrCreateJobFlowOperator):
    """``EmrCreateJobFlowOperator`` that finds its cluster after a crash instead of creating another.

    Same arguments, links, XComs and result (the job flow id) as the provider's operator, plus ``durable``
    (default ``True``). ``RunJobFlow`` has no idempotency token (AWS cannot deduplicate a repeated request),
    so this is the marker-and-search kind of durability:

    - before ``RunJobFlow`` a write-ahead intent records the submission's token (with a random part per
      submission); the cluster is tagged ``airflow-resumable-token=<token>`` (added to the tags of your
      ``job_flow_overrides`` or ``emr_conn_id`` config, which are otherwise sent unchanged);
    - the job flow id is stored under ``emr_job_flow_id``. After a crash between ``RunJobFlow`` and storing
      the id, a retry lists the clusters created since the intent (``ListClusters`` with ``CreatedAfter``,
      those with your cluster ``Name`` only) and reads their tags (``DescribeCluster``) for the token;
    - a retry waits again on a cluster that is still starting (with ``wait_for_completion``), returns the id
      of a cluster that is ready (for ``WAIT_FOR_STEPS_COMPLETION``: terminated), and creates a new cluster
      (a new generation) only when the earlier one ended ``TERMINATED_WITH_ERRORS``, was terminated on
      request (``StateChangeReason`` ``USER_REQUEST``: a killed try's ``on_kill``, a person) or is unknown
      to EMR;
    - with ``deferrable=True`` a retry defers to ``EmrCreateJobFlowTrigger`` on the existing cluster.

    What it cannot do: if the worker dies *during* the ``RunJobFlow`` call and EMR created the cluster but
    the tag search cannot see it (the cluster was created more than a day before the intent's time by the
    worker's clock, or more than 50 clusters share its name), the retry creates a second cluster. Killing
    the task terminates the cluster (the provider's ``on_kill``, also for a cluster this try reconnected
    to). Without a task state store in the context it is the provider's operator (with a warning).
    """

    external_id_key = "emr_job_flow_id"
    job_states = common.JobStates(
        service="EMR clusters",
        active=frozenset({"STARTING", "BOOTSTRAPPING", "TERMINATING"}),
        succeeded=_READY,
        failed=frozenset({_FAILED}),
    )
    """The cluster states (for reading only: the wait policy decides, see `is_job_succeeded()`)."""
    user_token_argument = None  # RunJobFlow takes no token

    def execute(self, context: Context) -> str | None:
        """Durable create: decide, then wait on the cluster found, return its id, or create it once."""
        if not self.runs_durably(context):
            return super().execute(context)
        self.log.info(
            "Creating job flow using aws_conn_id: %s, emr_conn_id: %s", self.aws_conn_id, self.emr_conn_id
        )
        if isinstance(self.job_flow_overrides, str):
            self.job_flow_overrides = ast.literal_eval(self.job_flow_overrides)
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            job_flow_id = str(decision.external_id)
            self._adopt(job_flow_id, context)
        else:
            job_flow_id = str(self.submit_durably(context, decision))
        if self.wait_for_completion and self.deferrable:
            self.defer(
                trigger=EmrCreateJobFlowTrigger(
                    job_flow_id=job_flow_id,
                    **self.aws_args(),
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    waiter_name=self._waiter_name(),
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay + 60),
            )
        self._poll(job_flow_id, context)
        return job_flow_id

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """``RunJobFlow`` through the provider's hook, the request's ``Tags`` carrying the token tag."""
        token = self.require_token()
        overrides = cast("dict[str, Any]", self.job_flow_overrides)
        events = self.hook.conn.meta.events
        handler_id = f"airflow-resumable-{id(self)}"

        def add_tag(params: dict[str, Any], **_: Any) -> None:
            tags = [t for t in params.get("Tags") or [] if t.get("Key") != common.TOKEN_TAG]
            params["Tags"] = [*tags, {"Key": common.TOKEN_TAG, "Value": token}]

        events.register_first("before-parameter-build.emr.RunJobFlow", add_tag, unique_id=handler_id)
        try:
            response = self.hook.create_job_flow(overrides)
        finally:
            events.unregister("before-parameter-build.emr.RunJobFlow", unique_id=handler_id)
        if response["ResponseMetadata"]["HTTPStatusCode"] != 200:
            raise AirflowException(f"Job flow creation failed: {response}")
        job_flow_id = str(response["JobFlowId"])
        self.log.info("Job flow with id %s created", job_flow_id)
        self._adopt(job_flow_id, context)
        return job_flow_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The cluster's state from DescribeCluster (``TERMINATED:<reason code>`` once it ends)."""
        cluster = self.hook.conn.describe_cluster(ClusterId=str(external_id))["Cluster"]
        return cluster_status(cluster)

    def is_job_active(self, status: str) -> bool:
        """Worth waiting on: not yet where the wait policy ends, and not failed (unknown states count)."""
        return not self._failed(status) and not self.is_job_succeeded(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Where the provider's wait ends: created (no wait), ready (``WAITING``/``RUNNING``/``TERMINATED``),
        or ``TERMINATED`` (``WAIT_FOR_STEPS_COMPLETION``); a cluster terminated on request never counts."""
        if self._failed(status):
            return False
        if not self.wait_for_completion:
            return True
        state, _ = _split(status)
        if self.wait_policy is WaitPolicy.WAIT_FOR_STEPS_COMPLETION:
            return state == "TERMINATED"
        return state in _READY

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait as the provider does (its waiter for the wait policy); on a waiter error, terminate the
        cluster if ``terminate_job_flow_on_failure`` (as the provider does) and raise."""
        job_flow_id = str(external_id)
        self._adopt(job_flow_id, context)
        if not self.wait_for_completion:
            return job_flow_id
        try:
            self.hook.get_waiter(self._waiter_name()).wait(
                ClusterId=job_flow_id,
                WaiterConfig=prune_dict(
                    {"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts}
                ),
            )
        except WaiterError:
            if self.terminate_job_flow_on_failure:
                self.log.warning("Task failed after creating EMR job flow %s.", job_flow_id)
                try:
                    self.log.info("Attempting termination of EMR job flow %s.", job_flow_id)
                    self.hook.conn.terminate_job_flows(JobFlowIds=[job_flow_id])
                except Exception:
                    self.log.exception("Failed to terminate EMR job flow %s after task failure.", job_flow_id)
            raise
        return job_flow_id

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The job flow id, as the provider's operator returns it."""
        job_flow_id = str(external_id)
        self._adopt(job_flow_id, context)
        return job_flow_id

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The cluster tagged with ``token`` among those created since the submission; ``None`` if none.

        ``ListClusters`` returns no tags: only clusters with the request's ``Name`` (when it is known from
        ``job_flow_overrides``) are read with ``DescribeCluster``, at most 50, newest first.
        """
        kwargs: dict[str, Any] = {}
        start = common.created_after(submitted_at)
        if start is not None:
            kwargs["CreatedAfter"] = start
        name = self._requested_name()
        candidates: list[dict[str, Any]] = []
        for page in common.pages(self.hook.conn.get_paginator("list_clusters"), **kwargs):
            candidates += [c for c in page.get("Clusters", []) if name is None or c.get("Name") == name]
        newest = sorted(candidates, key=_created, reverse=True)[: common.MAX_CANDIDATES]
        matches = []
        for summary in newest:
            try:
                cluster = self.hook.conn.describe_cluster(ClusterId=summary["Id"])["Cluster"]
            except Exception as exc:
                if common.is_aws_not_found(exc):
                    continue
                raise
            tags = {t.get("Key"): t.get("Value") for t in cluster.get("Tags") or []}
            if tags.get(common.TOKEN_TAG) == token:
                matches.append({"Id": summary["Id"], "State": cluster_status(cluster)})
        if len(matches) > 1:
            self.log.warning(
                "Several clusters carry this submission's tag; reconnecting to one of them",
                job_flow_ids=[m["Id"] for m in matches],
            )
        usable = [m for m in matches if not self._failed(m["State"])]
        return str((usable or matches)[0]["Id"]) if matches else None

    # -- helpers ---------------------------------------------------------------------------------------
    def _failed(self, status: str) -> bool:
        state, code = _split(status)
        return state == _FAILED or (state in _ENDING and code == TERMINATED_BY_REQUEST)

    def _waiter_name(self) -> str:
        return WAITER_POLICY_NAME_MAPPING[self.wait_policy or WaitPolicy.WAIT_FOR_COMPLETION]

    def _requested_name(self) -> str | None:
        overrides = self.job_flow_overrides
        name = overrides.get("Name") if isinstance(overrides, dict) else None
        return name if isinstance(name, str) and name else None

    def _adopt(self, job_flow_id: str, context: Context) -> None:
        """Make ``job_flow_id`` this try's cluster: ``on_kill`` terminates it, the links point at it."""
        if getattr(self, "_job_flow_id", None) == job_flow_id:
            return
        self._job_flow_id = job_flow_id
        EmrClusterLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_flow_id=job_flow_id,
        )
        EmrLogsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_flow_id=job_flow_id,
            log_uri=get_log_uri(emr_client=self.hook.conn, job_flow_id=job_flow_id),
        )


def _created(summary: dict[str, Any]) -> float:
    created = ((summary.get("Status") or {}).get("Timeline") or {}).get("CreationDateTime")
    return created.timestamp() if isinstance(created, datetime) else 0.0
