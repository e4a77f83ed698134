"""DurableJobMixin: the resume decision, write-ahead intents, token rotation, renames and retries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_backend import HttpError, JobFailedError, ToyApiError, ToyOperator, ToyService

from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs.base import Decision, DurableJobMixin, ResumeDecision
from airflow_resumable.testing import InMemoryStateBackend, make_context, on_write

KEY = "toy_job_id"
INTENT = "toy_job_id.intent"


def _op(service: ToyService, **kwargs: Any) -> ToyOperator:
    return ToyOperator(task_id="task", service=service, **kwargs)


def _ctx(backend: InMemoryStateBackend, try_number: int = 1, **kwargs: Any) -> dict[str, Any]:
    return make_context(backend=backend, try_number=try_number, **kwargs)


@pytest.fixture
def service() -> ToyService:
    return ToyService()


# -- the happy path and the store layout ---------------------------------------------------------------
def test_fresh_submit_writes_intent_then_id_and_returns_result(service, state_backend):
    ctx = _ctx(state_backend)
    op = _op(service)
    assert op.execute(ctx) == {"job": "job-1", "status": "SUCCEEDED"}
    store = ctx["task_state_store"]
    assert store.get(KEY) == "job-1"
    intent = store.get(INTENT)
    assert intent["generation"] == 1
    assert intent["token"] == op.tokens[0] == op.submission_token
    assert intent["state"] == "submitted"
    assert intent["external_id"] == "job-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*\+00:00", intent["submitted_at"])
    assert op.submission_generation == 1


def test_intent_is_written_before_submit(service, state_backend):
    ctx = _ctx(state_backend)
    seen: list[Any] = []

    class Spy(ToyOperator):
        def submit_job(self, context: Any) -> Any:
            seen.append(context["task_state_store"].get(INTENT))
            return super().submit_job(context)

    Spy(task_id="task", service=service).execute(ctx)
    assert seen[0]["state"] == "submitting"
    assert seen[0]["token"] == ctx["task_state_store"].get(INTENT)["token"]


def test_the_id_keeps_upstream_retention_and_the_intent_never_expires(service, state_backend, mocker):
    """12.8: the id key is written as upstream writes it (``set(key, value)``, default retention)."""
    from airflow.sdk import NEVER_EXPIRE

    ctx = _ctx(state_backend)
    spy = mocker.spy(ctx["task_state_store"], "set")
    _op(service).execute(ctx)
    calls = [(call.args[0], call.kwargs.get("retention", "default")) for call in spy.call_args_list]
    assert calls == [(INTENT, NEVER_EXPIRE), (INTENT, NEVER_EXPIRE), (KEY, "default")]


class TwoArgumentStore:
    """A store with upstream's documented two-argument ``set(key, value)`` and nothing else."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_a_store_with_a_two_argument_set_is_used_without_retention(service):
    """12.8: before, every write passed ``retention=`` and such a store failed before submitting."""
    ctx = make_context()
    ctx["task_state_store"] = store = TwoArgumentStore()
    assert _op(service).execute(ctx) == {"job": "job-1", "status": "SUCCEEDED"}
    assert store.data[KEY] == "job-1"
    assert store.data[INTENT]["state"] == "submitted"
    ctx2 = make_context(try_number=2)
    ctx2["task_state_store"] = store
    assert _op(service).decide(ctx2).action is Decision.ALREADY_SUCCEEDED


# -- retries -------------------------------------------------------------------------------------------
def test_retry_reconnects_to_an_active_job(service, state_backend):
    first = _op(service)
    ctx = _ctx(state_backend)
    decision = first.decide(ctx)
    first.submit_durably(ctx, decision)  # the worker dies before polling
    retry = _op(service)
    assert retry.execute(_ctx(state_backend, 2)) == {"job": "job-1", "status": "SUCCEEDED"}
    assert retry.tokens == []
    assert retry.polled == ["job-1"]
    assert len(service.jobs) == 1


