"""One pass over a module's syntax tree that records what the checks need.

The checks never walk the tree themselves for the common questions ("which calls are there, inside which
function, under which DAG?"); they read a [`ModuleIndex`][airflow_resumable.lint.index.ModuleIndex]. Walking
once with an explicit stack keeps the linter fast and safe on deeply nested code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from airflow_resumable.lint.astutil import FUNC_TYPES, const_str, dotted, get_arg

__all__ = ["CallSite", "ClassInfo", "DagInfo", "FuncInfo", "ModuleIndex", "build_index"]

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(eq=False)
class DagInfo:
    """A DAG definition: ``with DAG(...)`` or a ``@dag(...)`` function; ``retries`` from its default_args.

    ``default_args_known`` is False when the default_args cannot be read here (a name imported from another
    module, a function call, ``**`` unpacking): then a missing ``retries`` proves nothing.
    """

    node: ast.AST
    retries: ast.expr | None
    default_args_known: bool = True


@dataclass(eq=False)
class ClassInfo:
    """A class: its qualified name, direct methods and class-level ``name = value`` attributes."""

    node: ast.ClassDef
    qualname: str
    methods: dict[str, FuncNode] = field(default_factory=dict)
    attrs: dict[str, ast.expr] = field(default_factory=dict)
    attr_nodes: dict[str, ast.stmt] = field(default_factory=dict)


@dataclass(eq=False)
class FuncInfo:
    """A function or method, where it sits, and the names it binds (for alias following)."""

    node: FuncNode
    parent: FuncInfo | None
    cls: ClassInfo | None
    dag: DagInfo | None
    is_task: bool
    task_call: ast.Call | None
    assigns: list[tuple[str, ast.expr]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The function's name."""
        return self.node.name

    def params(self) -> list[str]:
        """Names of its positional and keyword parameters (not ``*args`` / ``**kwargs``)."""
        args = self.node.args
        return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


@dataclass(eq=False)
class CallSite:
    """A call, the function it appears in, the innermost DAG around it and the name it is assigned to."""

    node: ast.Call
    func: FuncInfo | None
    dag: DagInfo | None
    target: str | None


@dataclass(eq=False)
class ModuleIndex:
    """Everything recorded about one module."""

    imports: dict[str, str] = field(default_factory=dict)
    consts: dict[str, ast.expr] = field(default_factory=dict)
    functions: list[FuncInfo] = field(default_factory=list)
    classes: list[ClassInfo] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    dags: list[DagInfo] = field(default_factory=list)

    def resolve(self, node: ast.expr) -> str | None:
        """Return the dotted name of ``node`` with its first part mapped through the imports.

        ``V.get`` after ``from airflow.models import Variable as V`` gives ``airflow.models.Variable.get``.
        """
        name = dotted(node)
        if name is None:
            return None
        head, sep, rest = name.partition(".")
        origin = self.imports.get(head)
        if origin is None:
            return name
        return origin + sep + rest

    def const_value(self, node: ast.expr | None) -> ast.expr | None:
        """Follow a module-level ``NAME = <expr>`` once; return the node itself otherwise."""
        if isinstance(node, ast.Name) and node.id in self.consts:
            return self.consts[node.id]
        return node


def _last(name: str | None) -> str:
    return "" if name is None else name.rpartition(".")[2]


def _is_task_decorator(index: ModuleIndex, node: ast.expr) -> bool:
    name = index.resolve(node.func if isinstance(node, ast.Call) else node)
    if name is None:
        return False
    parts = name.split(".")
    return "task" in parts and parts[0] in ("task", "airflow")


def _retries_of(index: ModuleIndex, call: ast.Call) -> ast.expr | None:
    default_args = index.const_value(get_arg(call, None, "default_args"))
    if isinstance(default_args, ast.Dict):
        for key, value in zip(default_args.keys, default_args.values, strict=True):
            if key is not None and const_str(key) == "retries":
                return value
    elif isinstance(default_args, ast.Call) and dotted(default_args.func) == "dict":
        return get_arg(default_args, None, "retries")
    return None


def _default_args_known(index: ModuleIndex, call: ast.Call) -> bool:
    """Whether every key of the DAG's default_args is visible (absent, or a literal dict without ``**``)."""
    if any(keyword.arg is None for keyword in call.keywords):
        return False
    given = get_arg(call, None, "default_args")
    if given is None:
        return True
    default_args = index.const_value(given)
    if isinstance(default_args, ast.Dict):
        return None not in default_args.keys
    if isinstance(default_args, ast.Call) and dotted(default_args.func) == "dict":
        return not default_args.args and all(k.arg is not None for k in default_args.keywords)
    return False


def _dag_info(index: ModuleIndex, call: ast.Call) -> DagInfo:
    return DagInfo(call, _retries_of(index, call), _default_args_known(index, call))


