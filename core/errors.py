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

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

_EXCERPT = 200


class JinaV3Error(Exception):
    """Base class of every error raised by jina_v3.

    Every error pickles (to and from worker processes) with its type, message and attributes,
    whatever its constructor takes: see :meth:`__reduce__`.
    """

    def __reduce__(self) -> Any:
        # Exception's own reduce calls cls(*args), which keyword-only constructors refuse or
        # turn into another message; rebuild from the finished state instead.
        return (_restore, (type(self), self.args), self.__dict__ or None)


def _restore(cls: type[JinaV3Error], args: tuple[Any, ...]) -> JinaV3Error:
    """An error of type `cls` with `args` as they were, its own constructor skipped (its
    attributes come back as the pickle's state)."""
    error = cls.__new__(cls, *args)
    super(JinaV3Error, error).__init__(*args)  # the builtin base's (ImportError sets .msg)
    return error


class ConfigurationError(JinaV3Error, ValueError):
    """A constructor or call argument is invalid."""


def check_positive(name: str, value: Any) -> int:
    """`value` if it is a positive integer (not a bool), else a ConfigurationError naming
    `name`, the parameter that fixes it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value


def unknown_arguments(
    owner: str, unknown: Iterable[str], valid: Iterable[str]
) -> ConfigurationError:
    """The error for keyword arguments `owner` does not take, naming the nearest valid one.

    Every public constructor with ``**kwargs`` refuses what it does not know with this, rather
    than dropping it (a typo such as ``dimensoins=`` would otherwise pass silently).
    """
    valid = sorted(valid)

    def nearest(name: str) -> str | None:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        return close[0] if close else None

    unknown = sorted(unknown)
    if len(unknown) == 1:
        guess = nearest(unknown[0])
        hint = f"; did you mean {guess!r}?" if guess else "."
        head = f"Unknown argument {unknown[0]!r} for {owner}{hint}"
    else:
        names = [
            f"{n!r}" + (f" (did you mean {g!r}?)" if (g := nearest(n)) else "") for n in unknown
        ]
        head = f"Unknown arguments {', '.join(names)} for {owner}."
    return ConfigurationError(f"{head} Valid: {', '.join(valid)}.")


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

    def retold(self, where: str, fix: str) -> InputTooLongError:
        """This error told by a caller that knows what the input was (``where``: "Document
        'a.md', chunk 3,") and what fixes it there; the attributes stay the same."""
        size = (
            f"has {self.tokens} tokens, over the model's limit of {self.limit}"
            if self.tokens >= 0
            else "is over the model's context"
        )
        http = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return InputTooLongError(
            f"{where} {size}{http}: {fix}.",
            index=self.index,
            tokens=self.tokens,
            limit=self.limit,
            status_code=self.status_code,
            body=self.body,
        )


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
    """The collection was built with other embedding settings than this index uses.

    `differences` maps each setting that differs (a field of the embedding signature:
    ``model``, ``dimensions``, ``late_chunking`` ...) to ``(the collection's value, this
    index's value)``, every one of them at once; empty when the collection cannot be compared
    (no signature, another layout). `collection` names the collection. Front ends word their
    own fix from these (the CLI names its flags).
    """

    def __init__(
        self,
        message: str,
        *,
        collection: str = "",
        differences: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.collection = collection
        self.differences: dict[str, tuple[Any, Any]] = dict(differences or {})


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