def test_retry_after_success_returns_result_without_polling(service, state_backend):
    _op(service).execute(_ctx(state_backend))
    retry = _op(service)
    decision = retry.decide(_ctx(state_backend, 2))
    assert decision.action is Decision.ALREADY_SUCCEEDED
    assert decision.external_id == "job-1"
    assert decision.status == "SUCCEEDED"
    assert retry.execute(_ctx(state_backend, 2)) == {"job": "job-1", "status": "SUCCEEDED"}
    assert retry.polled == []
    assert retry.tokens == []


def test_terminal_failure_rotates_the_token_and_never_replays(state_backend):
    service = ToyService(scripts=[["RUNNING", "FAILED"]])
    first = _op(service)
    with pytest.raises(JobFailedError):
        first.execute(_ctx(state_backend))
    retry = _op(service)
    decision = retry.decide(_ctx(state_backend, 2))
    assert decision == ResumeDecision(
        Decision.RESUBMIT, None, "FAILED", 2, decision.token, previous_external_id="job-1"
    )
    assert decision.token != first.tokens[0]
    assert retry.execute(_ctx(state_backend, 2))["job"] == "job-2"
    assert [j.token for j in service.jobs.values()] == [first.tokens[0], retry.tokens[0]]
    intent = state_backend.task_store().get(INTENT)
    assert (intent["generation"], intent["external_id"]) == (2, "job-2")


def test_second_terminal_failure_moves_to_generation_three(state_backend):
    service = ToyService(scripts=[["FAILED"], ["FAILED"]])
    for try_number in (1, 2):
        with pytest.raises(JobFailedError):
            _op(service).execute(_ctx(state_backend, try_number))
    assert _op(service).decide(_ctx(state_backend, 3)).generation == 3


@pytest.mark.parametrize("dedup", [True, False])
def test_crash_after_submit_before_id_is_stored(dedup, crash_and_retry):
    """Write 2 is the intent update after submit: the worker dies with the job created, id not stored."""
    service = ToyService(dedup=dedup)
    ops: list[ToyOperator] = []

    def run(context: Any) -> Any:
        ops.append(_op(service, searchable=not dedup))
        return ops[-1].execute(context)

    report = crash_and_retry(run, on_write(2))
    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert len(service.jobs) == 1
    if dedup:  # no search: the same token is submitted again and deduplicated
        assert ops[1].tokens == ops[0].tokens
    else:  # no dedup: the search by token finds the job, nothing is submitted
        assert ops[1].tokens == []
    assert report.tries[1].task_state[KEY] == "job-1"


def test_crash_before_submit_resubmits_same_generation(service, crash_and_retry):
    ops: list[ToyOperator] = []

    class CrashBeforeSubmit(ToyOperator):
        def submit_job(self, context: Any) -> Any:
            if context["ti"].try_number == 1:
                raise RuntimeError("worker lost before submit")
            return super().submit_job(context)

    def run(context: Any) -> Any:
        ops.append(CrashBeforeSubmit(task_id="task", service=service))
        return ops[-1].execute(context)

    report = crash_and_retry(run, on_write(99))
    assert [t.outcome for t in report.tries] == ["failed", "success"]
    assert len(service.jobs) == 1
    assert report.tries[1].task_state[INTENT]["generation"] == 1


def test_no_dedup_and_no_search_is_a_known_limit(crash_and_retry):
    """A backend that neither deduplicates nor can be searched gets a second job: documented."""
    service = ToyService(dedup=False)
    report = crash_and_retry(lambda context: _op(service).execute(context), on_write(2))
    assert report.succeeded
    assert len(service.jobs) == 2


def test_intent_submitted_but_id_missing_repairs_the_id_key(service, crash_and_retry):
    """Write 3 is the id key: the intent already holds the id, so the retry reconnects."""
    report = crash_and_retry(lambda context: _op(service).execute(context), on_write(3))
    assert report.succeeded
    assert len(service.jobs) == 1
    assert report.tries[0].task_state.get(KEY) is None
    assert report.tries[1].task_state[KEY] == "job-1"


