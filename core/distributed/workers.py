"""The worker side of :mod:`jina_v3.distributed`: what runs in Ray tasks and actors.

Everything a worker gets is settings that pickle (strings, numbers, actor handles): each
process builds its own embedder and opens its own store client; an API key is read on the
worker from the environment variable the settings name. The index itself is the
single-machine one: each embedding actor runs :meth:`VectorIndex.ingest` on its blocks, so
point ids, payloads, content hashes, skip-unchanged and signature checks are the same code.

Rows between the stages (pyarrow):

    documents   id, text, metadata (JSON text), skipped (why a file or line was left out),
                jsonl_ids (JSON text: the .jsonl files read through, see sources.JsonlIds)
    chunked     ... + chunks (list of strings; null: the document is one point)
    summaries   documents, indexed, replaced, unchanged, points, tokens, seconds, failures,
                jsonl_ids (passed on to the driver, for --prune), notes (the library's
                warnings on the worker, for the driver to print: notes.py)
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jina_v3.distributed.failures import (
    TRANSIENT_ERRORS,
    RetriesExhaustedError,
    TransientStoreError,
    is_transient,
)
from jina_v3.distributed.notes import kept_notes
from jina_v3.errors import ConfigurationError, JinaV3Error, StoreError
from jina_v3.index.base import _IndexBase
from jina_v3.index.chunking import DEFAULT_CHUNK_TOKENS, TextChunker, estimate_tokens
from jina_v3.index.pipeline import VectorIndex
from jina_v3.index.plan import IngestSummary
from jina_v3.index.store import Document
from jina_v3.options import Secret

# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbedderSpec:
    """How each worker builds its embedder: settings only (no key, no open client)."""

    model: str | None = None
    backend: str = "local"
    options: tuple[tuple[str, Any], ...] = ()  # Embedder keyword options, never api_key
    api_key_env: str | None = None  # the API key's variable, read on the worker
    factory: Callable[[], Any] | None = None  # a picklable zero-argument callable instead

    def build(self, threads: int | None = None) -> Any:
        if self.factory is not None:
            return self.factory()
        from jina_v3 import Embedder

        options = dict(self.options)
        if self.backend == "api":
            if self.api_key_env:
                if not os.environ.get(self.api_key_env, "").strip():
                    raise ConfigurationError(
                        f"{self.api_key_env} is not set on this Ray worker: set it in the "
                        "environment of the process that starts Ray (a local instance "
                        "inherits it) or on every node of the cluster."
                    )
                # by name: the key is read here and never enters a pickle, a task or a log
                options["api_key"] = Secret.from_env(self.api_key_env)
            return Embedder(self.model, backend="api", **options)
        if threads is not None and "threads" not in options:
            options["threads"] = threads
        return Embedder(self.model, backend="local", **options)

    def chunker(self, chunk_tokens: int | None, late_chunking: bool) -> TextChunker | None:
        """The chunker :class:`VectorIndex` would use, counting with the model's tokenizer
        when local (as ``TextChunker.for_embedder``), loaded without the weights."""
        if chunk_tokens is None and not late_chunking:
            return None
        tokens = chunk_tokens or DEFAULT_CHUNK_TOKENS
        if self.factory is not None:
            return TextChunker.for_embedder(self.factory(), tokens)
        if self.backend == "api":
            return TextChunker(tokens)  # what for_embedder gives an API embedder
        import tokenizers  # the tokenizer only: chunking tasks never import torch

        from jina_v3.embedder import DEFAULT_LOCAL_MODEL
        from jina_v3.local.backend import _load_tokenizer
        from jina_v3.local.checkpoint import resolve_checkpoint

        options = dict(self.options)
        folder = resolve_checkpoint(
            self.model or DEFAULT_LOCAL_MODEL,
            revision=options.get("revision"),
            cache_dir=options.get("cache_dir"),
        )
        tokenizer = _load_tokenizer(tokenizers, folder / "tokenizer.json")
        return TextChunker(tokens, tokenizer=tokenizer)


@dataclass(frozen=True)
class IndexSpec:
    """What every embedding actor's VectorIndex is made with."""

    embedder: EmbedderSpec
    store_uri: str
    collection: str
    dimensions: int | None
    late_chunking: bool
    chunk_tokens: int | None
    batch_size: int
    embedding_type: str
    truncate: bool
    skip_unchanged: bool = True
    threads: int | None = None
    retries: int = 3  # transient failures of one block on one actor before giving up
    backoff: float = 1.0  # seconds before the first re-run of a failed block, then doubled
    owner: Any = None  # the StoreOwner actor of an embedded store (None: open the URI)
    bucket: Any = None  # the TokenBucket actor of API-backed actors (None: no global limit)

    def index_options(self, chunker: TextChunker | None) -> dict[str, Any]:
        return {
            "dimensions": self.dimensions,
            "late_chunking": self.late_chunking,
            "chunker": chunker,
            "batch_size": self.batch_size,
            "embedding_type": self.embedding_type,
            "truncate": self.truncate,
        }


