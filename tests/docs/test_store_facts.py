"""The facts the Task state and Asset state pages state about Airflow, checked on the installed Airflow.

One DAG run probes the real stores under ``dag.test()`` and prints what each call did; the tests below
compare that with what the pages promise. If an Airflow upgrade changes any of it, a test here fails and
the page gets corrected.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.airflow

PROBE_DAG = """
import asyncio
import json
from datetime import datetime, timedelta, timezone

from airflow.sdk import NEVER_EXPIRE, Asset, AssetAlias, dag, task

ORDERS, CUSTOMERS = Asset("facts_orders"), Asset("facts_customers")


def outcome(fn):
    try:
        result = fn()
    except BaseException as exc:
        return type(exc).__name__
    return ["ok", result]


def report(name, value):
    print("FACT " + json.dumps([name, value]))


@dag(schedule=None)
def facts():
    @task
    def task_store(task_state_store=None, asset_state_store=None):
        s = task_state_store
        report("none", outcome(lambda: s.set("k", None)))
        report("datetime", outcome(lambda: s.set("k", datetime.now(timezone.utc))))
        report("tuple", outcome(lambda: s.set("k", (1, 2))))
        report("int_keys", outcome(lambda: s.set("k", {1: "a"})))
        report("nan", outcome(lambda: s.set("k", float("nan"))))
        report("inf", outcome(lambda: s.set("k", float("inf"))))
        report("empty_key", outcome(lambda: s.set("", 1)))
        report("int_beyond_64_bits", outcome(lambda: s.set("k", 2**64)))
        report("int_retention", outcome(lambda: s.set("k", 1, retention=5)))
        equal_copy = timedelta.max + timedelta(0)
        report("equal_copy_of_never_expire", outcome(lambda: s.set("k", 1, retention=equal_copy)))
        s.set("nested_nan", [1.5, float("nan")])
        report("nested_nan_read_back", s.get("nested_nan"))
        s.set("orders/2024.06", 1)
        report("slash_dot_key", s.get("orders/2024.06"))
        s.set("large", "x" * 70_000)
        report("large_read_back", len(s.get("large")))
        s.set("expired", 1, retention=timedelta(seconds=-1))
        report("expired_read_back", s.get("expired"))
        s.set("forever", 1, retention=NEVER_EXPIRE)
        s.set("default", 1)
        s.set("week", 1, retention=timedelta(days=7))
        report("missing_default", s.get("missing", "fallback"))
        s.delete("missing")
        report("async_methods", [hasattr(s, n) for n in ("aget", "aset", "adelete", "aclear")])
        report("asset_store_without_assets", asset_state_store is None)

    @task(inlets=[ORDERS], outlets=[CUSTOMERS, AssetAlias("facts_alias")])
    def two_assets(asset_state_store=None):
        report("declared", repr(asset_state_store))
        report("shorthand_with_two", outcome(lambda: asset_state_store.get("k")))
        report("undeclared", outcome(lambda: asset_state_store[Asset("facts_other")]))
        asset_state_store[CUSTOMERS].set("cursor", 1)
        asset_state_store[CUSTOMERS].set("cursor", 2)
        report("last_writer_wins", asset_state_store[CUSTOMERS].get("cursor"))

    @task(outlets=[ORDERS])
    def one_asset(asset_state_store=None):
        asset_state_store.set("cursor", 7)
        report("shorthand_with_one", asset_state_store[ORDERS].get("cursor"))
        methods = ("aget", "aset", "adelete", "aclear")
        report("asset_async_methods", [hasattr(asset_state_store, n) for n in methods])
        report("asset_async_under_dag_test", outcome(lambda: asyncio.run(asset_state_store.aget("cursor"))))

    task_store() >> two_assets() >> one_asset()


