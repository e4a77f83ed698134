"""The Databricks operators against a local Jobs API over real HTTP, with the provider's real hook.

These run the operators' steps directly with an in-memory task context (fast); the same scenarios go
through real Airflow retries in tests/integration/test_databricks_crash_matrix.py.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from airflow.providers.databricks.operators import databricks as provider

from airflow_resumable.jobs.base import Decision, DurableJobMixin
from airflow_resumable.jobs.databricks import DatabricksRunNowOperator, DatabricksSubmitRunOperator
from airflow_resumable.testing import InMemoryStateBackend, make_context, on_write

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "do_xcom_push": False}


def submit_op(**kwargs: Any) -> DatabricksSubmitRunOperator:
    args = {"task_id": "job", "notebook_task": {"notebook_path": "/n"}, "existing_cluster_id": "c", **FAST}
    return DatabricksSubmitRunOperator(**{**args, **kwargs})


def run_now_op(**kwargs: Any) -> DatabricksRunNowOperator:
    return DatabricksRunNowOperator(**{"task_id": "job", "job_id": 42, **FAST, **kwargs})


# -- drop-in -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (DatabricksSubmitRunOperator, provider.DatabricksSubmitRunOperator),
        (DatabricksRunNowOperator, provider.DatabricksRunNowOperator),
    ],
)
def test_operators_are_drop_in_subclasses(ours, theirs):
    assert issubclass(ours, theirs)
    assert issubclass(ours, DurableJobMixin)
    assert ours.__mro__.index(DurableJobMixin) < ours.__mro__.index(theirs)
    assert ours.template_fields == theirs.template_fields
    assert ours.external_id_key == theirs.external_id_key
    assert ours.previous_external_id_keys == ()
    assert "kwargs" in inspect.signature(ours.__init__).parameters  # every provider argument passes through


def test_constructor_takes_every_provider_argument_and_the_key_settings():
    op = submit_op(
        run_name="nightly",
        timeout_seconds=60,
        idempotency_token="tok",
        durable=False,
        external_id_key="etl_run_id",
        previous_external_id_keys=["databricks_run_id"],
    )
    assert (op.run_name, op.timeout_seconds, op.idempotency_token, op.durable) == (
        "nightly",
        60,
        "tok",
        False,
    )
    assert op.external_id_key == "etl_run_id"
    assert op.previous_external_id_keys == ("databricks_run_id",)
    assert type(op).external_id_key == "databricks_run_id"


def test_durable_comes_from_default_args():
    from airflow.sdk import DAG

    with DAG("d", schedule=None, default_args={"durable": False}):
        op = submit_op()
    assert op.durable is False


# -- tokens --------------------------------------------------------------------------------------------
def test_derived_token_is_sent_and_recorded(databricks, state_backend):
    ctx = make_context(backend=state_backend, task_id="job")
    op = submit_op()
    op.execute(ctx)
    (run,) = databricks.created
    assert op.idempotency_token is None  # the provider's argument: the method is reached on the class
    assert run.token == op.submission_token
    assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{12}-g1", run.token)
    assert ctx["task_state_store"].get("databricks_run_id.intent")["token"] == run.token
    assert len(run.token) <= 64


@pytest.mark.parametrize("where", ["kwarg", "json"])
def test_user_token_is_used_for_the_first_generation_and_rotated_after(databricks, state_backend, where):
    extra = {"idempotency_token": "etl-1"} if where == "kwarg" else {"json": {"idempotency_token": "etl-1"}}
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    with pytest.raises(Exception, match="failed with terminal state"):
        submit_op(**extra).execute(make_context(backend=state_backend))
    submit_op(**extra).execute(make_context(backend=state_backend, try_number=2))
    first, second = (r.token for r in databricks.created)
    assert first == "etl-1"
    assert re.fullmatch(r"etl-1-[0-9a-f]{12}-g2", second or "")


def test_long_user_token_rotates_within_the_limit(databricks, state_backend):
    op = submit_op(idempotency_token="x" * 64)
    token = op._token(make_context(), 7)
    assert len(token) <= 64
    assert token.endswith("-g7")


def test_not_durable_sends_no_derived_token_and_writes_nothing(databricks, state_backend):
    for try_number in (1, 2):
        submit_op(durable=False).execute(make_context(backend=state_backend, try_number=try_number))
    assert [r.token for r in databricks.created] == [None, None]
    assert state_backend.writes == 0


# -- decisions against the API -------------------------------------------------------------------------
def test_unknown_run_counts_as_not_found(databricks, state_backend):
    ctx = make_context(backend=state_backend)
    op = submit_op()
    op.submit_durably(ctx, op.decide(ctx))
    databricks.forget(databricks.created[0].run_id)
    decision = submit_op().decide(make_context(backend=state_backend, try_number=2))
    assert (decision.action, decision.generation) == (Decision.RESUBMIT, 2)


def test_400_does_not_exist_counts_as_not_found():
    from airflow.providers.databricks.exceptions import DatabricksApiError

    op = submit_op()
    assert op.is_job_not_found(DatabricksApiError("Run 5 does not exist.", http_status_code=400))
    assert not op.is_job_not_found(DatabricksApiError("bad request", http_status_code=400))
    assert not op.is_job_not_found(DatabricksApiError("boom", http_status_code=500))


@pytest.mark.parametrize("status", [503, 429])
def test_transient_api_errors_in_status_checks_are_retried(databricks, state_backend, status):
    ctx = make_context(backend=state_backend)
    op = submit_op()
    op.submit_durably(ctx, op.decide(ctx))
    databricks.fail_next(2, status=status, endpoint="jobs/runs/get")
    decision = submit_op().decide(make_context(backend=state_backend, try_number=2))
    assert decision.action is Decision.RECONNECT
    assert [r.status for r in databricks.requests_to("jobs/runs/get")] == [status, status, 200]


def test_api_that_stays_down_fails_the_try_without_submitting(databricks, state_backend):
    submit_op().execute(make_context(backend=state_backend))
    databricks.fail_next(20, status=503)
    with pytest.raises(Exception, match="failed 1 times"):
        submit_op().execute(make_context(backend=state_backend, try_number=2))
    assert len(databricks.created) == 1


# -- issues 11 and 12: regressions against the provider's real hook and errors ---------------------------
def test_a_user_token_with_a_failed_run_left_by_the_provider_operator_is_not_replayed(
    databricks, state_backend
):
    """The provider's operator stored the run id (no intent) and its run failed; the swap to the durable
    operator with the same ``idempotency_token`` got that failed run back from Databricks and failed."""
    databricks.scripts.append(["TERMINATED:FAILED"])
    with pytest.raises(Exception, match="failed with terminal state"):
        provider.DatabricksSubmitRunOperator(
            task_id="job", notebook_task={"notebook_path": "/n"}, idempotency_token="nightly", **FAST
        ).execute(make_context(backend=state_backend))
    assert state_backend.task_store().get("databricks_run_id.intent") is None
    submit_op(idempotency_token="nightly").execute(make_context(backend=state_backend, try_number=2))
    failed, new = databricks.created
    assert new.step == "TERMINATED:SUCCESS"
    assert state_backend.task_store().get("databricks_run_id") == new.run_id
    assert new.token != failed.token == "nightly"


def test_a_missing_connection_is_not_a_missing_run(databricks, state_backend):
    """11.3: AirflowNotFoundException (status_code 404) was read as "run not found": a new generation's
    intent was written and the next try started a second live run."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException

    databricks.default_script = ["RUNNING"] * 4 + ["TERMINATED:SUCCESS"]
    first = submit_op()
    ctx = make_context(backend=state_backend)
    first.submit_durably(ctx, first.decide(ctx))  # the worker dies while the run is live
    with pytest.raises(AirflowNotFoundException, match="isn't defined"):
        submit_op(databricks_conn_id="not_configured").execute(
            make_context(backend=state_backend, try_number=2)
        )
    submit_op().execute(make_context(backend=state_backend, try_number=3))
    assert len(databricks.created) == 1
    assert state_backend.task_store().get("databricks_run_id.intent")["generation"] == 1


