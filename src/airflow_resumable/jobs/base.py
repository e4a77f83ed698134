"""Crash-safe external jobs: one resume decision, shared by blocking and deferrable operators.

Airflow 3.3's :class:`~airflow.sdk.ResumableJobMixin` stores an external job id after submitting, so a
retry reconnects to the job instead of starting another. :class:`DurableJobMixin` keeps that contract (the
same six methods, the ``durable`` flag, the same metric names) and closes the gaps it leaves:

- **The submit-then-store window.** Before ``submit_job`` runs, a *submission intent* is written: the
  generation number and a deterministic idempotency token. ``submit_job`` passes that token to the
  backend (Databricks ``idempotency_token``, EMR ``clientToken``) or puts it in a marker (a step name).
  A crash after submit but before the id is stored is then recovered by
  :meth:`~DurableJobMixin.find_submitted_job` or by submitting again with the *same* token, which the
  backend deduplicates.
- **Renamed keys.** ``previous_external_id_keys`` lists the keys an operator used before; a retry finds the
  id under an old key, moves it to the new one and logs the move.
- **Deferrable mode.** :meth:`~DurableJobMixin.decide` is usable on its own, so a deferrable operator
  reconnects (defers on the existing job) instead of submitting on every try.
- **Token rotation.** The token changes only when a submission has failed for good (or the backend no
  longer knows the job): a retry then starts a new run instead of having the backend return the failed one.

Store layout in ``task_state_store`` (both written with ``NEVER_EXPIRE``):

- ``<external_id_key>``: the job id, exactly where upstream stores it, so existing tooling keeps working.
- ``<external_id_key>.intent``: ``{"generation": int, "token": str, "submitted_at": iso-8601,
  "state": "submitting" | "submitted", "external_id": <id, once submitted>}``.

Base order matters: ``class MyOperator(DurableJobMixin, BaseOperator)``. The reverse order fails to
construct on Airflow 3.3 (``TypeError: object.__init__() takes exactly one argument``).
"""

from __future__ import annotations

import enum
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, cast

import tenacity
from airflow.sdk._shared.observability.metrics import stats
from airflow.sdk.bases.operator import BaseOperatorMeta
from airflow.sdk.bases.resumablejobmixin import ResumableJobMixin
from opentelemetry import trace

from airflow_resumable import _store
from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs import _errors

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from airflow.sdk.types import Logger
    from pydantic import JsonValue

__all__ = ["INTENT_SUFFIX", "Decision", "DurableJobMixin", "ResumeDecision"]

T = TypeVar("T")
tracer = trace.get_tracer(__name__)

INTENT_SUFFIX = ".intent"
"""Appended to ``external_id_key`` to name the key that holds the submission intent."""

_SUBMITTING = "submitting"
_SUBMITTED = "submitted"
_MIN_HASH_CHARS = 8
_MAX_HASH_CHARS = 32


class Decision(str, enum.Enum):
    """What a retry does about the external job."""

    FRESH = "fresh"
    """Nothing stored and nothing found: submit (generation 1, or the generation of an unfinished intent)."""
    RECONNECT = "reconnect"
    """A known job is still active: poll it (or defer on it); do not submit."""
    ALREADY_SUCCEEDED = "already_succeeded"
    """The known job succeeded: return its result without submitting or polling."""
    RESUBMIT = "resubmit"
    """The known job failed for good or the backend no longer knows it: submit a new generation."""


@dataclass(frozen=True)
class ResumeDecision:
    """The outcome of :meth:`DurableJobMixin.decide`.

    ``generation`` and ``token`` are what the next submission (if any) must use: for ``FRESH`` and
    ``RESUBMIT`` pass the decision to :meth:`DurableJobMixin.submit_durably`; for ``RECONNECT`` and
    ``ALREADY_SUCCEEDED`` they describe the known job's submission.
    """

    action: Decision
    external_id: JsonValue | None
    """The job to reconnect to or whose result to return; ``None`` for ``FRESH`` and ``RESUBMIT``."""
    status: str | None
    """The backend status seen while deciding (``None`` when nothing was asked, or the job was not found)."""
    generation: int
    token: str
    repeats_submission: bool = False
    """True for a ``FRESH`` decision that repeats an earlier try's submission (same generation and token)
    whose job id was never stored: the job may already exist, and a backend that deduplicates by token
    returns it. Backends with side effects before submitting (cancelling other runs) skip them then."""

    @property
    def submits(self) -> bool:
        """True when this decision means a new submission (``FRESH`` or ``RESUBMIT``)."""
        return self.action in (Decision.FRESH, Decision.RESUBMIT)


