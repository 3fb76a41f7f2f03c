"""The Jina embeddings API on the wire, without I/O: payloads, parsing, batching, retry policy.

Shared by the sync and async paths of :class:`jina_v3._remote.RemoteBackend` (and, for the
request side, by the server), so both paths send the same bytes and decide the same way.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jina_v3._encoding import from_json
from jina_v3.errors import (
    APIError,
    AuthenticationError,
    InputTooLongError,
    InsufficientBalanceError,
    InvalidRequestError,
    JinaV3Error,
    RateLimitError,
    ServerError,
)

try:  # optional: much faster on large float arrays, same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

DEFAULT_BASE_URL = "https://api.jina.ai"
#: The API's limits: inputs per request, and tokens per late-chunked request (one sequence).
MAX_INPUTS = 2048
MAX_LATE_CHUNKING_TOKENS = 8192
#: Estimated tokens per request outside late chunking (keeps requests and their retries small).
DEFAULT_MAX_REQUEST_TOKENS = 32768
#: jina-embeddings-v3's full size, and the instructions its API prepends (config.json).
V3_DIMENSIONS = 1024
V3_INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
}
_V3_NAMES = ("jina-embeddings-v3", "jinaai/jina-embeddings-v3")


def known_dimensions(model: str) -> int | None:
    """The full size of a model known by name (None: ask the server)."""
    return V3_DIMENSIONS if model in _V3_NAMES else None


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


def models_url(base_url: str) -> str:
    """`GET` URL listing the served models (our server; the hosted API may not have it)."""
    return endpoint_url(base_url)[: -len("/embeddings")] + "/models"


# -- token counting ---------------------------------------------------------------------


class TokenCounter:
    """Token counts for batching: exact with the v3 tokenizer, else a conservative estimate.

    With a ``tokenizer.json`` (and the ``tokenizers`` package) counts are exact: instruction,
    text and ``<s>``/``</s>``, as the model sees them. Without it, each text counts as
    ``ceil(utf8_bytes / 2)`` tokens, plus the same estimate for the task's instruction, plus 2
    special tokens. XLM-RoBERTa's tokenizer averages 3-5 bytes per token on natural text in
    Latin scripts and about 3 bytes per token (one CJK character) elsewhere, so the estimate
    is roughly twice the real count: late-chunked groups then hold about half of what would
    fit, which costs context but never a rejected request. Strings of isolated symbols can
    reach one token per byte; for those, pass the tokenizer.
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
        elif model in _V3_NAMES:
            file = _cached_v3_tokenizer()
        if file is None or not file.is_file():
            if path is not None:
                from jina_v3.errors import ConfigurationError

                raise ConfigurationError(f"tokenizer={str(path)!r}: no tokenizer.json there")
            return cls(None)
        tok = tokenizers.Tokenizer.from_file(str(file))
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

    def document_tokens(self, chunks: Sequence[str], task: str | None) -> int:
        """Tokens of one late-chunked request (chunks joined by a space, as the model sees it)."""
        return self.count([" ".join(chunks)], task)[0]


def estimate_tokens(text: str) -> int:
    """Conservative token estimate without a tokenizer: ceil(UTF-8 bytes / 2)."""
    return (len(text.encode("utf-8")) + 1) // 2


def _cached_v3_tokenizer() -> Path | None:
    try:  # only the local cache: never a download for a token count
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache("jinaai/jina-embeddings-v3", "tokenizer.json")
    except Exception:
        return None
    return Path(found) if isinstance(found, str) else None


# -- batching ----------------------------------------------------------------------------


def plan_batches(
    token_counts: Sequence[int], *, max_inputs: int = MAX_INPUTS, max_tokens: int
) -> list[range]:
    """Consecutive slices of at most `max_inputs` inputs and `max_tokens` tokens each.

    An input over `max_tokens` goes alone (the server decides whether it is too long).
    """
    batches: list[range] = []
    start, tokens = 0, 0
    for i, n in enumerate(token_counts):
        if i > start and (i - start >= max_inputs or tokens + n > max_tokens):
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += n
    if len(token_counts) > start:
        batches.append(range(start, len(token_counts)))
    return batches


def plan_late_groups(
    base_tokens: int,
    chunk_tokens: Sequence[int],
    *,
    max_tokens: int = MAX_LATE_CHUNKING_TOKENS,
    max_inputs: int = MAX_INPUTS,
) -> list[range]:
    """Consecutive groups of one document's chunks, each one request of at most `max_tokens`.

    A group costs `base_tokens` (instruction, ``<s>``, ``</s>``) plus its chunks' tokens plus
    one per joining space (a safe upper bound of what the space can add). A single chunk
    over the budget forms its own group.
    """
    groups: list[range] = []
    start, tokens = 0, base_tokens
    for i, n in enumerate(chunk_tokens):
        cost = n + (1 if i > start else 0)
        if i > start and (i - start >= max_inputs or tokens + cost > max_tokens):
            groups.append(range(start, i))
            start, tokens, cost = i, base_tokens, n
        tokens += cost
    if len(chunk_tokens) > start:
        groups.append(range(start, len(chunk_tokens)))
    return groups


# -- requests and responses --------------------------------------------------------------


