"""ARS002: a task reading back its own XCom, as if it survived to the next attempt.

Airflow 3 clears a task instance's XComs before each attempt, so a job id or cursor a task pushed for
itself is gone exactly when a retry needs it. ``xcom_pull`` without ``task_ids`` reads the running task's
own XCom (task-sdk fills in the current task id), as does pulling with the task's own id.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str, get_arg
from airflow_resumable.lint.checks.base import Hit, Module, hit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import FuncInfo

__all__ = ["check"]

_PULLS = {"xcom_pull", "axcom_pull"}
_OWN_NAMES = {"self", "ti", "task_instance"}
_OWN_KEYS = {"ti", "task_instance", "task"}


def _own_task_id(func: FuncInfo | None) -> str | None:
    while func is not None:
        if func.is_task:
            given = const_str(get_arg(func.task_call, None, "task_id")) if func.task_call else None
            return given or func.name
        func = func.parent
    return None


def _is_own_task_id_attr(node: ast.expr, receiver: ast.expr) -> bool:
    """True for ``ti.task_id``, ``self.task_id``, ``context["ti"].task_id`` and the like."""
    if not isinstance(node, ast.Attribute) or node.attr != "task_id":
        return False
    owner = node.value
    if isinstance(owner, ast.Name):
        return owner.id in _OWN_NAMES or (isinstance(receiver, ast.Name) and receiver.id == owner.id)
    if isinstance(owner, ast.Subscript):
        return const_str(owner.slice) in _OWN_KEYS
    return False


def _reads_other_run(call: ast.Call) -> bool:
    prior = get_arg(call, 3, "include_prior_dates")
    if prior is not None and not (isinstance(prior, ast.Constant) and not prior.value):
        return True
    dag_id = get_arg(call, 1, "dag_id")
    run_id = get_arg(call, None, "run_id")
    return any(
        arg is not None and not (isinstance(arg, ast.Constant) and arg.value is None)
        for arg in (dag_id, run_id)
    )


def check(module: Module) -> Iterator[Hit]:
    """Report ``xcom_pull`` calls inside a function that read the running task instance's own XCom."""
    for site in module.index.calls:
        call = site.node
        if (
            not isinstance(call.func, ast.Attribute)
            or call.func.attr not in _PULLS
            or not module.in_task(site.func)
        ):
            continue
        if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            continue
        if _reads_other_run(call):
            continue
        task_ids = get_arg(call, 0, "task_ids")
        if task_ids is None or (isinstance(task_ids, ast.Constant) and task_ids.value is None):
            how = "without task_ids"
        elif _is_own_task_id_attr(task_ids, call.func.value):
            how = "with the task's own task_id"
        elif const_str(task_ids) is not None and const_str(task_ids) == _own_task_id(site.func):
            how = f"with the task's own id {const_str(task_ids)!r}"
        else:
            continue
        yield hit(
            call,
            "ARS002",
            f"{call.func.attr}() {how} reads this task instance's own XCom, which "
            "Airflow 3 clears before each attempt: a job id or cursor kept there is lost on retry",
        )
