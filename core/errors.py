"""The one error tree of jina_v3.

    JinaV3Error
    ├── ConfigurationError (ValueError)      bad constructor or call arguments
    │   └── UnknownTaskError                 a task name that is not one of the five adapters
    ├── InputTooLongError (ValueError)       an input over the context without truncate=True
    ├── MissingDependencyError (ImportError) an optional extra is not installed
    ├── ModelLoadError                       a checkpoint that cannot be found or does not fit
    ├── APIError                             the remote API answered with an error
    │   ├── AuthenticationError              401: missing or invalid key
    │   ├── InsufficientBalanceError         402/403: balance or resource limit
    │   ├── InvalidRequestError              400/413/422: the request itself was wrong
    │   ├── RateLimitError                   429, with `retry_after` seconds when known
    │   └── ServerError                      5xx (retried before it is raised)
    │       └── MalformedResponseError       a 2xx body that is not a consistent answer
    ├── APIConnectionError                   the connection failed or dropped
    │   └── APITimeoutError                  no complete answer within `timeout`
    ├── QueueFullError                       the server's batcher has no room (answered 429)
    └── StoreError                           a vector database refused or failed an operation
        ├── SignatureMismatchError           a collection built with other embedding settings
        │   └── DimensionMismatchError       ... in particular another vector size
        ├── StoreInUseError                  an embedded store another process holds
        └── UnsupportedFilterError           a filter operator the dialect does not have

Every message says what went wrong and which parameter fixes it.
"""

from __future__ import annotations

_EXCERPT = 200


class JinaV3Error(Exception):
    """Base class of every error raised by jina_v3."""


class ConfigurationError(JinaV3Error, ValueError):
    """A constructor or call argument is invalid."""


class UnknownTaskError(ConfigurationError):
    """`task` is not one of the model's adapters."""


class InputTooLongError(JinaV3Error, ValueError):
    """An input has more tokens than the model's context and `truncate` is off.

    `index` is the input's position (-1: the whole late-chunked request); `status_code` and
    `body` are set when a server said so (None and "" when the client found it first).
    """

    def __init__(
        self,
        message: str,
        *,
        index: int,
        tokens: int,
        limit: int,
        status_code: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.index = index
        self.tokens = tokens
        self.limit = limit
        self.status_code = status_code
        self.body = body[:_EXCERPT]


class MissingDependencyError(JinaV3Error, ImportError):
    """An optional dependency (a pip extra) is not installed."""


class ModelLoadError(JinaV3Error):
    """A checkpoint cannot be found, downloaded or matched to the model.

    `reason` is what went wrong and `advice` how to fix it from Python (the CLI gives its own
    flags instead); the message is both.
    """

    def __init__(self, reason: str, *, advice: str = "") -> None:
        super().__init__(f"{reason} {advice}".strip())
        self.reason = reason
        self.advice = advice


class APIError(JinaV3Error):
    """The embeddings API answered with an error status.

    `body` is an excerpt of the answer; `retry_after` the server's `Retry-After` hint in
    seconds, when it sent one (429, and 503 where the server says).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = body[:_EXCERPT]
        self.retry_after = retry_after
        detail = f" (HTTP {status_code})" if status_code is not None else ""
        excerpt = f": {self.body}" if self.body else ""
        super().__init__(f"{message}{detail}{excerpt}")


class AuthenticationError(APIError):
    """401: the API key is missing or invalid."""


class InsufficientBalanceError(APIError):
    """402/403: the account has no balance left or hit a resource limit."""


class InvalidRequestError(APIError):
    """400/413/422: the request was malformed or exceeds the API's limits."""


class RateLimitError(APIError):
    """429: too many requests or tokens; `retry_after` is the server's hint in seconds."""


class ServerError(APIError):
    """5xx: the service failed; raised once the retries are spent."""


class MalformedResponseError(ServerError):
    """A 2xx answer whose body is not a complete, consistent embeddings response."""


class APIConnectionError(JinaV3Error):
    """The connection to the API could not be made or was dropped."""


class APITimeoutError(APIConnectionError):
    """The API did not answer within `timeout` seconds."""


class QueueFullError(JinaV3Error):
    """The server's batcher queue is full; `retry_after` is the seconds it likely needs."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"The server is busy: its queue is full; retry after {retry_after}s "
            "(or raise max_queue)"
        )
        self.retry_after = retry_after


class StoreError(JinaV3Error):
    """A vector database refused or failed an operation."""


class SignatureMismatchError(StoreError):
    """The collection was built with other embedding settings than this index uses."""


class DimensionMismatchError(SignatureMismatchError):
    """The collection's vector size differs from the embedder's `dimensions`."""


class StoreInUseError(StoreError):
    """An embedded store (a folder or file) is held by another process; `path` is where."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"the store at {path} is in use by another process (a running `jina-v3 index`?); "
            "wait for it to finish, or use a server (qdrant:http://..., milvus:http://...) "
            "for concurrent access"
        )
        self.path = path

    def __reduce__(self) -> tuple[type[StoreInUseError], tuple[str]]:
        return type(self), (self.path,)


class UnsupportedFilterError(StoreError, ValueError):
    """A filter uses an operator or shape that the filter dialect does not support."""