def build_payload(
    model: str,
    texts: Sequence[str],
    *,
    task: str | None,
    dimensions: int | None,
    normalized: bool,
    embedding_type: str,
    late_chunking: bool,
    truncate: bool,
) -> dict[str, Any]:
    """The request body, with only the fields that are set.

    `normalized` is always sent: the API's default differs between models and versions.
    """
    payload: dict[str, Any] = {"model": model, "input": list(texts)}
    if task is not None:
        payload["task"] = task
    if dimensions is not None:
        payload["dimensions"] = int(dimensions)
    payload["normalized"] = bool(normalized)
    if embedding_type != "float":
        payload["embedding_type"] = embedding_type
    if late_chunking:
        payload["late_chunking"] = True
    if truncate:
        payload["truncate"] = True
    return payload


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """JSON -> Python (orjson when installed)."""
    if _orjson is not None:
        return _orjson.loads(data)
    return json.loads(data)


class MalformedResponseError(ServerError):
    """A 2xx answer whose body is not a complete, consistent embeddings response."""


@dataclass
class Parsed:
    """A decoded embeddings response: rows in input order, tokens used, full size if seen."""

    embeddings: np.ndarray
    tokens: int
    full_dimensions: int | None


def parse_response(
    body: bytes, n_inputs: int, embedding_type: str, *, dimensions: int | None
) -> Parsed:
    """Decode a 200 body; rows restored to input order by `index`.

    Raises:
        MalformedResponseError: Not JSON, or `data` is not exactly one embedding per input.
    """
    try:
        doc = loads(body)
        data = doc["data"]
        if not isinstance(data, list):
            raise TypeError("data is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedResponseError(
            f"The API answered 200 with a body that is not an embeddings response ({exc})",
            status_code=200,
            body=body[:200].decode("utf-8", "replace"),
        ) from None
    rows: list[Any] = [None] * n_inputs
    seen = 0
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < n_inputs or rows[index] is not None:
            raise MalformedResponseError(
                f"The API's response has a missing, out-of-range or repeated index {index!r} "
                f"for a request of {n_inputs} inputs",
                status_code=200,
            )
        rows[index] = item.get("embedding")
        seen += 1
    if seen != n_inputs:
        raise MalformedResponseError(
            f"The API returned {seen} embeddings for {n_inputs} inputs", status_code=200
        )
    try:
        embeddings = from_json(rows, embedding_type)  # base64: decoded (checks every string)
        full = embeddings.shape[1] if embedding_type in ("float", "base64") else None
    except (ValueError, TypeError) as exc:
        raise MalformedResponseError(
            f"The API's embeddings do not decode as {embedding_type!r} ({exc})", status_code=200
        ) from None
    usage = doc.get("usage") if isinstance(doc, dict) else None
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    return Parsed(
        embeddings,
        int(tokens) if isinstance(tokens, (int, float)) else 0,
        full if dimensions is None else None,
    )


# -- errors and retries ------------------------------------------------------------------

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_TOO_LONG = re.compile(r"[Ii]nput (\d+) has (\d+) tokens.*?limit of (\d+)", re.S)
_SEQUENCE_TOKENS = re.compile(r"(\d+) tokens.*?limit (?:is|of) (\d+)", re.S)
_TOO_LONG_GENERIC = re.compile(
    r"too long|exceed\w*.{0,40}(token|length|context)|maximum context|max(imum)?[_ ]tokens", re.I
)


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are retried; 400/401/402/403/413/422 and other 4xx never."""
    return status in RETRY_STATUSES or status >= 500


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def error_detail(body: bytes) -> str:
    """The API's `detail` (or the raw text) of an error body."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(doc, dict):
        detail = doc.get("detail", doc.get("message", doc.get("error")))
        if detail is not None:
            return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text.strip()


def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of the key replaced (servers may echo what they got)."""
    if secret:
        text = text.replace(secret, "***")
    return text


def error_for_status(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str | None,
    first_index: int = 0,
) -> JinaV3Error:
    """The typed error for a non-2xx answer. `first_index` maps a request index to the input."""
    detail = scrub(error_detail(body), secret)
    if status == 401:
        return AuthenticationError(
            "The API rejected the API key: pass api_key= or set JINA_API_KEY",
            status_code=status,
            body=detail,
        )
    if status in (402, 403):
        return InsufficientBalanceError(
            "The API refused the request for the account's balance or resource limits",
            status_code=status,
            body=detail,
        )
    if status == 429:
        return RateLimitError(
            "The API's rate limit was hit; lower max_concurrency or retry later",
            status_code=status,
            body=detail,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status in (400, 413, 422):
        match = _TOO_LONG.search(detail)
        if status == 400 and (match or _TOO_LONG_GENERIC.search(detail)):
            if match:
                index, tokens, limit = (int(g) for g in match.groups())
            else:  # another wording (late chunking, other servers): take what it says
                index = -1
                found = _SEQUENCE_TOKENS.search(detail)
                tokens, limit = (int(g) for g in found.groups()) if found else (-1, -1)
            where = f"Input {first_index + index}" if index >= 0 else "The request"
            err = InputTooLongError(
                f"{where} is over the model's context (HTTP {status}): {detail[:200]}. "
                "Shorten it, send fewer late-chunked chunks, or pass truncate=True.",
                index=first_index + index if index >= 0 else -1,
                tokens=tokens,
                limit=limit,
            )
            err.status_code = status  # type: ignore[attr-defined]
            err.body = detail[:200]  # type: ignore[attr-defined]
            return err
        return InvalidRequestError(
            "The API rejected the request as invalid", status_code=status, body=detail
        )
    if status >= 500:
        err5 = ServerError("The API failed to answer", status_code=status, body=detail)
        err5.retry_after = parse_retry_after(headers.get("retry-after"))  # type: ignore[attr-defined]
        return err5
    hint = " (check base_url)" if status in (404, 405) else ""
    return APIError(f"Unexpected answer from the API{hint}", status_code=status, body=detail)


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