def test_stale_id_of_an_older_generation_is_not_reused(state_backend):
    """Generation 2's intent was written, then the worker died: the failed generation-1 id is stale."""
    service = ToyService(scripts=[["FAILED"]])
    with pytest.raises(JobFailedError):
        _op(service).execute(_ctx(state_backend))
    retry = _op(service)
    ctx = _ctx(state_backend, 2)
    decision = retry.decide(ctx)
    store = ctx["task_state_store"]
    store.set(INTENT, {"generation": 2, "token": decision.token, "submitted_at": "x", "state": "submitting"})
    third = _op(service).decide(_ctx(state_backend, 3))
    assert third.action is Decision.FRESH
    assert (third.generation, third.token, third.repeats_submission) == (2, decision.token, True)


def test_not_found_job_is_resubmitted_with_a_new_generation(service, state_backend):
    ctx = _ctx(state_backend)
    op = _op(service)
    op.submit_durably(ctx, op.decide(ctx))
    del service.jobs["job-1"]  # history expired
    decision = _op(service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.generation, decision.status) == (Decision.RESUBMIT, 2, None)
    assert _op(service).execute(_ctx(state_backend, 2))["job"] == "job-2"


def test_legacy_id_without_intent_is_reconnected(service, state_backend):
    """An id stored by the upstream mixin (no intent) is still honoured."""
    job = service.submit("someone-elses-token")
    state_backend.task_store().set(KEY, job)
    decision = _op(service).decide(_ctx(state_backend))
    assert (decision.action, decision.external_id, decision.generation) == (Decision.RECONNECT, job, 1)


def test_unreadable_intent_is_logged_and_ignored(service, state_backend, caplog):
    state_backend.task_store().set(INTENT, {"generation": "one"})
    decision = _op(service).decide(_ctx(state_backend))
    assert (decision.action, decision.generation) == (Decision.FRESH, 1)


# -- renames -------------------------------------------------------------------------------------------
class Renamed(ToyOperator):
    external_id_key = "toy_job_id_v2"
    previous_external_id_keys = ("toy_job_id_v1", "toy_job_id")


def test_renamed_key_moves_id_and_intent_and_reconnects(service, state_backend):
    ctx = _ctx(state_backend)
    old = _op(service)
    old.submit_durably(ctx, old.decide(ctx))
    renamed = Renamed(task_id="task", service=service)
    ctx2 = _ctx(state_backend, 2)
    assert renamed.execute(ctx2)["job"] == "job-1"
    keys = set(ctx2["task_state_store"].keys())
    assert keys == {"toy_job_id_v2", "toy_job_id_v2.intent"}
    assert ctx2["task_state_store"].get("toy_job_id_v2.intent")["external_id"] == "job-1"
    assert len(service.jobs) == 1


def test_current_key_wins_over_previous_keys(service, state_backend):
    store = state_backend.task_store()
    store.set("toy_job_id", service.submit("a"))
    store.set("toy_job_id_v2", service.submit("b"))
    decision = Renamed(task_id="task", service=service).decide(_ctx(state_backend))
    assert decision.external_id == "job-2"
    assert store.get("toy_job_id") == "job-1"  # untouched


def test_rename_of_an_unfinished_intent_resubmits_with_same_token(service, state_backend):
    store = state_backend.task_store()
    store.set(
        "toy_job_id.intent", {"generation": 1, "token": "tok-1", "submitted_at": "x", "state": "submitting"}
    )
    decision = Renamed(task_id="task", service=service).decide(_ctx(state_backend))
    assert (decision.action, decision.token, decision.repeats_submission) == (Decision.FRESH, "tok-1", True)
    assert store.get("toy_job_id_v2.intent")["token"] == "tok-1"
    assert store.get("toy_job_id.intent") is None


@pytest.mark.parametrize(
    ("key", "previous", "message"),
    [
        ("", (), "non-empty string"),
        ("k", "old", "trailing comma"),
        ("k", ("k",), "repeats the current"),
        ("k", ("",), "non-empty string"),
    ],
)
def test_bad_key_settings_fail_before_any_write(service, state_backend, key, previous, message):
    op = _op(service)
    op.external_id_key = key
    op.previous_external_id_keys = previous
    with pytest.raises(InvalidValueError, match=message):
        op.execute(_ctx(state_backend))
    assert state_backend.writes == 0
    assert service.submit_calls == 0


