"""How the durable job operators read a backend error: worth retrying, or "this job does not exist".

Only errors raised by a backend's *client* are classified: ``requests``, ``httpx``, ``aiohttp``,
``urllib3`` and ``botocore`` errors, builtin connection and timeout errors, and the providers' own
wrappers of an API response (Databricks ``DatabricksApiError``). Airflow's exception hierarchy is never
read: ``AirflowException.status_code`` (500) and ``AirflowNotFoundException.status_code`` (404) are class
attributes meant for Airflow's REST API, so a missing connection is not "the job does not exist" and a
failed job is not "try again". The execution API's own errors (``ServerResponseError``, e.g. a 404 for a
task instance that was cleared) are Airflow's too, and never transient here.

A provider error is still looked *through*: the causes it was raised from (``raise ... from``) are
classified on their own, so the Databricks hook's "API requests ... failed 3 times. Giving up." (raised
from the ``tenacity.RetryError`` of its 503 answers) counts as transient, while its "failed with terminal
state" does not. Nothing here imports a client library: classes are recognised by their module.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "causes",
    "error_code",
    "error_message",
    "http_status",
    "is_client_error",
    "is_not_found",
    "is_transient",
]

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
        "ExecutionDoesNotExist",  # Step Functions (DescribeExecution, HTTP 400)
        "NotFound",
        "NoSuchEntity",
        "RESOURCE_DOES_NOT_EXIST",
        "NOT_FOUND",
    }
)
"""Error codes that mean "this job does not exist (any more)"."""

_CLIENT_MODULES = ("requests", "urllib3", "httpx", "httpcore", "aiohttp", "botocore", "aiobotocore")
"""Top-level packages whose exceptions are backend client errors."""

_PROVIDER_API_ERRORS = frozenset({("airflow.providers.databricks.exceptions", "DatabricksApiError")})
"""Provider exceptions that carry a backend's API answer (an HTTP status read from the response)."""

# Connection and timeout errors of the clients, by class name (within a client module only).
_CONNECTION_ERROR_NAMES = frozenset(
    {
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "TimeoutException",
        "TransportError",
        "HTTPClientError",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
    }
)


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the errors it was explicitly raised from (``raise ... from``; bounded, loop-safe).

    A ``tenacity.RetryError`` (a lower-level retry that gave up) is followed to its last attempt's error.
    """
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or _last_attempt_error(current)
    return chain


def _last_attempt_error(error: BaseException) -> BaseException | None:
    if type(error).__name__ != "RetryError" or not type(error).__module__.startswith("tenacity"):
        return None
    attempt = getattr(error, "last_attempt", None)
    try:
        return attempt.exception() if attempt is not None else None
    except Exception:  # pragma: no cover - a cancelled future
        return None


def _package(cls: type) -> str:
    return cls.__module__.split(".", 1)[0]


def is_client_error(error: BaseException) -> bool:
    """True when ``error`` was raised by a backend client (or a provider's wrapper of its API answer).

    False for every class of Airflow's own hierarchy (core, Task SDK, execution API client), whatever
    status code it carries.
    """
    mro = type(error).__mro__
    if any((cls.__module__, cls.__qualname__) in _PROVIDER_API_ERRORS for cls in mro):
        return True
    if any(_package(cls) == "airflow" for cls in mro):
        return False
    return any(_package(cls) in _CLIENT_MODULES for cls in mro)


def http_status(error: BaseException) -> int | None:
    """The HTTP status of a client error's answer (``None`` for other errors, whatever they carry)."""
    if not is_client_error(error):
        return None
    for attr in ("http_status_code", "status"):  # DatabricksApiError, aiohttp.ClientResponseError
        value = getattr(error, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            return value
    response = getattr(error, "response", None)
    value = getattr(response, "status_code", None)  # requests, httpx
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(response, Mapping):  # botocore ClientError
        meta = response.get("ResponseMetadata")
        value = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
        if isinstance(value, int):
            return value
    return None


def _aws_error(error: BaseException) -> Mapping[str, object] | None:
    response = getattr(error, "response", None)
    err = response.get("Error") if isinstance(response, Mapping) else None
    return err if isinstance(err, Mapping) else None


def _response_json(error: BaseException) -> Mapping[str, object] | None:
    response = getattr(error, "response", None)
    reader = getattr(response, "json", None)
    if not callable(reader):
        return None
    try:
        body = reader()
    except Exception:
        return None
    return body if isinstance(body, Mapping) else None


def error_code(error: BaseException) -> str | None:
    """A client error's code: botocore's ``response["Error"]["Code"]`` or a JSON body's ``error_code``."""
    if not is_client_error(error):
        return None
    err = _aws_error(error)
    code = err.get("Code") if err is not None else None
    if isinstance(code, str):
        return code
    body = _response_json(error)
    code = body.get("error_code") if body is not None else None
    return code if isinstance(code, str) else None


def error_message(error: BaseException) -> str:
    """botocore's ``response["Error"]["Message"]``, else the error's text."""
    err = _aws_error(error)
    message = err.get("Message") if err is not None else None
    return message if isinstance(message, str) else str(error)


def _is_transient_one(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError) and not any(
        _package(cls) == "airflow" for cls in type(exc).__mro__
    ):
        return True
    if not is_client_error(exc):
        return False
    if any(
        cls.__name__ in _CONNECTION_ERROR_NAMES and _package(cls) != "airflow" for cls in type(exc).__mro__
    ):
        return True
    status = http_status(exc)
    if status is not None and (status in (408, 429) or status >= 500):
        return True
    return error_code(exc) in TRANSIENT_CODES


def is_transient(error: BaseException) -> bool:
    """True for a client's throttling (408, 429, a throttling code), server error (5xx) or lost connection.

    Looks at ``error`` and its explicit causes (and a lower-level retry's last error). Airflow's own
    exceptions never count, whatever their ``status_code``.
    """
    return any(_is_transient_one(exc) for exc in causes(error))


def is_not_found(error: BaseException) -> bool:
    """True for a client's 404 or not-found error code on ``error`` or its explicit causes."""
    for exc in causes(error):
        if not is_client_error(exc):
            continue
        code = error_code(exc)
        if code in NOT_FOUND_CODES or (http_status(exc) == 404 and code != "ENDPOINT_NOT_FOUND"):
            return True
    return False
