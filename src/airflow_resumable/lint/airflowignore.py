"""``.airflowignore``: skip the files Airflow's DAG processor skips, with Airflow's own matching rules.

Airflow reads an ``.airflowignore`` in the DAG folder and in every folder below it; a folder's patterns
also apply to its sub-folders, comments start with ``#``, and ``[core] dag_ignore_file_syntax`` picks the
syntax (this mirrors ``airflow/_shared/module_loading/file_discovery.py`` of Airflow 3.3):

- ``glob`` (the default): gitignore patterns, matched with ``pathspec`` as Airflow does. A pattern with a
  ``/`` at the start or in the middle is relative to the folder of its ``.airflowignore``, any other
  pattern matches a file or folder name at any depth; a trailing ``/`` matches folders only; ``!``
  re-includes, and the last matching pattern wins.
- ``regexp``: each line is a regular expression searched in the path relative to the DAG folder.

The linter does not know the deployment's DAG folder, so it takes the highest folder holding an
``.airflowignore`` between the project root and the file (or the folder being walked) as the DAG folder.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_resumable.errors import InvalidValueError

__all__ = ["SYNTAXES", "AirflowIgnore", "default_syntax"]

IGNORE_FILE = ".airflowignore"
SYNTAXES = ("glob", "regexp", "off")
_COMMENT = re.compile(r"\s*#.*")


def default_syntax() -> str:
    """Airflow's ``[core] dag_ignore_file_syntax`` when set in the environment, else ``"glob"`` (its default).

    Only the environment variable is read: importing Airflow to read its configuration file would make the
    linter slow. Pass ``--airflowignore`` or set ``airflowignore`` in the lint settings otherwise.
    """
    value = os.environ.get("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX", "").strip().lower()
    return value if value in ("glob", "regexp") else "glob"


def _warn(message: str) -> None:
    print(f"airflow-resumable lint: {message}", file=sys.stderr)


@dataclass(frozen=True)
class _Rule:
    pattern: Any  # a compiled regular expression, or a pathspec GitWildMatchPattern
    anchor: Path | None  # glob: the folder a pattern with a "/" is relative to
    dir_only: bool = False


@dataclass
class AirflowIgnore:
    """Answers "would Airflow skip this path?" for the files and folders under ``root``."""

    syntax: str = "glob"
    root: Path = field(default_factory=Path.cwd)
    _rules: dict[Path, list[_Rule]] = field(default_factory=dict, repr=False)
    _bases: dict[tuple[Path, Path], Path | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.syntax not in SYNTAXES:
            choices = ", ".join(SYNTAXES)
            raise InvalidValueError(f"unknown .airflowignore syntax {self.syntax!r}: use one of {choices}")
        self.root = self.root.resolve()

    def ignored(self, path: Path, top: Path | None = None) -> bool:
        """True when ``path`` (a file or folder), or a folder above it, is matched by an ``.airflowignore``.

        ``.airflowignore`` files are looked for from ``path`` up to ``root`` (or up to ``top``, for a path
        outside ``root``); the highest folder holding one stands for the DAG folder.
        """
        if self.syntax == "off":
            return False
        path = path.resolve()
        base = self._base(path.parent, (top or self.root).resolve())
        if base is None:
            return False
        chain = [path, *(p for p in path.parents if base in p.parents)]
        # from the top folder below the DAG folder down to the path itself
        return any(self._matches(item, self._rules_for(item.parent, base), base) for item in reversed(chain))

    def _base(self, folder: Path, top: Path) -> Path | None:
        key = (folder, top)
        if key not in self._bases:
            scope = [folder, *folder.parents]
            limit = self.root if self.root in scope else top
            scope = scope[: scope.index(limit) + 1] if limit in scope else scope[:1]
            holding = [p for p in scope if (p / IGNORE_FILE).is_file()]
            self._bases[key] = holding[-1] if holding else None
        return self._bases[key]

    def _rules_for(self, folder: Path, base: Path) -> list[_Rule]:
        if folder in self._rules:
            return self._rules[folder]
        inherited = self._rules_for(folder.parent, base) if folder != base else []
        rules = list(inherited)
        ignore_file = folder / IGNORE_FILE
        if ignore_file.is_file():
            try:
                lines = ignore_file.read_text(encoding="utf-8").split("\n")
            except (OSError, UnicodeDecodeError) as exc:
                _warn(f"cannot read {ignore_file}: {exc}")
                lines = []
            for line in lines:
                pattern = _COMMENT.sub("", line)
                if pattern:
                    rule = self._compile(pattern, ignore_file)
                    if rule is not None:
                        rules.append(rule)
        self._rules[folder] = rules
        return rules

    def _compile(self, pattern: str, ignore_file: Path) -> _Rule | None:
        if self.syntax == "regexp":
            try:
                return _Rule(re.compile(pattern), None)
            except re.error as exc:
                _warn(f"skipping invalid pattern {pattern!r} in {ignore_file}: {exc}")
                return None
        if pattern.strip() == "/":
            return None
        with warnings.catch_warnings():  # the class Airflow 3.3 matches with; pathspec 1.x deprecates it
            warnings.simplefilter("ignore", DeprecationWarning)
            from pathspec.patterns.gitwildmatch import GitWildMatchPattern

            compiled = GitWildMatchPattern(pattern)
        anchor = ignore_file.parent if pattern.startswith("/") or "/" in pattern.rstrip("/") else None
        raw = pattern.lstrip("!")
        dir_only = raw.rstrip() != raw.rstrip().rstrip("/")
        return _Rule(compiled, anchor, dir_only)

    def _matches(self, path: Path, rules: list[_Rule], base: Path) -> bool:
        if self.syntax == "regexp":
            relative = str(path.relative_to(base))
            return any(rule.pattern.search(relative) is not None for rule in rules)
        matched = False
        is_dir = path.is_dir()
        for rule in rules:
            if rule.dir_only and not is_dir:
                continue
            relative = path.relative_to(rule.anchor).as_posix() if rule.anchor else path.name
            if is_dir:
                relative += "/"
            if rule.pattern.include is not None and rule.pattern.match_file(relative) is not None:
                matched = rule.pattern.include
        return bool(matched)