# -- transient errors ----------------------------------------------------------------------------------
def test_transient_status_errors_are_retried(service, state_backend):
    _op(service).submit_durably(_ctx(state_backend), _op(service).decide(_ctx(state_backend)))
    service.status_errors = [HttpError(503), HttpError(429), ConnectionError("reset")]
    calls_before = service.status_calls
    decision = _op(service).decide(_ctx(state_backend, 2))
    assert decision.action is Decision.RECONNECT
    assert service.status_calls - calls_before == 4


def test_persistent_transient_errors_fail_the_try_without_submitting(service, state_backend):
    _op(service).execute(_ctx(state_backend))
    service.status_errors = [HttpError(503)] * 10
    with pytest.raises(ToyApiError):
        _op(service).execute(_ctx(state_backend, 2))
    assert service.submit_calls == 1


def test_other_status_errors_are_not_retried(service, state_backend):
    _op(service).execute(_ctx(state_backend))
    service.status_errors = [HttpError(403, "forbidden")]
    with pytest.raises(ToyApiError, match="403"):
        _op(service).decide(_ctx(state_backend, 2))
    assert service.status_errors == []


def test_transient_errors_while_polling_are_retried(state_backend):
    service = ToyService()

    class Flaky(ToyOperator):
        fails = 2

        def poll_until_complete(self, external_id: Any, context: Any) -> Any:
            if self.fails:
                self.fails -= 1
                raise HttpError(502, "bad gateway")
            return super().poll_until_complete(external_id, context)

    assert Flaky(task_id="task", service=service).execute(_ctx(state_backend))["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("error", "transient", "not_found"),
    [
        (HttpError(503), True, False),
        (HttpError(429), True, False),
        (HttpError(404), False, True),
        (HttpError(400), False, False),
        (ConnectionError("x"), True, False),
        (TimeoutError(), True, False),
        (ValueError("bad"), False, False),
    ],
)
def test_default_error_classification(service, error, transient, not_found):
    op = _op(service)
    assert op.is_transient_error(error) is transient
    assert op.is_job_not_found(error) is not_found


def test_classification_follows_explicit_causes(service):
    op = _op(service)
    caused = RuntimeError("gave up")
    caused.__cause__ = HttpError(503)
    implicit = RuntimeError("unrelated")
    implicit.__context__ = HttpError(503)
    assert op.is_transient_error(caused)
    assert not op.is_transient_error(implicit)


def test_classification_of_aws_and_databricks_style_errors(service):
    import requests
    from botocore.exceptions import ClientError

    op = _op(service)
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "GetJobRun")
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetJobRun")
    assert (op.is_transient_error(throttled), op.is_job_not_found(throttled)) == (True, False)
    assert (op.is_transient_error(missing), op.is_job_not_found(missing)) == (False, True)
    assert op.is_transient_error(requests.exceptions.ConnectionError("refused"))


# -- durable=False, no store, submit_durably misuse, failed writes --------------------------------------
def test_not_durable_submits_fresh_without_store_or_token(service, state_backend):
    for try_number in (1, 2):
        op = _op(service, durable=False)
        op.execute(_ctx(state_backend, try_number))
        assert op.tokens == [None]
    assert state_backend.writes == 0
    assert len(service.jobs) == 2


def test_without_a_store_it_warns_and_still_sends_a_token(service):
    ctx = make_context()
    ctx["task_state_store"] = None
    op = _op(service)
    assert op.execute(ctx)["job"] == "job-1"
    assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{12}-g1", op.tokens[0] or "")


@pytest.mark.parametrize(
    "context",
    [
        pytest.param({}, id="empty-dict"),
        pytest.param({"params": {}}, id="dict-without-ti"),
        pytest.param({"ti": "MOCK"}, id="dict-with-mock-ti"),
        pytest.param(None, id="none"),
    ],
)
def test_a_context_without_store_or_task_identity_submits_and_polls_with_a_warning(service, context, capsys):
    """12.1: upstream warns and submits; this raised JobError (no dag_id/run_id) or TypeError (a mock)."""
    from unittest import mock

    if isinstance(context, dict) and context.get("ti") == "MOCK":
        context = {"ti": mock.MagicMock()}
    op = _op(service)
    assert op.execute(context) == {"job": "job-1", "status": "SUCCEEDED"}
    assert "crash recovery is disabled" in capsys.readouterr().out
    assert len(service.jobs) == 1


