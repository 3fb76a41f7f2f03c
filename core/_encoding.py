"""Matryoshka truncation, normalisation and the API's embedding types, shared by all backends.

Layouts follow the Jina API: `ubinary` packs the sign bits (> 0) 8 per byte, most significant
bit first, as uint8; `binary` is the same bytes as int8 (value - 128); `base64` is the float32
little-endian vector, base64-encoded. `base64` is a wire format only: `encode` returns the
float32 vectors it carries, and the server writes the strings (`to_wire`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np

from jina_v3.errors import ConfigurationError

EmbeddingType = Literal["float", "binary", "ubinary", "base64"]
EMBEDDING_TYPES: tuple[str, ...] = get_args(EmbeddingType)


def check_dimensions(dimensions: int | None, max_dimensions: int) -> int | None:
    """`dimensions` if it is an integer from 1 to `max_dimensions` (or None: full size)."""
    if dimensions is None:
        return None
    if isinstance(dimensions, bool) or not isinstance(dimensions, (int, np.integer)):
        raise ConfigurationError(
            f"dimensions must be an integer, got {type(dimensions).__name__} {dimensions!r}."
        )
    if not 1 <= dimensions <= max_dimensions:
        raise ConfigurationError(
            f"dimensions={dimensions} is out of range: use an integer from 1 to "
            f"{max_dimensions} (the model's full size), or None for the full size."
        )
    return int(dimensions)


def check_embedding_type(embedding_type: str) -> str:
    """`embedding_type` if it is one of the API's four."""
    if embedding_type not in EMBEDDING_TYPES:
        raise ConfigurationError(
            f"embedding_type={embedding_type!r} is not supported; use one of "
            f"{', '.join(EMBEDDING_TYPES)}."
        )
    return embedding_type


def check_texts(texts: Iterable[str], name: str = "texts") -> list[str]:
    """`texts` as a list (any iterable is read once), every item a valid Unicode string."""
    if isinstance(texts, str):
        raise ConfigurationError(f"{name} must be a list of strings, not a single string.")
    if not isinstance(texts, Iterable) or isinstance(texts, (bytes, Mapping)):
        raise ConfigurationError(
            f"{name} must be a list (or any iterable) of strings, got {type(texts).__name__}."
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ConfigurationError(
                f"{name}[{i}] is of type {type(text).__name__}, not str: every input must be "
                "a string."
            )
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ConfigurationError(
                    f"{name}[{i}] is not valid Unicode: it holds a lone surrogate at position "
                    f"{exc.start} (text decoded with errors='surrogateescape'?); clean it, e.g. "
                    "with text.encode('utf-8', 'replace').decode()."
                ) from None
    return out


def finish(
    pooled: np.ndarray, dimensions: int | None, normalized: bool, embedding_type: str
) -> np.ndarray:
    """Pooled float vectors -> truncate to `dimensions`, then L2-normalise, then encode."""
    vectors = np.asarray(pooled, dtype=np.float32)
    if dimensions is not None:
        vectors = vectors[:, :dimensions]
    if normalized:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return encode_type(np.ascontiguousarray(vectors, dtype=np.float32), embedding_type)


def encode_type(vectors: np.ndarray, embedding_type: str) -> np.ndarray:
    """Float vectors in the numpy layout of `embedding_type`."""
    if embedding_type == "float":
        return vectors
    if embedding_type in ("binary", "ubinary"):
        packed = np.packbits(vectors > 0, axis=-1)  # uint8, MSB first
        return (
            packed
            if embedding_type == "ubinary"
            else (packed.astype(np.int16) - 128).astype(np.int8)
        )
    if embedding_type == "base64":
        return vectors  # decoded form of the wire's base64 strings
    raise ConfigurationError(f"unknown embedding_type {embedding_type!r}")


def to_wire(vectors: np.ndarray, embedding_type: str) -> list[Any]:
    """Encoded embeddings (the output of `finish`) as the API's JSON values, one per row."""
    if embedding_type == "base64":
        little_endian = np.ascontiguousarray(vectors, dtype="<f4")
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in little_endian]
    return vectors.tolist()


def decode_base64(values: Sequence[str]) -> np.ndarray:
    """base64 strings -> float32 matrix."""
    rows = [np.frombuffer(base64.b64decode(v, validate=True), dtype="<f4") for v in values]
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
