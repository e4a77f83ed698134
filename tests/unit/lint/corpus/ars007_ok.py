"""No ARS007: every path returns an id or raises."""

from __future__ import annotations

from abc import abstractmethod

from airflow.sdk import BaseOperator, ResumableJobMixin


class Base(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)


class Straight(Base):
    def submit_job(self, context):
        return self.hook.submit()


class RaisesAtEnd(Base):
    def submit_job(self, context):
        for _attempt in range(3):
            run_id = self.hook.submit()
            if run_id:
                return run_id
        raise RuntimeError("no run id")


class TryExcept(Base):
    def submit_job(self, context):
        try:
            run_id = self.hook.submit()
        except ConnectionError as exc:
            raise RuntimeError("submit failed") from exc
        else:
            return run_id


class Polls(Base):
    def submit_job(self, context):
        while True:
            run_id = self.hook.submit()
            if run_id:
                return run_id


class Matches(Base):
    def submit_job(self, context):
        match self.mode:
            case "a":
                return "run-a"
            case _:
                return "run-b"


class WithBlock(Base):
    def submit_job(self, context):
        with self.hook.session() as session:
            def on_error():
                return None

            session.on_error = on_error
            return session.submit()


class Interface(Base):
    @abstractmethod
    def submit_job(self, context): ...


class Stub(Base):
    def submit_job(self, context):
        """Filled in by subclasses."""
        ...


class PlainClass:
    def submit_job(self, context):
        return None
