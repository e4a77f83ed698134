"""Helpers of the conformance suite: operator flavours and a task instance that records XComs; the checks
every drop-in makes against the provider's class (class surface, constructed attributes, deferral), outcomes
in one comparable shape, provider triggers run for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_resumable.testing.context import FakeTaskInstance

FLAVOURS = ("provider", "durable", "not_durable")


class RecordingTaskInstance(FakeTaskInstance):
    """A fake task instance that records the XComs an operator pushes, in order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.xcoms: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcoms.append((key, value))


@dataclass
class Flavour:
    """One way to build an operator: the provider's class, or the drop-in (durable or not)."""

    name: str
    cls: type
    extra: dict[str, Any]

    @property
    def durable(self) -> bool:
        return self.name == "durable"

    def __call__(self, **kwargs: Any) -> Any:
        return self.cls(**{**kwargs, **self.extra})


def flavour(name: str, provider_cls: type, drop_in_cls: type) -> Flavour:
    if name == "provider":
        return Flavour(name, provider_cls, {})
    return Flavour(name, drop_in_cls, {} if name == "durable" else {"durable": False})


class SentBodies:
    """The JSON bodies of an AWS request exactly as an operator's client sent them (after every handler on
    the client changed them), in order: ``SentBodies(op, "before-call.batch.SubmitJob").sent``."""

    def __init__(self, op: Any, event: str) -> None:
        self.sent: list[dict[str, Any]] = []
        op.hook.conn.meta.events.register(event, self._note)

    def _note(self, params: dict[str, Any], **_: Any) -> None:
        body = params["body"]
        self.sent.append(json.loads(body.decode() if isinstance(body, bytes) else body))


def xcom_keys(context: dict[str, Any]) -> list[str]:
    """The keys of the XComs pushed in ``context``, in order."""
    return [key for key, _ in context["ti"].xcoms]


def operator_maker(
    flavour_name: str, provider_cls: type, drop_in_cls: type, args: Callable[..., dict[str, Any]]
) -> Any:
    """The ``make`` fixture of a conformance module: ``make(**overrides)`` builds this test's flavour from
    ``args(**overrides)``, ``make.provider(**overrides)`` the provider's class from the same arguments
    (the reference); ``make.durable`` and ``make.cls`` say which flavour it is."""
    chosen = flavour(flavour_name, provider_cls, drop_in_cls)

    def build(**kwargs: Any) -> Any:
        return chosen(**args(**kwargs))

    build.provider = lambda **kwargs: provider_cls(**args(**kwargs))  # type: ignore[attr-defined]
    build.durable = chosen.durable  # type: ignore[attr-defined]
    build.cls = chosen.cls  # type: ignore[attr-defined]
    return build


CLASS_SURFACE = ("template_fields", "template_fields_renderers", "template_ext", "ui_color", "ui_fgcolor")


def assert_class_surface_is_the_providers(
    op: Any, provider_cls: type, *, extra_link_types: bool = True
) -> None:
    """``op`` is an instance of the provider's class with its template fields, UI colours and (unless
    ``extra_link_types`` is off) extra links of the same types."""
    for name in CLASS_SURFACE:
        assert getattr(op, name) == getattr(provider_cls, name), name
    if extra_link_types:
        assert [type(link) for link in op.operator_extra_links] == [
            type(x) for x in provider_cls.operator_extra_links
        ]
    assert isinstance(op, provider_cls)


NOT_COMPARED = frozenset({"durable", "_log", "_BaseOperator__init_kwargs", "_BaseOperator__from_mapped"})
"""Instance attributes two operators built from the same arguments may differ in (``durable``: the drop-in's
own; the rest: Airflow's bookkeeping)."""


def constructed_attributes(op: Any, *ignore: str) -> dict[str, Any]:
    """``op``'s instance attributes as its constructor set them, but for ``NOT_COMPARED`` and ``ignore``."""
    skip = NOT_COMPARED | set(ignore)
    return {k: v for k, v in vars(op).items() if k not in skip}


def deferral(fn: Callable[..., Any], *args: Any) -> Any:
    """The ``TaskDeferred`` that ``fn(*args)`` raises (an operator's ``execute``); the test fails if none."""
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        fn(*args)
    return deferred.value


def assert_defers_as_the_provider(
    got: Any, expected: Any, trigger_cls: type, *ignore: str, method_kwargs: bool = True
) -> None:
    """A ``TaskDeferred`` (``got``) like the provider's (``expected``): the provider's trigger class with the
    same arguments but ``ignore`` (the job's ids), the same method to resume in, timeout and (unless
    ``method_kwargs`` is off) method kwargs."""
    assert isinstance(got.trigger, trigger_cls)
    assert trigger_kwargs(got.trigger, *ignore) == trigger_kwargs(expected.trigger, *ignore)
    if method_kwargs:
        assert (got.method_name, got.timeout, got.kwargs) == (
            expected.method_name,
            expected.timeout,
            expected.kwargs,
        )
    else:
        assert (got.method_name, got.timeout) == (expected.method_name, expected.timeout)


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("returned", value)`` or ``("raised", "<Type>: <message>")``: what a call did, comparably."""
    try:
        return "returned", fn(*args, **kwargs)
    except Exception as exc:
        return "raised", f"{type(exc).__name__}: {exc}"


def first_event(trigger: Any) -> dict[str, Any]:
    """Run a provider trigger for real (its aiobotocore client talks to the local AWS) until its first
    event."""

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(run())


def trigger_kwargs(trigger: Any, *ignore: str) -> tuple[str, dict[str, Any]]:
    """A trigger's class path and serialized arguments, without the ``ignore``d ones (job ids)."""
    path, kwargs = trigger.serialize()
    return path, {k: v for k, v in kwargs.items() if k not in ignore}
