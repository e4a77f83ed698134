"""Helpers of the conformance suite: operator flavours and a task instance that records XComs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def xcom_keys(context: dict[str, Any]) -> list[str]:
    """The keys of the XComs pushed in ``context``, in order."""
    return [key for key, _ in context["ti"].xcoms]
