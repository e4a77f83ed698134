"""Rule behaviour on small inline sources: alias following, scoping, and the edges of each rule."""

from __future__ import annotations

import textwrap

import pytest

from airflow_resumable.lint import RULES, Finding, lint_source
from airflow_resumable.lint.rules import UnknownCodeError, resolve_codes


def found(source: str) -> list[tuple[int, str]]:
    findings = lint_source(textwrap.dedent(source), "dag.py")
    return [(finding.line, finding.code) for finding in findings]


# --- state store aliases (ARS011 is the simplest rule to observe them with) -------------------------------


@pytest.mark.parametrize(
    "binding",
    [
        'store = context["task_state_store"]',
        'store = kwargs["task_state_store"]',
        'store = get_current_context()["task_state_store"]',
        'store = context.get("task_state_store")',
        'first = context["task_state_store"]; store = first',
    ],
)
def test_store_aliases_are_followed(binding: str) -> None:
    source = f"""
    from airflow.sdk import get_current_context

    def run(**kwargs):
        context = kwargs
        {binding}
        store.set("pair", (1, 2))
    """
    assert found(source) == [(7, "ARS011")]


def test_store_parameter_of_a_task_and_nested_helper() -> None:
    source = """
    from airflow.sdk import task

    @task
    def run(task_state_store=None):
        def save():
            task_state_store.set("when", None)
        save()
    """
    assert found(source) == [(7, "ARS011")]


def test_same_method_names_on_other_objects_are_ignored() -> None:
    source = """
    import redis
    from datetime import datetime

    def run(context):
        cache = redis.Redis()
        cache.set("at", datetime.now())
        context["params"].set("pair", (1, 2))
    """
    assert found(source) == []


# --- ARS001 / ARS003 ----------------------------------------------------------------------------------------


def test_variable_alias_and_sdk_import() -> None:
    source = """
    from airflow.models import Variable as V
    from airflow.sdk import Variable

    def run(ti):
        V.set("anything", "x")
        Variable.set("export_state", "x")
    """
    assert found(source) == [(6, "ARS001"), (7, "ARS001")]


def test_variable_writes_outside_task_code_are_not_run_state() -> None:
    source = """
    from airflow.models import Variable

    def rotate_token(client):
        Variable.set("partner_token", client.new_token())

    SETTINGS = Variable.get("job_status_api")
    """
    assert found(source) == []


def test_helper_called_from_a_task_counts_as_task_code() -> None:
    source = """
    from airflow.models import Variable
    from airflow.sdk import task

    def remember(value):
        Variable.set("partner_token", value)

    @task
    def run():
        remember("x")
    """
    assert found(source) == [(6, "ARS001")]


def test_watermark_names_are_ars003_even_outside_tasks() -> None:
    source = """
    from airflow.models import Variable

    since = Variable.get("orders_high_water_mark")
    last_seen = Variable.get("orders")
    """
    assert found(source) == [(4, "ARS003"), (5, "ARS003")]


def test_unrelated_variable_class_is_ignored() -> None:
    source = """
    from sympy import Variable

    def run(context):
        Variable.set("job_id", 1)
        Variable.get("last_value")
    """
    assert found(source) == []


# --- ARS002 -------------------------------------------------------------------------------------------------


def test_xcom_pull_of_other_tasks_and_templates_is_fine() -> None:
    source = """
    def run(ti):
        ti.xcom_pull(task_ids="extract")
        ti.xcom_pull(["a", "b"], key="job_id")
        ti.xcom_pull(key="job_id", include_prior_dates=True)
        ti.xcom_pull(key="job_id", run_id="manual__1")
        ti.xcom_pull(*args)
        return "{{ ti.xcom_pull(key='job_id') }}"
    """
    assert found(source) == []


def test_xcom_pull_of_own_xcom_is_reported_with_the_reason() -> None:
    findings = lint_source("def run(ti):\n    return ti.xcom_pull(key='job_id')\n")
    assert [(f.line, f.code) for f in findings] == [(2, "ARS002")]
    assert "without task_ids" in findings[0].message
    assert "clears" in findings[0].message


# --- ARS004 -------------------------------------------------------------------------------------------------