def describe(spec: IndexSpec) -> tuple[Any, list[str]]:
    """The embedding signature the index writes (validates every setting; a Ray task), and
    the library's warnings meanwhile (the driver prints them)."""
    with kept_notes([]) as notes:
        embedder = spec.embedder.build(threads=1)
        try:
            chunker = spec.embedder.chunker(spec.chunk_tokens, spec.late_chunking)
            return VectorIndex(embedder, None, **spec.index_options(chunker)).signature, notes
        finally:
            embedder.close()


# -- rows: one row per batch of documents (a block each: see distributed._run) --------------


def _pa() -> Any:
    import pyarrow

    return pyarrow


def _batch_schema() -> Any:
    pa = _pa()
    texts = pa.list_(pa.string())
    lists = [(name, texts) for name in ("ids", "texts", "metadata", "skipped")]
    return pa.schema([*lists, ("jsonl_ids", pa.string())])


def batch_table(
    documents: Sequence[Document],
    skipped: Sequence[str] = (),
    jsonl_ids: Mapping[str, list[str] | None] | None = None,
) -> Any:
    """One row holding a batch: its documents (metadata as JSON), the inputs left out, and
    the .jsonl files finished in it (their ids, for --prune)."""
    row = {
        "ids": [d.id for d in documents],
        "texts": [d.text for d in documents],
        "metadata": [json.dumps(dict(d.metadata), ensure_ascii=False) for d in documents],
        "skipped": list(skipped),
        "jsonl_ids": json.dumps(dict(jsonl_ids), ensure_ascii=False) if jsonl_ids else None,
    }
    return _pa().Table.from_pylist([row], schema=_batch_schema())


def read_block(
    _: Any, *, files: Sequence[Any], documents_per_batch: int, cwd: str | None = None
) -> Iterator[Any]:
    """The corpus, read as ``jina-v3 index`` reads it (one task: ids stay unique, first wins);
    skipped inputs are worded for the driver's working directory `cwd`."""
    from jina_v3.index.sources import JsonlIds, SkippedFile, read_files

    documents: list[Document] = []
    skipped: list[str] = []
    jsonl_ids: JsonlIds = {}
    for item in read_files(files, jsonl_ids=jsonl_ids):
        if isinstance(item, SkippedFile):
            skipped.append(item.describe(cwd))
        else:
            documents.append(item)
        if len(documents) + len(skipped) >= documents_per_batch:
            yield batch_table(documents, skipped, jsonl_ids)
            documents, skipped = [], []
            jsonl_ids.clear()  # each file once: in the batch where it was finished
    if documents or skipped or jsonl_ids:
        yield batch_table(documents, skipped, jsonl_ids)


def dataset_block(table: Any) -> Any:
    """Rows of a user's dataset (``id``, ``text``, optional ``metadata`` as a dict or JSON,
    other columns as metadata) as one batch; an invalid row is skipped with the reason."""
    documents, skipped = [], []
    for row in table.to_pylist():
        raw_id, text = row.pop("id", None), row.pop("text", None)
        metadata = row.pop("metadata", None)
        try:
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            if isinstance(raw_id, int) and not isinstance(raw_id, bool):
                raw_id = str(raw_id)
            documents.append(Document(raw_id, text, {**(metadata or {}), **row}))
        except (JinaV3Error, ValueError, TypeError) as exc:
            skipped.append(f"skipped {raw_id!r}: {exc}")
    return batch_table(documents, skipped)


# -- chunking (tasks) --------------------------------------------------------------------------


class _Planner(_IndexBase):
    """VectorIndex's own chunking step (``_chunks_of``), without an embedder or a store."""

    def __init__(self, chunker: TextChunker | None, late_chunking: bool) -> None:
        # deliberately not _IndexBase.__init__: only the planning helpers are used
        self._chunker = chunker
        self._late_chunking = late_chunking
        self._embedder = None


