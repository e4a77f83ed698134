"""Project-wide test setup: keep every Airflow import away from the user's real AIRFLOW_HOME.

The fixtures themselves (``task_state_store``, ``context``, ``airflow_sandbox``...) come from the
library's own pytest plugin, ``airflow_resumable.testing.pytest_plugin``, exactly as DAG authors get them.
"""

from __future__ import annotations

import os
import tempfile

# Before anything imports airflow: a scratch home, examples off. The airflow_sandbox fixture then gives
# each test its own migrated SQLite database.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-resumable-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
