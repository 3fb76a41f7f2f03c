"""The client's decisions around the wire, without I/O: planning and the retried exchange.

Token counting and request planning (batches within the API's limits, late-chunked groups
that never mix two documents, :class:`InputTooLongError` before anything is sent), the retry
policy, and one request with its retries as a flow (:func:`exchange`, see
:mod:`jina_v3._flow`): the sync and async drivers of :mod:`jina_v3.remote.backend` only move bytes
and sleep, so both paths send the same requests and decide the same way.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from jina_v3._flow import Call, Flow
from jina_v3._packing import estimate_tokens, pack
from jina_v3.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    InputTooLongError,
    JinaV3Error,
    MalformedResponseError,
)
from jina_v3.remote.wire import (
    MAX_INPUTS,
    MAX_LATE_CHUNKING_TOKENS,
    MAX_TOKENS,
    V3_INSTRUCTIONS,
    V3_NAMES,
    Parsed,
    build_payload,
    dumps,
    error_for_status,
    malformed,
    parse_response,
    scrub,
)
from jina_v3.types import EmbedSpec

logger = logging.getLogger("jina_v3")

#: Estimated tokens per request outside late chunking (keeps requests and their retries small).
DEFAULT_MAX_REQUEST_TOKENS = 32768


def endpoint_url(base_url: str) -> str:
    """`POST` URL of the embeddings endpoint for a base URL given with or without a path.

    ``https://api.jina.ai``, ``https://api.jina.ai/v1`` and ``https://api.jina.ai/v1/embeddings``
    all mean the same endpoint, as different clients spell it differently.
    """
    url = base_url.rstrip("/")
    if url.endswith("/embeddings"):
        return url
    if url.endswith("/v1"):
        return url + "/embeddings"
    return url + "/v1/embeddings"


# -- token counting ---------------------------------------------------------------------


class TokenCounter:
    """Token counts for batching: exact with the v3 tokenizer, else :func:`estimate_tokens`.

    With a ``tokenizer.json`` (and the ``tokenizers`` package) counts are exact: instruction,
    text and ``<s>``/``</s>``, as the model sees them. Without it, each text counts as its
    estimate plus the instruction's plus 2 special tokens: about twice the real count, so
    late-chunked groups hold about half of what would fit, which costs context but never a
    rejected request. Strings of isolated symbols can reach one token per byte; for those,
    pass the tokenizer.
    """

    def __init__(self, tokenizer: Any | None = None) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, path: str | Path | None, model: str) -> TokenCounter:
        """From a ``tokenizer.json`` (or a folder holding one); else v3's from the HF cache."""
        try:
            import tokenizers
        except ImportError:
            return cls(None)
        file: Path | None = None
        if path is not None:
            file = Path(path).expanduser()
            if file.is_dir():
                file = file / "tokenizer.json"
        elif model in V3_NAMES:
            file = _cached_v3_tokenizer()
        if file is None or not file.is_file():
            if path is not None:
                raise ConfigurationError(f"tokenizer={str(path)!r}: no tokenizer.json there")
            return cls(None)
        try:
            tok = tokenizers.Tokenizer.from_file(str(file))
        except Exception as exc:  # the tokenizers library raises a bare Exception
            raise ConfigurationError(
                f"tokenizer={str(path)!r}: {file} is not a valid tokenizer.json ({exc})"
            ) from None
        tok.no_padding()
        tok.no_truncation()
        return cls(tok)

    @property
    def exact(self) -> bool:
        return self.tokenizer is not None

    def count(self, texts: Sequence[str], task: str | None) -> list[int]:
        """Tokens of each input with its instruction and special tokens."""
        prefix = V3_INSTRUCTIONS.get(task or "", "")
        if self.tokenizer is not None:
            return [len(e.ids) for e in self.tokenizer.encode_batch([prefix + t for t in texts])]
        extra = estimate_tokens(prefix) + 2
        return [estimate_tokens(t) + extra for t in texts]

    def chunk_counts(self, chunks: Sequence[str], task: str | None) -> tuple[int, list[int]]:
        """(tokens of instruction + specials, tokens of each chunk alone) for late chunking."""
        prefix = V3_INSTRUCTIONS.get(task or "", "")
        if self.tokenizer is not None:
            base = len(self.tokenizer.encode(prefix, add_special_tokens=False).ids) + 2
            encs = self.tokenizer.encode_batch(list(chunks), add_special_tokens=False)
            return base, [len(e.ids) for e in encs]
        return estimate_tokens(prefix) + 2, [estimate_tokens(c) for c in chunks]


