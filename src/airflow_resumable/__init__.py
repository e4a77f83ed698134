"""airflow-resumable: make Apache Airflow tasks resume instead of restart.

Public names are importable from here. They load lazily, so ``import airflow_resumable`` in a DAG file
costs almost nothing and never imports a provider package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it (relative to this package)
_LAZY: dict[str, str] = {
    "ResumableError": "errors",
    "AirflowVersionError": "errors",
    "NoStoreError": "errors",
    "InvalidValueError": "errors",
    "CommitError": "errors",
    "CheckpointError": "errors",
    "WatermarkRegressionError": "errors",
    "ConcurrentWriteError": "errors",
    "JobError": "errors",
    "Codec": "_codec",
    "TypedCodec": "_codec",
    "Checkpointer": "checkpoint",
    "TaskStopping": "_graceful",
    "CommitPolicy": "cadence",
    "every": "cadence",
    "every_seconds": "cadence",
    "cost_aware": "cadence",
    "Watermark": "watermark",
    "WatermarkWindow": "watermark",
    "MergedWatermark": "watermark",
    "WatermarkCommit": "watermark",
    "WatermarkWriter": "watermark",
    "WatermarkRewind": "watermark",
    "DurableJobMixin": "jobs.base",
    "ResumeDecision": "jobs.base",
    "Decision": "jobs.base",
}

# spelled out (not computed from _LAZY) so type checkers see the re-exports
__all__ = [
    "AirflowVersionError",
    "CheckpointError",
    "Checkpointer",
    "Codec",
    "CommitError",
    "CommitPolicy",
    "ConcurrentWriteError",
    "Decision",
    "DurableJobMixin",
    "InvalidValueError",
    "JobError",
    "MergedWatermark",
    "NoStoreError",
    "ResumableError",
    "ResumeDecision",
    "TaskStopping",
    "TypedCodec",
    "Watermark",
    "WatermarkCommit",
    "WatermarkRegressionError",
    "WatermarkRewind",
    "WatermarkWindow",
    "WatermarkWriter",
    "__version__",
    "cost_aware",
    "every",
    "every_seconds",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'airflow_resumable' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"airflow_resumable.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # the same names, for type checkers and the API reference (griffe)
    from airflow_resumable._codec import (
        Codec,
        TypedCodec,
    )
    from airflow_resumable._graceful import TaskStopping
    from airflow_resumable.cadence import (
        CommitPolicy,
        cost_aware,
        every,
        every_seconds,
    )
    from airflow_resumable.checkpoint import (
        Checkpointer,
    )
    from airflow_resumable.errors import (
        AirflowVersionError,
        CheckpointError,
        CommitError,
        ConcurrentWriteError,
        InvalidValueError,
        JobError,
        NoStoreError,
        ResumableError,
        WatermarkRegressionError,
    )
    from airflow_resumable.jobs.base import (
        Decision,
        DurableJobMixin,
        ResumeDecision,
    )
    from airflow_resumable.watermark import (
        MergedWatermark,
        Watermark,
        WatermarkCommit,
        WatermarkRewind,
        WatermarkWindow,
        WatermarkWriter,
    )
