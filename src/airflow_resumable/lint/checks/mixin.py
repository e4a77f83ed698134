"""Operators built on ``ResumableJobMixin``: ARS005, ARS006, ARS007 and ARS010.

The mixin only helps when ``execute()`` returns ``self.execute_resumable(context)`` (ARS005), when it is
listed before the operator base (ARS006: the other order fails to construct on Airflow 3.3), when
``submit_job`` always returns an id (ARS007: a None id is never stored), and when ``external_id_key`` stays
the same across deployments (ARS010: in-flight retries look the id up under the key they stored it with).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str, dotted, own_nodes
from airflow_resumable.lint.baseline import external_id_keys, previous_keys
from airflow_resumable.lint.checks.base import Hit, Module, hit
from airflow_resumable.lint.classes import ClassGraph
from airflow_resumable.lint.flow import is_generator, terminates

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.lint.index import ClassInfo

__all__ = ["check"]

DEFAULT_KEY = "remote_job_id"


def _is_abstract(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any((dotted(d) or "").endswith("abstractmethod") for d in func.decorator_list)


def _is_stub(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True for a body that is only a docstring and/or ``...`` (an interface, not an implementation)."""
    body = func.body
    if body and isinstance(body[0], ast.Expr) and const_str(body[0].value) is not None:
        body = body[1:]
    return not body or (
        len(body) == 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and body[0].value.value is Ellipsis
    )


def _call_attr(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Await):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if node.func.attr == "execute" and not (
            isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super"
        ):
            return None
        return node.func.attr
    return None


def _check_execute(classes: ClassGraph, cls: ClassInfo) -> Iterator[Hit]:
    execute = cls.methods.get("execute")
    if execute is None:
        abstract = cls.node.name.startswith(("Base", "Abstract")) or any(
            _is_abstract(method) for method in cls.methods.values()
        )
        if (
            classes.direct(cls)
            and classes.operator(cls)
            and not abstract
            and not classes.local_ancestor_defines(cls, "execute")
        ):
            yield hit(
                cls.node,
                "ARS005",
                f"{cls.node.name} uses ResumableJobMixin but defines no execute(), so "
                "execute_resumable() never runs and a retry submits a fresh job",
            )
        return
    nodes = list(own_nodes(execute))
    returned = {_call_attr(node.value) for node in nodes if isinstance(node, ast.Return)}
    if returned & {"execute_resumable", "execute"}:
        return
    called = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "execute_resumable"
        for node in nodes
    )
    via_instance = any(
        isinstance(node, ast.Return)
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "self"
        for node in nodes
    )
    if called and via_instance:
        return  # the result is kept on the instance and returned from there (as the AWS operators do)
    if called:
        message = "calls execute_resumable() but does not return its result: the job result is lost"
    else:
        message = "does not return self.execute_resumable(context), so the reconnect on retry is bypassed"
    yield hit(execute, "ARS005", f"{cls.node.name}.execute() {message}")


def _check_submit(cls: ClassInfo) -> Iterator[Hit]:
    submit = cls.methods.get("submit_job")
    if submit is None or _is_abstract(submit) or _is_stub(submit) or is_generator(submit):
        return
    for node in own_nodes(submit):
        if isinstance(node, ast.Return) and (
            node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            yield hit(
                node,
                "ARS007",
                f"{cls.node.name}.submit_job() returns None here: the job id is not "
                "stored, so crash safety is silently off",
            )
    if not terminates(submit.body):
        yield hit(
            submit,
            "ARS007",
            f"{cls.node.name}.submit_job() can reach its end without a return and "
            "give None: the job id is not stored, so crash safety is silently off",
        )


def _check_bases(classes: ClassGraph, cls: ClassInfo) -> Iterator[Hit]:
    bases = cls.node.bases
    mixin_at = next((i for i, base in enumerate(bases) if classes.is_mixin_base(base)), None)
    if mixin_at is None:
        return
    for base in bases[:mixin_at]:
        local = classes.local_base(base)
        if classes.is_operator_base(base) and not (local is not None and classes.resumable(local)):
            yield hit(
                cls.node,
                "ARS006",
                f"{cls.node.name} lists {ast.unparse(base)} before "
                f"{ast.unparse(bases[mixin_at])}: on Airflow 3.3 construction fails with TypeError: "
                "object.__init__() takes exactly one argument",
            )
            return


def _check_renames(module: Module, classes: ClassGraph) -> Iterator[Hit]:
    baseline = module.baseline
    if not baseline:
        return
    seen: set[str] = set()
    for full, key, cls in external_id_keys(module.index, module.name):
        seen.add(full)
        old = baseline.get(full)
        if old is not None and old != key and old in previous_keys(cls) and classes.upstream_only(cls):
            yield hit(
                cls.attr_nodes["previous_external_id_keys"],
                "ARS010",
                f"{cls.node.name} lists its old key {old!r} in previous_external_id_keys, but Airflow's "
                "ResumableJobMixin never reads that attribute: retries in flight still miss the stored id",
            )
        elif old is not None and old != key and old not in previous_keys(cls):
            yield hit(
                cls.attr_nodes["external_id_key"],
                "ARS010",
                f"{cls.node.name}.external_id_key changed from "
                f"{old!r} to {key!r}: retries already in flight look for the job id under {old!r}",
            )
    for cls in module.index.classes:
        full = f"{module.name}.{cls.qualname}"
        old = baseline.get(full)
        if full in seen or old is None or not classes.direct(cls):
            continue
        if old != DEFAULT_KEY and old not in previous_keys(cls):
            yield hit(
                cls.node,
                "ARS010",
                f"{cls.node.name} no longer sets external_id_key ({old!r} before, "
                f"{DEFAULT_KEY!r} now): retries already in flight look for the job id under {old!r}",
            )


def check(module: Module) -> Iterator[Hit]:
    """Check every class that derives from ResumableJobMixin (directly or through a class in this file)."""
    if not module.index.classes:
        return
    classes = ClassGraph(module.index)
    yield from _check_renames(module, classes)
    for cls in module.index.classes:
        yield from _check_bases(classes, cls)
        if classes.resumable(cls):
            yield from _check_execute(classes, cls)
            yield from _check_submit(cls)
        elif "external_id_key" in cls.attrs:
            yield from _check_submit(cls)