def test_submit_without_a_sensor_on_it_is_not_reported() -> None:
    source = """
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor

    submit = DatabricksSubmitRunOperator(task_id="submit", json={}, wait_for_termination=False)
    pause = TimeDeltaSensor(task_id="pause", delta=60)
    submit >> pause
    """
    assert found(source) == []


def test_sensor_found_through_a_templated_task_id() -> None:
    source = """
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow.providers.standard.sensors.python import PythonSensor

    DatabricksSubmitRunOperator(task_id="submit", json={}, wait_for_termination=False)
    PythonSensor(task_id="wait", python_callable=ok, templates_dict={"run": '{{ ti.xcom_pull("submit") }}'})
    """
    assert found(source) == [(5, "ARS004")]


# --- ARS005 / ARS006 / ARS007 -----------------------------------------------------------------------------


def test_result_returned_through_the_instance_is_accepted() -> None:
    source = """
    from airflow.sdk import BaseOperator, ResumableJobMixin

    class Op(ResumableJobMixin, BaseOperator):
        def execute(self, context):
            self.execute_resumable(context)
            return self._job_run_id

        def submit_job(self, context):
            return "id"
    """
    assert found(source) == []


def test_wrong_base_order_and_missing_execute_are_both_reported() -> None:
    source = """
    from airflow.sdk import BaseOperator, ResumableJobMixin

    class Op(BaseOperator, ResumableJobMixin):
        def submit_job(self, context):
            return "id"
    """
    assert found(source) == [(4, "ARS005"), (4, "ARS006")]


def test_unrelated_mixins_before_the_operator_are_fine() -> None:
    source = """
    from airflow.sdk import BaseOperator, ResumableJobMixin

    class Logged:
        pass

    class Op(Logged, ResumableJobMixin, BaseOperator):
        def execute(self, context):
            return self.execute_resumable(context)
    """
    assert found(source) == []


def test_submit_job_in_a_generator_or_unrelated_class_is_not_checked() -> None:
    source = """
    class Client:
        def submit_job(self, context):
            print("fire and forget")
    """
    assert found(source) == []


# --- ARS008 -------------------------------------------------------------------------------------------------


def test_asset_store_from_context_in_a_mapped_task() -> None:
    source = """
    from airflow.sdk import task

    @task
    def load(part, **context):
        ctx = context["asset_state_store"]
        ctx["orders"].set("watermark", part)
        ctx["orders"].set(f"watermark/{part}", part)

    load.expand(part=[1, 2])
    """
    assert found(source) == [(7, "ARS008")]


def test_unmapped_asset_writer_is_fine() -> None:
    source = """
    from airflow.sdk import task

    @task
    def load(asset_state_store=None):
        asset_state_store.set("watermark", "2026-01-01")

    load()
    """
    assert found(source) == []


# --- ARS009 -------------------------------------------------------------------------------------------------


def test_task_override_of_dag_retries_is_respected() -> None:
    source = """
    from airflow.sdk import DAG, task

    with DAG("d", default_args={"retries": 0}):
        @task(retries=2)
        def load(task_state_store=None):
            return task_state_store.get("done")

        @task
        def plain():
            return 1
    """
    assert found(source) == []


def test_tasks_outside_the_dag_block_use_the_files_default_args() -> None:
    source = """
    from airflow.sdk import DAG, task

    @task
    def load(task_state_store=None):
        return task_state_store.get("done")

    with DAG("d", default_args={"retries": 0}):
        load()
    """
    assert found(source) == [(5, "ARS009")]


# --- ARS011 values ---------------------------------------------------------------------------------------


DATETIME_IMPORTS = "from datetime import date, datetime, timezone"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("datetime.now()", "naive datetime"),
        ("datetime.utcnow()", "naive datetime"),
        ("datetime(2026, 1, 1)", "naive datetime"),
        ("datetime(2026, 1, 1, tzinfo=timezone.utc)", "datetime object"),
        ("date(2026, 1, 1)", "date object"),
        ("(1, 2)", "tuple"),
        ("{1, 2}", "set"),
        ("b'x'", "bytes"),
        ("{1: 'a'}", "non-str keys"),
        ("float('-inf')", "NaN or infinity"),
        ("None", "None"),
        ("[1, (2, 3)]", "tuple"),
    ],
)
def test_non_json_values(value: str, reason: str) -> None:
    source = f"{DATETIME_IMPORTS}\n\ndef run(task_state_store):\n    task_state_store.set('k', {value})\n"
    findings = lint_source(source)
    assert [(f.line, f.code) for f in findings] == [(4, "ARS011")]
    assert reason in findings[0].message


