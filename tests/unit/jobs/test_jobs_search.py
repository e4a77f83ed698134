"""A stateful search of the durable Databricks operator's decisions, against the local Jobs API.

Hypothesis drives random sequences of tries of one task instance: each try may crash (before submitting,
after submitting but before the run id is stored, while polling), meet a missing connection or transient
API errors (429/503 on status checks or on the submit itself), and each new run ends as scripted (success,
failure, cancelled, history expired); a try may be deferrable (the triggerer's part is played by polling
the run with the provider's hook). Half the examples pass their own ``idempotency_token``. Between
tries the task's state may be reset (deleted, as ``clear_on_success`` or a re-created DAG run leave it),
the operator's ``external_id_key`` renamed, or a live run cancelled from outside (``state orphans
--cancel``: the intent records it while Databricks still shows the run ``TERMINATING``).

The operator is the library's real ``DatabricksSubmitRunOperator`` with the provider's real hook over
HTTP; nothing in the hook is patched. State lives in the in-memory task store (which encodes values as a
real worker's channel does). After every try the invariants are checked:

- never two live runs for one incarnation of the task instance (between two resets);
- never a failed (or cancelled) run reported as a try's result;
- after a reset, a successful try runs a new job (unless the DAG author passed their own token, which
  names its run for good);
- a successful try's result is what a fresh run's is: ``None``, with the run id stored under the key;
- after a success (and no reset) no further run is ever created;
- a missing connection creates nothing and moves no generation;
- a run cancelled from outside is never polled (or reconnected to) again: one status check at most per try.

A handful of the same sequences run through real ``dag.test()`` retries in
tests/integration/test_jobs_search_dags.py.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator
from airflow_resumable.testing import InMemoryStateBackend, make_context
from airflow_resumable.testing.databricks_server import FakeDatabricks

CONN_ENV = "AIRFLOW_CONN_DATABRICKS_DEFAULT"
OUTCOMES = {  # a try that dies while polling leaves its run live for the next one
    "success": ["RUNNING", "RUNNING", "RUNNING", "TERMINATED:SUCCESS"],
    "failure": ["RUNNING", "RUNNING", "RUNNING", "TERMINATED:FAILED"],
    "cancel": ["RUNNING", "RUNNING", "RUNNING", "TERMINATED:CANCELED"],
    "gone": ["RUNNING", "RUNNING", "RUNNING", "GONE"],
}
CRASHES = ("none", "before_submit", "after_submit", "during_poll")


class Crash(BaseException):
    """The worker dies here (a BaseException: nothing in the operator may catch it)."""


class Crashing(DatabricksSubmitRunOperator):
    """The real operator, with the worker dying at one point of this try."""

    crash = "none"

    def submit_job(self, context: Any) -> int:
        if self.crash == "before_submit":
            raise Crash("died before submitting")
        run_id = super().submit_job(context)
        if self.crash == "after_submit":
            raise Crash("died after submitting, before the run id was stored")
        return run_id

    def poll_until_complete(self, external_id: Any, context: Any) -> None:
        if self.crash == "during_poll":
            self.get_job_status(external_id, context)
            raise Crash("died while polling")
        return super().poll_until_complete(external_id, context)

    def defer(self, **kwargs: Any) -> Any:
        if self.crash == "during_poll":  # deferrable mode: the worker dies instead of deferring
            raise Crash("died before deferring")
        return super().defer(**kwargs)


def run_try(op: Crashing, context: dict[str, Any]) -> Any:
    """``execute``; if it defers, stand in for the triggerer: poll the run to its end with the provider's
    hook, then call the method the operator deferred to with the trigger's event."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    try:
        return op.execute(context)
    except TaskDeferred as deferred:
        trigger = deferred.trigger
        state = op._hook.get_run_state(trigger.run_id)
        for _ in range(10):
            if state.is_terminal:
                break
            state = op._hook.get_run_state(trigger.run_id)
        event = {
            "run_id": trigger.run_id,
            "run_page_url": trigger.run_page_url,
            "run_state": state.to_json(),
            "repair_run": False,
            "errors": [],
        }
        return getattr(op, deferred.method_name)(context, event)