def test_a_failed_run_is_polled_once_and_fails_with_the_providers_error(databricks, state_backend):
    """11.3 / 12.3: the provider's AirflowException for a failed run was retried as transient (500)."""
    raised = []
    for operator in (provider.DatabricksSubmitRunOperator, DatabricksSubmitRunOperator):
        databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
        before = len(databricks.requests_to("jobs/runs/get"))
        with pytest.raises(Exception, match=r"^job failed with terminal state: .*FAILED") as error:
            operator(task_id="job", notebook_task={"notebook_path": "/n"}, **FAST).execute(
                make_context(backend=InMemoryStateBackend())
            )
        raised.append((type(error.value), len(databricks.requests_to("jobs/runs/get")) - before))
    assert raised[0] == raised[1]
    assert raised[0][0].__name__ == "AirflowException"


def test_not_durable_run_now_cancels_previous_runs_like_the_provider(databricks, state_backend):
    """12.6: with durable=False, cancel_previous_runs was silently dropped."""
    run_now_op(durable=False, cancel_previous_runs=True).execute(make_context(backend=state_backend))
    assert [r.body for r in databricks.requests_to("jobs/runs/cancel-all")] == [{"job_id": "42"}]


@pytest.mark.parametrize("durable", [True, False])
def test_cancel_previous_runs_without_a_job_raises_the_providers_value_error(
    databricks, state_backend, durable
):
    """12.6: the provider raises ValueError; durable=False raised nothing and submitted."""
    op = run_now_op(job_id=None, durable=durable, cancel_previous_runs=True, json={"notebook_params": {}})
    with pytest.raises(ValueError, match=r"^cancel_previous_runs=True requires either job_id or job_name"):
        op.execute(make_context(backend=state_backend))
    assert databricks.requests == []
    assert state_backend.writes == 0


