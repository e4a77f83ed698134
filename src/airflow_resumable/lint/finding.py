"""A single reported problem, and how it is printed."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Finding"]


@dataclass(frozen=True, order=True)
class Finding:
    """One anti-pattern found at a place in a file.

    ``line`` and ``col`` are 1-based, like most editors and linters, so ``path:line:col`` can be clicked.
    Ordering sorts by path, then position, then code.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str

    def format(self) -> str:
        """Return the text form: ``path:line:col: CODE message (hint)``."""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message} ({self.hint})"

    def as_dict(self) -> dict[str, str | int]:
        """Return the JSON form: path, line, col, code, message and hint."""
        return asdict(self)
