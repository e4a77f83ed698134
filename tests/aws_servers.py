"""The local AWS for the job families beyond EMR steps, Serverless and on EKS: EMR clusters, Athena.

Everything runs on the session's one moto server (:mod:`moto_server`): the providers' hooks reach it
through ``aws_default`` exactly as they would reach AWS, and tests move jobs between states through moto's
in-process backends (time passing on AWS), never through the providers' hooks.

What moto 5.2.5 does on its own, checked here:

- EMR: ``RunJobFlow`` (with ``Tags``), ``ListClusters`` (``CreatedAfter``), ``DescribeCluster`` (``Tags``;
  ``StateChangeReason`` without a ``Code``), ``TerminateJobFlows``. A new cluster is ``WAITING`` at once (or
  ``TERMINATED`` at once when it may not stay alive without steps). An unknown id gives
  ``InvalidRequestException: Cluster id '...' is not valid.``
- Athena: ``StartQueryExecution``, ``GetQueryExecution``, ``StopQueryExecution``; a query is ``SUCCEEDED``
  at once. moto ignores ``ClientRequestToken`` (a repeated token starts another query), which AWS honours,
  and answers an unknown id with a 500: :func:`athena_like_aws` makes it answer as the Athena API
  reference says, so tests see the service's real answer to a repeated request.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import moto_server

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT_ID = moto_server.ACCOUNT_ID
REGION = moto_server.REGION


# -- EMR clusters ---------------------------------------------------------------------------------------
def _emr_backend() -> Any:
    from moto.emr.models import emr_backends

    return emr_backends[ACCOUNT_ID][REGION]


def clusters_named(name: str) -> list[Any]:
    """Every cluster created with ``name`` (moto's model objects), oldest first: what a run paid for."""
    clusters = [c for c in _emr_backend().clusters.values() if c.name == name]
    return sorted(clusters, key=lambda c: c.creation_datetime)


def cluster_tags(cluster_id: str) -> dict[str, str]:
    return dict(_emr_backend().clusters[cluster_id]._tags)


def set_cluster_state(cluster_id: str, state: str) -> None:
    """Move a cluster to ``state`` (``STARTING``, ``WAITING``, ``TERMINATED_WITH_ERRORS``...)."""
    _emr_backend().clusters[cluster_id].state = state


def forget_cluster(cluster_id: str) -> None:
    """Remove a cluster, as if EMR no longer knew it (older than EMR's two months of history)."""
    del _emr_backend().clusters[cluster_id]


@contextmanager
def emr_terminations_like_aws() -> Iterator[None]:
    """While the block runs, ``TerminateJobFlows`` and ``DescribeCluster`` answer as EMR does.

    moto 5.2.5 sets any cluster it is asked to terminate to ``TERMINATED`` (even one already
    ``TERMINATED_WITH_ERRORS``) and never reports a ``StateChangeReason.Code``. EMR leaves an ended cluster
    as it is and reports ``USER_REQUEST`` for a cluster terminated on request. Done in moto's model (the
    service side); the provider's hook and its calls are untouched.
    """
    from moto.emr.models import Cluster

    original_terminate = Cluster.terminate
    original_status = Cluster.status

    def terminate(self: Any) -> None:
        if self.state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
            return
        original_terminate(self)
        self.reason_code = "USER_REQUEST"

    def status(self: Any) -> dict[str, Any]:
        answer = dict(original_status.fget(self))  # type: ignore[attr-defined]
        code = getattr(self, "reason_code", None)
        if code:
            answer["StateChangeReason"] = {**answer["StateChangeReason"], "Code": code}
        return answer

    Cluster.terminate = terminate  # type: ignore[method-assign]
    Cluster.status = property(status)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        Cluster.terminate = original_terminate  # type: ignore[method-assign]
        Cluster.status = original_status  # type: ignore[method-assign]


def cluster_job_flow_overrides(name: str, **extra: Any) -> dict[str, Any]:
    """A small ``job_flow_overrides`` that moto accepts, the cluster named ``name``."""
    return {
        "Name": name,
        "ReleaseLabel": "emr-6.10.0",
        "Instances": {
            "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge",
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        "JobFlowRole": "EMR_EC2_DefaultRole",
        "ServiceRole": "EMR_DefaultRole",
        **extra,
    }


# -- Athena ----------------------------------------------------------------------------------------------
def _athena_backend() -> Any:
    from moto.athena.models import athena_backends

    return athena_backends[ACCOUNT_ID][REGION]


def athena_executions(query: str) -> list[Any]:
    """Every query execution of ``query`` (moto's model objects): what a run paid for."""
    return [e for e in _athena_backend().executions.values() if e.query == query]


def set_athena_state(execution_id: str, state: str) -> None:
    """Move a query execution to ``state`` (``RUNNING``, ``FAILED``, ``CANCELLED``, ``SUCCEEDED``)."""
    _athena_backend().executions[execution_id].status = state


def backdate_athena_execution(execution_id: str, *, hours: float) -> None:
    """Make a query execution look submitted ``hours`` earlier."""
    execution = _athena_backend().executions[execution_id]
    execution.start_time -= hours * 3600
    execution.end_time -= hours * 3600


def forget_athena_execution(execution_id: str) -> None:
    """Remove a query execution, as if Athena no longer knew it (its 45 days of history are over)."""
    del _athena_backend().executions[execution_id]


_token_lock = threading.Lock()
_tokens: dict[str, tuple[str, str]] = {}
"""ClientRequestToken -> (query execution id, request fingerprint), for :func:`athena_like_aws`."""


@contextmanager
def athena_like_aws() -> Iterator[None]:
    """While the block runs, moto's Athena answers two things as Athena does (moto 5.2.5 does neither):

    - a repeated ``ClientRequestToken`` returns the query it started, and the same token with other
      parameters is refused (``InvalidRequestException``), as the API reference says;
    - ``GetQueryExecution`` of an unknown id is ``InvalidRequestException: QueryExecution <id> was not
      found`` (moto answers a 500 from a ``KeyError``).

    Done in moto's request handler (the service side), so the provider's hook and its calls are untouched.
    """
    from moto.athena.responses import AthenaResponse
    from moto.core.exceptions import JsonRESTError

    original_start = AthenaResponse.start_query_execution
    original_get = AthenaResponse.get_query_execution

    def start_query_execution(self: Any) -> Any:
        token = self._get_param("ClientRequestToken")
        fingerprint = json.dumps(
            {k: v for k, v in json.loads(self.body).items() if k != "ClientRequestToken"}, sort_keys=True
        )
        with _token_lock:
            if token and token in _tokens:
                execution_id, seen = _tokens[token]
                if seen != fingerprint:
                    raise JsonRESTError(
                        "InvalidRequestException", "Idempotent parameters do not match the earlier request"
                    )
                return json.dumps({"QueryExecutionId": execution_id})
            answer = original_start(self)
            if token and isinstance(answer, str):
                _tokens[token] = (json.loads(answer)["QueryExecutionId"], fingerprint)
            return answer

    def get_query_execution(self: Any) -> Any:
        execution_id = self._get_param("QueryExecutionId")
        if execution_id not in self.athena_backend.executions:
            raise JsonRESTError("InvalidRequestException", f"QueryExecution {execution_id} was not found")
        return original_get(self)

    AthenaResponse.start_query_execution = start_query_execution  # type: ignore[method-assign]
    AthenaResponse.get_query_execution = get_query_execution  # type: ignore[method-assign]
    try:
        yield
    finally:
        AthenaResponse.start_query_execution = original_start  # type: ignore[method-assign]
        AthenaResponse.get_query_execution = original_get  # type: ignore[method-assign]


@contextmanager
def athena_queries_run_for(polls: int) -> Iterator[None]:
    """While the block runs, a query stays ``QUEUED``/``RUNNING`` for ``polls`` status calls per state
    (moto's default: ``SUCCEEDED`` at once)."""
    from moto.moto_api import state_manager

    state_manager.set_transition("athena::execution", {"progression": "manual", "times": polls})
    try:
        yield
    finally:
        state_manager.unset_transition("athena::execution")


# -- Step Functions ------------------------------------------------------------------------------------------
def create_state_machine() -> str:
    """A fresh standard state machine (moto: its executions are RUNNING until moved)."""
    import json as _json
    import uuid

    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    return str(
        moto_server.client("stepfunctions").create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:12]}",
            definition=_json.dumps(definition),
            roleArn=moto_server.ROLE_ARN,
        )["stateMachineArn"]
    )


def _state_machine(state_machine_arn: str) -> Any:
    from moto.stepfunctions.models import stepfunctions_backends

    return stepfunctions_backends[ACCOUNT_ID][REGION].describe_state_machine(state_machine_arn)


def executions(state_machine_arn: str) -> list[Any]:
    """Every execution of the state machine, oldest first (moto's model objects): what a run started."""
    return list(_state_machine(state_machine_arn).executions)


def set_execution_status(arn: str, status: str) -> None:
    """Move an execution to ``status`` (``SUCCEEDED``, ``FAILED``, ``ABORTED``...)."""
    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    for execution in executions(machine):
        if execution.execution_arn == arn:
            execution.status = status
            return
    raise KeyError(arn)


def forget_execution(arn: str) -> None:
    """Remove an execution, as if Step Functions no longer knew it (90 days after it closed)."""
    machine = _state_machine(arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0])
    machine.executions[:] = [e for e in machine.executions if e.execution_arn != arn]
