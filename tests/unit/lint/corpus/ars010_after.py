"""ARS010, next deployment: one key renamed carelessly, one renamed with its old key kept."""

from __future__ import annotations

from airflow.sdk import BaseOperator, ResumableJobMixin

from airflow_resumable import DurableJobMixin


class ExportOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "export_run_id"  # expect: ARS010

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "export-1"


class ImportOperator(DurableJobMixin, BaseOperator):
    external_id_key = "import_run_id"
    previous_external_id_keys = ("import_job_id",)

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


class DroppedKeyOperator(ResumableJobMixin, BaseOperator):  # expect: ARS010
    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "dropped-1"


class LegacyImportOperator(ResumableJobMixin, BaseOperator):
    external_id_key = "legacy_run_id"
    previous_external_id_keys = ("legacy_job_id",)  # expect: ARS010

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "legacy-1"