def test_submit_durably_refuses_reconnect_decisions(service, state_backend):
    decision = ResumeDecision(Decision.RECONNECT, "job-1", "RUNNING", 1, "t")
    with pytest.raises(InvalidValueError, match="FRESH or RESUBMIT"):
        _op(service).submit_durably(_ctx(state_backend), decision)


def test_failed_intent_write_submits_nothing(service, state_backend, mocker):
    ctx = _ctx(state_backend)
    mocker.patch.object(ctx["task_state_store"], "set", side_effect=ConnectionError("db down"))
    with pytest.raises(JobError, match="nothing was submitted"):
        _op(service).execute(ctx)
    assert service.submit_calls == 0


def test_failed_id_write_after_submit_still_polls_the_job(service, state_backend, mocker):
    ctx = _ctx(state_backend)
    store = ctx["task_state_store"]
    real_set = store.set

    def flaky_set(key: str, value: Any, **kwargs: Any) -> None:
        if isinstance(value, dict) and value.get("state") == "submitted":
            raise ConnectionError("db down")
        real_set(key, value, **kwargs)

    mocker.patch.object(store, "set", side_effect=flaky_set)
    assert _op(service).execute(ctx)["status"] == "SUCCEEDED"
    assert store.get(INTENT)["state"] == "submitting"  # a retry repeats the same token
    assert len(service.jobs) == 1


# -- metrics and the decision event --------------------------------------------------------------------
def test_metrics_use_upstream_names_and_tags(service, state_backend, mocker):
    incr = mocker.patch("airflow_resumable.jobs.base.stats.incr")
    _op(service).execute(_ctx(state_backend))
    _op(service).execute(_ctx(state_backend, 2))
    names = [call.args[0] for call in incr.call_args_list]
    assert names == [
        "resumable_job.fresh_submit",
        "resumable_job.reconnect_attempt",
        "resumable_job.already_succeeded",
    ]
    assert all(call.kwargs["tags"] == {"operator": "ToyOperator"} for call in incr.call_args_list)


def test_team_name_tag_comes_from_the_task_instance(service, state_backend, mocker):
    incr = mocker.patch("airflow_resumable.jobs.base.stats.incr")
    ctx = _ctx(state_backend)
    ctx["ti"].stats_tags = {"team_name": "blue"}
    _op(service).decide(ctx)
    assert incr.call_args.kwargs["tags"] == {"operator": "ToyOperator", "team_name": "blue"}


def _events(mocker: Any) -> list[tuple[str, str, dict[str, Any]]]:
    events: list[tuple[str, str, dict[str, Any]]] = []

    class Log:
        def __getattr__(self, level: str) -> Any:
            return lambda event, *args, **kw: events.append((level, event, kw))

    mocker.patch.object(ToyOperator, "log", Log(), create=True)
    return events


def test_decisions_are_logged_as_upstream_events_with_own_fields_beside(state_backend, mocker):
    """12.7: upstream's reconnect / already-succeeded / terminal-resubmit / fresh events, by name."""
    service = ToyService(scripts=[["RUNNING"], ["FAILED"], ["SUCCEEDED"]])
    jobs = {status: service.submit(None) for status in ("RUNNING", "FAILED", "SUCCEEDED")}
    events = _events(mocker)
    store = state_backend.task_store()
    actions = []
    for job, upstream_event, level in [
        (None, "No stored external ID found; submitting fresh job", "debug"),
        ("RUNNING", "Reconnecting to existing job", "info"),
        ("FAILED", "Prior job in terminal state, resubmitting fresh", "warning"),
        ("SUCCEEDED", "Job already completed successfully, skipping resubmission", "info"),
    ]:
        if job is not None:
            store.set(KEY, jobs[job])
        events.clear()
        decision = _op(service).decide(_ctx(state_backend))
        assert [(lvl, ev) for lvl, ev, _ in events] == [(level, upstream_event)]
        fields = events[0][2]
        assert fields["external_id_key"] == KEY
        assert fields["generation"] == decision.generation
        if job is not None:
            assert fields["external_id"] == jobs[job]
        actions.append(decision.action.value)
    assert actions == ["fresh_submit", "reconnect", "terminal_resubmit", "already_succeeded"]


