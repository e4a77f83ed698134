"""Crash-safe external jobs: one resume decision, shared by blocking and deferrable operators.

Airflow 3.3's ``ResumableJobMixin`` stores an external job id after submitting, so a retry reconnects to
the job instead of starting another.
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin] keeps that contract (the same six
methods, the ``durable`` flag, the same span, log events and metric names) and closes its gaps: a
write-ahead *submission intent* (generation and an idempotency token with a random part) is stored before
``submit_job`` runs, so a crash between submit and storing the id is recovered with the same token (or
[`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job]); a job a
repeated token hands back is checked, and a failed one moves to the next generation in the same try;
tokens are never re-derived, so a task whose state was reset starts a new job;
``previous_external_id_keys`` makes key renames safe; and
[`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide] stands alone, so deferrable operators
reconnect too.

Store layout in ``task_state_store`` (retention per key: ``airflow_resumable.jobs._job_state``):
``<external_id_key>`` holds the job id, where and how upstream stores it;
``<external_id_key>.intent`` holds ``{"generation", "token", "submitted_at", "state": "submitting" |
"submitted", "external_id"}``, the operator's ``intent_fields``, and (with ``records_success``)
``"outcome"`` once a try saw the job succeed.

Base order matters: ``class MyOperator(DurableJobMixin, BaseOperator)``; the reverse fails to construct
on Airflow 3.3 (``TypeError: object.__init__() takes exactly one argument``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import tenacity
from airflow.sdk._shared.observability.metrics import stats  # noqa: F401 - patched by tests as base.stats
from airflow.sdk.bases.operator import BaseOperatorMeta
from airflow.sdk.bases.resumablejobmixin import ResumableJobMixin
from opentelemetry import trace

from airflow_resumable import _store
from airflow_resumable.errors import InvalidValueError
from airflow_resumable.jobs import _decision, _errors, _intent, _job_state, _submission
from airflow_resumable.jobs._decision import Decision, ResumeDecision
from airflow_resumable.jobs._intent import INTENT_SUFFIX

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk.definitions.context import Context
    from airflow.sdk.types import Logger
    from pydantic import JsonValue

__all__ = ["INTENT_SUFFIX", "Decision", "DurableJobMixin", "ResumeDecision"]

T = TypeVar("T")
tracer = trace.get_tracer(__name__)


class DurableJobMixin(ResumableJobMixin):
    """Crash-safe submit-and-poll for one external job, from blocking or deferrable operators.

    Use it as ``class Op(DurableJobMixin, BaseOperator)``, or as the first base of a subclass of a provider
    operator that already uses ``ResumableJobMixin`` (``class Op(DurableJobMixin, ProviderOperator)``).
    Implement the six methods of ``ResumableJobMixin`` (``submit_job``, ``get_job_status``,
    ``is_job_active``, ``is_job_succeeded``, ``poll_until_complete``, ``get_job_result``) and call
    [`execute_resumable`][airflow_resumable.jobs.base.DurableJobMixin.execute_resumable] from ``execute``.
    ``submit_job`` must read
    [`submission_token`][airflow_resumable.jobs.base.DurableJobMixin.submission_token] and pass
    it to the backend as its idempotency token (and/or put it in a searchable marker such as a job or step
    name); backends that can search for an earlier submission override
    [`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job].

    A retry reads what earlier tries stored and decides (see
    [`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide]): reconnect to an active job,
    return the result of a succeeded one, or submit. Every submission is preceded by a write-ahead intent
    holding its generation and token, so a crash between submit and storing the id cannot make a duplicate;
    the token changes only after a terminal failure, so a retry never replays a failed run.

    With ``durable=False`` it is the upstream mixin with ``durable=False``: submit, poll, return the result,
    nothing read or written, no token. Without a ``task_state_store`` in the context (a plain dict in a
    unit test, a store that is unavailable) it warns that crash recovery is disabled and submits and polls,
    as upstream does.

    What it does not do: it does not free the worker slot while polling (use the provider's deferrable mode,
    which can call [`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide] and
    [`submit_durably`][airflow_resumable.jobs.base.DurableJobMixin.submit_durably]), and it cannot stop a
    backend that ignores
    idempotency tokens and offers no way to search from creating a duplicate in the crash window: such a
    backend needs [`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job].
    """

    if TYPE_CHECKING:
        log: Logger
        durable: bool
        task_id: str

    previous_external_id_keys: tuple[str, ...] = ()
    """Keys this operator stored its job id under before ``external_id_key`` was renamed, newest first.

    When nothing is stored under the current key, these are read in order; the first one found is moved to
    the current key (id and intent: written under the new key, then deleted from the old one) and logged.
    """

    idempotency_token_max_length: int = 64
    """The longest token the backend accepts (Databricks ``idempotency_token``, EMR ``clientToken``: 64)."""

    records_success: bool = False
    """Whether a job a try saw succeed is recorded in the intent (see
    [`record_success`][airflow_resumable.jobs.base.DurableJobMixin.record_success]), so a retry that finds
    the backend forgot it returns its result instead of running it again. Turn it on for a backend that
    forgets finished jobs soon (ECS: within an hour) when ``get_job_result`` works for a forgotten job;
    off (the default), a forgotten job starts a new generation."""

    max_submissions_per_try: int = 3
    """How many submissions one try makes when submissions keep returning jobs that already failed."""

    submission_token: str | None = None
    """The idempotency token the current submission must use; set right before ``submit_job`` is called."""

    submission_generation: int | None = None
    """The generation (1, 2, ...) of the current submission; set right before ``submit_job`` is called."""

    submission_repeats: bool = False
    """True when the current submission repeats an earlier try's (same generation and token, its id never
    stored), so some of its work may exist already; set right before ``submit_job`` is called."""

    # Like ResumableJobMixin.__init__: the mixin is no operator class, so BaseOperatorMeta does not wrap
    # its __init__ on its own, and every __init__ in an operator's chain must be wrapped.
    @BaseOperatorMeta._apply_defaults  # type: ignore[type-var]
    def __init__(
        self,
        *,
        external_id_key: str | None = None,
        previous_external_id_keys: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Take ``external_id_key`` and ``previous_external_id_keys`` as arguments too (besides ``durable``
        and the operator's own), so one task's key can be renamed without a subclass."""
        super().__init__(**kwargs)
        if external_id_key is not None:
            self.external_id_key = external_id_key
        if previous_external_id_keys is not None:
            self.previous_external_id_keys = cast(
                "tuple[str, ...]",
                previous_external_id_keys  # a plain string is rejected by _check_keys, with a hint
                if isinstance(previous_external_id_keys, str)
                else tuple(previous_external_id_keys),
            )

    # -- keys ------------------------------------------------------------------------------------------
    @property
    def intent_key(self) -> str:
        """The ``task_state_store`` key holding the submission intent: ``<external_id_key>.intent``."""
        return f"{self.external_id_key}{INTENT_SUFFIX}"

    def _check_keys(self) -> None:
        """Reject unusable key settings before anything is read or written."""
        _job_state.check_keys(type(self).__name__, self.external_id_key, self.previous_external_id_keys)

    # -- tokens ----------------------------------------------------------------------------------------
    def idempotency_token(self, context: Context, generation: int) -> str:
        """A new idempotency token for one submission generation of this task instance.

        ``<hash of (dag_id, run_id, task_id, map_index)>-<12 random hex>-g<generation>``: the hash tells
        whose token it is, the random part makes every call's token new, so a task whose state was reset
        starts a new job. Retries never call this for a generation they already submitted: they read the
        token from the stored intent. Uses only ``[a-z0-9-]`` and fits
        [`idempotency_token_max_length`][airflow_resumable.jobs.base.DurableJobMixin.idempotency_token_max_length].

        The mixin always reaches this method through the class, so an operator may keep a user-supplied
        token in an instance attribute of the same name (the Databricks operators' ``idempotency_token``
        argument) without breaking it; such operators override the private ``_token`` hook instead.
        """
        return _intent.derived_token(
            self._task_identity(context),
            generation,
            self.idempotency_token_max_length,
            owner=type(self).__name__,
        )

    def _task_identity(self, context: Context | None) -> list[Any]:
        """(dag_id, run_id, task_id, map_index) as far as the context tells (missing parts are ``None``)."""
        ctx = _mapping(context)
        who = _store.writer_identity(ctx) if ctx is not None else {}
        get = ctx.get if ctx is not None else (lambda _k, _d=None: None)
        map_index = who.get("map_index", get("map_index", -1))
        return [
            who.get("dag_id") or get("dag_id"),
            who.get("run_id") or get("run_id"),
            who.get("task_id") or getattr(self, "task_id", None),
            -1 if map_index is None else map_index,
        ]

    def _token(self, context: Context, generation: int) -> str:
        """The token of a new submission of ``generation``:
        [`idempotency_token`][airflow_resumable.jobs.base.DurableJobMixin.idempotency_token], found on the
        class.

        Resolved on the class because some provider operators keep a user-supplied token in an instance
        attribute of the same name (Databricks: ``self.idempotency_token``), which shadows the method.
        """
        derive = getattr(type(self), "idempotency_token", None)
        if not callable(derive):
            derive = DurableJobMixin.idempotency_token
        return cast("str", derive(self, context, generation))

    # -- backend hooks with defaults -------------------------------------------------------------------
    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """Find a job submitted earlier with ``token`` when its id was never stored; ``None`` if none.

        Called when a submission intent exists without a stored id: the worker died between writing the
        intent and storing the id, so the job may or may not exist. ``submitted_at`` is when that
        submission was recorded (aware, from the intent; ``None`` if the intent holds no readable time), so
        a search can skip older history. The default finds nothing, which makes the retry submit again with
        the same token; that is right for backends that deduplicate by token (Databricks, EMR Serverless).
        Backends without token dedup (EMR steps) search for a marker here.

        An override may keep the older two-argument form ``find_submitted_job(self, token, context)``: it
        is then called without ``submitted_at``. An override that also takes a ``recorded_fields``
        keyword gets the backend fields the submission's intent recorded (what
        [`intent_fields`][airflow_resumable.jobs.base.DurableJobMixin.intent_fields] returned; ``{}``
        for none), e.g. the cluster the EMR steps operator sent its steps to.

        :param token: the token the unfinished submission used.
        :param context: the task context.
        :param submitted_at: when the submission was recorded, or ``None``.
        """
        return None

    def intent_fields(self, context: Context, decision: ResumeDecision) -> Mapping[str, JsonValue]:
        """Backend facts to record in the submission intent beside its generation and token; none by
        default.

        Called right before the intent is written, so a retry that finds the intent without a job id can
        look in the right place: the fields are passed to
        [`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job] as
        ``recorded_fields``. The values must be JSON; the intent's own names (``generation``, ``token``,
        ``submitted_at``, ``state``, ``external_id``, ``cancelled``) are refused before anything is
        written.

        :param context: the task context.
        :param decision: the ``FRESH`` or ``RESUBMIT`` decision about to be submitted.
        """
        return {}

    def is_job_not_found(self, error: BaseException) -> bool:
        """True when ``error`` means the backend no longer knows the job (HTTP 404, expired history).

        A job that is not found is treated like a terminal failure: a new generation is submitted. The
        default reads only the backend client's own errors (a 404 or a not-found error code on the error
        or its causes), never Airflow's exceptions: a missing connection is not a missing job.
        """
        return _errors.is_not_found(error)

    def is_transient_error(self, error: BaseException) -> bool:
        """True when ``error`` is worth retrying: throttling (429), server errors (5xx), connection errors.

        Status checks, searches and polling are retried (bounded, jittered) on these. The default reads
        only the backend client's own errors (and the errors a provider exception was raised from), never
        Airflow's exception hierarchy: a job failure the provider raises is not retried.
        """
        return _errors.is_transient(error)

    def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
        """True when submitting ``decision`` may hand back a job an earlier submission made.

        Then the returned job's status is checked right after submitting: a job that already failed (or
        that the backend does not know) is followed by the next generation in the same try (see
        [`submit_durably`][airflow_resumable.jobs.base.DurableJobMixin.submit_durably]). The default is
        ``decision.repeats_submission``: a submission that repeats an earlier try's (same token, id never
        stored) gets that try's job back from a backend that deduplicates by token.

        Override it to return ``False`` for a backend whose submit always makes a new job (AWS Batch
        ``SubmitJob``: a repeated submission relies on
        [`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job] instead),
        or ``True`` in more cases, e.g. when a token the DAG author passed may name an older job.

        :param decision: the ``FRESH`` or ``RESUBMIT`` decision just submitted.
        """
        return decision.repeats_submission

    def _submission_may_exist(self, decision: ResumeDecision) -> bool:
        """[`submit_may_return_existing_job`][airflow_resumable.jobs.base.DurableJobMixin.submit_may_return_existing_job],
        the name operators overrode before it was public."""
        return self.submit_may_return_existing_job(decision)

    def record_success(self, context: Context, external_id: JsonValue, status: str | None = None) -> None:
        """Record in the submission intent that job ``external_id`` succeeded.

        A retry that then finds the backend no longer knows the job (ECS forgets a stopped task within
        an hour) returns its result (``ALREADY_SUCCEEDED`` with
        [`job_forgotten`][airflow_resumable.jobs.base.ResumeDecision.job_forgotten]) instead of running it
        again. The mixin calls it when polling returns and when a status check sees success; a deferrable
        operator calls it from the method its trigger resumes. Only the job the intent records is marked,
        and only when [`records_success`][airflow_resumable.jobs.base.DurableJobMixin.records_success] is on;
        without a store (or with ``durable=False``) nothing is written, and a failed write is logged.

        :param context: the task context.
        :param external_id: the job that succeeded.
        :param status: the backend status that says so, if known.
        """
        store = _task_store(context)
        if not self.records_success or not self.durable or store is None or external_id is None:
            return
        try:
            _job_state.record_success(
                store, self.external_id_key, external_id, status, owner=type(self).__name__
            )
        except Exception as exc:
            self.log.error(
                "Could not record that the job succeeded", external_id=external_id, error=repr(exc)
            )

    # -- the decision ----------------------------------------------------------------------------------
    def decide(self, context: Context) -> ResumeDecision:
        """Decide what this try does about the external job, from what earlier tries stored.

        Reads the stored id and intent (moving them from a key in ``previous_external_id_keys`` if the key
        was renamed), asks the backend for the job's status (retrying transient errors), and returns:

        - stored or discovered job active: ``RECONNECT``; succeeded: ``ALREADY_SUCCEEDED``;
          failed for good, or unknown to the backend: ``RESUBMIT`` with the next generation's token;
        - an intent without a stored id:
          [`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job] with the
          intent's token; a job found is
          stored and then treated as above; none found: ``FRESH`` with the *same* generation and token, so a
          backend that deduplicates returns the job if the earlier submit did create it;
        - nothing stored (or no store): ``FRESH`` with generation 1 and a new token.

        Reported like the upstream mixin (span ``resumable_job.resume_decision``, one upstream log event,
        upstream metric names, counted once). Nothing is submitted here.
        """
        decision = self._decide(context)
        _decision.count(decision, self, _mapping(context))
        return decision

    def _decide(self, context: Context) -> ResumeDecision:
        """[`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide] without counting: for an operator
        that must decide again after a wait it deferred
        for before acting on a decision it already counted (an EMR Serverless application starting)."""
        self._check_keys()
        with tracer.start_as_current_span("resumable_job.resume_decision") as span:
            span.set_attribute("operator", type(self).__name__)
            span.set_attribute("resumable.external_id_key", self.external_id_key)
            store = _task_store(context)
            if store is None:
                decision = ResumeDecision(
                    Decision.FRESH, None, None, 1, self._token(context, 1), crash_recovery=False
                )
            else:
                decision = self._decide_with_store(store, context)
            for name, value in _decision.span_attributes(decision).items():
                span.set_attribute(name, value)
        _decision.log_decision(self.log, decision, self.external_id_key)
        return decision

    def _new(self, action: Decision, context: Context, generation: int, **fields: Any) -> ResumeDecision:
        return ResumeDecision(action, None, None, generation, self._token(context, generation), **fields)

    def _decide_with_store(self, store: Any, context: Context) -> ResumeDecision:
        """The decision from what the store holds (see ``_decision.decide_with_store``)."""
        return _decision.decide_with_store(self, store, context)

    # -- submitting ------------------------------------------------------------------------------------
    def submit_durably(self, context: Context, decision: ResumeDecision) -> JsonValue:
        """Submit the job for a ``FRESH`` or ``RESUBMIT`` decision, with a write-ahead intent.

        Writes the intent (generation, token, time, ``"submitting"``) before calling ``submit_job`` with
        [`submission_token`][airflow_resumable.jobs.base.DurableJobMixin.submission_token] /
        [`submission_generation`][airflow_resumable.jobs.base.DurableJobMixin.submission_generation] set from
        the decision, then stores the
        returned id (intent ``"submitted"`` first, then the id key). Returns the id. Deferrable operators
        call this between [`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide] and deferring.

        When the token may have been used before (a repeated submission), the returned job's status is
        checked: a job that already failed (or is unknown) is recorded, and the next generation is
        submitted with a new token, in this same call (at most
        [`max_submissions_per_try`][airflow_resumable.jobs.base.DurableJobMixin.max_submissions_per_try]
        times).

        If the intent cannot be written, nothing is submitted and
        [`JobError`][airflow_resumable.errors.JobError]
        is raised (the task's retry starts over). If the id cannot be stored after a successful submit, the
        error is logged and the job is still returned: the stored intent lets a retry find it again.
        """
        if not decision.submits:
            raise InvalidValueError(
                f"submit_durably() takes a FRESH or RESUBMIT decision, got {decision.action.name!r}: "
                "reconnect to (or return the result of) decision.external_id instead."
            )
        return _submission.submit_durably(self, _task_store(context), context, decision)

    def _submit_once(self, store: Any, context: Context, decision: ResumeDecision) -> JsonValue:
        """One submission: write the intent, call ``submit_job``, record the id (see ``_submission``)."""
        fields = self.intent_fields(context, decision)
        return _submission.submit_once(self, store, context, decision, fields)

    # -- the blocking path -----------------------------------------------------------------------------
    def execute_resumable(self, context: Context) -> Any:
        """Submit, reconnect or return a result as
        [`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide] says, then poll until the job finishes.

        Call it from ``execute()``. Returns ``get_job_result()`` in every case (upstream 3.3 returns
        ``poll_until_complete()``'s value after a reconnect; here a reconnecting try returns what a fresh
        one would). With ``durable=False`` it is the upstream mixin's ``execute_resumable``. Transient
        backend errors while polling are retried (bounded, jittered); a job failure raises as
        ``poll_until_complete`` raises it, once, and the next try submits a new generation.
        """
        if not self.durable:
            self.submission_generation = None
            self.submission_token = None
            return super().execute_resumable(context)

        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return self.get_job_result(decision.external_id, context)
        if decision.action is Decision.RECONNECT:
            external_id = decision.external_id
        else:
            external_id = self.submit_durably(context, decision)
        self._poll(external_id, context)
        return self.get_job_result(external_id, context)

    def _poll(self, external_id: JsonValue, context: Context) -> Any:
        """``poll_until_complete`` (transient errors retried); the job's success recorded once it returns."""
        result = self._retry(
            f"{type(self).__name__}: polling job {external_id}",
            self.poll_until_complete,
            external_id,
            context,
        )
        self.record_success(context, external_id)
        return result

    def _retry(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn`` with bounded, jittered retries on
        [`is_transient_error`][airflow_resumable.jobs.base.DurableJobMixin.is_transient_error] errors."""
        policy = _store.retrying(what).copy(
            retry=tenacity.retry_if_exception_type(Exception)
            & tenacity.retry_if_exception(self.is_transient_error)
        )
        return policy(fn, *args)


# -- helpers -----------------------------------------------------------------------------------------------
def _mapping(context: object) -> Mapping[str, Any] | None:
    """The context if it can be read like a mapping (a dict, Airflow's Context, a mock), else ``None``."""
    return cast("Mapping[str, Any]", context) if callable(getattr(context, "get", None)) else None


def _task_store(context: object) -> Any:
    """The context's ``task_state_store``, or ``None`` (no context, or a context without one)."""
    ctx = _mapping(context)
    return ctx.get("task_state_store") if ctx is not None else None
