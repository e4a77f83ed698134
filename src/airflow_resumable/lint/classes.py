"""Which classes of a module are resumable operators, following bases defined in the same module.

``class Base(ResumableJobMixin, BaseOperator)`` then ``class Child(Base)`` makes ``Child`` resumable too;
bases imported from elsewhere are judged by name only (``...Operator``, ``...Sensor``, the mixins), since
the checker never imports code.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_resumable.lint.index import ClassInfo, ModuleIndex

__all__ = ["MIXINS", "ClassGraph"]

MIXINS = frozenset({"ResumableJobMixin", "DurableJobMixin"})
"""Airflow's mixin, and this library's subclass of it (``airflow_resumable.DurableJobMixin``)."""


def _last(name: str) -> str:
    return name.rpartition(".")[2]


class ClassGraph:
    """Answers "is this class resumable / an operator?" for one module's classes, following local bases."""

    def __init__(self, index: ModuleIndex) -> None:
        self.index = index
        self.local = {cls.node.name: cls for cls in index.classes}
        self._memo: dict[tuple[str, str], bool] = {}

    def base_name(self, base: ast.expr) -> str:
        """The dotted, import-resolved name of a base (``AwsBaseOperator[EmrHook]`` counts as its class)."""
        if isinstance(base, ast.Subscript):
            base = base.value
        return self.index.resolve(base) or ""

    def local_base(self, base: ast.expr) -> ClassInfo | None:
        """The class defined in this module that ``base`` names, if any."""
        name = self.base_name(base)
        return self.local.get(name) if "." not in name else None

    def is_mixin_base(self, base: ast.expr) -> bool:
        """A resumable mixin: one of [`MIXINS`][airflow_resumable.lint.classes.MIXINS], or a local class built
        on one that is no operator."""
        if _last(self.base_name(base)) in MIXINS:
            return True
        cls = self.local_base(base)
        return cls is not None and self.resumable(cls) and not self.operator(cls)

    def is_operator_base(self, base: ast.expr) -> bool:
        """An operator class: named ``...Operator`` / ``...Sensor``, or a local class deriving from one."""
        cls = self.local_base(base)
        if cls is not None:
            return self.operator(cls)
        last = _last(self.base_name(base))
        return last.endswith(("Operator", "Sensor")) and last not in MIXINS

    def direct(self, cls: ClassInfo) -> bool:
        """True when one of [`MIXINS`][airflow_resumable.lint.classes.MIXINS] is written in the class's own
        bases."""
        return any(_last(self.base_name(base)) in MIXINS for base in cls.node.bases)

    def upstream_only(self, cls: ClassInfo) -> bool:
        """True when Airflow's ResumableJobMixin is a direct base and no other base could read more keys."""
        names = [_last(self.base_name(base)) for base in cls.node.bases]
        local = [base for base in cls.node.bases if self.local_base(base) is not None]
        return "ResumableJobMixin" in names and "DurableJobMixin" not in names and not local

    def resumable(self, cls: ClassInfo) -> bool:
        """True when the class derives from a resumable mixin, directly or through local classes."""
        return self._walk(cls, "resumable")

    def operator(self, cls: ClassInfo) -> bool:
        """True when the class derives from an operator class, directly or through local classes."""
        return self._walk(cls, "operator")

    def local_ancestor_defines(self, cls: ClassInfo, method: str) -> bool:
        """True when a local ancestor class (not ``cls`` itself) defines ``method``."""
        seen = {id(cls)}
        pending = [cls]
        while pending:
            for base in pending.pop().node.bases:
                local = self.local_base(base)
                if local is None or id(local) in seen:
                    continue
                if method in local.methods:
                    return True
                seen.add(id(local))
                pending.append(local)
        return False

    def _walk(self, cls: ClassInfo, what: str) -> bool:
        key = (cls.qualname, what)
        if key not in self._memo:
            self._memo[key] = False  # breaks cycles in odd code
            result = False
            for base in cls.node.bases:
                local = self.local_base(base)
                if local is not None and local is not cls:
                    result = self._walk(local, what)
                elif what == "resumable":
                    result = _last(self.base_name(base)) in MIXINS
                else:
                    result = self.is_operator_base(base)
                if result:
                    break
            self._memo[key] = result
        return self._memo[key]
