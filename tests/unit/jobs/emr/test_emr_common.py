"""State maps, markers, the search window and AWS error classification shared by the EMR operators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import botocore.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

import moto_server
from airflow_resumable.errors import JobError
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs import _errors

# -- state maps, straight from the API references ---------------------------------------------------------
SERVERLESS = {
    "active": ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"],
    "succeeded": ["SUCCESS"],
    "failed": ["FAILED", "CANCELLED"],
}
CONTAINERS = {
    "active": ["PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"],
    "succeeded": ["COMPLETED"],
    "failed": ["FAILED", "CANCELLED"],
}
STEPS = {
    "active": ["PENDING", "CANCEL_PENDING", "RUNNING"],
    "succeeded": ["COMPLETED"],
    "failed": ["CANCELLED", "FAILED", "INTERRUPTED"],
}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (common.SERVERLESS_STATES, SERVERLESS),
        (common.CONTAINERS_STATES, CONTAINERS),
        (common.STEP_STATES, STEPS),
    ],
    ids=["serverless", "containers", "steps"],
)
def test_state_maps_follow_the_api_reference(states, expected):
    seen = {
        state: (states.is_active(state), states.is_succeeded(state))
        for group in expected.values()
        for state in group
    }
    assert seen == {
        **{state: (True, False) for state in expected["active"]},
        **{state: (False, True) for state in expected["succeeded"]},
        **{state: (False, False) for state in expected["failed"]},
    }
    assert states.active == frozenset(expected["active"])
    assert states.failed == frozenset(expected["failed"])


@pytest.mark.parametrize(
    ("service", "shape"),
    [("emr-serverless", "JobRunState"), ("emr-containers", "JobRunState"), ("emr", "StepState")],
)
def test_state_maps_cover_every_state_botocore_knows(service, shape):
    """A state AWS adds later would be caught here when botocore is upgraded."""
    import boto3

    model = boto3.session.Session().client(service, region_name="us-east-1").meta.service_model
    known = set(model.shape_for(shape).enum)
    states = {"emr-serverless": common.SERVERLESS_STATES, "emr-containers": common.CONTAINERS_STATES}.get(
        service, common.STEP_STATES
    )
    assert known == states.active | states.succeeded | states.failed


def test_an_unknown_state_counts_as_active():
    assert not common.SERVERLESS_STATES.is_known("HIBERNATING")
    assert common.SERVERLESS_STATES.is_active("HIBERNATING")


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["COMPLETED", "COMPLETED"], "COMPLETED"),
        (["COMPLETED", "RUNNING", "PENDING"], "RUNNING"),
        (["PENDING", "PENDING"], "PENDING"),
        (["COMPLETED", "FAILED", "CANCELLED"], "FAILED"),
        (["COMPLETED", "CANCELLED", "INTERRUPTED"], "CANCELLED"),
        # a step still running keeps the group active, even after another one (ActionOnFailure=CONTINUE)
        # failed: adding the group again would run it twice
        (["RUNNING", "INTERRUPTED"], "RUNNING"),
        (["FAILED", "PENDING"], "PENDING"),
    ],
)
def test_a_group_of_steps_is_active_while_one_runs_then_fails_if_one_failed(states, expected):
    assert common.aggregate_step_state(states) == expected


def test_an_empty_group_of_steps_has_no_state():
    with pytest.raises(JobError, match="at least one step"):
        common.aggregate_step_state([])


# -- markers ---------------------------------------------------------------------------------------------
TOKEN = "0123456789abcdef0123456789abcdef-g1"


def test_marker_is_appended_to_the_name():
    assert common.with_marker("nightly", TOKEN) == f"nightly [{TOKEN}]"
    assert common.with_marker("step", TOKEN, 2) == f"step [{TOKEN}/2]"
    assert common.with_marker(None, TOKEN) == f"[{TOKEN}]"


def test_marker_does_not_confuse_generations_or_step_indexes():
    g1, g11 = "abc-g1", "abc-g11"
    assert common.has_marker(common.with_marker("n", g1), g1)
    assert not common.has_marker(common.with_marker("n", g11), g1)
    assert not common.has_marker(common.with_marker("n", g1), g11)
    assert common.has_marker(common.with_marker("s", g1, 1), g1, 1)
    assert not common.has_marker(common.with_marker("s", g1, 11), g1, 1)
    assert not common.has_marker(common.with_marker("s", g1, 1), g1)
    assert not common.has_marker(None, g1)


@given(name=st.text(max_size=400), index=st.none() | st.integers(min_value=0, max_value=300))
def test_marked_names_fit_the_api_limit_and_keep_the_marker(name, index):
    marked = common.with_marker(name, TOKEN, index)
    assert len(marked) <= 256
    assert common.has_marker(marked, TOKEN, index)


# -- the search window -------------------------------------------------------------------------------------
def test_search_starts_a_day_before_the_recorded_submission():
    submitted_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert common.created_after(submitted_at) == datetime(2026, 1, 1, 3, 4, 5, tzinfo=timezone.utc)
    assert timedelta(days=1) == common.DISCOVERY_SLACK


def test_search_is_unbounded_without_a_submission_time():
    assert common.created_after(None) is None


# -- errors, as the real clients raise them ------------------------------------------------------------------
def _client_error(code: str, message: str = "", status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def test_not_found_errors_from_the_real_apis(aws):
    serverless = moto_server.client("emr-serverless")
    app = moto_server.create_serverless_application()
    with pytest.raises(botocore.exceptions.ClientError) as missing_run:
        serverless.get_job_run(applicationId=app, jobRunId="0000000000000000")
    containers = moto_server.client("emr-containers")
    vc = moto_server.create_virtual_cluster("errors-test")
    with pytest.raises(botocore.exceptions.ClientError) as missing_job:
        containers.describe_job_run(virtualClusterId=vc, id="abcdefghijabcdefghi")
    assert common.is_aws_not_found(missing_run.value)
    assert common.is_aws_not_found(missing_job.value)
    assert not _errors.is_transient(missing_run.value)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("ResourceNotFoundException", "Job run x doesn't exist.", 404), True),
        (_client_error("ValidationException", "Job run jr-1 does not exist"), True),
        (_client_error("InvalidRequestException", "Step s-1 not found"), True),
        (_client_error("ValidationException", "RunTimeout must be at least 5 minutes."), False),
        (_client_error("AccessDeniedException", "no"), False),
        (common.StepsNotFoundError("gone"), True),
        (RuntimeError("boom"), False),
    ],
)
def test_not_found_classification(error, expected):
    assert common.is_aws_not_found(error) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("ThrottlingException", "Rate exceeded"), True),
        (_client_error("TooManyRequestsException", "slow down", 429), True),
        (_client_error("TooManyRequests", "slow down"), True),
        (_client_error("InternalServerException", "oops", 500), True),
        (_client_error("SomethingNew", "bad gateway", 502), True),
        (_client_error("ValidationException", "bad input"), False),
        (_client_error("ResourceNotFoundException", "gone", 404), False),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (ValueError("bad"), False),
    ],
)
def test_transient_classification(error, expected):
    assert _errors.is_transient(error) is expected


def test_classification_follows_explicit_causes():
    outer = RuntimeError("status call failed")
    outer.__cause__ = _client_error("ThrottlingException", "Rate exceeded")
    gone = RuntimeError("lookup failed")
    gone.__cause__ = _client_error("ResourceNotFoundException", "gone", 404)
    assert _errors.is_transient(outer)
    assert common.is_aws_not_found(gone)
    assert not common.is_aws_not_found(outer)
