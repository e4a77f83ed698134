"""The ``external_id_key`` baseline behind ARS010.

``--write-baseline FILE`` records ``{"module.Class": key}`` for every class that sets ``external_id_key``.
A later run with ``--baseline FILE`` compares: a class whose key changed, without listing the old key in
``previous_external_id_keys``, would make retries already in flight miss the stored job id and submit a
duplicate job.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING

from airflow_resumable.lint.astutil import const_str

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from airflow_resumable.lint.index import ClassInfo, ModuleIndex

__all__ = [
    "BaselineError",
    "external_id_keys",
    "module_name",
    "previous_keys",
    "read_baseline",
    "write_baseline",
]


class BaselineError(ValueError):
    """The baseline file cannot be read or does not hold a ``{"module.Class": "key"}`` object."""


def module_name(path: Path) -> str:
    """Return the dotted module name of ``path``, walking up while the folders are packages.

    The name does not depend on the working directory, so baselines written from anywhere compare equal.
    """
    path = path.resolve()
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.name:
        parts.append(folder.name)
        folder = folder.parent
    return ".".join(reversed(parts)) or path.stem


def external_id_keys(index: ModuleIndex, module: str) -> Iterator[tuple[str, str, ClassInfo]]:
    """Yield ``(module.Class, key, class)`` for each class that sets ``external_id_key`` to a literal."""
    for cls in index.classes:
        key = const_str(cls.attrs.get("external_id_key"))
        if key is not None:
            yield f"{module}.{cls.qualname}", key, cls


def previous_keys(cls: ClassInfo) -> set[str]:
    """Return the literal strings listed in the class's ``previous_external_id_keys`` tuple or list."""
    value = cls.attrs.get("previous_external_id_keys")
    if not isinstance(value, ast.Tuple | ast.List | ast.Set):
        return set()
    return {text for text in (const_str(element) for element in value.elts) if text is not None}


def read_baseline(path: Path) -> dict[str, str]:
    """Load a baseline file, raising [`BaselineError`][airflow_resumable.lint.baseline.BaselineError] with the
    reason when it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise BaselineError(f'baseline {path} must be a JSON object of "module.Class": "key" strings')
    return data


def write_baseline(path: Path, keys: Mapping[str, str]) -> None:
    """Write ``keys`` sorted, one per line, so the file diffs well in review."""
    path.write_text(json.dumps(dict(sorted(keys.items())), indent=2) + "\n", encoding="utf-8")
