"""The export format of :mod:`jina_v3.index.transfer`: JSON lines, UTF-8 (documented in the
README). The first line is the header (format, version, collection, point count, signature,
layout), then one point a line::

    {"id": ..., "vectors": {"dense": BASE64, "keywords": {...}}, "payload": {...}}

``dense`` is the base64 of the vector's little-endian float32 values (the packed uint8 bits
of a ``ubinary`` collection), so vectors round-trip bit for bit. ``keywords`` is present
where the collection has the keyword channel: the BM25 document weights of the point's text,
``{"indices": [token ids], "values": [weights], "counts": [occurrences]}``.

Reading is strict: a line that is not a point the collection can hold is refused with the
reason (:class:`BadLine`), never stored half-read; :class:`PointLines` writes a file's lines
into a store, naming each one it cannot write.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
from array import array
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from jina_v3.errors import ConfigurationError, StoreError
from jina_v3.index.keywords import SparseVector, stored_weights
from jina_v3.index.store import (
    CHUNK_INDEX_KEY,
    DOCUMENT_ID_KEY,
    TEXT_KEY,
    EmbeddingSignature,
    Record,
    record_from_payload,
    record_payload,
)
from jina_v3.progress import Progress

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "BadLine",
    "PointLines",
    "header",
    "parse_point",
    "point_line",
    "read_header",
    "signature_of",
]

FORMAT, FORMAT_VERSION = "jina-v3-points", 1
DENSE, KEYWORDS = "dense", "keywords"
#: Largest token id a keyword weight may carry (engines keep 32-bit term ids).
_MAX_TERM = 2**32 - 1
SHOWN = 3  # refused lines named in an import's error (each is warned about as it is read)


class BadLine(ValueError):
    """A point line that cannot be imported; the message says why."""


def header(
    collection: str, signature: EmbeddingSignature, points: int, funnel: int | None
) -> dict[str, Any]:
    """The first line of an export."""
    vectors = {DENSE: "base64 of little-endian float32 (uint8 bits for ubinary)"}
    if signature.keywords is not None:
        vectors[KEYWORDS] = "BM25 document weights: indices (token ids), values, counts"
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "collection": collection,
        "points": points,
        "signature": signature.to_dict(),
        "layout": {"funnel_dimensions": funnel},
        "vectors": vectors,
    }


def read_header(lines: Iterator[str], name: str) -> dict[str, Any]:
    """The export's header, checked (its signature readable)."""
    first = next(lines, "")
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise ConfigurationError(
            f"{name} is not a jina-v3 export (its first line must be the {FORMAT!r} header); "
            "make one with `jina-v3 export`"
        )
    if head.get("version") != FORMAT_VERSION:
        raise ConfigurationError(
            f"{name} is format version {head.get('version')!r}; this jina-v3 reads version "
            f"{FORMAT_VERSION}: upgrade jina-v3-connectors"
        )
    signature_of(head, name)
    return head


def signature_of(head: Mapping[str, Any], name: str) -> EmbeddingSignature:
    """The signature an export's header records.

    Raises:
        ConfigurationError: It has none that is readable.
    """
    try:
        signature = EmbeddingSignature.from_dict(head["signature"])
    except (KeyError, TypeError, AttributeError):
        signature = None
    dimensions = getattr(signature, "dimensions", None)
    if signature is None or isinstance(dimensions, bool) or not isinstance(dimensions, int):
        raise ConfigurationError(
            f"{name}:1: the header has no readable signature; export the collection again"
        )
    return signature


def encode_vector(vector: np.ndarray) -> str:
    dtype = "<f4" if vector.dtype == np.float32 else "u1"
    return base64.b64encode(vector.astype(dtype, copy=False).tobytes()).decode("ascii")


def decode_vector(text: str, signature: EmbeddingSignature) -> np.ndarray:
    dtype = "u1" if signature.embedding_type == "ubinary" else "<f4"
    return np.frombuffer(base64.b64decode(text, validate=True), dtype=dtype).astype(
        np.uint8 if dtype == "u1" else np.float32
    )


def point_line(record: Record) -> str:
    """One point as its line of the export (without the newline)."""
    vectors: dict[str, Any] = {DENSE: encode_vector(record.vector)}
    if record.keywords is not None:
        weights = record.keywords
        vectors[KEYWORDS] = {"indices": list(weights.indices), "values": list(weights.values)}
        if weights.counts:
            vectors[KEYWORDS]["counts"] = list(weights.counts)
    line = {"id": record.id, "vectors": vectors, "payload": record_payload(record)}
    return json.dumps(line, ensure_ascii=False)