def _cached_v3_tokenizer() -> Path | None:
    try:  # only the local cache: never a download for a token count
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache("jinaai/jina-embeddings-v3", "tokenizer.json")
    except Exception:
        return None
    return Path(found) if isinstance(found, str) else None


# -- planning ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request of a plan: its body, and what its answer must look like."""

    body: bytes
    n_inputs: int
    spec: EmbedSpec
    first_index: int  # of its first input in the caller's list (for error messages)


def plan_texts(
    model: str,
    texts: Sequence[str],
    spec: EmbedSpec,
    counter: TokenCounter,
    *,
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS,
) -> list[Request]:
    """Consecutive batches of at most 2048 inputs and `max_request_tokens` tokens each.

    Raises:
        InputTooLongError: With an exact tokenizer, an input over the context (no truncate).
    """
    counts = counter.count(texts, spec.task)
    if counter.exact and not spec.truncate:
        for i, n in enumerate(counts):
            if n > MAX_TOKENS:
                raise InputTooLongError(
                    f"Input {i} has {n} tokens (instruction and special tokens included), "
                    f"over the model's limit of {MAX_TOKENS}. Shorten it, or pass "
                    "truncate=True to cut it at the limit.",
                    index=i,
                    tokens=n,
                    limit=MAX_TOKENS,
                )
    parts = pack(counts, max_items=MAX_INPUTS, max_size=max_request_tokens)
    return _requests(model, texts, parts, spec, late_chunking=False)


def plan_document(
    model: str, chunks: Sequence[str], spec: EmbedSpec, counter: TokenCounter
) -> list[Request]:
    """One document: consecutive chunk groups, each one late-chunked request within 8192.

    A group costs the instruction and special tokens plus its chunks plus one per joining
    space; with a tokenizer the joined text is then checked exactly. A chunk over the budget
    alone forms its own group (the server then says it is too long).
    """
    base, counts = counter.chunk_counts(chunks, spec.task)
    groups: list[range] = []
    start = 0
    while start < len(chunks):
        first = next(
            pack(
                counts[start:],
                max_items=MAX_INPUTS,
                max_size=MAX_LATE_CHUNKING_TOKENS,
                base=base,
                separator=1,
            )
        )
        end = start + len(first)
        while (
            counter.exact
            and end - start > 1
            and counter.count([" ".join(chunks[start:end])], spec.task)[0]
            > MAX_LATE_CHUNKING_TOKENS
        ):
            end -= 1
        groups.append(range(start, end))
        start = end
    if len(groups) > 1:
        logger.info(
            "jina_v3: a late-chunked document of %d chunks exceeds %d tokens; sent as %d "
            "consecutive groups",
            len(chunks),
            MAX_LATE_CHUNKING_TOKENS,
            len(groups),
        )
    return _requests(model, chunks, groups, spec, late_chunking=True)


def _requests(
    model: str,
    items: Sequence[str],
    parts: Any,
    spec: EmbedSpec,
    *,
    late_chunking: bool,
) -> list[Request]:
    return [
        Request(
            dumps(build_payload(model, [items[i] for i in part], spec, late_chunking)),
            len(part),
            spec,
            part.start,
        )
        for part in parts
    ]


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are retried; 400/401/402/403/413/422 and other 4xx never."""
    return status in RETRY_STATUSES or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring `Retry-After`.

    Attempt k (0-based) waits ``uniform(0, min(backoff_max, backoff_base * 2**k))`` unless the
    server said `Retry-After`, which is then waited (plus up to 10% jitter so that clients told
    the same time do not return together). A `Retry-After` above `max_retry_after` is not
    waited: the error is raised at once with its `retry_after`.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_retry_after: float = 120.0

    def delay(
        self, attempt: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds to wait before retry number `attempt` + 1, or None to give up."""
        if attempt >= self.max_retries:
            return None
        r = (rng or random).random()
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after * (1.0 + 0.1 * r)
        return r * min(self.backoff_max, self.backoff_base * (2.0**attempt))