def test_span_attributes_keep_upstream_values(service, state_backend, mocker):
    """12.7: ``resumable.decision`` is ``fresh_submit`` / ``terminal_resubmit`` as upstream (was fresh...)."""
    from airflow_resumable.jobs import base

    seen: list[dict[str, Any]] = []

    class Span:
        def __init__(self) -> None:
            self.attrs: dict[str, Any] = {}
            seen.append(self.attrs)

        def set_attribute(self, name: str, value: Any) -> None:
            self.attrs[name] = value

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    mocker.patch.object(base.tracer, "start_as_current_span", side_effect=lambda name: Span())
    failing = ToyService(scripts=[["FAILED"]])
    with pytest.raises(JobFailedError):
        _op(failing).execute(_ctx(state_backend))
    _op(failing).execute(_ctx(state_backend, 2))
    no_store = make_context()
    no_store["task_state_store"] = None
    _op(service).execute(no_store)
    assert [s["resumable.decision"] for s in seen] == [
        "fresh_submit",
        "terminal_resubmit",
        "no_task_state_store",
    ]
    assert seen[1]["resumable.prior_status"] == "FAILED"
    assert seen[1]["resumable.external_id"] == "job-1"
    assert seen[1]["resumable.generation"] == 2
    assert all(s["operator"] == "ToyOperator" and s["resumable.external_id_key"] == KEY for s in seen)


# -- tokens --------------------------------------------------------------------------------------------
def test_every_new_token_is_new_and_names_its_task_instance(service):
    op = _op(service)
    base = make_context()
    first, again = op.idempotency_token(base, 1), op.idempotency_token(make_context(try_number=5), 1)
    assert first != again  # a random part: a reset task instance never reuses a token
    assert first.split("-")[0] == again.split("-")[0]  # the same task instance's hash
    others = [
        op.idempotency_token(make_context(map_index=3), 1),
        op.idempotency_token(make_context(run_id="other"), 1),
        op.idempotency_token(make_context(dag_id="other"), 1),
        op.idempotency_token(make_context(task_id="other"), 1),
    ]
    assert len({first.split("-")[0], *(t.split("-")[0] for t in others)}) == 5


@settings(max_examples=60, deadline=None)
@given(
    run_id=st.text(min_size=1, max_size=300),
    map_index=st.integers(-1, 10**6),
    generation=st.integers(1, 10**6),
    max_length=st.integers(22, 200),
)
def test_token_fits_the_backend_limit_and_safe_charset(run_id, map_index, generation, max_length):
    op = _op(ToyService())
    op.idempotency_token_max_length = max_length
    token = op.idempotency_token(make_context(run_id=run_id, map_index=map_index), generation)
    assert len(token) <= max_length
    assert re.fullmatch(r"[a-z0-9-]+", token)
    assert token.endswith(f"-g{generation}")


def test_token_limit_too_small_is_rejected(service):
    op = _op(service)
    op.idempotency_token_max_length = 8
    with pytest.raises(InvalidValueError, match="idempotency_token_max_length"):
        op.idempotency_token(make_context(), 1)
    with pytest.raises(InvalidValueError, match="generation"):
        _op(service).idempotency_token(make_context(), 0)


def test_token_method_shadowed_by_an_attribute_still_works(service, state_backend):
    """Provider operators may keep a user token in ``self.idempotency_token`` (a string)."""
    op = _op(service)
    op.idempotency_token = "user-token"  # type: ignore[assignment,method-assign]
    decision = op.decide(_ctx(state_backend))
    assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{12}-g1", decision.token)


def test_mixin_must_come_before_base_operator():
    from airflow.sdk import BaseOperator

    class Wrong(BaseOperator, DurableJobMixin):  # type: ignore[misc]
        pass

    with pytest.raises(TypeError):
        Wrong(task_id="x")


