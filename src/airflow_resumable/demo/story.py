"""What a demo story is: a titled scenario run through real Airflow that narrates what each try did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

__all__ = ["DAGS", "Say", "Story"]

Say = Callable[[str], None]
DAGS = Path(__file__).parent / "dags"
"""Where the stories' DAG files live (shipped inside the package)."""


@dataclass(frozen=True)
class Story:
    """One demo scenario. ``run`` returns True when the story turned out as the library promises.

    ``requires`` names the modules the story imports beyond the core install (a provider, moto); when one
    is missing the demo reports the story as skipped, says what to install, and does not count it as run.
    """

    order: int
    title: str
    run: Callable[[AirflowSandbox, Say], bool]
    requires: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        from importlib.util import find_spec

        absent = []
        for module in self.requires:
            try:
                found = find_spec(module) is not None
            except ModuleNotFoundError:  # a parent package is missing
                found = False
            if not found:
                absent.append(module)
        return absent
