"""ARS006: ResumableJobMixin listed after the operator base (fails to construct on Airflow 3.3)."""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import BaseOperator, ResumableJobMixin
from airflow.sdk import ResumableJobMixin as RJM
from airflow.sdk.bases import resumablejobmixin

from airflow_resumable import DurableJobMixin


class WrongOrder(BaseOperator, ResumableJobMixin):  # expect: ARS006
    def execute(self, context):
        return self.execute_resumable(context)


class WrongOrderAlias(BashOperator, RJM):  # expect: ARS006
    def execute(self, context):
        return self.execute_resumable(context)


class LocalMixin(ResumableJobMixin):
    """A project mixin built on ResumableJobMixin."""


class WrongOrderLocal(BaseOperator, LocalMixin):  # expect: ARS006
    def execute(self, context):
        return self.execute_resumable(context)


class WrongOrderDotted(BaseOperator, resumablejobmixin.ResumableJobMixin):  # expect: ARS006
    def execute(self, context):
        return self.execute_resumable(context)


class WrongOrderDurable(BaseOperator, DurableJobMixin):  # expect: ARS006
    def execute(self, context):
        return self.execute_resumable(context)
