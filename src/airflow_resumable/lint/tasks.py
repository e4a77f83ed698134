"""Which functions run as (part of) an Airflow task.

Rules about "state inside a task" only make sense for code that runs on a worker. A function counts when it
is a ``@task``, an operator method that runs in the task (``execute``, ``poke``, the ResumableJobMixin
hooks), takes the task context (``context``, ``ti``, ``**kwargs``, a state store...), calls
``get_current_context()``, is passed as ``python_callable`` or a callback, sits inside such a function, or
is called by name from one in the same module.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_resumable.lint.index import FuncInfo, ModuleIndex

__all__ = ["task_functions"]

_METHODS = {
    "execute",
    "execute_complete",
    "poke",
    "pre_execute",
    "post_execute",
    "on_kill",
    "submit_job",
    "get_job_status",
    "poll_until_complete",
    "get_job_result",
}
_PARAMS = {
    "context",
    "ti",
    "task_instance",
    "task_state_store",
    "asset_state_store",
    "dag_run",
    "run_id",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "params",
    "ds",
    "ts",
}
_VARKW = {"context", "kwargs", "ctx", "kw"}
_CALLABLE_KWARGS = {
    "python_callable",
    "on_failure_callback",
    "on_success_callback",
    "on_retry_callback",
    "on_execute_callback",
    "on_skipped_callback",
}


def _seed(func: FuncInfo) -> bool:
    if func.is_task or (func.cls is not None and func.name in _METHODS):
        return True
    args = func.node.args
    return bool(_PARAMS.intersection(func.params())) or (args.kwarg is not None and args.kwarg.arg in _VARKW)


def task_functions(index: ModuleIndex) -> set[int]:
    """Return the ``id()`` of every [`FuncInfo`][airflow_resumable.lint.index.FuncInfo] in ``index`` that runs
    as part of a task."""
    by_name: dict[str, list[FuncInfo]] = {}
    for func in index.functions:
        by_name.setdefault(func.name, []).append(func)
    found = {id(func) for func in index.functions if _seed(func)}
    callees: dict[int, set[str]] = {}
    for site in index.calls:
        call = site.node
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            name = call.func.attr if call.func.value.id in ("self", "cls") else None
        if name == "get_current_context" and site.func is not None:
            found.add(id(site.func))
        elif name is not None and site.func is not None:
            callees.setdefault(id(site.func), set()).add(name)
        for keyword in call.keywords:
            if keyword.arg in _CALLABLE_KWARGS:
                values = (
                    keyword.value.elts if isinstance(keyword.value, ast.List | ast.Tuple) else [keyword.value]
                )
                for value in values:
                    if isinstance(value, ast.Name):
                        found.update(id(func) for func in by_name.get(value.id, ()))
    called: set[str] = set()
    for func_id in found:
        called |= callees.get(func_id, set())
    changed = True
    while changed:  # rounds are bounded by the nesting and call depth
        changed = False
        for func in index.functions:
            if id(func) in found:
                continue
            if (func.parent is not None and id(func.parent) in found) or func.name in called:
                found.add(id(func))
                called |= callees.get(id(func), set())
                changed = True
    return found