_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
# Fields that never lead to anything the index records (expression contexts and operators).
_SKIPPED_FIELDS = frozenset({"ctx", "op", "ops"})
_LEAVES = (ast.Name, ast.Constant)
_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes worth visiting: like ``ast.iter_child_nodes`` without contexts, operators and leaves."""
    kind = type(node)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = tuple(name for name in kind._fields if name not in _SKIPPED_FIELDS)
    found: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            found.extend(
                item for item in value if isinstance(item, ast.AST) and not isinstance(item, _LEAVES)
            )
        elif isinstance(value, ast.AST) and not isinstance(value, _LEAVES):
            found.append(value)
    return found


class _Builder:
    """Fills a [`ModuleIndex`][airflow_resumable.lint.index.ModuleIndex] from a tree with an explicit stack
    (no recursion limit to hit)."""

    def __init__(self) -> None:
        self.index = ModuleIndex()
        self.targets: dict[int, str] = {}

    def build(self, tree: ast.Module) -> ModuleIndex:
        """Walk ``tree`` once, depth first in source order, and return the filled index."""
        self._imports(tree)
        stack: list[tuple[ast.AST, FuncInfo | None, ClassInfo | None, DagInfo | None, str]] = [
            (child, None, None, None, "") for child in reversed(tree.body)
        ]
        while stack:
            node, func, cls, dag, prefix = stack.pop()
            if isinstance(node, FUNC_TYPES):
                self._function(node, func, cls, dag, prefix, stack)
                continue
            if isinstance(node, ast.ClassDef):
                self._class(node, func, dag, prefix, stack)
                continue
            if isinstance(node, ast.With | ast.AsyncWith):
                dag = self._with(node, dag)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                self._assign(node, func, cls)
            elif isinstance(node, ast.Call):
                self.index.calls.append(CallSite(node, func, dag, self.targets.get(id(node))))
            stack.extend((child, func, cls, dag, prefix) for child in _children(node))
        return self.index

    def _imports(self, tree: ast.Module) -> None:
        """Record imports anywhere (statements only are walked: imports cannot hide in expressions)."""
        statements: list[ast.stmt] = list(tree.body)
        while statements:
            node = statements.pop()
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.partition(".")[0]
                    self.index.imports[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom):
                if node.module and not node.level:
                    for alias in node.names:
                        self.index.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            else:
                for name in _BLOCK_FIELDS:
                    block = getattr(node, name, None)
                    if block:
                        for item in block:
                            if isinstance(item, ast.stmt):
                                statements.append(item)
                            elif isinstance(item, ast.ExceptHandler | ast.match_case):
                                statements.extend(item.body)

    def _function(
        self,
        node: FuncNode,
        func: FuncInfo | None,
        cls: ClassInfo | None,
        dag: DagInfo | None,
        prefix: str,
        stack: list[tuple[ast.AST, FuncInfo | None, ClassInfo | None, DagInfo | None, str]],
    ) -> None:
        task_call: ast.Call | None = None
        is_task = False
        body_dag = dag
        for decorator in node.decorator_list:
            if _is_task_decorator(self.index, decorator):
                is_task = True
                task_call = decorator if isinstance(decorator, ast.Call) else task_call
            elif isinstance(decorator, ast.Call) and _last(self.index.resolve(decorator.func)) == "dag":
                body_dag = _dag_info(self.index, decorator)
                self.index.dags.append(body_dag)
            elif _last(self.index.resolve(decorator)) == "dag":
                body_dag = DagInfo(decorator, None)
                self.index.dags.append(body_dag)
        info = FuncInfo(node, func, cls, dag, is_task, task_call)
        self.index.functions.append(info)
        if cls is not None and func is None:
            cls.methods[node.name] = node
        outer = [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        stack.extend((child, func, cls, dag, prefix) for child in outer)
        qual = f"{prefix}{node.name}.<locals>."
        stack.extend((child, info, None, body_dag, qual) for child in reversed(node.body))

    def _class(
        self,
        node: ast.ClassDef,
        func: FuncInfo | None,
        dag: DagInfo | None,
        prefix: str,
        stack: list[tuple[ast.AST, FuncInfo | None, ClassInfo | None, DagInfo | None, str]],
    ) -> None:
        info = ClassInfo(node, prefix + node.name)
        self.index.classes.append(info)
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                info.attrs[stmt.targets[0].id] = stmt.value
                info.attr_nodes[stmt.targets[0].id] = stmt
            elif (
                isinstance(stmt, ast.AnnAssign)
                and stmt.value is not None
                and isinstance(stmt.target, ast.Name)
            ):
                info.attrs[stmt.target.id] = stmt.value
                info.attr_nodes[stmt.target.id] = stmt
        outer = [*node.decorator_list, *node.bases, *node.keywords]
        stack.extend((child, func, None, dag, prefix) for child in outer)
        # Methods get no enclosing function: their names are looked up on their own.
        stack.extend((child, None, info, dag, f"{info.qualname}.") for child in reversed(node.body))

    def _with(self, node: ast.With | ast.AsyncWith, dag: DagInfo | None) -> DagInfo | None:
        for item in node.items:
            expr = item.context_expr
            if isinstance(expr, ast.Call) and _last(self.index.resolve(expr.func)) == "DAG":
                dag = _dag_info(self.index, expr)
                self.index.dags.append(dag)
        return dag

    def _assign(self, node: ast.Assign | ast.AnnAssign, func: FuncInfo | None, cls: ClassInfo | None) -> None:
        value = node.value
        assert value is not None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if isinstance(value, ast.Call):
                self.targets[id(value)] = target.id
            if func is not None:
                func.assigns.append((target.id, value))
            elif cls is None:
                self.index.consts[target.id] = value


def build_index(tree: ast.Module) -> ModuleIndex:
    """Index ``tree`` in one pass."""
    return _Builder().build(tree)
