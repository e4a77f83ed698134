"""ARS009: a task that relies on resuming, configured so that it never gets a second try.

Stored progress is only read back by a later try of the same task instance; with ``retries=0`` (on the
task, the operator, or the DAG's ``default_args``) that try never comes. Neither does it when retries are
never set: Airflow's default is 0 unless ``[core] default_task_retries`` says otherwise. That setting lives
in the deployment's configuration, which a static check cannot see, so the message says so; a task is only
reported for a missing ``retries`` when every place that could set it is visible in the file (the task or
operator arguments, ``.override(...)`` calls, and the DAG's ``default_args`` as a literal).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str, get_arg, is_false, is_zero, own_nodes
from airflow_resumable.lint.checks.base import Hit, Module, hit
from airflow_resumable.lint.classes import ClassGraph

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import CallSite, DagInfo, FuncInfo

__all__ = ["check"]

_DURABLE_OPERATORS = {
    "DatabricksSubmitRunOperator",
    "DatabricksRunNowOperator",
    "GlueJobOperator",
    "RedshiftDataOperator",
}
_HELPERS = ("Checkpointer", "Watermark")
_STORE_KEYS = {"task_state_store"}
# Reasons that only pay off on a retry of the same task instance: reported even when retries are never
# set. A Watermark commits for the next run and raw task_state_store may serve other purposes (a clear, the
# UI), so those are only reported for an explicit retries=0.
_NEEDS_RETRIES = {
    "uses Checkpointer",
    "is a ResumableJobMixin operator",
    "is a durable operator",
}
_NEVER_SET = (
    "never sets retries: Airflow's default is 0 unless [core] default_task_retries is set in the "
    "deployment (not visible here), so there may be no later try to resume"
)


def _helper(module: Module, node: ast.AST) -> str | None:
    if isinstance(node, ast.Name | ast.Attribute):
        name = module.index.resolve(node) or ""
        last = name.rpartition(".")[2]
        if name.startswith("airflow_resumable") and (last in _HELPERS or last.endswith("Operator")):
            return last
    return None


def _own_reason(module: Module, func: FuncInfo) -> str | None:
    if module.stores.uses_task_store(func):
        return "uses task_state_store"
    for node in own_nodes(func.node):
        if isinstance(node, ast.Constant) and node.value in _STORE_KEYS:
            return "uses task_state_store"
        helper = _helper(module, node)
        if helper is not None:
            return f"uses {helper}"
    return None


def _func_reasons(module: Module) -> dict[int, str]:
    """Why each function relies on resume (its own code or a nested function's), by ``id()``."""
    uses_helpers = any(origin.startswith("airflow_resumable") for origin in module.index.imports.values())
    if not uses_helpers and "task_state_store" not in module.source:
        return {}
    reasons: dict[int, str] = {}
    for func in module.index.functions:
        reason = _own_reason(module, func)
        scope: FuncInfo | None = func
        while reason is not None and scope is not None and id(scope) not in reasons:
            reasons[id(scope)] = reason
            scope = scope.parent
    return reasons


def _dag_retries_zero(module: Module, dag: DagInfo | None) -> bool:
    if dag is not None:
        return is_zero(dag.retries)
    dags = module.index.dags
    return bool(dags) and all(is_zero(d.retries) for d in dags)


def _dag_leaves_retries_unset(module: Module, dag: DagInfo | None) -> bool:
    """True when the DAG (for a task outside one: every DAG in the file) provably sets no retries."""
    dags = [dag] if dag is not None else module.index.dags
    return (
        bool(dags)
        and all(_no_retries_in_default_args(module, d) for d in dags)
        and not _group_default_args(module)
    )


def _group_default_args(module: Module) -> bool:
    """Whether a task group passes its own default_args (merged into its tasks': not followed here)."""
    for site in module.index.calls:
        name = (module.index.resolve(site.node.func) or "").rpartition(".")[2]
        if name in ("TaskGroup", "task_group") and any(k.arg == "default_args" for k in site.node.keywords):
            return True
    return False


def _no_retries_in_default_args(module: Module, dag: DagInfo) -> bool:
    if dag.retries is not None or not dag.default_args_known:
        return False
    given = get_arg(dag.node, None, "default_args") if isinstance(dag.node, ast.Call) else None
    if isinstance(given, ast.Name):  # a module-level dict: changed later in the file?
        name = given.id
        if any(f"{name}{edit}" in module.source for edit in ("[", ".update(", ".setdefault(", " |=")):
            return False
    return True


def _overridden_retries(module: Module) -> set[str]:
    """Names of tasks given ``retries`` somewhere through ``name.override(retries=...)``."""
    names: set[str] = set()
    for site in module.index.calls:
        func = site.node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "override"
            and isinstance(func.value, ast.Name)
            and any(k.arg in ("retries", None) for k in site.node.keywords)
        ):
            names.add(func.value.id)
    return names