_planners: dict[bytes, _Planner] = {}


def chunk_block(table: Any, *, spec: IndexSpec) -> Any:
    """Each document's chunks, cut as VectorIndex cuts them (a Ray task)."""
    key = pickle.dumps((spec.embedder, spec.chunk_tokens, spec.late_chunking))
    planner = _planners.get(key)
    if planner is None:
        chunker = spec.embedder.chunker(spec.chunk_tokens, spec.late_chunking)
        planner = _planners[key] = _Planner(chunker, spec.late_chunking)
    column = []
    for ids, texts in zip(
        table.column("ids").to_pylist(), table.column("texts").to_pylist(), strict=True
    ):
        chunks = [planner._chunks_of(Document(i, t)) for i, t in zip(ids, texts, strict=True)]
        column.append([None if c is None else list(c) for c in chunks])
    pa = _pa()
    return table.append_column("chunks", pa.array(column, pa.list_(pa.list_(pa.string()))))


# -- embedding and writing (actors) ------------------------------------------------------------


class _ChunkedIndex(VectorIndex):
    """A VectorIndex whose documents were chunked in Ray tasks by the same chunker: their
    chunks are looked up, not cut again (ids and content hashes come out the same)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunks: dict[str, list[str] | None] = {}

    def _chunks_of(self, doc: Document) -> Sequence[str] | None:
        if doc.id in self.chunks:
            return self.chunks.pop(doc.id)
        return super()._chunks_of(doc)


class OwnedStore:
    """A store that lives in the StoreOwner actor (an embedded engine one process owns)."""

    def __init__(self, owner: Any, collection: str) -> None:
        self._owner = owner
        self.collection = collection

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import ray

        result, notes = ray.get(self._owner.call.remote(method, *args, **kwargs))
        for note in notes:  # the owner's warnings, as if the store were open here
            logging.getLogger("jina_v3").warning("%s", note)
        return result

    def ensure_collection(self, signature: Any, *, recreate: bool = False) -> None:
        self._call("ensure_collection", signature, recreate=recreate)

    def read_signature(self) -> Any:
        return self._call("read_signature")

    def fetch(self, ids: Sequence[str]) -> Any:
        return self._call("fetch", list(ids))

    def delete(self, **selector: Any) -> None:
        self._call("delete", **selector)

    def upsert(self, records: Sequence[Any]) -> None:
        self._call("upsert", list(records))

    def count(self) -> int:
        return int(self._call("count"))

    def close(self) -> None:
        """The owner closes the store once the job is done."""


class StoreOwner:
    """The one process that opens an embedded store (a Ray actor: calls run one at a time)."""

    def __init__(self, uri: str, collection: str) -> None:
        from jina_v3.connectors.uris import open_store

        self._store = open_store(uri, collection)

    def call(self, method: str, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
        """The store's answer, and the library's warnings meanwhile (for the caller)."""
        if method not in {
            "ensure_collection",
            "read_signature",
            "fetch",
            "delete",
            "upsert",
            "count",
        }:
            raise ConfigurationError(f"StoreOwner does not forward {method!r}")
        with kept_notes([]) as notes:
            return getattr(self._store, method)(*args, **kwargs), notes

    def close(self) -> None:
        self._store.close()


class TokenBucket:
    """A global token rate shared by every API-backed actor (run as one Ray actor).

    ``reserve(n)`` takes n tokens and answers how many seconds the caller waits before it
    sends them; the level may go below zero (a debt later calls wait out), so the actor
    never sleeps and never blocks another caller. ``refund(n)`` gives back an over-estimate.
    """

    def __init__(
        self, tokens_per_minute: float, *, burst_seconds: float = 1.0, clock: Any = time.monotonic
    ) -> None:
        if not tokens_per_minute > 0:
            raise ConfigurationError(f"tokens_per_minute must be positive, got {tokens_per_minute}")
        self.rate = float(tokens_per_minute) / 60.0
        self.capacity = self.rate * burst_seconds
        self._clock = clock
        self._level = self.capacity
        self._at = clock()

    def _fill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
        self._at = now

    def reserve(self, tokens: int) -> float:
        self._fill()
        self._level -= tokens
        return max(0.0, -self._level / self.rate)

    def refund(self, tokens: int) -> None:
        self._fill()
        self._level = min(self.capacity, self._level + max(0, tokens))


class _RateLimited:
    """An embedder whose passage calls first reserve their tokens in the shared bucket."""

    def __init__(self, embedder: Any, bucket: Any) -> None:
        self._embedder = embedder
        self._bucket = bucket

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def _limited(self, texts: Sequence[str], call: Callable[[], Any]) -> Any:
        import ray

        estimate = sum(estimate_tokens(t) for t in texts)  # never below the real count
        time.sleep(ray.get(self._bucket.reserve.remote(estimate)))
        before = self._embedder.usage.total_tokens
        try:
            return call()
        finally:
            used = self._embedder.usage.total_tokens - before
            self._bucket.refund.remote(estimate - used)

    def encode_passages(self, texts: Sequence[str], **kwargs: Any) -> Any:
        return self._limited(texts, lambda: self._embedder.encode_passages(texts, **kwargs))

    def encode_late_chunked(self, documents: Sequence[Sequence[str]], **kwargs: Any) -> Any:
        texts = [chunk for doc in documents for chunk in doc]
        return self._limited(texts, lambda: self._embedder.encode_late_chunked(documents, **kwargs))


def _summary_schema() -> Any:
    pa = _pa()
    return pa.schema(
        [
            *((name, pa.int64()) for name in SUMMARY_COUNTS),
            ("seconds", pa.float64()),
            ("failures", pa.list_(pa.string())),
            ("jsonl_ids", pa.string()),
            ("notes", pa.list_(pa.string())),
        ]
    )


SUMMARY_COUNTS = ("documents", "indexed", "replaced", "unchanged", "points", "tokens")


class EmbedWorker:
    """One embedding actor: its own embedder and store client, and a VectorIndex over them."""

    def __init__(self, spec: IndexSpec) -> None:
        self._spec = spec
        self._notes: list[str] = []  # the library's warnings, sent with the next summary
        with kept_notes(self._notes):
            self._start(spec)

    def _start(self, spec: IndexSpec) -> None:
        embedder = spec.embedder.build(threads=spec.threads)
        if spec.bucket is not None:
            embedder = _RateLimited(embedder, spec.bucket)
        if spec.owner is not None:
            store: Any = OwnedStore(spec.owner, spec.collection)
        else:
            from jina_v3.connectors.uris import open_store

            store = open_store(spec.store_uri, spec.collection)
        chunker = spec.embedder.chunker(spec.chunk_tokens, spec.late_chunking)
        self._index = _ChunkedIndex(embedder, store, **spec.index_options(chunker))
        self._failures: dict[str, int] = {}  # transient failures per block (its first id)

    def __call__(self, table: Any) -> Any:
        with kept_notes(self._notes):
            rows = [self._ingest(row) for row in table.to_pylist()]
        if rows:
            rows[0]["notes"], self._notes[:] = list(self._notes), []
        return _pa().Table.from_pylist(rows, schema=_summary_schema())

    def _ingest(self, row: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        documents = []
        for doc_id, text, metadata, chunks in zip(
            row["ids"], row["texts"], row["metadata"], row["chunks"], strict=True
        ):
            documents.append(Document(doc_id, text, json.loads(metadata)))
            self._index.chunks[doc_id] = chunks
        summary = IngestSummary()
        try:
            if documents:
                summary = self._index.ingest(documents, skip_unchanged=self._spec.skip_unchanged)
        except (*TRANSIENT_ERRORS, StoreError) as exc:
            if not (isinstance(exc, TRANSIENT_ERRORS) or is_transient(exc)):
                raise
            key = row["ids"][0] if row["ids"] else ""
            self._failures[key] = attempts = self._failures.get(key, 0) + 1
            if attempts > self._spec.retries:
                raise RetriesExhaustedError(
                    f"a batch failed {attempts} times on one worker ({exc}); re-run the job "
                    "to continue (raise retries= to try longer)"
                ) from exc
            # Ray re-runs the block at once: wait first, so a store that restarts has time
            time.sleep(self._spec.backoff * 2 ** (attempts - 1) * random.uniform(0.5, 1.0))
            if isinstance(exc, TRANSIENT_ERRORS):
                raise
            raise TransientStoreError(str(exc)) from exc
        finally:
            self._index.chunks.clear()
        self._failures.pop(row["ids"][0] if row["ids"] else "", None)
        out: dict[str, Any] = {name: getattr(summary, name) for name in SUMMARY_COUNTS}
        out.update(
            seconds=time.perf_counter() - started,
            failures=list(row["skipped"]),
            jsonl_ids=row.get("jsonl_ids"),
            notes=[],
        )
        return out
