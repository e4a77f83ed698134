"""ARS004: an operator submits a job without waiting, and a sensor waits on that same job.

The submit task turns green when the job is accepted, not when it succeeds, and a retry of the submit
starts a second job. Operators that do not wait by default (``EmrAddStepsOperator``) count as not waiting.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, NamedTuple

from airflow_resumable.lint.astutil import const_str, get_arg, is_false
from airflow_resumable.lint.checks.base import Hit, Module, hit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import CallSite

__all__ = ["check"]

_WAIT_KWARGS = ("wait_for_termination", "wait_for_completion")
_NO_WAIT_BY_DEFAULT = {"EmrAddStepsOperator"}
_MAP_CALLS = {"expand", "expand_kwargs"}


class _Submit(NamedTuple):
    call: ast.Call
    operator: str
    wait: str
    target: str | None
    task_id: str | None


def _callee(module: Module, call: ast.Call) -> str:
    """Class name of ``Op(...)``, ``Op.partial(...)`` and ``Op.partial(...).expand(...)``."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in _MAP_CALLS and isinstance(func.value, ast.Call):
        return _callee(module, func.value)
    if isinstance(func, ast.Attribute) and func.attr == "partial":
        func = func.value
    name = module.index.resolve(func)
    return "" if name is None else name.rpartition(".")[2]


def _is_map_call(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in _MAP_CALLS


def _submit(module: Module, site: CallSite, target: str | None) -> _Submit | None:
    call = site.node
    deferrable = get_arg(call, None, "deferrable")
    if isinstance(deferrable, ast.Constant) and deferrable.value is True:
        return None
    operator = _callee(module, call)
    waits = {name: get_arg(call, None, name) for name in _WAIT_KWARGS}
    explicit = [name for name, value in waits.items() if is_false(value)]
    if explicit:
        wait = f"with {explicit[0]}=False"
    elif operator in _NO_WAIT_BY_DEFAULT and all(value is None for value in waits.values()):
        wait = "(which does not wait by default)"
    else:
        return None
    return _Submit(call, operator or "the operator", wait, target, const_str(get_arg(call, None, "task_id")))


def _refers_to(sensor: ast.Call, submit: _Submit) -> bool:
    quoted = (f"'{submit.task_id}'", f'"{submit.task_id}"') if submit.task_id else ()
    for value in [*sensor.args, *(keyword.value for keyword in sensor.keywords)]:
        for node in ast.walk(value):
            if isinstance(node, ast.Name) and submit.target is not None and node.id == submit.target:
                return True
            text = const_str(node) if isinstance(node, ast.Constant) else None
            if (
                text is not None
                and submit.task_id
                and (text == submit.task_id or any(q in text for q in quoted))
            ):
                return True
    return False


def check(module: Module) -> Iterator[Hit]:
    """Report non-waiting submits that a sensor in the same file watches."""
    mapped_targets: dict[int, str | None] = {}
    for site in module.index.calls:
        func = site.node.func
        if isinstance(func, ast.Attribute) and func.attr in _MAP_CALLS and isinstance(func.value, ast.Call):
            mapped_targets[id(func.value)] = site.target
    submits: list[_Submit] = []
    sensors: list[tuple[ast.Call, str]] = []
    for site in module.index.calls:
        name = _callee(module, site.node)
        if name.endswith("Sensor"):
            sensors.append((site.node, name))
            continue
        if _is_map_call(site.node):  # the partial() inside carries the arguments
            continue
        found = _submit(module, site, mapped_targets.get(id(site.node), site.target))
        if found is not None:
            submits.append(found)
    for submit in submits:
        for sensor, sensor_name in sensors:
            if _refers_to(sensor, submit):
                yield hit(
                    submit.call,
                    "ARS004",
                    f"{submit.operator} {submit.wait} only submits "
                    f"the job and {sensor_name} waits for it: the submit is green when the job is "
                    "accepted, not when it succeeds, and a retry of it submits again",
                )
                break
