"""The dashboard card: Airflow's home page shows how many task instances run with a checkpoint now and how
many jobs are possible orphans, linking to the plugin's "Resumable" page.

The card is a React component (source in ``ui-src/``, built into ``static/dashboard.js`` and shipped in the
wheel) that Airflow's UI loads as the plugin's ``react_apps`` entry; its counts are
[`summary()`][airflow_resumable.ui.dashboard.summary] of the same
[`overview()`][airflow_resumable.ui.overview.overview] the "Resumable" page renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_resumable.ui.overview import Overview

__all__ = ["BUNDLE", "OVERVIEW_ROUTE", "summary"]

BUNDLE = Path(__file__).with_name("static") / "dashboard.js"
"""The built card (``make ui-bundle`` writes it; ``make test`` checks it matches ``ui-src/``)."""

OVERVIEW_ROUTE = "/plugin/resumable-overview"
"""Where the card links to: the Airflow UI's route of the "Resumable" nav page."""


def summary(found: Overview) -> dict[str, Any]:
    """The card's counts: running task instances with at least one checkpoint (and their checkpoints), and
    possible orphaned jobs, as the "Resumable" page lists them."""
    return {
        "running_tasks": len({c.task for c in found.running}),
        "running_checkpoints": len(found.running),
        "possible_orphans": len(found.orphans),
        "overview": OVERVIEW_ROUTE,
    }