class DurableRunSearch(RuleBasedStateMachine):
    """One task instance of a DAG run, tried again and again under random faults."""

    @initialize(user_token=st.booleans())
    def start(self, user_token: bool) -> None:
        self.user_token = "nightly-etl" if user_token else None
        self.server = FakeDatabricks().start()
        self.saved_env = os.environ.get(CONN_ENV)
        os.environ.update(self.server.environ("databricks_default"))
        self.backend = InMemoryStateBackend()
        self.key, self.previous_keys = "databricks_run_id", ()
        self.try_number = 0
        self.epoch_start = 0  # index in server.created of the first run after the last reset
        self.reset_pending = False  # a reset happened and no try has succeeded since
        self.succeeded_run: int | None = None  # the run a success reported (cleared by a reset)
        self.cancelled_runs: set[int] = set()  # runs cancelled from outside (still TERMINATING for a while)

    def teardown(self) -> None:
        server = getattr(self, "server", None)
        if server is None:
            return
        server.stop()
        if self.saved_env is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = self.saved_env

    # -- rules ---------------------------------------------------------------------------------------------
    @rule(
        crash=st.sampled_from(CRASHES),
        outcome=st.sampled_from(sorted(OUTCOMES)),
        errors=st.integers(0, 2),
        error_status=st.sampled_from([429, 503]),
        error_endpoint=st.sampled_from(["jobs/runs/get", "jobs/runs/submit"]),
        missing_connection=st.booleans(),
        deferrable=st.booleans(),
    )
    def a_try(
        self,
        crash: str,
        outcome: str,
        errors: int,
        error_status: int,
        error_endpoint: str,
        missing_connection: bool,
        deferrable: bool,
    ) -> None:
        self.try_number += 1
        self.server.default_script = list(OUTCOMES[outcome])
        if errors:
            self.server.fail_next(errors, status=error_status, endpoint=error_endpoint)
        created_before = len(self.server.created)
        generation_before = self._generation()
        cancelled_gets = {run_id: self.server.run(run_id).gets for run_id in self.cancelled_runs}
        op = Crashing(
            task_id="job",
            notebook_task={"notebook_path": "/Shared/etl"},
            existing_cluster_id="cluster-1",
            polling_period_seconds=0,
            databricks_retry_limit=1,
            databricks_retry_delay=0,
            do_xcom_push=False,
            databricks_conn_id="not_configured" if missing_connection else "databricks_default",
            external_id_key=self.key,
            previous_external_id_keys=list(self.previous_keys),
            idempotency_token=self.user_token,
            deferrable=deferrable,
        )
        op.crash = crash
        context = make_context(backend=self.backend, task_id="job", try_number=self.try_number)
        try:
            result = run_try(op, context)
        except Crash:
            outcome_seen = "crashed"
        except Exception:
            outcome_seen = "failed"
        else:
            outcome_seen = "success"
        self.server._failures.clear()  # injected errors never leak into the next try
        new_runs = self.server.created[created_before:]
        for run_id, gets in cancelled_gets.items():
            assert self.server.run(run_id).gets <= gets + 1, (
                f"run {run_id}, cancelled from outside, was polled"
            )

        if missing_connection:  # a missing connection is not a missing run: nothing new, no new generation
            assert outcome_seen in ("failed", "crashed")
            assert new_runs == []
            assert self._generation() in {generation_before, generation_before or 1}
        if self.succeeded_run is not None:
            assert new_runs == [], "a task that succeeded started another run without a reset"

        if outcome_seen == "success":
            assert result is None  # what the provider's operator returns
            run_id = self._store().get(self.key)
            run = self.server.run(run_id)
            assert run.step == "TERMINATED:SUCCESS", f"run {run_id} reported as the result is {run.step}"
            assert op.run_id == run_id
            if self.reset_pending and self.user_token is None:  # a user's own token names its run for good
                assert self.server.created.index(run) >= self.epoch_start, "a reset brought back the old job"
            self.reset_pending = False
            if self.succeeded_run is not None:
                assert run_id == self.succeeded_run
            self.succeeded_run = run_id

    @rule()
    def reset_state(self) -> None:
        """The task's state is deleted (REST delete, ``clear_on_success``, DAG run re-created)."""
        self._store().clear()
        self.epoch_start = len(self.server.created)
        self.reset_pending = True
        self.succeeded_run = None

    @precondition(lambda self: self._cancellable() is not None)
    @rule(deferrable=st.booleans())
    def cancel_from_outside_then_retry(self, deferrable: bool) -> None:
        """``state orphans --cancel`` on the stored live run: the intent records the cancellation (as the ops
        layer writes it) and Databricks shows the run ``TERMINATING`` for a while before ``CANCELED``. Then
        the task is tried again (in this step, so that every cancellation the search makes is followed by a
        try): it must run a new job rather than reconnect to the cancelled run."""
        found = self._cancellable()
        assert found is not None
        key, intent, run = found
        mark = {
            "external_id": run.run_id,
            "at": "2026-12-05T10:00:00+00:00",
            "by": "oncall",
            "reason": "orphan",
        }
        self._store().set(key + ".intent", {**intent, "cancelled": mark})
        run.script, run.gets = ["TERMINATING", "TERMINATING", "TERMINATED:CANCELED"], 0
        self.cancelled_runs.add(run.run_id)
        self.a_try(
            "none", "success", 0, 503, "jobs/runs/get", missing_connection=False, deferrable=deferrable
        )
        assert self.succeeded_run is not None and self.succeeded_run != run.run_id

    @precondition(lambda self: len(self.previous_keys) < 2)
    @rule()
    def rename_key(self) -> None:
        """A new version of the DAG renames external_id_key and lists the old one."""
        self.previous_keys = (self.key, *self.previous_keys)
        self.key = f"etl_run_id_v{len(self.previous_keys) + 1}"

    # -- invariants ----------------------------------------------------------------------------------------
    @invariant()
    def at_most_one_live_run_per_incarnation(self) -> None:
        if not hasattr(self, "server"):
            return
        live = [
            r.run_id
            for r in self.server.created[self.epoch_start :]
            if not r.is_terminal and not r.gone and r.run_id not in self.cancelled_runs
        ]
        assert len(live) <= 1, f"two live runs for one task instance: {live}"

    @invariant()
    def one_run_per_token(self) -> None:  # also: a user's token is sent as given for generation 1 only
        if not hasattr(self, "server"):
            return
        tokens = [r.token for r in self.server.created]
        assert len(tokens) == len(set(tokens)), "a token was sent for two different runs"

    def _generation(self) -> int | None:
        """The generation recorded under the current key, or under a previous one not yet moved."""
        for key in (self.key, *self.previous_keys):
            intent = self._store().get(key + ".intent")
            if intent is not None:
                return int(intent["generation"])
        return None

    def _cancellable(self) -> tuple[str, dict[str, Any], Any] | None:
        """The stored intent's run if it is live and not cancelled yet: ``(key, intent, run)``."""
        if not hasattr(self, "server"):
            return None
        for key in (self.key, *self.previous_keys):
            intent = self._store().get(key + ".intent")
            if intent is None:
                continue
            run_id = intent.get("external_id")
            if intent.get("state") != "submitted" or run_id is None or run_id in self.cancelled_runs:
                return None
            run = self.server.run(run_id)
            return (key, intent, run) if not run.is_terminal and not run.gone else None
        return None

    def _store(self) -> Any:
        return self.backend.task_store(dag_id="dag", run_id="run", task_id="job", map_index=-1)


DurableRunSearch.TestCase.settings = settings(
    max_examples=int(os.environ.get("RESUMABLE_SEARCH_EXAMPLES", "25")),
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_durable_run_search = pytest.mark.filterwarnings("ignore::DeprecationWarning")(DurableRunSearch.TestCase)
