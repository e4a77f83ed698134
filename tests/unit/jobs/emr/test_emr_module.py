"""The module as users meet it: an import guard naming the extra, and drop-in provider subclasses."""

from __future__ import annotations

import importlib
import inspect
import sys

import pytest
from airflow.providers.amazon.aws.operators import emr as provider

from airflow_resumable.jobs import emr
from airflow_resumable.jobs.base import DurableJobMixin

PAIRS = [
    (emr.EmrServerlessStartJobOperator, provider.EmrServerlessStartJobOperator),
    (emr.EmrContainerOperator, provider.EmrContainerOperator),
    (emr.EmrAddStepsOperator, provider.EmrAddStepsOperator),
]


@pytest.mark.parametrize("module", ["emr", "emr_serverless", "emr_containers", "emr_steps"])
def test_import_without_the_amazon_provider_names_the_extra(monkeypatch, module):
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.operators.emr", None)
    for name in [n for n in sys.modules if n.startswith("airflow_resumable.jobs.emr")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"pip install 'airflow-resumable\[amazon\]'"):
        importlib.import_module(f"airflow_resumable.jobs.{module}")


def test_each_service_has_its_own_module_and_emr_re_exports_them():
    from airflow_resumable.jobs import emr_containers, emr_serverless, emr_steps

    assert emr.EmrServerlessStartJobOperator is emr_serverless.EmrServerlessStartJobOperator
    assert emr.EmrContainerOperator is emr_containers.EmrContainerOperator
    assert emr.EmrAddStepsOperator is emr_steps.EmrAddStepsOperator


def test_the_top_level_package_does_not_import_the_provider():
    code = (
        "import sys, airflow_resumable, airflow_resumable.jobs;"
        "assert 'airflow.providers.amazon' not in sys.modules, 'provider imported';"
        "assert 'airflow_resumable.jobs.emr' not in sys.modules"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_operators_are_drop_in_subclasses(ours, theirs):
    assert issubclass(ours, theirs)
    assert issubclass(ours, DurableJobMixin)
    assert ours.__mro__.index(DurableJobMixin) < ours.__mro__.index(theirs)
    assert ours.template_fields == theirs.template_fields
    assert ours.execute_complete is theirs.execute_complete  # the trigger's return path is the provider's
    assert ours.on_kill is theirs.on_kill


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=lambda c: c.__name__)
def test_operators_take_the_provider_arguments_and_are_durable_by_default(ours, theirs, aws):
    kwargs = {
        provider.EmrServerlessStartJobOperator: {
            "application_id": "app",
            "execution_role_arn": "arn:aws:iam::123456789012:role/r",
            "job_driver": {},
        },
        provider.EmrContainerOperator: {
            "name": "n",
            "virtual_cluster_id": "vc",
            "execution_role_arn": "arn:aws:iam::123456789012:role/r",
            "release_label": "emr-6.10.0-latest",
            "job_driver": {},
        },
        provider.EmrAddStepsOperator: {"job_flow_id": "j-1", "steps": []},
    }[theirs]
    op = ours(task_id="t", **kwargs)
    assert op.durable is True
    assert ours(task_id="t2", durable=False, **kwargs).durable is False
    assert set(inspect.signature(ours.__init__).parameters) <= {
        "self",
        "durable",
        "external_id_key",
        "previous_external_id_keys",
        "kwargs",
    }


def test_each_operator_has_its_own_store_key():
    keys = [cls.external_id_key for cls, _ in PAIRS]
    assert keys == ["emr_serverless_job_run_id", "emr_containers_job_run_id", "emr_step_ids"]


def test_the_key_can_be_renamed_per_task_and_durable_comes_from_default_args():
    from airflow.sdk import DAG

    with DAG("emr_keys", schedule=None, default_args={"durable": False}):
        op = emr.EmrAddStepsOperator(
            task_id="add",
            job_flow_id="j-1",
            steps=[{"Name": "s"}],
            external_id_key="steps_v2",
            previous_external_id_keys=["steps_v1"],
        )
    assert (op.external_id_key, op.previous_external_id_keys, op.durable) == (
        "steps_v2",
        ("steps_v1",),
        False,
    )
    assert op.intent_key == "steps_v2.intent"
    assert emr.EmrAddStepsOperator.external_id_key == "emr_step_ids"  # the class default is untouched