facts()
"""


@pytest.fixture(scope="module")
def probe(_airflow_sandbox_session):  # type: ignore[no-untyped-def]
    sandbox = _airflow_sandbox_session
    sandbox.fresh("store_facts")
    started = datetime.now(timezone.utc)
    result = sandbox.run_dag(PROBE_DAG)
    assert result.state == "success", result.output[-3000:]
    facts = dict(json.loads(m) for m in re.findall(r"^.*?FACT (\[.*\])\s*$", result.output, flags=re.M))
    return sandbox, result, facts, started


def test_rejected_values_and_how(probe) -> None:  # type: ignore[no-untyped-def]
    _, _, facts, _ = probe
    assert facts["none"] == "ValueError"
    assert facts["datetime"] == facts["tuple"] == facts["int_keys"] == "ValidationError"
    # dag.test()'s in-process channel: a real worker raises AirflowRuntimeError for these 422s and
    # OverflowError for the int (tests/integration/test_store_parity.py runs a task on the real channel).
    assert facts["nan"] == facts["inf"] == facts["empty_key"] == "ServerResponseError"
    assert facts["int_beyond_64_bits"] == ["ok", None]
    assert facts["int_retention"] == "TypeError"
    # NEVER_EXPIRE is compared by identity: an equal copy is treated as a duration and overflows.
    assert facts["equal_copy_of_never_expire"] == "OverflowError"


def test_accepted_values_and_keys(probe) -> None:  # type: ignore[no-untyped-def]
    _, _, facts, _ = probe
    assert facts["nested_nan_read_back"] == [1.5, None]  # a NaN inside a list is stored as null
    assert facts["slash_dot_key"] == 1
    assert facts["large_read_back"] == 70_000  # over max_value_storage_bytes: only a warning
    assert facts["expired_read_back"] == 1  # expiry only matters to `airflow state-store clean`
    assert facts["missing_default"] == "fallback"


def test_retention_is_stored_as_expires_at(probe) -> None:  # type: ignore[no-untyped-def]
    _, result, _, started = probe
    from airflow.models.task_state_store import TaskStateStoreModel as Row
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = {
            row.key: row.expires_at
            for row in session.query(Row).filter(Row.dag_id == result.dag_id, Row.task_id == "task_store")
        }
    assert rows["forever"] is None
    assert abs(rows["default"] - started - timedelta(days=30)) < timedelta(minutes=5)
    assert abs(rows["week"] - started - timedelta(days=7)) < timedelta(minutes=5)


def test_task_store_has_no_async_methods_on_3_3(probe) -> None:  # type: ignore[no-untyped-def]
    _, _, facts, _ = probe
    assert facts["async_methods"] == [False, False, False, False]


def test_clearing_a_task_instance_keeps_its_task_state(probe) -> None:  # type: ignore[no-untyped-def]
    _, result, _, _ = probe
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.utils.session import create_session

    before = result.task_state_keys("task_store")
    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == result.dag_id, TaskInstance.task_id == "task_store")
            .all()
        )
        clear_task_instances(tis, session)
    with create_session() as session:
        cleared = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == result.dag_id, TaskInstance.task_id == "task_store")
            .one()
        )
        assert cleared.state is None  # the task instance really was cleared
    assert before
    assert result.task_state_keys("task_store") == before


def test_asset_mapping_rules(probe) -> None:  # type: ignore[no-untyped-def]
    _, _, facts, _ = probe
    assert facts["asset_store_without_assets"] is True
    # the alias outlet is skipped: only the two concrete assets are reachable
    assert facts["declared"] == "<AssetStateStoreAccessors [name='facts_orders', name='facts_customers']>"
    assert facts["shorthand_with_two"] == "ValueError"
    assert facts["undeclared"] == "KeyError"
    assert facts["last_writer_wins"] == 2
    assert facts["shorthand_with_one"] == 7


def test_asset_async_methods_exist_but_need_a_real_worker(probe) -> None:  # type: ignore[no-untyped-def]
    _, _, facts, _ = probe
    assert facts["asset_async_methods"] == [True, True, True, True]
    # dag.test() runs tasks with an in-process channel that has no async send on 3.3.2
    assert facts["asset_async_under_dag_test"] == "AttributeError"


def test_asset_rows_do_not_expire_and_record_a_writer(probe) -> None:  # type: ignore[no-untyped-def]
    sandbox, _, _, _ = probe
    from airflow.models.asset_state_store import AssetStateStoreModel as Row

    assert not hasattr(Row, "expires_at")
    assert {"last_updated_by_kind", "last_updated_by_dag_id", "last_updated_by_task_id"} <= set(
        Row.__table__.columns.keys()
    )
    assert sandbox.asset_state("facts_customers")["cursor"]["value"] == 2


def test_key_column_holds_512_characters() -> None:
    from airflow.models.task_state_store import TaskStateStoreModel

    assert TaskStateStoreModel.__table__.c.key.type.length == 512
