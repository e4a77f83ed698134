"""How the durable job operators read a backend error: worth retrying, or "this job does not exist".

One place for the error shapes of the clients the operators use: an HTTP status on the error or its
response (requests, Databricks), an error code and message in a botocore ``ClientError.response``, and
the connection and timeout errors of requests, httpx, aiohttp and botocore. Nothing here imports a client
library: errors are recognised by their attributes and class names.
"""

from __future__ import annotations

from collections.abc import Mapping

import tenacity

__all__ = ["causes", "error_code", "error_message", "http_status", "is_not_found", "is_transient"]

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TEMPORARILY_UNAVAILABLE",
        "REQUEST_LIMIT_EXCEEDED",
    }
)
"""Error codes that mean "slow down" or "try again" (AWS ``Error.Code``, Databricks ``error_code``)."""

NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NotFound",
        "NoSuchEntity",
        "RESOURCE_DOES_NOT_EXIST",
        "NOT_FOUND",
    }
)
"""Error codes that mean "this job does not exist (any more)"."""

# Client connection and timeout errors that are not builtin ConnectionError / TimeoutError subclasses,
# matched by the name of a class in the error's MRO: requests, httpx, aiohttp and botocore
# (EndpointConnectionError and ReadTimeoutError derive from botocore's ConnectionError / HTTPClientError).
_CONNECTION_ERROR_NAMES = frozenset(
    {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutException", "HTTPClientError"}
)


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the errors it was explicitly raised from (``raise ... from``; bounded, loop-safe)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__
    return chain


def http_status(error: BaseException) -> int | None:
    """The HTTP status an error carries: on itself, on its ``response``, or in botocore's metadata."""
    for attr in ("http_status_code", "status_code", "status"):
        value = getattr(error, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            return value
    response = getattr(error, "response", None)
    value = getattr(response, "status_code", None)
    if isinstance(value, int):
        return value
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata")
        value = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
        if isinstance(value, int):
            return value
    return None


def _aws_error(error: BaseException) -> Mapping[str, object] | None:
    response = getattr(error, "response", None)
    err = response.get("Error") if isinstance(response, Mapping) else None
    return err if isinstance(err, Mapping) else None


def error_code(error: BaseException) -> str | None:
    """The error code: ``error.error_code`` (Databricks) or botocore's ``response["Error"]["Code"]``."""
    code = getattr(error, "error_code", None)
    if isinstance(code, str):
        return code
    err = _aws_error(error)
    code = err.get("Code") if err is not None else None
    return code if isinstance(code, str) else None


def error_message(error: BaseException) -> str:
    """botocore's ``response["Error"]["Message"]``, else the error's text."""
    err = _aws_error(error)
    message = err.get("Message") if err is not None else None
    return message if isinstance(message, str) else str(error)


def is_transient(error: BaseException) -> bool:
    """True for throttling (408, 429, a throttling code), server errors (5xx) and connection errors.

    Looks at ``error`` and its explicit causes; a lower-level retry that gave up (``tenacity.RetryError``)
    counts as transient too.
    """
    for exc in causes(error):
        if isinstance(exc, ConnectionError | TimeoutError | tenacity.RetryError):
            return True
        if any(cls.__name__ in _CONNECTION_ERROR_NAMES for cls in type(exc).__mro__):
            return True
        status = http_status(exc)
        if status is not None and (status in (408, 429) or status >= 500):
            return True
        if error_code(exc) in TRANSIENT_CODES:
            return True
    return False


def is_not_found(error: BaseException) -> bool:
    """True for a 404 or a not-found error code on ``error`` or its explicit causes."""
    return any(http_status(e) == 404 or error_code(e) in NOT_FOUND_CODES for e in causes(error))