def test_a_plain_dict_context_submits_and_polls_with_a_warning(databricks, capsys):
    """12.1: a context without a store or a task identity raised JobError before submitting."""
    assert submit_op().execute({}) is None
    assert "crash recovery is disabled" in capsys.readouterr().out
    assert databricks.created[0].step == "TERMINATED:SUCCESS"


# -- run-now -------------------------------------------------------------------------------------------
def test_run_now_resolves_job_name(databricks, state_backend):
    job_id = databricks.add_job("nightly")
    run_now_op(job_id=None, job_name="nightly").execute(make_context(backend=state_backend))
    assert databricks.created[0].job_id == job_id
    assert databricks.created[0].kind == "run-now"


def test_cancel_previous_runs_never_cancels_its_own_run(databricks, crash_and_retry):
    other = databricks.handle("POST", "jobs/run-now", {"job_id": 42})[1]["run_id"]
    databricks.default_script = ["RUNNING"] * 6 + ["TERMINATED:SUCCESS"]
    ops: list[DatabricksRunNowOperator] = []

    def run(context: Any) -> Any:
        ops.append(run_now_op(cancel_previous_runs=True))
        return ops[-1].execute(context)

    report = crash_and_retry(run, on_write(2))  # dies after run-now, before the run id is stored
    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert len(databricks.requests_to("jobs/runs/cancel-all")) == 1  # try 1 only, before its intent
    ours = [r for r in databricks.created if r.run_id != other]
    assert len(ours) == 1
    assert databricks.run(other).cancelled
    assert not ours[0].cancelled
    assert ours[0].step == "TERMINATED:SUCCESS"


