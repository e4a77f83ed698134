"""Writes to the state stores: ARS008 (fixed asset key from a mapped task) and ARS011 (non-JSON value).

Asset state has no compare-and-set: every map index of a mapped task writing the same key races, and the
last writer wins. That holds for raw ``asset_state_store`` writes and for a ``Watermark`` without a
per-writer ``partition=`` (its key is fixed by the asset and the watermark's key). Both stores accept JSON
only and reject other values at run time, after the work is done.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str, get_arg
from airflow_resumable.lint.checks.base import Hit, Module, hit
from airflow_resumable.lint.checks.values import non_json_reason
from airflow_resumable.lint.stores import ASSET, ASSET_MAP, TASK

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import FuncInfo

__all__ = ["check", "mapped_names"]

_WRITES = {"set", "aset"}
_MAP_CALLS = {"expand", "expand_kwargs", "partial"}
_WRAPPERS = {"override", "partial"}
_STORE_NAMES = {TASK: "task_state_store", ASSET: "asset_state_store", ASSET_MAP: "asset_state_store"}
# Watermark methods that write the stored value (backfill() and the read-only properties do not).
_WATERMARK_WRITES = {"window", "advance", "rewind"}


def _task_ref(node: ast.expr) -> str | None:
    """``fn``, ``fn.override(...)`` and ``Op.partial(...)`` all refer to ``fn`` / ``Op``."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _WRAPPERS:
        node = node.func.value
    return node.id if isinstance(node, ast.Name) else None


def mapped_names(module: Module) -> set[str]:
    """Names of tasks, functions and operator classes that are mapped with ``.expand``/``.partial``."""
    aliases: dict[str, str] = {}
    assignments = list(module.index.consts.items())
    for scope in module.index.functions:
        assignments.extend(scope.assigns)
    for target, value in assignments:
        ref = _task_ref(value)
        if ref is not None and ref != target:
            aliases[target] = ref
    names: set[str] = set()
    for site in module.index.calls:
        func = site.node.func
        if not isinstance(func, ast.Attribute) or func.attr not in _MAP_CALLS:
            continue
        ref = _task_ref(func.value)
        if ref is not None:
            names.add(aliases.get(ref, ref))
        callable_ = get_arg(site.node, None, "python_callable")
        if func.attr == "partial" and isinstance(callable_, ast.Name):
            names.add(callable_.id)
    return names


def _mapped_owner(func: FuncInfo | None, mapped: set[str]) -> str | None:
    while func is not None:
        if func.name in mapped:
            return func.name
        if func.cls is not None and func.cls.node.name in mapped:
            return func.cls.node.name
        func = func.parent
    return None


def _fixed_key(module: Module, key: ast.expr | None) -> str | None:
    value = module.index.const_value(key)
    if isinstance(value, ast.JoinedStr) and all(isinstance(part, ast.Constant) for part in value.values):
        return "".join(str(part.value) for part in value.values if isinstance(part, ast.Constant))
    return const_str(value)


def _shared_watermark(module: Module, node: ast.expr, scope: FuncInfo | None) -> ast.Call | None:
    """The ``Watermark(...)`` call behind ``node`` when it has no per-writer ``partition=``, else None.

    ``node`` is the object a write method is called on: the constructor call itself, or a name bound to it
    in the enclosing functions or at module level.
    """
    value: ast.expr | None = node
    if isinstance(node, ast.Name):
        value = None
        while scope is not None and value is None:
            value = next((v for name, v in reversed(scope.assigns) if name == node.id), None)
            scope = scope.parent
        if value is None:
            value = module.index.consts.get(node.id)
    if not isinstance(value, ast.Call):
        return None
    name = module.index.resolve(value.func) or ""
    if not (name.startswith("airflow_resumable") and name.rpartition(".")[2] == "Watermark"):
        return None
    partition = get_arg(value, None, "partition")
    if partition is None or (isinstance(partition, ast.Constant) and partition.value is None):
        return value
    return value if const_str(module.index.const_value(partition)) is not None else None


def _watermark_hits(module: Module, mapped: set[str]) -> Iterator[Hit]:
    for site in module.index.calls:
        func = site.node.func
        if not isinstance(func, ast.Attribute) or func.attr not in _WATERMARK_WRITES:
            continue
        owner = _mapped_owner(site.func, mapped)
        if owner is None:
            continue
        shared = _shared_watermark(module, func.value, site.func)
        if shared is None:
            continue
        partition = get_arg(shared, None, "partition")
        unset = partition is None or (isinstance(partition, ast.Constant) and partition.value is None)
        how = "without partition=" if unset else "with a fixed partition="
        asset = ast.unparse(shared.args[0]) if shared.args else "..."
        yield hit(
            site.node,
            "ARS008",
            f"mapped task {owner} moves Watermark({asset}) {how}: every map index commits the same key "
            "and the last writer wins",
        )


def check(module: Module) -> Iterator[Hit]:
    """Report non-JSON values written to a store, and fixed asset keys written by mapped tasks."""
    mapped: set[str] | None = None
    if "Watermark" in module.source:
        mapped = mapped_names(module)
        yield from _watermark_hits(module, mapped)
    for site in module.index.calls:
        call = site.node
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in _WRITES:
            continue
        kind = module.stores.kind(call.func.value, site.func)
        if kind is None:
            continue
        store = _STORE_NAMES[kind]
        value = get_arg(call, 1, "value")
        problem = non_json_reason(module.index, value) if value is not None else None
        if problem is not None:
            outcome = (
                "which is not JSON: the store rejects it at run time"
                if problem.refused
                else "which is not JSON: Airflow stores it as null, silently"
            )
            yield hit(call, "ARS011", f"{store}.{call.func.attr}() is given {problem.reason}, {outcome}")
        if kind == TASK:
            continue
        key = _fixed_key(module, get_arg(call, 0, "key"))
        if key is None:
            continue
        if mapped is None:
            mapped = mapped_names(module)
        owner = _mapped_owner(site.func, mapped)
        if owner is not None:
            yield hit(
                call,
                "ARS008",
                f"mapped task {owner} writes the fixed asset state key {key!r}: every map "
                "index writes the same row and the last writer wins",
            )
