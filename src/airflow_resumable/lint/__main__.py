"""``python -m airflow_resumable.lint``: the same as ``airflow-resumable lint``."""

from __future__ import annotations

import sys

from airflow_resumable.lint.cli import main

if __name__ == "__main__":
    sys.exit(main())