class DurableJobMixin(ResumableJobMixin):
    """Crash-safe submit-and-poll for one external job, from blocking or deferrable operators.

    Use it as ``class Op(DurableJobMixin, BaseOperator)``, or as the first base of a subclass of a provider
    operator that already uses ``ResumableJobMixin`` (``class Op(DurableJobMixin, ProviderOperator)``).
    Implement the six methods of ``ResumableJobMixin`` (``submit_job``, ``get_job_status``,
    ``is_job_active``, ``is_job_succeeded``, ``poll_until_complete``, ``get_job_result``) and call
    :meth:`execute_resumable` from ``execute``. ``submit_job`` must read :attr:`submission_token` and pass
    it to the backend as its idempotency token (and/or put it in a searchable marker such as a job or step
    name); backends that can search for an earlier submission override :meth:`find_submitted_job`.

    A retry reads what earlier tries stored and decides (see :meth:`decide`): reconnect to an active job,
    return the result of a succeeded one, or submit. Every submission is preceded by a write-ahead intent
    holding its generation and token, so a crash between submit and storing the id cannot make a duplicate;
    the token changes only after a terminal failure, so a retry never replays a failed run.

    With ``durable=False`` the operator submits and polls without reading or writing any state (and without
    a derived token), like the upstream mixin.

    What it does not do: it does not free the worker slot while polling (use the provider's deferrable mode,
    which can call :meth:`decide` and :meth:`submit_durably`), and it cannot stop a backend that ignores
    idempotency tokens and offers no way to search from creating a duplicate in the crash window: such a
    backend needs :meth:`find_submitted_job`.
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

    submission_token: str | None = None
    """The idempotency token the current submission must use; set right before ``submit_job`` is called."""

    submission_generation: int | None = None
    """The generation (1, 2, ...) of the current submission; set right before ``submit_job`` is called."""

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
        key = self.external_id_key
        if not isinstance(key, str) or not key:
            raise InvalidValueError(
                f"{type(self).__name__}.external_id_key must be a non-empty string, got {key!r}. "
                "Set it to the key this operator stores its job id under, e.g. 'my_job_id'."
            )
        previous = self.previous_external_id_keys
        if isinstance(previous, str) or not isinstance(previous, tuple | list):
            raise InvalidValueError(
                f"{type(self).__name__}.previous_external_id_keys must be a tuple of strings, got "
                f"{previous!r}. Write a one-key tuple with a trailing comma: ('old_key',)."
            )
        for old in previous:
            if not isinstance(old, str) or not old:
                raise InvalidValueError(
                    f"{type(self).__name__}.previous_external_id_keys holds {old!r}: every entry must be a "
                    "non-empty string naming a key an earlier version of the operator used."
                )
            if old == key:
                raise InvalidValueError(
                    f"{type(self).__name__}.previous_external_id_keys repeats the current external_id_key "
                    f"{key!r}. List only the keys used before the rename."
                )

    # -- tokens ----------------------------------------------------------------------------------------
    def idempotency_token(self, context: Context, generation: int) -> str:
        """The deterministic idempotency token of one submission generation of this task instance.

        Built from ``(dag_id, run_id, task_id, map_index)`` and ``generation``: every try of the same task
        instance gets the same token for the same generation, and a new generation gets a new token. The
        result is ``<hash>-g<generation>``, uses only ``[A-Za-z0-9_-]`` and fits
        :attr:`idempotency_token_max_length`.

        The mixin always reaches this method through the class, so an operator may keep a user-supplied
        token in an instance attribute of the same name (the Databricks operators' ``idempotency_token``
        argument) without breaking it; such operators override the private ``_token`` hook instead.
        """
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
            raise InvalidValueError(f"generation must be an int >= 1, got {generation!r}.")
        identity = self._task_identity(context)
        suffix = f"-g{generation}"
        room = min(_MAX_HASH_CHARS, self.idempotency_token_max_length - len(suffix))
        if room < _MIN_HASH_CHARS:
            raise InvalidValueError(
                f"{type(self).__name__}.idempotency_token_max_length={self.idempotency_token_max_length} "
                f"leaves no room for a collision-safe token ({_MIN_HASH_CHARS} hash characters plus "
                f"{suffix!r}). Set it to the backend's real limit (at least {_MIN_HASH_CHARS + len(suffix)})."
            )
        digest = hashlib.sha256(json.dumps(identity, separators=(",", ":")).encode()).hexdigest()
        return f"{digest[:room]}{suffix}"

    def _task_identity(self, context: Context) -> list[Any]:
        ctx = cast("Mapping[str, Any]", context)
        who = _store.writer_identity(ctx)
        dag_id = who.get("dag_id") or ctx.get("dag_id")
        run_id = who.get("run_id") or ctx.get("run_id")
        task_id = who.get("task_id") or self.task_id
        map_index = who.get("map_index", ctx.get("map_index", -1))
        if dag_id is None or run_id is None:
            raise JobError(
                f"{type(self).__name__} could not tell which task instance is running (dag_id={dag_id!r}, "
                f"run_id={run_id!r}): the idempotency token is derived from them. Call it with the task's "
                "context (in tests: airflow_resumable.testing.make_context())."
            )
        return [dag_id, run_id, task_id, -1 if map_index is None else map_index]

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
        is then called without ``submitted_at``.
        """
        return None

    def is_job_not_found(self, error: BaseException) -> bool:
        """True when ``error`` means the backend no longer knows the job (HTTP 404, expired history).

        A job that is not found is treated like a terminal failure: a new generation is submitted. The
        default looks for a 404 status or a not-found error code on the error and its causes.
        """
        return _errors.is_not_found(error)

    def is_transient_error(self, error: BaseException) -> bool:
        """True when ``error`` is worth retrying: throttling (429), server errors (5xx), connection errors.

        Status checks, searches and polling are retried (bounded, jittered) on these. The default looks at
        the error and its causes for an HTTP status, an AWS/Databricks error code, a connection or timeout
        error, or a lower-level retry that gave up.
        """
        return _errors.is_transient(error)

    # -- the decision ----------------------------------------------------------------------------------
    def decide(self, context: Context) -> ResumeDecision:
        """Decide what this try does about the external job, from what earlier tries stored.

        Reads the stored id and intent (moving them from a key in ``previous_external_id_keys`` if the key
        was renamed), asks the backend for the job's status (retrying transient errors), and returns:

        - stored or discovered job active: ``RECONNECT``; succeeded: ``ALREADY_SUCCEEDED``;
          failed for good, or unknown to the backend: ``RESUBMIT`` with the next generation's token;
        - an intent without a stored id: :meth:`find_submitted_job` with the intent's token; a job found is
          stored and then treated as above; none found: ``FRESH`` with the *same* generation and token, so a
          backend that deduplicates returns the job if the earlier submit did create it;
        - nothing stored: ``FRESH`` with generation 1.

        Every decision is logged as one ``Resume decision`` event and counted once with the upstream metric
        names (``resumable_job.fresh_submit``; ``reconnect_attempt`` plus one of ``reconnect_success``,
        ``already_succeeded``, ``terminal_resubmit`` when there was a job to look at). Nothing is
        submitted here.
        """
        decision = self._decide(context)
        _count(decision, _stats_tags(self, cast("Mapping[str, Any]", context)))
        return decision

    def _decide(self, context: Context) -> ResumeDecision:
        """:meth:`decide` without counting: for an operator that must decide again after a wait it deferred
        for before acting on a decision it already counted (an EMR Serverless application starting)."""
        self._check_keys()
        ctx = cast("Mapping[str, Any]", context)
        with tracer.start_as_current_span("resumable_job.resume_decision") as span:
            span.set_attribute("operator", type(self).__name__)
            span.set_attribute("resumable.external_id_key", self.external_id_key)
            store = ctx.get("task_state_store")
            if store is None:
                self.log.warning(
                    "task_state_store not available in context, crash recovery is disabled for this run",
                    external_id_key=self.external_id_key,
                )
                decision = self._new(Decision.FRESH, context, 1)
            else:
                decision = self._decide_with_store(store, context)
            span.set_attribute("resumable.decision", decision.action.value)
            span.set_attribute("resumable.generation", decision.generation)
            if decision.external_id is not None:
                span.set_attribute("resumable.external_id", str(decision.external_id))
            if decision.status is not None:
                span.set_attribute("resumable.prior_status", decision.status)
        self.log.info(
            "Resume decision",
            decision=decision.action.value,
            external_id=decision.external_id,
            status=decision.status,
            generation=decision.generation,
            external_id_key=self.external_id_key,
        )
        return decision

    def _new(self, action: Decision, context: Context, generation: int) -> ResumeDecision:
        return ResumeDecision(action, None, None, generation, self._token(context, generation))

    def _token(self, context: Context, generation: int) -> str:
        """The token a submission of ``generation`` uses: :meth:`idempotency_token`, resolved on the class.

        Resolved on the class because some provider operators keep a user-supplied token in an instance
        attribute of the same name (Databricks: ``self.idempotency_token``), which shadows the method.
        """
        derive = getattr(type(self), "idempotency_token", None)
        if not callable(derive):
            derive = DurableJobMixin.idempotency_token
        return cast("str", derive(self, context, generation))

    def _decide_with_store(self, store: Any, context: Context) -> ResumeDecision:
        stored_id, intent = self._read_state(store)
        seen_generation = intent["generation"] if intent else 0
        known_id: Any = None
        if intent is not None and intent["state"] == _SUBMITTED and _present(intent.get("external_id")):
            known_id = intent["external_id"]
            if stored_id != known_id:
                # The intent is written first: a crash before the id key was written leaves it behind.
                self._write(store, self.external_id_key, known_id, "job id")
        elif intent is None or intent["state"] != _SUBMITTING:
            known_id = stored_id if _present(stored_id) else None

        if known_id is None and intent is not None:
            # A submission was started but its id never stored: the job may or may not exist.
            found = self._retry(
                f"{type(self).__name__}: looking for a job submitted with token {intent['token']}",
                self._find_submitted,
                intent,
                context,
            )
            if not _present(found):
                self.log.info(
                    "Submission intent without a job id: submitting again with the same token",
                    generation=intent["generation"],
                    token=intent["token"],
                )
                return ResumeDecision(
                    Decision.FRESH, None, None, intent["generation"], intent["token"], repeats_submission=True
                )
            self.log.info(
                "Found the job of an unfinished submission", external_id=found, token=intent["token"]
            )
            self._record_submitted(store, intent, found)
            known_id = found

        if known_id is None:
            return self._new(Decision.FRESH, context, 1)

        current = max(seen_generation, 1)
        try:
            status: str | None = self._retry(
                f"{type(self).__name__}: status of job {known_id}", self.get_job_status, known_id, context
            )
        except Exception as exc:
            if not self.is_job_not_found(exc):
                raise
            self.log.warning(
                "Stored job is unknown to the backend, submitting a new generation",
                external_id=known_id,
                error=str(exc),
            )
            return self._new(Decision.RESUBMIT, context, seen_generation + 1)
        assert status is not None
        if self.is_job_active(status):
            token = intent["token"] if intent else self._token(context, current)
            return ResumeDecision(Decision.RECONNECT, known_id, status, current, token)
        if self.is_job_succeeded(status):
            token = intent["token"] if intent else self._token(context, current)
            return ResumeDecision(Decision.ALREADY_SUCCEEDED, known_id, status, current, token)
        decision = self._new(Decision.RESUBMIT, context, seen_generation + 1)
        return ResumeDecision(decision.action, None, status, decision.generation, decision.token)

    def _find_submitted(self, intent: Mapping[str, Any], context: Context) -> JsonValue | None:
        """:meth:`find_submitted_job` for ``intent``, with ``submitted_at`` if the override accepts it."""
        find = self.find_submitted_job
        if _accepts_keyword(find, "submitted_at"):
            return find(intent["token"], context, submitted_at=_submitted_at(intent))
        return find(intent["token"], context)

    # -- reading and writing the store -----------------------------------------------------------------
    def _read_state(self, store: Any) -> tuple[Any, dict[str, Any] | None]:
        """The stored id and intent, moved from a previous key first if the current key holds neither."""
        what = f"{type(self).__name__}: reading stored job state"
        stored_id = _store.retry_call(what, store.get, self.external_id_key)
        raw_intent = _store.retry_call(what, store.get, self.intent_key)
        if not _present(stored_id) and raw_intent is None:
            for old_key in self.previous_external_id_keys:
                old_intent_key = f"{old_key}{INTENT_SUFFIX}"
                old_id = _store.retry_call(what, store.get, old_key)
                old_intent = _store.retry_call(what, store.get, old_intent_key)
                if not _present(old_id) and old_intent is None:
                    continue
                if old_intent is not None:
                    self._write(store, self.intent_key, old_intent, "submission intent")
                if _present(old_id):
                    self._write(store, self.external_id_key, old_id, "job id")
                for key in (old_intent_key, old_key):
                    _store.retry_call(f"{type(self).__name__}: deleting {key!r}", store.delete, key)
                self.log.warning(
                    "Moved stored job state from a renamed external_id_key",
                    old_key=old_key,
                    new_key=self.external_id_key,
                    external_id=old_id,
                )
                stored_id, raw_intent = old_id, old_intent
                break
        return stored_id, self._parse_intent(raw_intent)

    def _parse_intent(self, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        ok = (
            isinstance(raw, dict)
            and isinstance(raw.get("generation"), int)
            and not isinstance(raw.get("generation"), bool)
            and raw["generation"] >= 1
            and isinstance(raw.get("token"), str)
            and raw.get("state") in (_SUBMITTING, _SUBMITTED)
        )
        if not ok:
            self.log.error(
                "Ignoring an unreadable submission intent; the stored job id alone decides this try",
                intent_key=self.intent_key,
                intent=raw,
            )
            return None
        return cast("dict[str, Any]", raw)

    def _write(self, store: Any, key: str, value: Any, what: str) -> None:
        _store.retry_call(
            f"{type(self).__name__}: storing {what} under {key!r}",
            store.set,
            key,
            value,
            retention=_store.never_expire(),
        )

    def _record_submitted(self, store: Any, intent: Mapping[str, Any], external_id: Any) -> None:
        """Store a submitted job: the intent (with the id) first, then the id under ``external_id_key``."""
        done = {**intent, "state": _SUBMITTED, "external_id": external_id}
        self._write(store, self.intent_key, done, "submission intent")
        self._write(store, self.external_id_key, external_id, "job id")

    # -- submitting ------------------------------------------------------------------------------------
    def submit_durably(self, context: Context, decision: ResumeDecision) -> JsonValue:
        """Submit the job for a ``FRESH`` or ``RESUBMIT`` decision, with a write-ahead intent.

        Writes the intent (generation, token, time, ``"submitting"``) before calling ``submit_job`` with
        :attr:`submission_token` / :attr:`submission_generation` set from the decision, then stores the
        returned id (intent ``"submitted"`` first, then the id key). Returns the id. Deferrable operators
        call this between :meth:`decide` and deferring.

        If the intent cannot be written, nothing is submitted and :class:`~airflow_resumable.errors.JobError`
        is raised (the task's retry starts over). If the id cannot be stored after a successful submit, the
        error is logged and the job is still returned: the stored intent lets a retry find it again.
        """
        if not decision.submits:
            raise InvalidValueError(
                f"submit_durably() takes a FRESH or RESUBMIT decision, got {decision.action.value!r}: "
                "reconnect to (or return the result of) decision.external_id instead."
            )
        store = cast("Mapping[str, Any]", context).get("task_state_store")
        self.submission_generation = decision.generation
        self.submission_token = decision.token
        intent: dict[str, Any] = {
            "generation": decision.generation,
            "token": decision.token,
            "submitted_at": datetime.now(tz=timezone.utc).isoformat(),
            "state": _SUBMITTING,
        }
        if store is not None:
            try:
                self._write(store, self.intent_key, intent, "submission intent")
            except Exception as exc:
                raise JobError(
                    f"{type(self).__name__} could not record its submission intent under "
                    f"{self.intent_key!r}, so nothing was submitted ({exc!r}). A retry will try again."
                ) from exc
        external_id = self.submit_job(context)
        if external_id is None:
            self.log.warning(
                "submit_job returned no id to store; a retry will look for the job by its token",
                token=decision.token,
                generation=decision.generation,
            )
            return external_id
        if store is not None:
            try:
                self._record_submitted(store, intent, external_id)
            except Exception as exc:
                self.log.error(
                    "Could not store the submitted job id; a retry will find the job by its submission token",
                    external_id=external_id,
                    token=decision.token,
                    error=repr(exc),
                )
            else:
                self.log.info(
                    "Submitted job and stored its id",
                    external_id=external_id,
                    external_id_key=self.external_id_key,
                    generation=decision.generation,
                )
        return external_id

    # -- the blocking path -----------------------------------------------------------------------------
    def execute_resumable(self, context: Context) -> Any:
        """Submit, reconnect or return a result as :meth:`decide` says, then poll until the job finishes.

        Call it from ``execute()``. With ``durable=False`` it submits and polls without touching the store.
        Transient errors while polling are retried (bounded, jittered); a job failure raises as
        ``poll_until_complete`` raises it, and the next try submits a new generation.
        """
        if not self.durable:
            self.submission_generation = None
            self.submission_token = None
            external_id = self.submit_job(context)
            self.poll_until_complete(external_id, context)
            return self.get_job_result(external_id, context)

        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return self.get_job_result(decision.external_id, context)
        if decision.action is Decision.RECONNECT:
            external_id = decision.external_id
        else:
            external_id = self.submit_durably(context, decision)
        self._retry(
            f"{type(self).__name__}: polling job {external_id}",
            self.poll_until_complete,
            external_id,
            context,
        )
        return self.get_job_result(external_id, context)

    def _retry(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn`` with bounded, jittered retries on :meth:`is_transient_error` errors."""
        policy = _store.retrying(what).copy(
            retry=tenacity.retry_if_exception_type(Exception)
            & tenacity.retry_if_exception(self.is_transient_error)
        )
        return policy(fn, *args)


# -- helpers -----------------------------------------------------------------------------------------------
def _submitted_at(intent: Mapping[str, Any]) -> datetime | None:
    """When ``intent`` was recorded (a naive time is read as UTC); ``None`` without a readable time."""
    raw = intent.get("submitted_at")
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _accepts_keyword(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins and C callables
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _present(value: Any) -> bool:
    return value is not None and value != ""


_METRICS = {
    Decision.FRESH: ("resumable_job.fresh_submit",),
    Decision.RECONNECT: ("resumable_job.reconnect_attempt", "resumable_job.reconnect_success"),
    Decision.ALREADY_SUCCEEDED: ("resumable_job.reconnect_attempt", "resumable_job.already_succeeded"),
    Decision.RESUBMIT: ("resumable_job.reconnect_attempt", "resumable_job.terminal_resubmit"),
}


def _count(decision: ResumeDecision, tags: dict[str, str]) -> None:
    """Count a decision under the upstream mixin's metric names (a decision that raised is not counted)."""
    for name in _METRICS[decision.action]:
        stats.incr(name, tags=tags)


def _stats_tags(operator: object, context: Mapping[str, Any]) -> dict[str, str]:
    """The upstream mixin's metric tags: the operator class and, in multi-team deployments, the team."""
    tags = {"operator": type(operator).__name__}
    ti = context.get("ti")
    team = (getattr(ti, "stats_tags", None) or {}).get("team_name") if ti is not None else None
    if team:
        tags["team_name"] = team
    return tags
