"""ARS007: submit_job implementations that can return None."""

from __future__ import annotations

from airflow.sdk import BaseOperator, ResumableJobMixin


class Base(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)


class DryRunSkips(Base):
    def submit_job(self, context):  # expect: ARS007
        if self.dry_run:
            return  # expect: ARS007
        run_id = self.hook.submit()
        if run_id:
            return run_id


class ExplicitNone(Base):
    def submit_job(self, context):
        self.hook.submit()
        return None  # expect: ARS007


class ForgotReturn(Base):
    def submit_job(self, context):  # expect: ARS007
        self.hook.submit()


class LoopMayFinish(Base):
    def submit_job(self, context):  # expect: ARS007
        for _attempt in range(3):
            run_id = self.hook.submit()
            if run_id:
                return run_id


class SwallowedError(Base):
    def submit_job(self, context):  # expect: ARS007
        try:
            return self.hook.submit()
        except ConnectionError:
            self.log.warning("submit failed")


class NotAnOperatorYet:
    external_id_key = "batch_id"

    def submit_job(self, context):  # expect: ARS007
        pass
