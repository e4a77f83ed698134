"""ARS010, first deployment: the keys recorded in the baseline."""

from __future__ import annotations

from airflow.sdk import BaseOperator, ResumableJobMixin

from airflow_resumable import DurableJobMixin


class ExportOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "export_job_id"

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "export-1"


class ImportOperator(DurableJobMixin, BaseOperator):
    external_id_key = "import_job_id"

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "import-1"


class KeptOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "kept_job_id"

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "kept-1"


class DroppedKeyOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "dropped_job_id"

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "dropped-1"


class LegacyImportOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "legacy_job_id"

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "legacy-1"
