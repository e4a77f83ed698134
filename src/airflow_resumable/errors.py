"""The library's exceptions.

Every error raised on purpose by airflow-resumable derives from
[`ResumableError`][airflow_resumable.errors.ResumableError], so a DAG author can catch one type. Each message
says what went wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AirflowVersionError",
    "CheckpointError",
    "CommitError",
    "ConcurrentWriteError",
    "InvalidValueError",
    "JobError",
    "NoStoreError",
    "ResumableError",
    "WatermarkRegressionError",
]


class ResumableError(Exception):
    """Base class of every error raised by airflow-resumable."""


class AirflowVersionError(ResumableError):
    """The installed Airflow is older than 3.3, which introduced the state stores (AIP-103)."""


class NoStoreError(ResumableError):
    """No state store could be found: not inside a running task, and none was passed with ``store=``."""


class InvalidValueError(ResumableError, ValueError):
    """A value, key or option was rejected before anything was written.

    Also a `ValueError`, so code that already guards against bad values keeps working.
    """


class CommitError(ResumableError):
    """A write to a state store kept failing after its retries; the progress it carried was not saved."""


class CheckpointError(ResumableError):
    """A checkpoint cannot be used as asked (for example the pending out-of-order set grew too large)."""


class WatermarkRegressionError(ResumableError):
    """A watermark was asked to move backwards.

    Use ``rewind(value, reason=...)`` for a deliberate move back.
    """


class ConcurrentWriteError(ResumableError):
    """Another writer changed a shared key between our read and our write: our progress would be lost."""


class JobError(ResumableError):
    """An external job could not be submitted, found or reconnected to."""
