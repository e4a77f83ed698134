"""Helpers of the EMR conformance tests: the two intended request differences taken out, triggers run
for real against the local AWS, outcomes (result or exception) in one comparable shape."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

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


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("returned", value)`` or ``("raised", "<Type>: <message>")``: what a call did, comparably."""
    try:
        return "returned", fn(*args, **kwargs)
    except Exception as exc:
        return "raised", f"{type(exc).__name__}: {exc}"


def first_event(trigger: Any) -> dict[str, Any]:
    """Run a provider trigger for real (its aiobotocore client talks to moto) until its first event."""

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def trigger_kwargs(trigger: Any, *ignore: str) -> tuple[str, dict[str, Any]]:
    """A trigger's class path and serialized arguments, without the ``ignore``d ones (job ids)."""
    path, kwargs = trigger.serialize()
    return path, {k: v for k, v in kwargs.items() if k not in ignore}