def _operator_reason(
    module: Module, classes: ClassGraph, reasons: dict[str, str], call: ast.Call
) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "override":
        return reasons.get(func.value.id) if isinstance(func.value, ast.Name) else None
    if isinstance(func, ast.Attribute) and func.attr == "partial":
        func = func.value
    name = module.index.resolve(func) or ""
    last = name.rpartition(".")[2]
    local = classes.local.get(name)
    if local is not None and classes.resumable(local):
        reason: str | None = "is a ResumableJobMixin operator"
    elif last in _DURABLE_OPERATORS or (name.startswith("airflow_resumable") and last.endswith("Operator")):
        reason = "is a durable operator"
    else:
        callable_ = get_arg(call, None, "python_callable")
        reason = reasons.get(callable_.id) if isinstance(callable_, ast.Name) else None
    if reason is None or is_false(get_arg(call, None, "durable")):
        return None
    deferrable = get_arg(call, None, "deferrable")
    if last in _DURABLE_OPERATORS and isinstance(deferrable, ast.Constant) and deferrable.value is True:
        return None
    return reason


def _report(
    module: Module,
    owner: ast.Call | None,
    anchor: ast.stmt | ast.expr,
    dag: DagInfo | None,
    what: str,
    reason: str,
    *,
    set_elsewhere: bool = False,
) -> Iterator[Hit]:
    keyword = next((k for k in owner.keywords if k.arg == "retries"), None) if owner is not None else None
    opaque = owner is not None and any(k.arg in (None, "default_args") for k in owner.keywords)
    if keyword is not None:
        if is_zero(keyword.value):
            yield hit(
                keyword, "ARS009", f"{what} {reason} but sets retries=0: there is no later try to resume"
            )
    elif _dag_retries_zero(module, dag):
        yield hit(
            anchor,
            "ARS009",
            f"{what} {reason} but the DAG's default_args set retries=0: there is no later try to resume",
        )
    elif (
        reason in _NEEDS_RETRIES
        and not opaque
        and not set_elsewhere
        and _dag_leaves_retries_unset(module, dag)
    ):
        yield hit(anchor, "ARS009", f"{what} {reason} but {_NEVER_SET}")


def check(module: Module) -> Iterator[Hit]:
    """Report resumable tasks and operators that run with ``retries=0`` or never set retries."""
    by_id = _func_reasons(module)
    reasons: dict[str, str] = {}
    overridden = _overridden_retries(module) if by_id else set()
    for func in module.index.functions:
        reason = by_id.get(id(func))
        if reason is None:
            continue
        reasons.setdefault(func.name, reason)
        if func.is_task:
            given = const_str(get_arg(func.task_call, None, "task_id")) if func.task_call else None
            yield from _report(
                module,
                func.task_call,
                func.node,
                func.dag,
                f"task {given or func.name}",
                reason,
                set_elsewhere=func.name in overridden,
            )
    classes = ClassGraph(module.index)
    for site in module.index.calls:
        yield from _check_call(module, classes, reasons, site)


def _check_call(
    module: Module, classes: ClassGraph, reasons: dict[str, str], site: CallSite
) -> Iterator[Hit]:
    call = site.node
    reason = _operator_reason(module, classes, reasons, call)
    if reason is None:
        return
    if isinstance(call.func, ast.Attribute) and call.func.attr == "override":
        keyword = next((k for k in call.keywords if k.arg == "retries"), None)
        if keyword is not None and is_zero(keyword.value):
            yield hit(
                keyword,
                "ARS009",
                f"task {ast.unparse(call.func.value)} {reason} but is overridden with "
                "retries=0: there is no later try to resume",
            )
        return
    task_id = const_str(get_arg(call, None, "task_id"))
    what = f"task {task_id}" if task_id else ast.unparse(call.func)
    yield from _report(module, call, call, site.dag, what, reason)
