"""``# noqa`` comments: a bare ``# noqa`` silences every rule on its line, ``# noqa: ARS001,ARS004`` those."""

from __future__ import annotations

import re

__all__ = ["is_suppressed"]

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,]+")


def is_suppressed(line: str, code: str) -> bool:
    """True when ``line`` carries a ``# noqa`` that covers ``code``.

    ``# noqa: E501`` names other tools' codes only and so does not silence an ARS finding.
    """
    if "noqa" not in line and "NOQA" not in line.upper():
        return False
    for match in _NOQA.finditer(line):
        codes = match.group("codes")
        if codes is None:
            return True
        if code in {part.upper() for part in _SPLIT.split(codes)}:
            return True
    return False
