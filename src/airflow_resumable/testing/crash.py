"""Crash a task on purpose, run it again, and see what each try did.

This is how a DAG author proves, in a plain unit test, that their own task resumes:

```python
from airflow_resumable.testing import after_call, crash_and_retry

report = crash_and_retry(my_task, crash=after_call("my_dags.orders.load_row", 3))
assert report.tries[0].outcome == "crashed"
assert report.tries[1].calls == 7          # 10 rows, 3 done before the crash: no redo
```

Try 1 runs with the crash armed; later tries run with the same stores (as Airflow's retries do) until one
succeeds or ``tries`` is reached. A *hard* crash (the default) stands for a killed worker: the try stops at
that point and nothing it would still write on the way out reaches the store. A soft crash raises an
ordinary exception, so ``finally`` blocks and context managers do write, as after a Python error.
"""

from __future__ import annotations

import asyncio
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from unittest import mock

from airflow_resumable.testing.context import make_context, task_context
from airflow_resumable.testing.stores import InMemoryStateBackend

__all__ = [
    "CrashPoint",
    "RetryReport",
    "SimulatedCrash",
    "TryReport",
    "after_call",
    "before_call",
    "crash_and_retry",
    "on_write",
]

_WRITES = frozenset({"set", "delete", "clear", "aset", "adelete", "aclear"})


class SimulatedCrash(BaseException):
    """The worker died here.

    A ``BaseException``, so that ``except Exception`` in task code cannot swallow it.
    """


class SimulatedError(RuntimeError):
    """An ordinary task failure injected by a soft crash point."""


@dataclass(frozen=True)
class CrashPoint:
    """Where try 1 dies: ``after_call``/``before_call`` of ``target`` (its Nth call) or ``on_write`` N."""

    kind: Literal["after_call", "before_call", "on_write"]
    n: int
    target: str | None = None
    hard: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"crash point n must be >= 1, got {self.n}")


def after_call(target: str, n: int = 1, *, hard: bool = True) -> CrashPoint:
    """Crash right after the ``n``-th call of ``target`` (``"package.module.function"``) returns."""
    return CrashPoint("after_call", n, target, hard)


def before_call(target: str, n: int = 1, *, hard: bool = True) -> CrashPoint:
    """Crash when ``target`` is called for the ``n``-th time, before it runs."""
    return CrashPoint("before_call", n, target, hard)


def on_write(n: int, *, hard: bool = True) -> CrashPoint:
    """Crash at the ``n``-th write (set/delete/clear) to a state store; that write is not stored."""
    return CrashPoint("on_write", n, None, hard)


@dataclass
class TryReport:
    """What one try did."""

    try_number: int
    outcome: Literal["crashed", "failed", "success"]
    error: BaseException | None
    calls: int
    """Calls of the crash point's target during this try (0 when the crash point has no target)."""
    writes: int
    """Writes to the state stores that reached them during this try."""
    result: Any
    task_state: dict[str, Any] = field(default_factory=dict)
    """The task store's keys and raw values after this try."""


@dataclass
class RetryReport:
    """Every try, in order, and the shared backend the tries wrote to."""

    tries: list[TryReport]
    backend: InMemoryStateBackend

    @property
    def succeeded(self) -> bool:
        """Whether the last try succeeded."""
        return bool(self.tries) and self.tries[-1].outcome == "success"

    @property
    def result(self) -> Any:
        """The return value of the last try (``None`` if it did not succeed)."""
        return self.tries[-1].result if self.tries else None


class _Fuse:
    """Counts writes and target calls for one try, and trips the crash."""

    def __init__(self, crash: CrashPoint | None) -> None:
        self.crash = crash
        self.calls = 0
        self.writes = 0
        self.dead = False

    def trip(self) -> None:
        assert self.crash is not None
        if self.crash.hard:
            self.dead = True
            raise SimulatedCrash(f"simulated worker crash ({self.crash.kind} #{self.crash.n})")
        raise SimulatedError(f"simulated failure ({self.crash.kind} #{self.crash.n})")

    def before_write(self) -> bool:
        """Return False if the write must be dropped (the worker is dead)."""
        if self.dead:
            return False
        if self.crash is not None and self.crash.kind == "on_write" and self.writes + 1 == self.crash.n:
            self.trip()
        self.writes += 1
        return True


