"""Small, allocation-light helpers over `ast` nodes shared by the checks."""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FUNC_TYPES",
    "const_str",
    "dotted",
    "get_arg",
    "is_false",
    "is_zero",
    "key_text",
    "key_words",
    "own_nodes",
]

FUNC_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def dotted(node: ast.expr) -> str | None:
    """Return ``a.b.c`` for a Name/Attribute chain, or None for anything else (calls, subscripts...)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def const_str(node: ast.expr | None) -> str | None:
    """Return the value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def key_text(node: ast.expr | None) -> str | None:
    """Return the static text of a key: a literal, or an f-string with ``{}`` for each hole."""
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
            for part in node.values
        )
    return const_str(node)


def key_words(text: str) -> list[str]:
    """Split an identifier or key (snake_case, camelCase, dotted, slashed) into lower-case words."""
    return [word.lower() for word in _WORD.findall(text)]


def get_arg(call: ast.Call, position: int | None, name: str) -> ast.expr | None:
    """Return the argument passed at ``position`` (None: keyword only) or as keyword ``name``, else None.

    Returns None too when a ``*args`` spreads before the position: the argument cannot be known statically.
    """
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if position is not None and position < len(call.args):
        if any(isinstance(arg, ast.Starred) for arg in call.args[: position + 1]):
            return None
        return call.args[position]
    return None


def is_false(node: ast.expr | None) -> bool:
    """True for the literal ``False``."""
    return isinstance(node, ast.Constant) and node.value is False


def is_zero(node: ast.expr | None) -> bool:
    """True for the literal integer ``0`` (not ``False``)."""
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == 0


def own_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Yield the nodes under ``root`` in its own scope (not in nested functions, classes or lambdas)."""
    stack = list(ast.iter_child_nodes(root))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPE_TYPES):
            stack.extend(ast.iter_child_nodes(node))
