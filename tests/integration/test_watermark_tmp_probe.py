from datetime import datetime, timezone
from pathlib import Path
import pytest
EX = Path("/work/main/docs/examples/watermark")
@pytest.mark.airflow
def test_x(airflow_sandbox):
    r = airflow_sandbox.run_dag(EX / "orders_watermark.py", dag_id="orders_incremental", logical_date=datetime(2026,1,1,6,tzinfo=timezone.utc))
    print([l for l in r.output.splitlines() if "loaded" in l or "Error" in l][-5:], r.state)
    r = airflow_sandbox.run_dag(EX / "orders_watermark.py", dag_id="orders_incremental", logical_date=datetime(2026,1,1,9,tzinfo=timezone.utc))
    print([l for l in r.output.splitlines() if "loaded" in l][-5:], r.state)
    r = airflow_sandbox.run_dag(EX / "orders_watermark.py", dag_id="orders_report")
    print([l for l in r.output.splitlines() if "orders loaded" in l][-5:], r.state)
    assert 0
