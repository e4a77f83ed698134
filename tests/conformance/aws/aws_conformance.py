"""Helpers of the AWS job-family conformance tests: outcomes in one comparable shape, provider triggers
run for real against the local AWS (their aiobotocore clients reach moto through ``aws_default``)."""

from __future__ import annotations

import asyncio
from typing import Any


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("returned", value)`` or ``("raised", "<Type>: <message>")``: what a call did, comparably."""
    try:
        return "returned", fn(*args, **kwargs)
    except Exception as exc:
        return "raised", f"{type(exc).__name__}: {exc}"


def first_event(trigger: Any) -> dict[str, Any]:
    """Run a provider trigger for real until its first event."""

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def trigger_kwargs(trigger: Any, *ignore: str) -> tuple[str, dict[str, Any]]:
    """A trigger's class path and serialized arguments, without the ``ignore``d ones (job ids)."""
    path, kwargs = trigger.serialize()
    return path, {k: v for k, v in kwargs.items() if k not in ignore}