@pytest.mark.parametrize(
    "value",
    ["datetime.now(timezone.utc).isoformat()", "[1, None]", "{'a': 1}", "float('1.5')", "'nan'", "compute()"],
)
def test_json_values_and_unknowns_pass(value: str) -> None:
    source = f"{DATETIME_IMPORTS}\n\ndef run(task_state_store):\n    task_state_store.set('k', {value})\n"
    assert lint_source(source) == []


# --- rule table, selection and findings --------------------------------------------------------------------


def test_rule_table_is_complete_and_ordered() -> None:
    assert list(RULES) == [f"ARS{n:03d}" for n in range(12)]
    assert all(rule.title and rule.hint and rule.code == code for code, rule in RULES.items())


def test_code_prefixes_and_unknown_codes() -> None:
    assert resolve_codes(["ars00"]) == {f"ARS00{n}" for n in range(10)}
    assert resolve_codes(["ARS011", " "]) == {"ARS011"}
    with pytest.raises(UnknownCodeError, match="ARS999"):
        resolve_codes(["ARS999"])


def test_select_and_ignore_in_lint_source() -> None:
    source = "def run(task_state_store, ti):\n    task_state_store.set('k', None)\n    ti.xcom_pull()\n"
    assert [f.code for f in lint_source(source)] == ["ARS011", "ARS002"]
    assert [f.code for f in lint_source(source, select=["ARS002"])] == ["ARS002"]
    assert [f.code for f in lint_source(source, ignore=["ARS01"])] == ["ARS002"]


def test_finding_text_and_json_forms() -> None:
    finding = Finding("d.py", 3, 5, "ARS002", "msg", "hint")
    assert finding.format() == "d.py:3:5: ARS002 msg (hint)"
    assert finding.as_dict() == {
        "path": "d.py",
        "line": 3,
        "col": 5,
        "code": "ARS002",
        "message": "msg",
        "hint": "hint",
    }


def test_parse_error_is_a_finding() -> None:
    findings = lint_source("def broken(:\n    pass\n", "bad.py")
    assert [(f.path, f.line, f.code) for f in findings] == [("bad.py", 1, "ARS000")]
    assert findings[0].message.startswith("cannot parse: ")
    assert lint_source("def broken(:\n", ignore=["ARS000"]) == []


def test_noqa_in_lint_source() -> None:
    source = (
        "def run(ti):\n"
        "    ti.xcom_pull()  # noqa\n"
        "    ti.xcom_pull()  # noqa: ARS002\n"
        "    ti.xcom_pull()  # noqa:ars001, ARS002 job id is kept elsewhere\n"
        "    ti.xcom_pull()  # noqa: E501\n"
        "    ti.xcom_pull()  # NOQA: ARS001\n"
    )
    assert [(f.line, f.code) for f in lint_source(source)] == [(5, "ARS002"), (6, "ARS002")]


def test_nan_inside_a_list_is_reported_as_silently_nulled() -> None:
    source = "import math\n\ndef run(task_state_store):\n    task_state_store.set('k', [1.5, math.nan])\n"
    findings = lint_source(source)
    assert [(f.line, f.code) for f in findings] == [(4, "ARS011")]
    assert "NaN or infinity inside a list" in findings[0].message
    assert "stores it as null, silently" in findings[0].message
    top = lint_source("def run(task_state_store):\n    task_state_store.set('k', float('nan'))\n")
    assert "rejects it at run time" in top[0].message


def test_an_f_string_without_holes_is_a_fixed_key() -> None:
    source = """
    from airflow.sdk import task

    @task
    def load(part, asset_state_store=None):
        asset_state_store.set(f"watermark", part)

    load.expand(part=[1, 2])
    """
    assert found(source) == [(6, "ARS008")]