def is_retryable(error: JinaV3Error) -> bool:
    """Dropped connections, timeouts, malformed 2xx bodies, 429 and 5xx; never a 4xx."""
    if isinstance(error, InputTooLongError):
        return False
    if isinstance(error, (APIConnectionError, MalformedResponseError)):
        return True
    status = error.status_code if isinstance(error, APIError) else None
    return status is not None and is_retryable_status(status)


def row_width(spec: EmbedSpec) -> int | None:
    """Values per row an answer must have for the requested `dimensions` (None: any, as long
    as the rows agree; a model's full size is learned, not assumed)."""
    if spec.dimensions is None:
        return None
    if spec.embedding_type in ("binary", "ubinary"):
        return math.ceil(spec.dimensions / 8)
    return spec.dimensions


def concat(parts: list[np.ndarray]) -> np.ndarray:
    """The answers of one call as one matrix; their rows must agree (no silent reshaping)."""
    if len(parts) == 1:
        return parts[0]
    widths = {p.shape[1] for p in parts}
    if len(widths) > 1:
        raise malformed(f"batches of one call with different row lengths {sorted(widths)}")
    return np.concatenate(parts, axis=0)


# -- the exchange: one request with its retries, as a flow -------------------------------


@dataclass(frozen=True)
class Answer:
    """What came back for one HTTP request."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportFailure(Exception):
    """What a driver raises when no answer came: `kind` is ``timeout`` or ``connection``."""

    def __init__(self, kind: Literal["timeout", "connection"], detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Endpoint:
    """Where and how requests go: the URL, headers (with the key), timeout, retry policy."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    timeout: float
    policy: RetryPolicy
    secret: str | None = field(default=None, repr=False)


def exchange(endpoint: Endpoint, request: Request, width: int | None) -> Flow[Parsed]:
    """Send `request` until it succeeds or the policy gives up; yields the driver's calls.

    ``Call("http", "post", (url, body, headers, timeout))`` returns an :class:`Answer` or
    raises :class:`TransportFailure`; ``Call("clock", "sleep", (seconds,))`` waits.
    """
    attempt = 0
    while True:
        error: JinaV3Error
        try:
            answer = yield Call(
                "http", "post", (endpoint.url, request.body, endpoint.headers, endpoint.timeout)
            )
        except TransportFailure as failure:
            error = transport_error(endpoint, failure)
        else:
            if 200 <= answer.status < 300:
                try:
                    return parse_response(
                        answer.body,
                        request.n_inputs,
                        request.spec,
                        width=width,
                        secret=endpoint.secret,
                    )
                except MalformedResponseError as exc:
                    error = exc
            else:
                error = error_for_status(
                    answer.status,
                    answer.body,
                    answer.headers,
                    secret=endpoint.secret,
                    first_index=request.first_index,
                )
        delay = None
        if is_retryable(error):
            delay = endpoint.policy.delay(attempt, getattr(error, "retry_after", None))
        if delay is None:
            raise error
        logger.warning(
            "jina_v3: %s; retry %d/%d in %.2fs",
            type(error).__name__,
            attempt + 1,
            endpoint.policy.max_retries,
            delay,
        )
        yield Call("clock", "sleep", (delay,))
        attempt += 1


def transport_error(endpoint: Endpoint, failure: TransportFailure) -> APIConnectionError:
    """The typed error for a request that got no (complete) answer."""
    if failure.kind == "timeout":
        return APITimeoutError(
            f"No complete answer from {endpoint.url} within timeout={endpoint.timeout}s, "
            "which bounds each whole request from connecting to the last byte; raise timeout= "
            "for long late-chunked documents"
        )
    detail = scrub(failure.detail, endpoint.secret)[:200]
    return APIConnectionError(f"Connection to {endpoint.url} failed or dropped ({detail})")