class _StoreProxy:
    def __init__(self, inner: Any, fuse: _Fuse) -> None:
        self._inner, self._fuse = inner, fuse

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in _WRITES:
            return attr
        fuse = self._fuse
        if inspect.iscoroutinefunction(attr):

            async def async_write(*args: Any, **kwargs: Any) -> Any:
                if fuse.before_write():
                    return await attr(*args, **kwargs)
                return None

            return async_write

        def write(*args: Any, **kwargs: Any) -> Any:
            if fuse.before_write():
                return attr(*args, **kwargs)
            return None

        return write

    def __getitem__(self, key: Any) -> Any:
        return _StoreProxy(self._inner[key], self._fuse)

    def __repr__(self) -> str:
        return repr(self._inner)


def _patch_target(fuse: _Fuse) -> Any:
    crash = fuse.crash
    if crash is None or crash.target is None:
        return None
    original = pkgutil.resolve_name(crash.target)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if fuse.dead:
            raise SimulatedCrash("the worker is already dead")
        fuse.calls += 1
        armed = fuse.crash is not None and fuse.calls == crash.n
        if armed and crash.kind == "before_call":
            fuse.trip()
        result = original(*args, **kwargs)
        if armed and crash.kind == "after_call":
            fuse.trip()
        return result

    return mock.patch(crash.target, new=wrapper)


def _invoke(fn: Callable[..., Any], context: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    fn = getattr(fn, "function", fn)  # an @task-decorated function: call the plain function
    params = inspect.signature(fn).parameters
    call_kwargs = dict(kwargs)
    takes_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in params:
        if name == "context" and "context" not in context:
            call_kwargs.setdefault("context", context)
        elif name in context:
            call_kwargs.setdefault(name, context[name])
    if takes_var_kw:
        for name, value in context.items():
            call_kwargs.setdefault(name, value)
    result = fn(**call_kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def crash_and_retry(
    fn: Callable[..., Any],
    crash: CrashPoint,
    *,
    tries: int = 2,
    backend: InMemoryStateBackend | None = None,
    kwargs: dict[str, Any] | None = None,
    **context_kwargs: Any,
) -> RetryReport:
    """Run ``fn`` as try 1 with ``crash`` armed, then again as try 2.. with the same stores.

    ``fn`` receives, by parameter name, ``context`` and any context key (``task_state_store``, ``ti``,
    ``params``...), plus ``kwargs``; it also runs with the context installed as current, so helpers that
    look it up find it. ``context_kwargs`` go to
    [`make_context()`][airflow_resumable.testing.context.make_context] (``dag_id``, ``map_index``, ``inlets``,
    ``outlets``...). Stops at the first successful try.
    """
    backend = backend or InMemoryStateBackend()
    reports: list[TryReport] = []
    for try_number in range(1, tries + 1):
        fuse = _Fuse(crash if try_number == 1 else None)
        if try_number > 1 and crash.target is not None:
            fuse.crash = CrashPoint(crash.kind, 10**12, crash.target, crash.hard)  # count calls only
        context = make_context(backend=backend, try_number=try_number, **context_kwargs)
        context["task_state_store"] = _StoreProxy(context["task_state_store"], fuse)
        context["asset_state_store"] = _StoreProxy(context["asset_state_store"], fuse)
        patcher = _patch_target(fuse)
        outcome: Literal["crashed", "failed", "success"] = "success"
        error: BaseException | None = None
        result: Any = None
        try:
            if patcher is not None:
                patcher.start()
            with task_context(context):
                result = _invoke(fn, context, dict(kwargs or {}))
        except SimulatedCrash as exc:
            outcome, error = "crashed", exc
        except Exception as exc:
            outcome, error = "failed", exc
        finally:
            if patcher is not None:
                patcher.stop()
        store = make_context(backend=backend, **context_kwargs)["task_state_store"]
        state = {key: store.get(key) for key in store.keys()}  # noqa: SIM118 - not a dict
        reports.append(TryReport(try_number, outcome, error, fuse.calls, fuse.writes, result, state))
        if outcome == "success":
            break
    return RetryReport(reports, backend)
