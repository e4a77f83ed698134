"""``state watermark show|history|rewind`` against the real REST app: a rewind from outside is seen by the
next producer run, recorded in the history, and refused for a read-only user."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest

from airflow_resumable import ops
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.airflow

PRODUCER = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, get_current_context, task

from airflow_resumable import Watermark

ORDERS = Asset("orders", uri="s3://lake/orders")
LOADED = Watermark(ORDERS, initial=datetime(2026, 3, 1, tzinfo=timezone.utc), settle=timedelta(minutes=5))


@dag(schedule=None)
def orders_incremental():
    @task(outlets=[ORDERS])
    def load_orders():
        until = datetime.fromisoformat(get_current_context()["dag_run"].conf["until"])
        with LOADED.window(until=until) as w:
            print(f"LOADING [{w.start.isoformat()}, {w.end.isoformat()})")
            w.record(rows=42)

    load_orders()


orders_incremental()
"""


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _login(monkeypatch: pytest.MonkeyPatch, api_server, user: str) -> None:
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", user)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords[user])


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = state_main(argv, out=out)
    return code, out.getvalue()


def test_rewind_is_seen_by_the_next_producer_run_and_kept_in_history(
    airflow_sandbox, api_server, monkeypatch, capsys
):
    first = airflow_sandbox.run_dag(PRODUCER, run_conf={"until": "2026-03-09T00:00:00+00:00"})
    assert first.state == "success", first.output[-2000:]
    _login(monkeypatch, api_server, "admin")

    code, text = _run(["watermark", "show", "orders"])
    assert code == 0
    assert "2026-03-09T00:00:00+00:00" in text and "orders_incremental.load_orders" in text
    header, row = text.splitlines()[1:3]
    assert "LAG" in header and "SETTLE" in header and "none" in row and "0:05:00" in row
    with ops.connect() as api:
        view = ops.show(api, "s3://lake/orders")  # by URI too
    assert view.merged == {"watermark": _utc(2026, 3, 9)}

    # Guards before anything is written: not backwards, wrong type, no reason.
    assert (
        _run(["watermark", "rewind", "orders", "2026-03-10T00:00:00+00:00", "--reason", "x", "--yes"])[0] == 6
    )
    assert _run(["watermark", "rewind", "orders", "2026-03-02", "--reason", "x", "--yes"])[0] == 6
    assert (
        _run(["watermark", "rewind", "orders", "2026-03-02T00:00:00+00:00", "--reason", " ", "--yes"])[0] == 6
    )
    # Without --yes and without a terminal to answer in: not confirmed, nothing written.
    assert _run(["watermark", "rewind", "orders", "2026-03-02T00:00:00+00:00", "--reason", "fix"])[0] == 6
    assert "Not confirmed" in capsys.readouterr().err
    with ops.connect() as api:
        assert ops.show(api, "orders").keys[0].value == _utc(2026, 3, 9)

    code, text = _run(
        [
            "watermark",
            "rewind",
            "orders",
            "2026-03-02T00:00:00+00:00",
            "--reason",
            "reload after the FX fix",
            "--yes",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "2026-03-09T00:00:00+00:00 -> 2026-03-02T00:00:00+00:00" in text
    code, text = _run(["watermark", "show", "orders", "--format", "json"])
    (key,) = json.loads(text)["watermarks"]
    assert key["operation"] == "rewind"  # the producer's settings survive a rewind from outside
    assert key["settings"] == {"initial": "2026-03-01T00:00:00+00:00", "lag": None, "settle": "0:05:00"}

    second = airflow_sandbox.run_dag(PRODUCER, run_conf={"until": "2026-03-10T00:00:00+00:00"})
    assert "LOADING [2026-03-02T00:00:00+00:00, 2026-03-10T00:00:00+00:00)" in second.output

    code, text = _run(["watermark", "history", "orders", "--format", "json"])
    assert code == 0
    events = json.loads(text)
    assert [(e["event"], e["previous"], e["value"]) for e in events] == [
        ("rewind", "2026-03-09T00:00:00+00:00", "2026-03-02T00:00:00+00:00"),
        ("commit", "2026-03-02T00:00:00+00:00", "2026-03-10T00:00:00+00:00"),
    ]
    assert events[0]["reason"] == "reload after the FX fix (by admin via airflow-resumable state)"
    assert events[1]["writer"].startswith("orders_incremental.load_orders")


def test_read_only_user_reads_but_cannot_rewind(airflow_sandbox, api_server, monkeypatch, capsys):
    airflow_sandbox.run_dag(PRODUCER, run_conf={"until": "2026-03-09T00:00:00+00:00"})
    _login(monkeypatch, api_server, "viewer")

    assert _run(["watermark", "show", "orders"])[0] == 0
    code, _ = _run(["watermark", "rewind", "orders", "2026-03-02T00:00:00+00:00", "--reason", "x", "--yes"])
    assert code == 4
    err = capsys.readouterr().err
    assert "'viewer' is not allowed" in err and "HTTP 403" in err
    assert airflow_sandbox.asset_state("orders")["watermark"]["value"]["value"]["value"].startswith(
        "2026-03-09"
    )


def test_wrong_credentials_give_a_clear_error_and_exit_code_3(
    airflow_sandbox, api_server, monkeypatch, capsys
):
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", "not-the-password")
    assert _run(["watermark", "show", "orders"])[0] == 3
    err = capsys.readouterr().err
    assert "refused to issue a token for user 'admin' (HTTP 401)" in err
    assert "not-the-password" not in err

    monkeypatch.delenv("AIRFLOW_RESUMABLE_API_USERNAME")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_TOKEN", "expired.or.forged")
    assert _run(["watermark", "show", "orders"])[0] == 3
    err = capsys.readouterr().err
    assert "did not accept the credentials" in err and "expired.or.forged" not in err
