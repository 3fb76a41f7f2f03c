"""The Jina embeddings API on the wire, both halves, without I/O: the contract in one module.

Client half: payloads (:func:`build_payload`), responses parsed and checked so that nothing
inconsistent becomes a vector (:func:`parse_response`), and error answers mapped to the
typed errors (:func:`error_for_status`). Server half: request bodies validated as the hosted
API does (:func:`parse_request`) and answers rendered (:func:`render_response`). The
decisions around a request (planning, retries) are in :mod:`jina_v3.remote.exchange`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jina_v3._encoding import EMBEDDING_TYPES, decode_base64, finish, to_wire
from jina_v3.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InputTooLongError,
    InsufficientBalanceError,
    InvalidRequestError,
    JinaV3Error,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from jina_v3.tasks import (  # noqa: F401 - the model's facts are part of the contract
    V3_DIMENSIONS,
    V3_INSTRUCTIONS,
    V3_NAME,
    V3_NAMES,
    V3_SHAPES,
    check_task,
    known_dimensions,
    model_identity,
)
from jina_v3.types import EmbedSpec

try:  # optional: much faster on large float arrays, same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

logger = logging.getLogger("jina_v3")

DEFAULT_BASE_URL = "https://api.jina.ai"
#: The API's limits: inputs per request, and tokens per late-chunked request (one sequence).
MAX_INPUTS = 2048
MAX_LATE_CHUNKING_TOKENS = 8192
#: v3's context with <s> and </s>.
MAX_TOKENS = MAX_LATE_CHUNKING_TOKENS + 2


def build_payload(
    model: str, texts: Sequence[str], spec: EmbedSpec, late_chunking: bool = False
) -> dict[str, Any]:
    """The request body, with only the fields that are set.

    `normalized` is always sent: the API's default differs between models and versions.
    """
    payload: dict[str, Any] = {"model": model, "input": list(texts)}
    if spec.task is not None:
        payload["task"] = spec.task
    if spec.dimensions is not None:
        payload["dimensions"] = int(spec.dimensions)
    payload["normalized"] = bool(spec.normalized)
    if spec.embedding_type != "float":
        payload["embedding_type"] = spec.embedding_type
    if late_chunking:
        payload["late_chunking"] = True
    if spec.truncate:
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


# -- responses ---------------------------------------------------------------------------


@dataclass
class Parsed:
    """A decoded embeddings response: rows in input order, tokens used, full size if seen."""

    embeddings: np.ndarray
    tokens: int
    full_dimensions: int | None


def malformed(what: str, excerpt: str = "") -> MalformedResponseError:
    """The error for a 2xx answer that cannot be used, saying what was wrong with it."""
    return MalformedResponseError(
        f"The API answered 2xx with a malformed embeddings response: {what}",
        status_code=200,
        body=excerpt,
    )


def parse_response(
    body: bytes,
    n_inputs: int,
    spec: EmbedSpec,
    *,
    width: int | None = None,
    secret: str | None = None,
) -> Parsed:
    """Decode a 2xx body; rows restored to input order by `index`, each row checked.

    Raises:
        MalformedResponseError: Not JSON, not one embedding per input, or rows that are not
            `width` finite numbers (bytes in range for binary/ubinary): never a NaN row or
            a reshaped array. `secret` is scrubbed from the body excerpt.
    """
    try:
        doc = loads(body)
    except ValueError as exc:
        what = f"not an embeddings response, not JSON ({exc})"
        raise malformed(what, _excerpt(body, secret)) from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise malformed("not an embeddings response, it has no `data` list", _excerpt(body, secret))
    n = n_inputs
    rows: list[Any] = [None] * n
    for item in data:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < n or rows[index] is not None:
            raise malformed(
                f"a missing, out-of-range or repeated index {index!r} for a request of {n} inputs"
            )
        rows[index] = item.get("embedding")
        if rows[index] is None:
            raise malformed(f"data[{index}] has no embedding")
    if len(data) != n:
        raise malformed(f"{len(data)} embeddings for {n} inputs")
    embeddings = decode_rows(rows, spec.embedding_type, width)
    usage = doc.get("usage")
    tokens = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    full = None
    if spec.dimensions is None and spec.embedding_type in ("float", "base64"):
        full = embeddings.shape[1]
    return Parsed(embeddings, int(tokens) if isinstance(tokens, (int, float)) else 0, full)


_RANGES = {"ubinary": (0, 255, np.uint8), "binary": (-128, 127, np.int8)}


def _excerpt(body: bytes, secret: str | None) -> str:
    return scrub(body[:200].decode("utf-8", "replace"), secret)


def decode_rows(rows: list[Any], embedding_type: str, width: int | None) -> np.ndarray:
    """The JSON embeddings of one answer -> the numpy layout of `encode`, checked."""
    if embedding_type == "base64":
        if not all(isinstance(r, str) for r in rows):
            raise malformed("a base64 embedding that is not a string")
        try:
            array = decode_base64(rows)
        except ValueError as exc:  # bad base64, a length not of float32s, rows that differ
            raise malformed(f"base64 embeddings that do not decode to equal rows ({exc})") from None
    else:
        if not all(isinstance(r, list) for r in rows):
            kind = next(type(r).__name__ for r in rows if not isinstance(r, list))
            raise malformed(f"an embedding that is a {kind}, not a list of numbers")
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise malformed(f"rows of different lengths {sorted(lengths)}")
        try:
            array = np.array(rows)
        except (ValueError, TypeError):
            array = np.array(rows, dtype=object)
        if array.ndim != 2 or array.dtype.kind not in "fiu":
            raise malformed(f"values that are not all numbers ({_first_bad(rows)})")
    if width is not None and array.shape[1] != width:
        raise malformed(f"rows of {array.shape[1]} values where {width} were asked for")
    if embedding_type in _RANGES:
        low, high, dtype = _RANGES[embedding_type]
        if array.dtype.kind == "f" or (array.size and (array.min() < low or array.max() > high)):
            raise malformed(f"{embedding_type} values outside the integers {low}..{high}")
        return array.astype(dtype)
    if not np.isfinite(array).all():
        raise malformed("NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


def _first_bad(rows: list[Any]) -> str:
    for i, row in enumerate(rows):
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"data[{i}] holds {type(value).__name__} {str(value)[:20]!r}"
            if isinstance(value, int) and abs(value) >= 2**63:
                return f"data[{i}] holds an integer out of range"
    return "nested or mixed values"


# -- error answers -----------------------------------------------------------------------

_TOO_LONG = re.compile(r"[Ii]nput (\d+) has (\d+) tokens.*?limit of (\d+)", re.S)
_SEQUENCE_TOKENS = re.compile(r"(\d+) tokens.*?limit (?:is|of) (\d+)", re.S)
_TOO_LONG_GENERIC = re.compile(
    r"too long|exceed\w*.{0,40}(token|length|context)|maximum context|max(imum)?[_ ]tokens", re.I
)


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
    """`text` with every form of the key replaced: raw, escaped, JSON- or percent-encoded."""
    if not secret:
        return text
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, "***")
    return text


def error_for_status(
    status: int, body: bytes, headers: Mapping[str, str], *, secret: str | None, first_index: int
) -> JinaV3Error:
    """The typed error for a non-2xx answer. `first_index` maps a request index to the input."""
    detail = scrub(error_detail(body), secret)
    retry_after = parse_retry_after(headers.get("retry-after"))
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
            retry_after=retry_after,
        )
    if status == 400 and (_TOO_LONG.search(detail) or _TOO_LONG_GENERIC.search(detail)):
        match = _TOO_LONG.search(detail)
        if match:
            index, tokens, limit = (first_index + int(match[1]), int(match[2]), int(match[3]))
        else:  # another wording (late chunking, other servers): take what it says
            found = _SEQUENCE_TOKENS.search(detail)
            index, (tokens, limit) = -1, ((int(found[1]), int(found[2])) if found else (-1, -1))
        where = f"Input {index}" if index >= 0 else "The request"
        return InputTooLongError(
            f"{where} is over the model's context (HTTP {status}): {detail[:200]}. "
            "Shorten it, send fewer late-chunked chunks, or pass truncate=True.",
            index=index,
            tokens=tokens,
            limit=limit,
            status_code=status,
            body=detail,
        )
    if status in (400, 413, 422):
        return InvalidRequestError(
            "The API rejected the request as invalid", status_code=status, body=detail
        )
    if status >= 500:
        return ServerError(
            "The API failed to answer", status_code=status, body=detail, retry_after=retry_after
        )
    hint = " (check base_url)" if status in (404, 405) else ""
    return APIError(f"Unexpected answer from the API{hint}", status_code=status, body=detail)


# -- the server's half: request parsing and response rendering ---------------------------


class RequestError(Exception):
    """An HTTP error answer in the API's shape: ``{"detail": message}``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass
class EmbeddingRequest:
    """A parsed ``POST /v1/embeddings`` body."""

    model: str
    texts: list[str]
    task: str | None
    dimensions: int | None
    normalized: bool
    embedding_types: list[str]
    types_as_list: bool
    late_chunking: bool
    truncate: bool


def parse_request(doc: Any, *, served: str, aliases: set[str], max_dims: int) -> EmbeddingRequest:
    """Validate a request body as the hosted API does (400/422 with the API's wording)."""
    if not isinstance(doc, dict):
        raise RequestError(422, "The request body must be a JSON object.")
    model = served if doc.get("model") is None else doc["model"]
    if not isinstance(model, str):
        raise RequestError(422, "`model` must be a string.")
    if model not in aliases:
        raise RequestError(
            400, f"Model {model!r} is not served here; this server serves {served!r}."
        )
    if "input" not in doc:
        raise RequestError(422, "`input` is required: a string or a list of strings.")
    raw = doc["input"]
    items = [raw] if isinstance(raw, (str, dict)) else raw
    if not isinstance(items, list):
        raise RequestError(422, "`input` must be a string or a list of strings.")
    if not items:
        raise RequestError(400, "`input` is empty: send at least one text.")
    if len(items) > MAX_INPUTS:
        raise RequestError(
            400,
            f"Too many inputs: {len(items)} in one request, the limit is {MAX_INPUTS}. "
            "Split the input into several requests.",
        )
    texts = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            if isinstance(item.get("text"), str):
                item = item["text"]
            elif "image" in item or "url" in item or "bytes" in item:
                raise RequestError(400, f"input[{i}] is an image; this server serves a text model.")
        if not isinstance(item, str):
            raise RequestError(422, f'input[{i}] must be a string or an object {{"text": ...}}.')
        texts.append(item)
    try:
        task = check_task(doc.get("task"))
    except ConfigurationError as exc:
        raise RequestError(422, str(exc)) from None
    dims = doc.get("dimensions")
    if dims is not None:
        if isinstance(dims, float) and dims.is_integer():
            dims = int(dims)
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= max_dims:
            raise RequestError(
                422, f"`dimensions` must be an integer from 1 to {max_dims}, got {dims!r}."
            )
    # hosted-API clients spell it embedding_type; LlamaIndex and OpenAI-style ones differ
    names = ("embedding_type", "encoding_type", "encoding_format")
    etype = next((doc[n] for n in names if doc.get(n) is not None), "float")
    types = etype if isinstance(etype, list) else [etype]
    if not types or any(t not in EMBEDDING_TYPES for t in types):
        raise RequestError(
            422, f"`embedding_type` must be one of {', '.join(EMBEDDING_TYPES)} (or a list)."
        )
    normalized, late, truncate = (_flag(doc, n, d) for n, d in _FLAGS)
    as_list = isinstance(etype, list)
    return EmbeddingRequest(model, texts, task, dims, normalized, types, as_list, late, truncate)


