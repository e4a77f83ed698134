"""What Airflow's provider discovery reads about this package (the ``apache_airflow_provider`` entry point).

With it, ``airflow providers list`` and the UI's provider page show airflow-resumable and its version, and
the documentation link comes from the package's ``Documentation`` project URL. Airflow imports this module
only when it lists providers, never when a DAG file imports ``airflow_resumable``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider description, in the form of Airflow's ``provider_info.schema.json``."""
    from airflow_resumable import __version__

    return {
        "package-name": "airflow-resumable",
        "name": "airflow-resumable",
        "description": "Resume instead of restart: checkpoints, watermarks and crash-safe job operators "
        "on Airflow's AIP-103 state stores.",
        "versions": [__version__],
    }
