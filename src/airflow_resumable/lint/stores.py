"""Which expressions are AIP-103 state stores, following simple aliases.

Recognised: a ``task_state_store`` / ``asset_state_store`` parameter, ``context["task_state_store"]``
(any mapping: ``kwargs[...]``, ``get_current_context()[...]``), ``context.get("task_state_store")``,
``asset_state_store[ASSET]`` accessors, and names bound to any of these in the same or an enclosing function.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Literal

from airflow_resumable.lint.astutil import const_str

if TYPE_CHECKING:
    from airflow_resumable.lint.index import FuncInfo, ModuleIndex

__all__ = ["ASSET", "ASSET_MAP", "TASK", "StoreKind", "StoreResolver"]

StoreKind = Literal["task", "asset_map", "asset"]
TASK: StoreKind = "task"
ASSET_MAP: StoreKind = "asset_map"
ASSET: StoreKind = "asset"
_CONTEXT_KEYS: dict[str, StoreKind] = {"task_state_store": TASK, "asset_state_store": ASSET_MAP}


class StoreResolver:
    """Classify expressions as a task store, the asset store mapping, or one asset's accessor."""

    def __init__(self, index: ModuleIndex) -> None:
        self._index = index
        self._scopes: dict[int, dict[str, StoreKind | None]] = {}

    def kind(self, expr: ast.expr, func: FuncInfo | None) -> StoreKind | None:
        """Return what kind of store ``expr`` evaluates to inside ``func``, or None when it is not one."""
        if isinstance(expr, ast.Name):
            return self._name_kind(expr.id, func)
        if isinstance(expr, ast.Subscript):
            key = const_str(expr.slice)
            if key is not None and key in _CONTEXT_KEYS:
                return _CONTEXT_KEYS[key]
            return ASSET if self.kind(expr.value, func) == ASSET_MAP else None
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get":
            key = const_str(expr.args[0]) if expr.args else None
            return _CONTEXT_KEYS.get(key) if key is not None else None
        return None

    def uses_task_store(self, func: FuncInfo) -> bool:
        """True when ``func`` takes a ``task_state_store`` parameter or binds the task store to a name."""
        return TASK in self._aliases(func).values()

    def _name_kind(self, name: str, func: FuncInfo | None) -> StoreKind | None:
        scope = func
        while scope is not None:
            aliases = self._aliases(scope)
            if name in aliases:
                return aliases[name]
            scope = scope.parent
        return self._module_aliases().get(name)

    def _aliases(self, func: FuncInfo) -> dict[str, StoreKind | None]:
        key = id(func)
        found = self._scopes.get(key)
        if found is not None:
            return found
        aliases: dict[str, StoreKind | None] = {}
        for param in func.params():
            aliases[param] = _CONTEXT_KEYS.get(param)
        self._scopes[key] = aliases  # provisional: lets alias chains inside the function resolve
        for _ in range(3):  # a = ctx[...]; b = a; c = b[ASSET] settles in a few rounds
            changed = False
            for name, value in func.assigns:
                found_kind = self.kind(value, func)
                if found_kind is not None and aliases.get(name) != found_kind:
                    aliases[name] = found_kind
                    changed = True
            if not changed:
                break
        return aliases

    def _module_aliases(self) -> dict[str, StoreKind | None]:
        found = self._scopes.get(0)
        if found is None:
            found = {}
            self._scopes[0] = found
            for name, value in self._index.consts.items():
                kind = self.kind(value, None)
                if kind is not None:
                    found[name] = kind
        return found