# -- deferrable ----------------------------------------------------------------------------------------
def test_deferrable_retry_defers_on_the_stored_run_without_submitting(databricks, state_backend):
    from airflow.providers.common.compat.sdk import TaskDeferred

    databricks.default_script = ["RUNNING"]
    first = submit_op(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        first.execute(make_context(backend=state_backend))
    run_id = databricks.created[0].run_id
    assert deferred.value.trigger.run_id == run_id
    with pytest.raises(TaskDeferred) as again:
        submit_op(deferrable=True).execute(make_context(backend=state_backend, try_number=2))
    assert again.value.trigger.run_id == run_id
    assert len(databricks.requests_to("jobs/runs/submit")) == 1


def test_deferrable_retry_after_success_returns_without_deferring(databricks, state_backend):
    databricks.default_script = ["RUNNING", "RUNNING", "RUNNING", "TERMINATED:SUCCESS"]
    from airflow.providers.common.compat.sdk import TaskDeferred

    with pytest.raises(TaskDeferred):
        submit_op(deferrable=True).execute(make_context(backend=state_backend))
    assert submit_op(deferrable=True).execute(make_context(backend=state_backend, try_number=2)) is None
    assert len(databricks.created) == 1


def test_deferrable_not_durable_keeps_the_provider_behaviour(databricks, state_backend):
    from airflow.providers.common.compat.sdk import TaskDeferred

    databricks.default_script = ["RUNNING"]
    for try_number in (1, 2):
        with pytest.raises(TaskDeferred):
            submit_op(deferrable=True, durable=False).execute(
                make_context(backend=state_backend, try_number=try_number)
            )
    assert len(databricks.created) == 2
    assert state_backend.writes == 0


# -- imports -------------------------------------------------------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_imports_are_lazy_and_a_missing_provider_names_the_extra():
    proc = _python(
        """
        import sys
        import airflow_resumable, airflow_resumable.jobs
        print(sorted(m for m in sys.modules if m.startswith("airflow.")))
        airflow_resumable.DurableJobMixin, airflow_resumable.jobs.ResumeDecision
        print(sorted(m for m in sys.modules if m.startswith("airflow.providers.databricks.")))
        for name in ("exceptions", "hooks", "hooks.databricks", "operators", "operators.databricks"):
            sys.modules["airflow.providers.databricks." + name] = None  # the provider is not installed
        try:
            import airflow_resumable.jobs.databricks
        except ImportError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    before, after, error = proc.stdout.strip().splitlines()
    assert before == "[]"  # nothing from Airflow at all until a name is used
    assert after == "['airflow.providers.databricks.get_provider_info']"  # Airflow's provider discovery only
    assert "pip install 'airflow-resumable[databricks]'" in error


def test_partial_and_expand_accept_the_durability_arguments():
    from airflow.sdk import DAG

    with DAG("mapped", schedule=None):
        mapped = DatabricksSubmitRunOperator.partial(
            task_id="runs", durable=False, previous_external_id_keys=["old_run_id"], polling_period_seconds=0
        ).expand(json=[{"run_name": "a"}, {"run_name": "b"}])
    assert mapped.partial_kwargs["durable"] is False
    assert mapped.partial_kwargs["previous_external_id_keys"] == ["old_run_id"]


# -- error classification with the errors the provider's hook really raises ---------------------------------
def _raised_by_the_hook(databricks: Any, case: str) -> BaseException:
    from airflow.providers.databricks.hooks.databricks import DatabricksHook

    hook = DatabricksHook(
        "not_configured" if case == "missing_connection" else "databricks_default", retry_limit=1
    )
    if case in ("throttled", "unavailable"):
        databricks.fail_next(1, status=429 if case == "throttled" else 503, endpoint="jobs/runs/get")
    if case == "bad_request":
        databricks.fail_next(1, status=400, endpoint="jobs/runs/get")
    run_id = 999 if case == "unknown_run" else databricks.handle("POST", "jobs/runs/submit", {})[1]["run_id"]
    if case == "failed_run":  # what the provider's poll raises for a failed run
        from airflow.providers.common.compat.sdk import AirflowException

        return AirflowException("job failed with terminal state: FAILED and with the errors []")
    with pytest.raises(Exception) as raised:
        hook.get_run(run_id)
    return raised.value


@pytest.mark.parametrize(
    ("case", "type_name", "transient", "not_found"),
    [
        ("throttled", "AirflowException", True, False),  # "API requests ... failed 1 times ... Giving up."
        ("unavailable", "AirflowException", True, False),
        ("unknown_run", "DatabricksApiError", False, True),
        ("bad_request", "DatabricksApiError", False, False),
        ("missing_connection", "AirflowNotFoundException", False, False),
        ("failed_run", "AirflowException", False, False),
    ],
)
def test_errors_the_hook_raises_are_classified_by_their_cause(
    databricks, case, type_name, transient, not_found
):
    """11.3: only the client's answer counts (the hook's RetryError of 429/503, a 404 from the API)."""
    error = _raised_by_the_hook(databricks, case)
    assert type(error).__name__ == type_name
    op = submit_op()
    assert (op.is_transient_error(error), op.is_job_not_found(error)) == (transient, not_found)
