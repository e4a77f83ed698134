"""Turning the paths given on the command line into the list of files to check."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_resumable.lint.airflowignore import AirflowIgnore

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["discover", "is_excluded"]

# Never descended into when walking a directory (they hold installed or generated code, not DAGs).
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})


def is_excluded(path: Path, patterns: Sequence[str], root: Path) -> bool:
    """True when ``path`` matches an exclude pattern.

    A pattern matches the path relative to ``root`` (``dags/legacy/*``) or any single part of it
    (``legacy``, ``*_old.py``), using shell-style wildcards.
    """
    if not patterns:
        return False
    try:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = path.as_posix()
    parts = relative.split("/")
    return any(
        fnmatch(relative, pattern) or any(fnmatch(part, pattern) for part in parts) for pattern in patterns
    )


def discover(
    paths: Iterable[str | os.PathLike[str]],
    exclude: Sequence[str] = (),
    root: Path | None = None,
    airflowignore: str = "glob",
) -> list[Path]:
    """Return the files to check: files as given, directories walked for ``*.py``; excluded ones dropped.

    Hidden directories and [`SKIP_DIRS`][airflow_resumable.lint.files.SKIP_DIRS] are not walked into. Raises
    `FileNotFoundError` for a path that does not exist, before anything is checked.

    Files and folders that an ``.airflowignore`` matches are dropped as Airflow drops them, in the
    ``airflowignore`` syntax (``"glob"``, ``"regexp"``, or ``"off"`` to check them anyway); see
    [`AirflowIgnore`][airflow_resumable.lint.airflowignore.AirflowIgnore].
    """
    root = root or Path.cwd()
    given = [Path(p) for p in paths]
    missing = [str(p) for p in given if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or directory: {', '.join(missing)}")
    ignore = AirflowIgnore(airflowignore, root)
    found: dict[Path, None] = {}
    for path in given:
        top = path if path.is_dir() else path.parent
        if not path.is_dir():
            if not is_excluded(path, exclude, root) and not ignore.ignored(path, top):
                found[path] = None
            continue
        if ignore.ignored(path, top.parent):  # a folder given on the command line that Airflow skips
            continue
        for folder, dirnames, filenames in os.walk(path):
            base = Path(folder)
            dirnames[:] = sorted(
                name
                for name in dirnames
                if not name.startswith(".")
                and name not in SKIP_DIRS
                and not is_excluded(base / name, exclude, root)
                and not ignore.ignored(base / name, top)
            )
            for name in sorted(filenames):
                if (
                    name.endswith(".py")
                    and not is_excluded(base / name, exclude, root)
                    and not ignore.ignored(base / name, top)
                ):
                    found[base / name] = None
    return list(found)
