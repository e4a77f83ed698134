"""Helpers of the EMR conformance tests: the two intended request differences taken out, a job run that
fails at once run both ways (outcomes, triggers and the checks shared with the other families are in
tests/conformance/conformance_helpers.py)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from conformance_helpers import outcome

import moto_server
from airflow_resumable.jobs import _emr_common as common

TOKEN_MARKER = re.compile(r" \[[A-Za-z0-9_-]+/\d+\]$")


def without_token(params: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    """StartJobRun parameters without the two intended differences of a durable submission: the
    ``clientToken`` (derived, or the provider's random one) and the ``airflow-resumable-token`` tag."""
    params = copy.deepcopy(params)
    token = params.pop("clientToken", None)
    assert isinstance(token, str) and token
    tags = params.get("tags")
    if durable:
        assert tags[common.TOKEN_TAG] == token  # intended: the token is also a tag
        del tags[common.TOKEN_TAG]
    else:
        assert common.TOKEN_TAG not in (tags or {})
    if tags == {}:
        del params["tags"]  # no tags and empty tags are one request to AWS
    return params


def without_step_markers(params: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    """AddJobFlowSteps parameters without the marker a durable submission appends to each step Name."""
    params = copy.deepcopy(params)
    for step in params["Steps"]:
        if durable:
            assert TOKEN_MARKER.search(step["Name"]), step["Name"]  # intended: the marker
            step["Name"] = TOKEN_MARKER.sub("", step["Name"])
        else:
            assert not TOKEN_MARKER.search(step["Name"])
    return params


@dataclass
class BothRuns:
    """The provider's operator (``ref``) and this test's flavour (``op``) run the same way: what each call
    did (see ``outcome``) and the requests each made."""

    ref: Any
    op: Any
    ref_calls: moto_server.Requests
    calls: moto_server.Requests
    expected: tuple[str, Any]
    got: tuple[str, Any]


def run_both_with_a_job_run_failing_at_once(
    make: Any, moves_to: Any, service: str, task_context: Any
) -> BothRuns:
    """Each operator with its own ``client_request_token``, its job run moved to ``FAILED`` on AWS as soon as
    it is started (``moves_to(op, state)``), job runs given AWS-like creation times."""
    ref = moves_to(make.provider(client_request_token="nightly-ref"), "FAILED")
    op = moves_to(make(client_request_token="nightly-ours"), "FAILED")
    ref_calls, calls = moto_server.Requests(ref, service), moto_server.Requests(op, service)

    with moto_server.job_run_times_like_aws():
        expected = outcome(ref.execute, task_context())
        got = outcome(op.execute, task_context())
    return BothRuns(ref, op, ref_calls, calls, expected, got)
