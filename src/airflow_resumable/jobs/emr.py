"""Crash-safe EMR operators: EMR Serverless, EMR on EKS and EMR steps, as drop-in provider subclasses.

The Amazon provider's EMR operators start a new job on every try: ``EmrServerlessStartJobOperator`` makes
a random ``clientToken`` per operator instance, ``EmrContainerOperator`` one per try, and
``EmrAddStepsOperator`` has no idempotency at all (``AddJobFlowSteps`` takes no token), so a worker that
dies while a Spark job runs leaves that job running and the retry starts (and pays for) a second one.

The operators here take exactly the provider's arguments (swap the import) and are durable by default
(``durable=False`` gives the provider's behaviour back). Each try first decides, from what earlier tries
stored in ``task_state_store``, whether to reconnect to a running job, return the result of a finished
one, or submit (see [`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]). Every submission is
preceded by a write-ahead intent holding a deterministic token, which is:

- passed as the native ``clientToken`` (EMR Serverless, EMR on EKS), so AWS returns the same job run for a
  repeated submission;
- put in a marker that a retry searches for (``ListJobRuns`` / ``ListSteps``), because not every
  implementation honours the token and ``AddJobFlowSteps`` has none: the EMR Serverless job ``name`` ends
  with ``[<token>]``, EMR on EKS job runs carry the token in the ``airflow-resumable-token`` tag (and in
  their ``clientToken``), and every step ``Name`` ends with ``[<token>/<index>]``.

Deferrable mode (``deferrable=True``) makes the same decision and defers to the provider's own trigger on
the existing job instead of submitting another. Results keep the provider's shapes: the job run id for
EMR Serverless and EMR on EKS, the list of step ids for EMR steps.

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.

One module per service holds each operator (`emr_serverless`,
`emr_containers`, `emr_steps`, and
`emr_create` for ``EmrCreateJobFlowOperator``); import them from here.
"""

from __future__ import annotations

from airflow_resumable.jobs.emr_containers import EmrContainerOperator
from airflow_resumable.jobs.emr_create import EmrCreateJobFlowOperator
from airflow_resumable.jobs.emr_serverless import EmrServerlessStartJobOperator
from airflow_resumable.jobs.emr_steps import EmrAddStepsOperator

__all__ = [
    "EmrAddStepsOperator",
    "EmrContainerOperator",
    "EmrCreateJobFlowOperator",
    "EmrServerlessStartJobOperator",
]