def parse_point(line: str, signature: EmbeddingSignature) -> Record:
    """One point line as the Record to write, checked against the collection's signature.

    Raises:
        BadLine: The line is not such a point (the message says what is wrong).
    """
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at character {exc.pos})") from None
    except RecursionError:
        raise BadLine("not JSON (nested too deep)") from None
    if not isinstance(raw, dict):
        raise BadLine(f"a point is a JSON object, not a {type(raw).__name__}")
    point = _point_id(raw.get("id"))
    payload = _payload(raw.get("payload"))
    vectors = raw.get("vectors")
    if not isinstance(vectors, Mapping):
        raise BadLine('it has no "vectors" object')
    keywords = None
    if signature.keywords is not None:
        keywords = stored_weights(_keywords(vectors.get(KEYWORDS)), signature.keywords)
    return record_from_payload(
        point, _dense(vectors.get(DENSE), signature), payload, keywords=keywords
    )


def _point_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise BadLine(f'"id" must be a non-empty string, got {value!r}'[:200])
    return value


def _payload(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadLine('it has no "payload" object')
    document = value.get(DOCUMENT_ID_KEY)
    if not isinstance(document, str) or not document:
        raise BadLine(f'its payload has no "{DOCUMENT_ID_KEY}" (a non-empty string)')
    if not isinstance(value.get(TEXT_KEY), str):
        raise BadLine(f'its payload has no "{TEXT_KEY}" (a string)')
    chunk = value.get(CHUNK_INDEX_KEY)
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 0):
        raise BadLine(f'its payload\'s "{CHUNK_INDEX_KEY}" must be an integer >= 0, got {chunk!r}')
    return value


def _dense(text: Any, signature: EmbeddingSignature) -> np.ndarray:
    if not isinstance(text, str):
        raise BadLine(f'it has no "{DENSE}" vector (base64)')
    try:
        vector = decode_vector(text, signature)
    except (binascii.Error, ValueError):
        raise BadLine(f'its "{DENSE}" vector is not base64 of {_kind(signature)}') from None
    size = (
        signature.dimensions // 8 if signature.embedding_type == "ubinary" else signature.dimensions
    )
    if vector.shape != (size,):
        raise BadLine(
            f'its "{DENSE}" vector has {vector.size} values; the collection\'s have {size} '
            f"({_kind(signature)})"
        )
    if vector.dtype == np.float32 and not np.isfinite(vector).all():
        raise BadLine(f'its "{DENSE}" vector holds NaN or infinity')
    return vector


def _kind(signature: EmbeddingSignature) -> str:
    if signature.embedding_type == "ubinary":
        return f"{signature.dimensions} bits packed in bytes"
    return f"{signature.dimensions} float32 values"


def _keywords(value: Any) -> SparseVector:
    """The keyword weights of a point line: sorted distinct token ids, positive finite
    weights, and counts (positive integers) where the export knew them."""
    if not isinstance(value, Mapping):
        raise BadLine(
            f'the collection has the keyword channel and the point has no "{KEYWORDS}" '
            "weights (export it again with this jina-v3)"
        )
    indices, values = value.get("indices"), value.get("values")
    counts = value.get("counts") or []
    if not (isinstance(indices, list) and isinstance(values, list) and isinstance(counts, list)):
        raise BadLine(f'its "{KEYWORDS}" needs lists "indices" and "values"')
    if len(values) != len(indices) or (counts and len(counts) != len(indices)):
        raise BadLine(f'its "{KEYWORDS}" lists differ in length')
    if not all(_integer(i, 0, _MAX_TERM) for i in indices) or any(
        a >= b for a, b in itertools.pairwise(indices)
    ):
        raise BadLine(f'its "{KEYWORDS}" indices must be ascending distinct token ids')
    if not all(_number(v) and v > 0 for v in values):
        raise BadLine(f'its "{KEYWORDS}" values must be positive finite numbers')
    if not all(_integer(c, 1, None) for c in counts):
        raise BadLine(f'its "{KEYWORDS}" counts must be positive integers')
    return SparseVector(tuple(indices), tuple(map(float, values)), tuple(counts))


