"""Errors of the operating API (``airflow_resumable.ops``) and the ``airflow-resumable state`` command.

All derive from [`ResumableError`][airflow_resumable.errors.ResumableError]. The command maps each to an exit
code (see [`airflow_resumable.ops.cli`][airflow_resumable.ops.cli]).
"""

from __future__ import annotations

from airflow_resumable.errors import ResumableError

__all__ = [
    "AccessDeniedError",
    "ApiError",
    "AuthenticationError",
    "NotFoundError",
    "OpsError",
    "RefusedError",
]


class OpsError(ResumableError):
    """Base class of the errors raised while operating a deployment from outside a task."""

    response: object | None = None
    """For an API server's answer: an object with its ``status_code`` (so retry policies skip 4xx)."""


class AuthenticationError(OpsError):
    """The API server did not accept the credentials (HTTP 401, or 403 for a token it cannot read)."""


class AccessDeniedError(OpsError):
    """The API server knows the user but refuses the action (HTTP 403): the role lacks the permission."""


class NotFoundError(OpsError):
    """The DAG, run, task instance, asset or key does not exist (HTTP 404, or nothing matched)."""


class ApiError(OpsError):
    """The API server could not be reached or answered with an unexpected error."""


class RefusedError(OpsError):
    """The action was refused by a guard before anything was written (a rewind that does not move back,
    a value of the wrong type, a missing reason, a record written by other code)."""
