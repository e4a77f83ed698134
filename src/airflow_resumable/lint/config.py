"""Settings from ``[tool.airflow-resumable.lint]`` in ``pyproject.toml``.

The nearest ``pyproject.toml`` holding that table, walking up from the working directory, is used.
Keys: ``select`` and ``ignore`` (codes or prefixes), ``exclude`` (shell patterns, relative to the file's
folder), ``baseline`` (the ``external_id_key`` baseline file, relative to the file's folder) and
``airflowignore`` (``"glob"``, ``"regexp"`` or ``"off"``: how ``.airflowignore`` files are read).
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["TABLE", "Config", "ConfigError", "find_pyproject", "load_config", "toml_loader"]

TABLE = "[tool.airflow-resumable.lint]"
_KEYS = {"select", "ignore", "exclude", "baseline", "airflowignore"}
_SYNTAXES = ("glob", "regexp", "off")
_TABLE_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*[\"']?airflow-resumable[\"']?\s*[.\]]", re.MULTILINE)


class ConfigError(ValueError):
    """The configuration table is present but not usable; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    """Lint settings. ``root`` is the folder exclude patterns and the baseline path are relative to."""

    root: Path
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    baseline: Path | None = None
    source: Path | None = None
    airflowignore: str | None = None


def toml_loader() -> Callable[[IO[bytes]], dict[str, Any]] | None:
    """Return ``tomllib.load`` (Python 3.11+) or ``tomli.load`` when installed; None when neither is."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.load
    try:  # pragma: no cover - only on Python 3.10
        tomli = importlib.import_module("tomli")
    except ImportError:  # pragma: no cover
        return None
    return cast("Callable[[IO[bytes]], dict[str, Any]]", tomli.load)  # pragma: no cover


def find_pyproject(start: Path) -> Path | None:
    """Return the nearest ``pyproject.toml`` at or above ``start`` holding our tool table."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if _TABLE_HEADER.search(text):
                return candidate
    return None


def _codes(value: Any, key: str, source: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: {key} must be a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def load_config(
    path: Path | None = None, *, start: Path | None = None, warn: Callable[[str], None] = lambda message: None
) -> Config:
    """Load settings from ``path`` or the nearest ``pyproject.toml`` above ``start`` (default: cwd).

    Returns defaults when there is no such file or table. When no TOML reader is available (Python 3.10
    without ``tomli``) the settings are skipped and ``warn`` is told why.
    """
    start = start or Path.cwd()
    source = path or find_pyproject(start)
    if source is None:
        return Config(root=start)
    load = toml_loader()
    if load is None:
        warn(f"{source}: {TABLE} settings skipped: reading TOML needs Python 3.11+ or the tomli package")
        return Config(root=source.parent)
    try:
        with source.open("rb") as handle:
            data = load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    table = data.get("tool", {}).get("airflow-resumable", {}).get("lint")
    if table is None:
        return Config(root=source.parent, source=source)
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {TABLE} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in {TABLE}: {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{source}: baseline must be a string (a file path)")
    airflowignore = table.get("airflowignore")
    if airflowignore is not None and airflowignore not in _SYNTAXES:
        raise ConfigError(f"{source}: airflowignore must be one of {', '.join(_SYNTAXES)}")
    return Config(
        root=source.parent,
        airflowignore=airflowignore,
        select=_codes(table["select"], "select", source) if "select" in table else None,
        ignore=_codes(table.get("ignore", []), "ignore", source),
        exclude=_codes(table.get("exclude", []), "exclude", source),
        baseline=source.parent / baseline if baseline else None,
        source=source,
    )
