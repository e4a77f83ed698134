"""No ARS006: the mixin comes first."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.emr import EmrHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.sdk import BaseOperator, ResumableJobMixin


class RightOrder(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)


class GenericBase(ResumableJobMixin, AwsBaseOperator[EmrHook]):
    def execute(self, context):
        return self.execute_resumable(context)


class LoggingMixin:
    pass


class Child(RightOrder, LoggingMixin):
    pass