_FLAGS = (("normalized", True), ("late_chunking", False), ("truncate", False))


def _flag(doc: dict[str, Any], name: str, default: bool) -> bool:
    value = doc.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(422, f"`{name}` must be true or false, got {value!r}.")
    return value


def check_lengths(req: EmbeddingRequest, counts: Sequence[int], max_tokens: int) -> None:
    """400 for inputs over the context without `truncate` (naming the input), as the API."""
    if req.truncate:
        return
    for i, n in enumerate(counts):
        if n <= max_tokens:
            continue
        if req.late_chunking:
            raise RequestError(
                400,
                f"Late chunking: the {len(req.texts)} inputs form one sequence of {n} tokens, "
                f"too long: the limit is {max_tokens} tokens per request. Send fewer chunks "
                "per request.",
            )
        raise RequestError(
            400,
            f"Input {i} has {n} tokens, over the model's limit of {max_tokens} tokens. "
            'Shorten it, or send "truncate": true to cut it.',
        )


def render_response(req: EmbeddingRequest, pooled: np.ndarray, tokens: int, served: str) -> bytes:
    """The 200 body for pooled full-size float vectors, finished per the request."""
    # whole matrices to lists at once: much faster than row by row
    columns = [
        to_wire(finish(pooled, req.dimensions, req.normalized, t), t) for t in req.embedding_types
    ]
    data = []
    for i in range(len(req.texts)):
        if req.types_as_list:
            emb: Any = {t: c[i] for t, c in zip(req.embedding_types, columns, strict=True)}
        else:
            emb = columns[0][i]
        data.append({"object": "embedding", "index": i, "embedding": emb})
    usage = {"total_tokens": tokens, "prompt_tokens": tokens}
    return dumps({"model": served, "object": "list", "usage": usage, "data": data})