# -- find_submitted_job: what it is given -------------------------------------------------------------------
def _orphan_intent(backend: InMemoryStateBackend, submitted_at: Any) -> None:
    """An intent whose job id was never stored: the worker died right after writing it."""
    backend.task_store().set(
        INTENT, {"generation": 1, "token": "tok-g1", "state": "submitting", "submitted_at": submitted_at}
    )


def test_find_submitted_job_gets_the_recorded_submission_time(service, state_backend):
    from datetime import datetime, timezone

    seen: list[Any] = []

    class Searching(ToyOperator):
        def find_submitted_job(self, token: str, context: Any, *, submitted_at: Any = None) -> Any:
            seen.append((token, submitted_at))
            return None

    _orphan_intent(state_backend, "2026-01-02T03:04:05")  # a naive time is read as UTC
    decision = Searching(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert decision.repeats_submission
    assert seen == [("tok-g1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))]


@pytest.mark.parametrize("submitted_at", ["yesterday", 5])
def test_an_unreadable_submission_time_is_passed_as_none(service, state_backend, submitted_at):
    seen: list[Any] = []

    class Searching(ToyOperator):
        def find_submitted_job(self, token: str, context: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return None

    _orphan_intent(state_backend, submitted_at)
    Searching(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert seen == [{"submitted_at": None}]


def test_a_two_argument_find_submitted_job_still_works(service, state_backend):
    job_id = service.submit("tok-g1")

    class OldStyle(ToyOperator):
        def find_submitted_job(self, token: str, context: Any) -> Any:
            return self.service.find(token)

    _orphan_intent(state_backend, "2026-01-02T03:04:05+00:00")
    decision = OldStyle(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.external_id) == (Decision.RECONNECT, job_id)


# -- constructor arguments ----------------------------------------------------------------------------------
def test_keys_can_be_set_per_task_as_constructor_arguments(service, state_backend):
    job_id = service.submit("earlier")  # still running
    state_backend.task_store().set("old_id", job_id)
    op = _op(service, external_id_key="new_id", previous_external_id_keys=["old_id"])
    assert (op.external_id_key, op.previous_external_id_keys) == ("new_id", ("old_id",))
    decision = op.decide(_ctx(state_backend, 2))
    assert (decision.action, decision.external_id) == (Decision.RECONNECT, job_id)
    assert state_backend.task_store().get("new_id") == job_id


def test_a_bare_string_of_previous_keys_is_rejected_with_a_hint(service, state_backend):
    op = _op(service, previous_external_id_keys="old_id")
    with pytest.raises(InvalidValueError, match="trailing comma"):
        op.decide(_ctx(state_backend))


# -- issue 11: crash windows, error classification, state resets ------------------------------------------
def test_repeated_submission_that_returns_a_failed_job_submits_the_next_generation(crash_and_retry):
    """11.2: crash after submit, before the id is stored; the job then fails. The retry's repeated submit
    gets the failed job back (same token): it must not be polled and reported, nor fail the try."""
    service = ToyService(scripts=[["FAILED"]])
    ops: list[ToyOperator] = []

    def run(context: Any) -> Any:
        ops.append(_op(service))
        return ops[-1].execute(context)

    report = crash_and_retry(run, on_write(2))  # write 2: the intent update right after submit
    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert report.tries[1].result == {"job": "job-2", "status": "SUCCEEDED"}
    assert ops[1].polled == ["job-2"]  # the failed job is never polled or reported
    assert ops[1].tokens[0] == ops[0].tokens[0] and ops[1].tokens[1] != ops[0].tokens[0]
    intent = report.tries[1].task_state[INTENT]
    assert (intent["generation"], intent["external_id"]) == (2, "job-2")


def test_repeated_submission_that_returns_an_unknown_job_submits_the_next_generation(crash_and_retry):
    service = ToyService(scripts=[["FAILED"]])

    class Forgetful(ToyOperator):
        def submit_job(self, context: Any) -> Any:
            job = super().submit_job(context)
            if context["ti"].try_number == 2 and job == "job-1":
                del self.service.jobs["job-1"]  # the backend returns an id whose history is gone
            return job

    report = crash_and_retry(
        lambda context: Forgetful(task_id="task", service=service).execute(context), on_write(2)
    )
    assert report.tries[1].result["job"] == "job-2"


@pytest.mark.parametrize(
    "error",
    [
        pytest.param("AirflowNotFoundException", id="missing-connection"),
        pytest.param("AirflowException", id="airflow-exception"),
        pytest.param("ServerResponseError", id="execution-api-404"),
    ],
)
def test_airflow_exceptions_are_neither_transient_nor_job_not_found(service, error):
    """11.3: Airflow's ``status_code`` class attributes (404, 500) say nothing about a backend job."""
    op = _op(service)
    exc = _airflow_error(error)
    assert op.is_transient_error(exc) is False
    assert op.is_job_not_found(exc) is False


def _airflow_error(name: str) -> BaseException:
    from airflow.providers.common.compat.sdk import AirflowException, AirflowNotFoundException

    if name == "AirflowNotFoundException":
        return AirflowNotFoundException("The conn_id `toy_default` isn't defined")
    if name == "AirflowException":
        return AirflowException("job failed with terminal state FAILED")
    import httpx
    from airflow.sdk.api.client import ServerResponseError

    request = httpx.Request("PUT", "http://api/execution/state-store/ti/x")
    response = httpx.Response(404, request=request, json={"detail": "Task instance not found"})
    return ServerResponseError("Task instance not found", request=request, response=response)


def test_missing_connection_while_deciding_fails_the_try_unchanged_and_submits_nothing(
    service, state_backend
):
    """11.3: a missing connection read as "job not found" submitted a second live job."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    _op(service).submit_durably(_ctx(state_backend), _op(service).decide(_ctx(state_backend)))
    missing = AirflowNotFoundException("The conn_id `toy_default` isn't defined")
    service.status_errors = [missing]
    with pytest.raises(AirflowNotFoundException) as raised:
        _op(service).execute(_ctx(state_backend, 2))
    assert raised.value is missing
    assert (service.submit_calls, service.status_calls) == (1, 1)


def test_a_job_failure_is_polled_once_and_raised_unchanged(state_backend):
    """11.3 / 12.3: every AirflowException was retried as transient: four polls, four cancels."""
    service = ToyService(scripts=[["RUNNING", "FAILED"]])
    op = _op(service)
    with pytest.raises(JobFailedError, match=r"^job job-1 ended FAILED$"):
        op.execute(_ctx(state_backend))
    assert op.polled == ["job-1"]


def test_a_state_reset_runs_a_new_job(service, state_backend):
    """11.4: the token was a pure function of the task instance: after the task's state was deleted the
    backend handed back the old job and nothing ran."""
    first = _op(service)
    first.execute(_ctx(state_backend))
    state_backend.task_store().clear()  # the documented way to force a new job; clear_on_success does this
    again = _op(service)
    assert again.execute(_ctx(state_backend)) == {"job": "job-2", "status": "SUCCEEDED"}
    assert again.tokens[0] != first.tokens[0]
    assert len(service.jobs) == 2


def test_a_failed_id_stored_without_intent_is_followed_by_a_new_token(state_backend):
    """A run id left by the upstream mixin (no intent) that failed: the new submission gets a new token."""
    service = ToyService(scripts=[["FAILED"]])
    state_backend.task_store().set(KEY, service.submit("provider-token"))
    decision = _op(service).decide(_ctx(state_backend))
    assert (decision.action, decision.generation, decision.previous_external_id) == (
        Decision.RESUBMIT,
        1,
        "job-1",
    )
    assert decision.token != "provider-token"


def test_a_backend_that_keeps_returning_failed_jobs_stops_with_a_job_error(state_backend):
    service = ToyService(scripts=[["FAILED"]])

    class Stubborn(ToyOperator):
        def submit_job(self, context: Any) -> Any:
            super().submit_job(context)
            return "job-1"

        def _submission_may_exist(self, decision: ResumeDecision) -> bool:
            return True

    with pytest.raises(JobError, match="returned a job that had already failed"):
        Stubborn(task_id="task", service=service).execute(_ctx(state_backend))
