"""ARS005: ResumableJobMixin operators whose execute() does not return execute_resumable()."""

from __future__ import annotations

from airflow.sdk import BaseOperator, ResumableJobMixin


class _Job:
    def submit_job(self, context):
        return "job-1"


class DropsResult(ResumableJobMixin, BaseOperator):
    def execute(self, context):  # expect: ARS005
        self.execute_resumable(context)

    def submit_job(self, context):
        return "job-1"


class BypassesMixin(ResumableJobMixin, BaseOperator):
    def execute(self, context):  # expect: ARS005
        job_id = self.submit_job(context)
        self.poll_until_complete(job_id, context)
        return self.get_job_result(job_id, context)

    def submit_job(self, context):
        return "job-1"


class NoExecute(ResumableJobMixin, BaseOperator):  # expect: ARS005
    def submit_job(self, context):
        return "job-1"


class ResumableBase(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)


class OverridesBadly(ResumableBase):
    def execute(self, context):  # expect: ARS005
        def inner():
            return self.execute_resumable(context)

        inner()
