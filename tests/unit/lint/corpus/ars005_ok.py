"""No ARS005: execute() returns execute_resumable(), or delegates to a class that does."""

from __future__ import annotations

from abc import abstractmethod

from airflow.sdk import BaseOperator, ResumableJobMixin


class Good(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        if self.durable:
            return self.execute_resumable(context)
        return self.execute_resumable(context=context)

    def submit_job(self, context):
        return "job-1"


class Delegates(Good):
    def execute(self, context):
        self.log.info("starting")
        return super().execute(context)


class Inherits(Good):
    external_id_key = "inherits_job_id"


class BaseJobOperator(ResumableJobMixin, BaseOperator):
    """A family base: subclasses define execute()."""

    @abstractmethod
    def build_request(self): ...


class PureMixinExtension(ResumableJobMixin):
    """Not an operator on its own, so it needs no execute()."""
