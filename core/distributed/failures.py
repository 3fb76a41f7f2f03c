"""What fails in a distributed job, and how it is reported.

- :data:`TRANSIENT_ERRORS` and :func:`is_transient`: the failures that a re-run may cure (a
  dropped or refused connection, a store that went away, a timeout, 429, 5xx); the workers
  retry those, after a backoff, and Ray re-runs the block. Every other error stops the job.
- :func:`library_error`: on the driver, the library error that Ray's wrappers carry, raised
  as itself.
"""

from __future__ import annotations

import re

from jina_v3.errors import (
    APIConnectionError,
    ConfigurationError,
    JinaV3Error,
    RateLimitError,
    ServerError,
    SignatureMismatchError,
    StoreError,
    UnsupportedFilterError,
)

__all__ = [
    "TRANSIENT_ERRORS",
    "RetriesExhaustedError",
    "TransientStoreError",
    "is_transient",
    "library_error",
]


class TransientStoreError(StoreError):
    """A store operation failed for a reason that may pass (connection, timeout, 429, 5xx)."""


class RetriesExhaustedError(JinaV3Error):
    """A block kept failing with transient errors; the job stops (re-running continues)."""


#: User errors that a retry may cure; Ray retries the block's actor task on these only.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    APIConnectionError,
    RateLimitError,
    ServerError,
    TransientStoreError,
)
_NEVER_TRANSIENT = (ConfigurationError, SignatureMismatchError, UnsupportedFilterError)
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Client exceptions (by type name: the clients are optional) of a connection that failed.
_TRANSIENT_TYPES = frozenset(
    {
        "TransportError",
        "ConnectError",
        "ReadTimeout",
        "RemoteError",
        "MilvusUnavailableException",
        "NewConnectionError",
        "MaxRetryError",
    }
)
#: What clients say of a server that went away or is restarting (pymilvus wraps gRPC's
#: UNAVAILABLE in a plain MilvusException whose message is all there is to go by).
_TRANSIENT_MESSAGES = (
    "fail connecting",
    "server unavailable",
    "statuscode.unavailable",
    "connection refused",
)


def is_transient(exc: BaseException) -> bool:
    """Whether a store failure looks like one that passes: a dropped or refused connection,
    a server that is unavailable, a timeout, or an HTTP 408/429/5xx somewhere in its cause
    chain (never a signature or filter error)."""
    if isinstance(exc, _NEVER_TRANSIENT):
        return False
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if type(seen).__name__ in _TRANSIENT_TYPES:
            return True
        if any(marker in str(seen).lower() for marker in _TRANSIENT_MESSAGES):
            return True
        status = getattr(seen, "status", None) or getattr(seen, "status_code", None)
        if isinstance(status, int) and status in _TRANSIENT_STATUS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_RAY_DATA_NOTE = re.compile(r"\nFailed to .+ after \d+/\d+ attempts \(total backoff .*", re.S)


def library_error(exc: BaseException) -> JinaV3Error | None:
    """The library error that `exc` carries: itself, or the error of a worker that Ray
    wrapped (``RayTaskError`` and its ``as_instanceof_cause`` twins, ``ActorDiedError``, Ray
    Data's user-code wrappers keep it as ``cause`` or ``__cause__``); None when there is none.
    """
    from ray.exceptions import RayError

    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, JinaV3Error) and not isinstance(error, RayError):
            message = error.args[0] if error.args else None
            if isinstance(message, str):  # Ray Data appends its retry advice to the message
                error.args = (_RAY_DATA_NOTE.sub("", message), *error.args[1:])
            return error
        cause = getattr(error, "cause", None)
        error = cause if isinstance(cause, BaseException) else error.__cause__ or error.__context__
    return None