def _integer(value: Any, low: int, high: int | None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class PointLines:
    """An export's point lines into a store: each line checked on its own, pages written
    (a page the engine refuses is written again point by point, to name the lines it
    refuses), repeated ids found, and the whole compared with the header."""

    def __init__(
        self, name: str, signature: EmbeddingSignature, store: Any, warn: Callable[[str], None]
    ) -> None:
        self.name, self.signature, self.store, self.warn = name, signature, store, warn
        self.lines = 0  # point lines in the file (blank ones aside)
        self.refused = 0
        self.first_refused: list[str] = []  # FILE:LINE of the first few, for the error
        # (id hash, line) of every point written: repeated ids are found at the end
        self._hashes, self._numbers = array("q"), array("q")

    def _refuse(self, number: int, why: str) -> None:
        message = f"{self.name}:{number}: {why}"
        self.refused += 1
        if len(self.first_refused) < SHOWN:
            self.first_refused.append(f"{self.name}:{number}")
        self.warn(f"{message}; the line is not imported")

    def _record(self, number: int, line: str) -> Record | None:
        try:
            record = parse_point(line, self.signature)
            self.store.check_record(record)  # what this engine cannot hold
        except (BadLine, ConfigurationError, StoreError) as exc:
            self._refuse(number, str(exc))
            return None
        return record

    def _pages(self, lines: Iterator[str], size: int) -> Iterator[dict[str, tuple[int, Record]]]:
        page: dict[str, tuple[int, Record]] = {}
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            self.lines += 1
            record = self._record(number, line)
            if record is None:
                continue
            earlier = page.pop(record.id, None)
            if earlier is not None:
                self._repeated(earlier[0], number)
            page[record.id] = (number, record)
            if len(page) == size:
                yield page
                page = {}
        if page:
            yield page

    def _repeated(self, first: int, later: int) -> None:
        self.warn(
            f"{self.name}:{later}: repeats the point id of {self.name}:{first}; the later "
            "line is kept"
        )

    def write(
        self, lines: Iterator[str], size: int, bar: Progress, stop: Callable[[], bool] | None
    ) -> bool:
        """Write the point lines, `size` a page; True if `stop` ended it early."""
        for page in self._pages(lines, size):
            for number, record in self._upsert(list(page.values())):
                self._hashes.append(hash(record.id))
                self._numbers.append(number)
            bar.update(len(page), points=len(page))
            if stop is not None and stop():
                return True
        return False

    @property
    def points(self) -> int:
        """Points written: distinct ids."""
        return len(np.unique(np.frombuffer(self._hashes, dtype=np.int64)))

    def _upsert(self, page: list[tuple[int, Record]]) -> list[tuple[int, Record]]:
        """Write a page; if the engine refuses it, each point alone: the lines it refuses
        are named and the rest written. The points written."""
        try:
            self.store.upsert([record for _, record in page])
            return page
        except (ConfigurationError, StoreError) as exc:
            failure = exc
        written, failed = [], []
        for number, record in page:
            try:
                self.store.upsert([record])
            except (ConfigurationError, StoreError) as exc:
                failed.append((number, exc))
            else:
                written.append((number, record))
        if not written and not self._answers():  # the store fails, not the lines
            first = page[0][0]
            raise StoreError(
                f"writing {self.name}:{first}-{page[-1][0]} failed: {failure}; the lines "
                f"before {first} are imported: re-run once the store is back"
            ) from failure
        for number, exc in failed:
            self._refuse(number, str(exc))
        return written

    def _answers(self) -> bool:
        """Whether the store still answers (then the points it refused are at fault)."""
        try:
            self.store.count()
        except Exception:
            return False
        return True

    def finish(self, expected: Any) -> None:
        """Warn about ids repeated across pages; raise if a line was refused or the file
        holds another number of points than its header says."""
        self._repeats_across_pages()
        problems = []
        if isinstance(expected, int) and self.lines != expected:
            problems.append(
                f"its header says {expected} points and it holds {self.lines} point lines (cut "
                "short, or edited: export the collection again)"
            )
        if self.refused:
            shown = ", ".join(self.first_refused)
            more = ", ..." if self.refused > SHOWN else ""
            lines = "1 line was" if self.refused == 1 else f"{self.refused} lines were"
            problems.append(
                f"{lines} not imported ({shown}{more}: fix and re-run; re-running is idempotent)"
            )
        if problems:
            raise ConfigurationError(
                f"{self.name}: {self.points} point{'' if self.points == 1 else 's'} imported, "
                f"but {'; and '.join(problems)}"
            )

    def _repeats_across_pages(self) -> None:
        hashes = np.frombuffer(self._hashes, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        repeats = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
        numbers = np.frombuffer(self._numbers, dtype=np.int64)
        for i in repeats:  # (a hash that two ids share would be named too: a 2**-64 chance)
            self._repeated(int(numbers[order[i]]), int(numbers[order[i + 1]]))
